"""Marketing's mailings under /api/v1/staff/mailings (issue 9): write one, read it as a
subscriber would, send it once, and see what was sent and to how many.

Marketing reads no personal data at all (P6): nothing here answers with an address, a
name or a customer number. A mailing is shop data (``need_to_know.SHOP_TABLES``), cut
through the need-to-know table like any row, so a personal column added to it tomorrow
would be refused here until the table names it; who received a mailing is a count. The
preview greets a placeholder, never a real subscriber (``mail.service.preview_mailing``).

The rules are the mail domain's, as the ``quietshop mailing`` commands use them: a
subject fit for a mail header, a text of at most 64 KiB, links configured before a send
(``check_links_configured``), only customers opted in with a confirmed address, and a
mailing sent once (a second send, even one racing the first, is 409
``mailing_already_sent``). Content the rules refuse is 422 ``mailing_refused`` naming the
field; a body that is not the right shape at all is the API's usual 400.

Each route declares ``Action.SEND_MAILINGS`` (``x-staff-action``); a role without it is
refused with 403 and a ``denied`` entry in the audit chain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from quietshop.db import MAX_ROW_ID
from quietshop.errors import InvalidInput
from quietshop.mail import service as mail
from quietshop.staff.access import ACTION_KEY, Office, declares, staff_access, table
from quietshop.staff.need_to_know import Action
from quietshop.web.dependencies import settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PREFIX = "/api/v1/staff/mailings"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

MailingId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
MAX_SUBJECT_TYPED = 1_000  # the rule is mail's (200); past this the body is not parsed at all
MAX_TEXT_TYPED = 80 * 1024  # the rule is 64 KiB of UTF-8; a little room for the rule to say so
# A 64 KiB text is more than the API's default request size once it is JSON.
BODY_LIMIT = 256 * 1024
REFUSED: Responses = {
    403: {"description": "forbidden (your roles do not allow this) or policies_pending"},
}
FOUND: Responses = {**REFUSED, 404: {"description": "No such mailing"}}

F = TypeVar("F", bound=Callable[..., Any])


def _route(method: str, path: str, **kwargs: Any) -> Callable[[F], F]:
    """A mailing route; each declares SEND_MAILINGS (the route-coverage test reads it)."""
    add = getattr(router, method.lower())
    decorator: Callable[[F], F] = add(
        path,
        openapi_extra=declares(Action.SEND_MAILINGS),
        response_model_exclude_unset=True,
        **kwargs,
    )
    return decorator


class MailingRefused(InvalidInput):
    """The mail rules refuse the mailing's content (422, naming the field)."""

    status_code = 422
    code = "mailing_refused"


class MailingDraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    subject: str = Field(max_length=MAX_SUBJECT_TYPED, description="At most 200 characters")
    text: str = Field(
        max_length=MAX_TEXT_TYPED,
        description="The message; blank lines separate paragraphs. At most 64 KiB",
    )


class MailingOut(BaseModel):
    """A mailing as marketing sees it: what was written and how many it went to."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    subject: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = Field(default=None, description="null: not sent yet")
    recipient_count: int | None = Field(default=None, description="How many it was queued for")


class MailingsOut(BaseModel):
    mailings: list[MailingOut] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as ?before= for the next page; null: last")


class PreviewOut(BaseModel):
    subject: str
    text: str = Field(description="As a subscriber reads it, greeting a placeholder name")


class SentOut(BaseModel):
    mailing: MailingOut
    queued: int = Field(description="Messages queued: one per subscriber right now")


class SubscribersOut(BaseModel):
    subscribers: int = Field(description="Opted in with a confirmed address, right now")
    counted_at: datetime


def _shown(office: Office, rows: list[dict[str, Any]]) -> list[MailingOut]:
    """Rows cut through the need-to-know table (shop data: no entry is appended)."""
    cut = office.read_record([(table("mailings"), rows)], customer_id=None,
                             subject="mailings", reason="the mailings")  # fmt: skip
    return [MailingOut(**row) for row in cut[0]]


@_route("GET", "", response_model=MailingsOut, responses=REFUSED)
def mailings(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=mail.MAX_MAILINGS_PAGE)] = 25,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> MailingsOut:
    """Mailings written, newest first: subject, when written and sent, and to how many."""
    with staff_access(request, Action.SEND_MAILINGS, write=False) as office:
        rows, more = mail.mailing_rows(office.session, limit, before)
        shown = _shown(office, rows)
    return MailingsOut(mailings=shown, next_before=rows[-1]["id"] if more else None)


@_route("GET", "/subscribers", response_model=SubscribersOut, responses=REFUSED)
def subscribers(request: Request) -> SubscribersOut:
    """How many customers a mailing sent now would reach: a count, never who."""
    with staff_access(request, Action.SEND_MAILINGS, write=False) as office:
        return SubscribersOut(
            subscribers=mail.subscriber_count(office.session), counted_at=office.now
        )


@_route(
    "POST", "", response_model=MailingOut, status_code=201,
    responses={**REFUSED, 422: {"description": "mailing_refused, naming the field"}},
)  # fmt: skip
def create(request: Request, body: MailingDraftIn) -> MailingOut:
    """Save a mailing (not sent yet), after the same checks as `quietshop mailing create`."""
    with staff_access(request, Action.SEND_MAILINGS) as office:
        try:
            made = mail.create_mailing(
                office.session, body.subject, body.text, office.now, created_by=office.actor
            )
        except InvalidInput as refused:
            field = "text" if refused.field == "text_body" else refused.field
            raise MailingRefused(field, refused.message) from None
        return _shown(office, [mail.mailing_row(office.session, made.id)])[0]


@_route("GET", "/{mailing_id}/preview", response_model=PreviewOut, responses=FOUND)
def preview(request: Request, mailing_id: MailingId) -> PreviewOut:
    """The mailing as a subscriber would read it, greeting a placeholder, never a real
    customer; its unsubscribe link a sample."""
    with staff_access(request, Action.SEND_MAILINGS, write=False) as office:
        subject, text = mail.preview_mailing(office.session, settings(request), mailing_id)
    return PreviewOut(subject=subject, text=text)


@_route(
    "POST", "/{mailing_id}/send", response_model=SentOut,
    responses={
        **FOUND,
        409: {"description": "mailing_already_sent: a mailing goes out once"},
        422: {"description": "mailing_refused: links are not configured (settings)"},
    },
)  # fmt: skip
def send(request: Request, mailing_id: MailingId) -> SentOut:
    """Queue the mailing for every customer opted in with a confirmed address right now;
    once only."""
    with staff_access(request, Action.SEND_MAILINGS) as office:
        try:
            queued = mail.send_mailing(office.session, settings(request), mailing_id, office.now)
        except InvalidInput as refused:
            raise MailingRefused(refused.field, refused.message) from None
        shown = _shown(office, [mail.mailing_row(office.session, mailing_id)])[0]
    return SentOut(mailing=shown, queued=queued)


# (method, path) -> the Action each route asks for: what the API description says.
STAFF_ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    (method, route.path): Action(route.openapi_extra[ACTION_KEY])
    for route in router.routes
    if isinstance(route, SignedInRoute) and route.openapi_extra
    for method in sorted(route.methods or ())
}

SITE = DomainSite(routers=(router,), body_limits={PREFIX: BODY_LIMIT})
