"""What the staff domain adds to the site: the staff API (enrolment, sign-in, the session),
the back-office shells with their scripts, and the private prefixes the access log keeps
by route template only."""

from __future__ import annotations

from pathlib import Path

from quietshop.staff import api, pages
from quietshop.web.routing import DomainSite

HERE = Path(__file__).parent

SITE = DomainSite(
    routers=(api.router, api.staff_router, pages.router),
    templates=HERE / "templates",
    template_prefix="staff",
    static=HERE / "static",
    static_prefix="staff",
    private_prefixes=("/staff", "/api/v1/staff"),
)
