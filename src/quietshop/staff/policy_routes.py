"""What the staff policy API adds to the site, beside the staff SITE (routes.py): its
router, and a body limit large enough for a policy of 100,000 characters (JSON of up to
four bytes a character) where every other staff route keeps the default."""

from __future__ import annotations

from quietshop.staff import policy_api
from quietshop.web.routing import DomainSite

MAX_PUBLISH_BYTES = 512 * 1024

SITE = DomainSite(
    routers=(policy_api.router,),
    body_limits={policy_api.PREFIX: MAX_PUBLISH_BYTES},
)
