"""What the mail domain adds to the site: the unsubscribe pages."""

from __future__ import annotations

from pathlib import Path

from quietshop.mail import pages
from quietshop.web.routing import DomainSite

SITE = DomainSite(
    routers=(pages.router,),
    templates=Path(__file__).parent / "templates",
    template_prefix="mail",
    # The token in an unsubscribe link names a customer: logged by template only.
    private_prefixes=("/unsubscribe",),
)
