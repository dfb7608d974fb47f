"""The owner's contact, shipping and returns pages in the back office, under
/api/v1/staff/shop-pages (issue 11 item 5).

Reading and saving need the roles the need-to-know table grants ``edit_shop_pages`` (the
owner's: the pages state the shop's terms, as the rate tables and policies do); anyone
else gets 403 and an audit ``denied`` entry. A save sends the ``updated_at`` it read
(null for a page still showing its default text); a page saved meanwhile answers 409
``stale_page`` with the current text and nothing is written. The rules are
shop_pages/service.py's; a route parses, calls it once and renders. Plain ``def`` routes,
run in the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from quietshop.shop_pages import service as shop_pages
from quietshop.staff.access import declares
from quietshop.staff.auth import SignedInStaff, staff_session
from quietshop.staff.need_to_know import ACTION_ROLES, Action, acting_role
from quietshop.staff.owner_schemas import IsoTime
from quietshop.staff.schemas import Strict
from quietshop.web.dependencies import now, settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PREFIX = "/api/v1/staff/shop-pages"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)
# A body of 20,000 characters, each sent as a JSON \uXXXX escape, is 120 kB: above the
# default limit, so this prefix takes up to 256 KiB.
BODY_LIMIT = 256 * 1024
# Beside the staff SITE (routes.py), which keeps /api/v1/staff out of the access log.
SITE = DomainSite(routers=(router,), body_limits={PREFIX: BODY_LIMIT})

EDITORS = ACTION_ROLES[Action.EDIT_SHOP_PAGES]
FORBIDDEN: Responses = {403: {"description": "forbidden: your roles do not allow this"}}
SAVES: Responses = {
    **FORBIDDEN,
    409: {"description": "stale_page: saved by someone else since you read it; nothing saved"},
}
SlugPath = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z]+$")]


class ShopPageOut(BaseModel):
    slug: str
    path: str = Field(description="Where the page is shown: /contact, /shipping, /returns")
    title: str
    body: str = Field(description="Plain text: blank lines between paragraphs, '- ' items")
    updated_at: IsoTime | None = Field(description="None: the default text, never saved")
    is_default: bool


class ShopPagesOut(BaseModel):
    pages: list[ShopPageOut]
    max_title: int
    max_body: int


class ShopPageIn(Strict):
    title: str = Field(min_length=1, max_length=shop_pages.MAX_TITLE)
    # Twice the limit: "\r\n" counts as one character once the service folds it.
    body: str = Field(min_length=1, max_length=2 * shop_pages.MAX_BODY)
    updated_at: IsoTime | None = Field(
        description="The updated_at you read (null for a page showing its default text)"
    )


def _out(page: shop_pages.PageText) -> ShopPageOut:
    return ShopPageOut(
        slug=page.slug,
        path=page.path,
        title=page.title,
        body=page.body,
        updated_at=page.updated_at,
        is_default=page.is_default,
    )


def _editor(staff: SignedInStaff) -> shop_pages.PageEditor:
    role = acting_role(staff.roles, Action.EDIT_SHOP_PAGES)
    return shop_pages.PageEditor(staff.id, role.value, staff.origin)


@router.get(
    "",
    openapi_extra=declares(Action.EDIT_SHOP_PAGES),
    response_model=ShopPagesOut,
    responses=FORBIDDEN,
)
def list_pages(request: Request) -> ShopPagesOut:
    """The three pages as shown now, with the limits a save is checked against."""
    with staff_session(request, need=EDITORS) as (session, _):
        pages = shop_pages.all_pages(session, settings(request))
    return ShopPagesOut(
        pages=[_out(page) for page in pages],
        max_title=shop_pages.MAX_TITLE,
        max_body=shop_pages.MAX_BODY,
    )


@router.put(
    "/{slug}",
    openapi_extra=declares(Action.EDIT_SHOP_PAGES),
    response_model=ShopPageOut,
    responses=SAVES,
)
def save_page(request: Request, slug: SlugPath, body: ShopPageIn) -> ShopPageOut:
    """Replace a page's title and text; the public page shows it at once."""
    with staff_session(request, need=EDITORS, write=True) as (session, staff):
        saved = shop_pages.save_page(
            session, settings(request), slug, body.title, body.body, body.updated_at,
            _editor(staff), now(request),
        )  # fmt: skip
    return _out(saved)
