"""What the privacy domain adds to the site: the policy pages and the leaving notice."""

from __future__ import annotations

from pathlib import Path

from quietshop.privacy import pages
from quietshop.web.routing import DomainSite

SITE = DomainSite(
    routers=(pages.router,),
    templates=Path(__file__).parent / "templates",
    template_prefix="privacy",
)
