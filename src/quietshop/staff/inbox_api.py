"""Customer service's inboxes under /api/v1/staff (issue 9 item 7): the questions and quote
requests from the product pages, the mail outbox, and in the demo the mail its own server
captured.

Every route goes through ``access.staff_access`` with the one ``Action`` it declares
(``x-staff-action`` in the API description). What is shown is cut through the
need-to-know table, and every record shown with personal data gets its own ``read`` entry:
``question:<id>`` (the asker is not a customer record: no customer id), ``mail:<id>`` and
``captured_mail:<key>`` (with the customer the message was for, who sees the read in their
account). A role that reads only the delivery state (the owner, marketing) reads no
personal field, and nothing is appended for it.

No link token leaves here: the outbox's stored bodies hold placeholders where a link was
and its sealed links are never read (``mail.service.redacted``), and the demo mailbox's
copies, which arrived with their links whole, have every token cut out. The demo's own
reader, ``quietshop mail show``, still shows them whole on the shop's machine.

Reads append audit entries, so every route writes: plain ``def``, run in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from quietshop.accounts import service as accounts
from quietshop.db import MAX_ROW_ID
from quietshop.mail import service as mail
from quietshop.orders import service as orders
from quietshop.staff.access import ACTION_KEY, Office, declares, staff_access, table
from quietshop.staff.need_to_know import Action
from quietshop.web.dependencies import settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PREFIX = "/api/v1/staff"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

Id = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
CapturedKey = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]
REFUSED: Responses = {
    403: {"description": "forbidden (your roles do not allow this) or policies_pending"},
}
QUESTIONS = "information_requests"
QUESTION_REASON = "customer service read the question to answer it"
OUTBOX_REASON = "customer service read the mail outbox"
CAPTURED_REASON = "customer service read the demo shop's captured mail"

F = TypeVar("F", bound=Callable[..., Any])


def _route(method: str, path: str, action: Action, **kwargs: Any) -> Callable[[F], F]:
    """An inbox route that declares its Action (the route-coverage test reads it)."""
    add = getattr(router, method.lower())
    decorator: Callable[[F], F] = add(
        path,
        openapi_extra=declares(action),
        response_model_exclude_unset=True,
        **kwargs,
    )
    return decorator


class Part(BaseModel):
    """A row as the role may see it: a field not granted is absent, never null."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- questions


class QuestionOut(Part):
    id: int | None = None
    kind: str | None = Field(default=None, description="question or quote")
    product_sku: str | None = None
    name: str | None = None
    email: str | None = None
    question: str | None = None
    quantity: int | None = None
    answered_at: datetime | None = None
    created_at: datetime | None = None
    delete_after: datetime | None = None


class QuestionsOut(BaseModel):
    questions: list[QuestionOut] = Field(description="Open ones first, oldest first")
    next_offset: int | None = Field(description="Pass as ?offset= for the next page; null: last")


@_route(
    "GET", "/questions", Action.ANSWER_QUESTIONS, response_model=QuestionsOut,
    responses=REFUSED,
)  # fmt: skip
def questions(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=orders.MAX_QUESTIONS_PAGE)] = 25,
    offset: Annotated[int, Query(ge=0, le=orders.MAX_QUESTIONS_OFFSET)] = 0,
) -> QuestionsOut:
    """Questions and quote requests from the product pages: each shown is a ``read``."""
    with staff_access(request, Action.ANSWER_QUESTIONS) as office:
        rows, more = orders.question_rows(office.session, limit, offset)
        shown = [
            _one(office, QUESTIONS, row, None, f"question:{row['id']}", QUESTION_REASON)
            for row in rows
        ]
    return QuestionsOut(
        questions=[QuestionOut(**row) for row in shown],
        next_offset=offset + limit if more else None,
    )


def _one(
    office: Office,
    part: str,
    row: dict[str, Any],
    customer_id: int | None,
    subject: str,
    reason: str,
) -> dict[str, Any]:
    """One row as the role may see it, with its own ``read`` entry."""
    found = office.read_record(
        [(table(part), [row])], customer_id=customer_id, subject=subject, reason=reason
    )
    return found[0][0]


@_route(
    "POST", "/questions/{question_id}/answered", Action.ANSWER_QUESTIONS, status_code=204,
    responses={**REFUSED, 404: {"description": "No such question"}},
)  # fmt: skip
def mark_answered(request: Request, question_id: Id) -> Response:
    """The question was answered (by mail, from the shop's own mailbox). Marked once; again
    changes nothing."""
    with staff_access(request, Action.ANSWER_QUESTIONS) as office:
        if orders.answer_question(office.session, question_id, office.now):
            office.change(
                customer_id=None,
                subject=f"question:{question_id}",
                fields=("information_requests.answered_at",),
                reason="customer service marked the question answered",
            )
    return Response(status_code=204)


# ---------------------------------------------------------------- the outbox


class OutboxMessageOut(Part):
    id: int | None = None
    message_id: str | None = None
    purpose: str | None = None
    status: str | None = None
    attempts: int | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    recipient: str | None = None
    recipient_name: str | None = None
    customer_number: str | None = None
    subject: str | None = None
    reference: str | None = None
    last_error: str | None = None
    text_body: str | None = Field(
        default=None, description="As stored: where a link was, a note; never the link"
    )


class OutboxOut(BaseModel):
    messages: list[OutboxMessageOut] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as ?before= for the next page; null: last")


def _mail_for_customers(office: Office, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each message as the role may see it; a ``read`` entry for each one showing personal
    data, with the customer it was for."""
    numbers = [row["customer_number"] for row in rows if row["customer_number"]]
    ids = accounts.customer_ids_for_numbers(office.session, numbers)
    return [
        _one(office, "mail_outbox", row, ids.get(row["customer_number"] or ""),
             f"mail:{row['id']}", OUTBOX_REASON)
        for row in rows
    ]  # fmt: skip


@_route("GET", "/outbox", Action.READ_OUTBOX, response_model=OutboxOut, responses=REFUSED)
def outbox(
    request: Request,
    status: Annotated[str | None, Query(max_length=20, description="queued, sent, ...")] = None,
    purpose: Annotated[str | None, Query(max_length=20, description="order_update, ...")] = None,
    limit: Annotated[int, Query(ge=1, le=mail.MAX_OUTBOX_PAGE)] = 25,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> OutboxOut:
    """Outbox messages: status, purpose, attempts and times for every reader; recipient
    and subject only for the roles the need-to-know table grants them."""
    with staff_access(request, Action.READ_OUTBOX) as office:
        rows, more = mail.outbox_rows(office.session, limit, before, status, purpose)
        shown = _mail_for_customers(office, rows)
    return OutboxOut(
        messages=[OutboxMessageOut(**row) for row in shown],
        next_before=rows[-1]["id"] if more else None,
    )


@_route(
    "GET", "/outbox/{message_id}", Action.READ_OUTBOX, response_model=OutboxMessageOut,
    responses={**REFUSED, 404: {"description": "No such message"}},
)  # fmt: skip
def outbox_message(request: Request, message_id: Id) -> OutboxMessageOut:
    """One message; its text as stored, with a note where each link was."""
    with staff_access(request, Action.READ_OUTBOX) as office:
        row = mail.outbox_row(office.session, message_id)
        shown = _mail_for_customers(office, [row])[0]
    return OutboxMessageOut(**shown)


# ---------------------------------------------------------------- the demo's captured mail


class CapturedOut(BaseModel):
    key: str
    received_at: datetime
    sender: str
    to: str
    subject: str
    text: str | None = Field(
        default=None, description="One message only: its plain text, every link token cut out"
    )


class CapturedListOut(BaseModel):
    messages: list[CapturedOut] = Field(description="Newest first")
    next_offset: int | None


NOT_THE_DEMO: Responses = {**REFUSED, 404: {"description": "Not the demo: no mail is captured"}}


def _captured_reads(office: Office, found: list[mail.CapturedMail], *, text: bool) -> None:
    ids = accounts.customer_ids_for_numbers(
        office.session, [m.customer_number for m in found if m.customer_number]
    )
    fields = ("captured_mail.to", "captured_mail.subject", *(("captured_mail.text",) * text))
    for message in found:
        office.change(
            customer_id=ids.get(message.customer_number or ""),
            subject=f"captured_mail:{message.key}",
            fields=fields,
            kinds=("contact",),
            reason=CAPTURED_REASON,
            entry="read",
        )


def _captured_out(message: mail.CapturedMail) -> CapturedOut:
    return CapturedOut(
        key=message.key,
        received_at=message.received_at,
        sender=message.sender,
        to=message.to,
        subject=message.subject,
        text=message.text,
    )


@_route(
    "GET", "/captured-mail", Action.READ_CAPTURED_MAIL, response_model=CapturedListOut,
    responses=NOT_THE_DEMO,
)  # fmt: skip
def captured_mail(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=mail.MAX_CAPTURED_PAGE)] = 25,
    offset: Annotated[int, Query(ge=0, le=mail.MAX_CAPTURED_OFFSET)] = 0,
) -> CapturedListOut:
    """What the demo's mail server received (the demo only: 404 otherwise)."""
    with staff_access(request, Action.READ_CAPTURED_MAIL) as office:
        found, more = mail.captured_mail(office.session, settings(request), limit, offset)
        _captured_reads(office, found, text=False)
    return CapturedListOut(
        messages=[_captured_out(message) for message in found],
        next_offset=offset + limit if more else None,
    )


@_route(
    "GET", "/captured-mail/{key}", Action.READ_CAPTURED_MAIL, response_model=CapturedOut,
    responses=NOT_THE_DEMO,
)  # fmt: skip
def captured_message(request: Request, key: CapturedKey) -> CapturedOut:
    """One captured message with its plain text, every link token cut out."""
    with staff_access(request, Action.READ_CAPTURED_MAIL) as office:
        found = mail.captured_mail_message(office.session, settings(request), key)
        _captured_reads(office, [found], text=True)
    return _captured_out(found)


# (method, path) -> the Action each route asks for: what the API description says.
STAFF_ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    (method, route.path): Action(route.openapi_extra[ACTION_KEY])
    for route in router.routes
    if isinstance(route, SignedInRoute) and route.openapi_extra
    for method in sorted(route.methods or ())
}

SITE = DomainSite(routers=(router,))
