"""The back office's order API under /api/v1/staff/orders (issue 9 item 7): the queue, one
order, and the shop's moves on it.

Every route goes through ``access.staff_access`` with the one ``Action`` it declares
(``x-staff-action`` in the API description, ``STAFF_ROUTE_ACTIONS`` here): a role without
it is refused with 403 and a ``denied`` entry before any order is looked up, so an
unknown number and a forbidden one answer alike to whoever may not look. Whatever
is shown is cut through the need-to-know table and its reads appended to the audit chain;
each move is an audit ``change`` in the move's own transaction, with the staff member as
the order's actor (``staff:<id>``). The state of the order is checked by the orders
service (409 ``status_conflict`` for a move off the graph).

Reads append audit entries, so every route writes: plain ``def``, run in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request

from quietshop.errors import InvalidInput
from quietshop.orders import service as orders
from quietshop.staff.access import ACTION_KEY, Listed, Office, Part, declares, staff_access, table
from quietshop.staff.need_to_know import Action, computed, may
from quietshop.staff.orders_schemas import (
    CancelIn,
    MailPreviewOut,
    PaymentResultIn,
    ProblemIn,
    QueueOut,
    QueueRowOut,
    RefundIn,
    RevealedOut,
    RevealIn,
    ShipIn,
    StaffOrderOut,
    StatusOut,
)
from quietshop.web.dependencies import settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute
from quietshop.web.state import app_state

PREFIX = "/api/v1/staff/orders"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

Number = Annotated[str, Path(min_length=1, max_length=40, description="e.g. QS-4821-93057")]
REFUSED: Responses = {
    403: {"description": "forbidden (your roles do not allow this) or policies_pending"},
    404: {"description": "No such order"},
}
MOVED: Responses = {
    **REFUSED,
    409: {"description": "status_conflict: the order's state does not allow this now"},
}

# The moves the detail offers (orders.service.shop_moves), and the Action each one asks.
MOVE_ACTIONS: dict[str, Action] = {
    "record_payment": Action.VERIFY_PAYMENT,
    "reveal_card": Action.REVEAL_CARD,
    "pack": Action.MARK_PACKED,
    "ship": Action.SHIP,
    "deliver": Action.SHIP,  # the carrier's news, handled by who ships
    "flag_payment_problem": Action.FLAG_PAYMENT_PROBLEM,
    "flag_availability_problem": Action.FLAG_AVAILABILITY_PROBLEM,
    "cancel": Action.CANCEL_ORDER,
    "refund": Action.REFUND,
    "receive_return": Action.HANDLE_RETURN,
}

F = TypeVar("F", bound=Callable[..., Any])


def _route(method: str, path: str, action: Action, **kwargs: Any) -> Callable[[F], F]:
    """A staff order route that declares its Action (the route-coverage test reads it)."""
    extra = {**declares(action), **kwargs.pop("openapi_extra", {})}
    add = router.get if method == "GET" else router.post
    return add(path, openapi_extra=extra, response_model_exclude_unset=True, **kwargs)


def _parts(request: Request) -> orders.Collaborators:
    return app_state(request).part(orders.Collaborators)


def _subject(order_id: int) -> str:
    return f"order:{order_id}"


# ---------------------------------------------------------------- reading


def _queue_parameters() -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}  # fmt: skip

    hours: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": orders.MAX_AGE_HOURS}
    statuses = {"type": "array", "items": {"type": "string", "enum": list(orders.status_labels())}}
    return [
        query("status", statuses, "One or several (repeated, or comma-separated); none: all"),
        query("older_than_hours", hours, "Placed at least this many hours ago"),
        query("newer_than_hours", hours, "Placed at most this many hours ago"),
        query(
            "sort",
            {"type": "string", "enum": ["-placed_at", "placed_at"]},
            "Newest first (-placed_at, the default) or oldest first",
        ),
        query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": orders.QUEUE_MAX_LIMIT},
            f"Orders a page (default {orders.QUEUE_DEFAULT_LIMIT})",
        ),
        query("cursor", {"type": "string", "maxLength": 40}, "next_cursor of the page before"),
    ]


@_route(
    "GET",
    "",
    Action.VIEW_ORDER_QUEUE,
    response_model=QueueOut,
    responses={**REFUSED, 422: {"description": "invalid_filter, naming the parameter"}},
    openapi_extra={"parameters": _queue_parameters()},
)
def queue(request: Request) -> QueueOut:
    """Orders by status and age, newest (or oldest) first, a page at a time. Each row shows
    what the role reads: fulfilment the shipping name and the items, billing the billing
    name and the total, customer service the customer. The filters are read here rather
    than by the framework so that a malformed one is a 422 naming it."""
    parameters = {name: request.query_params.getlist(name) for name in request.query_params}
    with staff_access(request, Action.VIEW_ORDER_QUEUE) as office:
        page = orders.order_queue(office.session, orders.queue_query(parameters), office.now)
        listed = [
            Listed(
                row.values,
                row.customer_id,
                _subject(row.order_id),
                more=((table("order_lines"), {"items_count": computed(row.items, "quantity")}),),
            )
            for row in page.rows
        ]
        shown = office.read_list(table("orders"), listed, reason="the order queue")
    return QueueOut(
        orders=[QueueRowOut.model_validate(values) for values in shown],
        next_cursor=page.next_cursor,
        statuses=[StatusOut(code=c, label=label) for c, label in orders.status_labels().items()],
    )


def _payment_parts(found: orders.StaffOrder) -> list[Part]:
    payment = [{"status": found.payment_status}] if found.payment_status else []
    card = [{"masked": computed(found.card_label, "brand", "last4")}] if found.card_label else []
    return [(table("payments"), payment), (table("payment_cards"), card)]


def _detail(office: Office, number: str, reason: str) -> StaffOrderOut:
    """The order as the role may see it, with the moves it may make now; one read entry."""
    found = orders.staff_order(office.session, number)
    label = orders.status_labels()[str(found.order["status"])]
    parts: list[Part] = [
        (table("orders"), [{**found.order, "status_label": computed(label, "status")}]),
        (table("order_lines"), found.lines),
        (table("order_events"), found.events),
        (table("order_returns"), found.returns),
        *_payment_parts(found),
    ]
    order, lines, events, returns, payment, card = office.read_record(
        parts, customer_id=found.customer_id, subject=_subject(found.order_id), reason=reason
    )
    answer: dict[str, Any] = {
        "order": order[0],
        "lines": lines,
        "events": events,
        "returns": returns,
        "actions": [m for m in found.moves if may(office.staff.roles, MOVE_ACTIONS[m])],
    }
    if payment and payment[0]:
        answer["payment"] = payment[0]
    if card and card[0]:
        answer["card"] = card[0]
    return StaffOrderOut.model_validate(answer)


@_route("GET", "/{number}", Action.VIEW_ORDER_QUEUE, response_model=StaffOrderOut,
        responses=REFUSED)  # fmt: skip
def order_detail(request: Request, number: Number) -> StaffOrderOut:
    """One order: its facts, lines, history (notes for the roles that read them), returns,
    and for billing the payment's state and the masked card."""
    with staff_access(request, Action.VIEW_ORDER_QUEUE) as office:
        return _detail(office, number, "the order's page")


# ---------------------------------------------------------------- moves


def _moved(
    office: Office, number: str, key: orders.OrderKey, done: str, fields: tuple[str, ...]
) -> StaffOrderOut:
    """The move's audit entry (told to the customer as what was done), then the order."""
    kinds = ("activity",) if "order_events.note" in fields else ()
    office.change(
        customer_id=key.customer_id, subject=_subject(key.order_id), fields=fields,
        kinds=kinds, reason=done,
    )  # fmt: skip
    return _detail(office, number, f"the order's page, after: {done}")


@_route("POST", "/{number}/payment", Action.VERIFY_PAYMENT, response_model=StaffOrderOut,
        responses=MOVED)  # fmt: skip
def record_payment(request: Request, number: Number, body: PaymentResultIn) -> StaffOrderOut:
    """The shop's own card terminal answered: approved with its authorisation code, or
    declined with the reason (the customer is mailed and may give another card)."""
    approved = body.result == "approved"
    typed = body.authorization_code if approved else body.reason
    with staff_access(request, Action.VERIFY_PAYMENT) as office:
        if typed is None:  # asked inside: a stranger's body is answered 401 first
            field = "authorization_code" if approved else "reason"
            raise InvalidInput(field, "give the terminal's code" if approved else "say why")
        key = orders.order_key(office.session, number)
        orders.record_manual_payment(
            office.session, settings(request), number, approved=approved, code_or_reason=typed,
            actor=office.actor, now=office.now,
        )  # fmt: skip
        fields = ("orders.status", "payments.status", "order_events.note")
        done = "payment recorded: " + ("approved" if approved else "declined")
        return _moved(office, number, key, done, fields)


@_route("POST", "/{number}/reveal-card", Action.REVEAL_CARD, response_model=RevealedOut,
        responses=MOVED)  # fmt: skip
def reveal_card(request: Request, number: Number, body: RevealIn) -> RevealedOut:
    """The full card number of an order awaiting its payment, to key into the shop's own
    terminal, with the reason: kept with the reveal and in the audit chain (which the
    customer sees). The answer is the only place the number goes."""
    with staff_access(request, Action.REVEAL_CARD) as office:
        revealed = orders.reveal_card_number(
            office.session, _parts(request), number, actor=office.actor, reason=body.reason,
            now=office.now,
        )  # fmt: skip
        office.change(
            customer_id=revealed.customer_id, subject=_subject(revealed.order_id),
            fields=("payment_cards.ciphertext",), kinds=("payment",), reason=body.reason,
            entry="card_reveal",
        )  # fmt: skip
    return RevealedOut(card_number=revealed.number)


@_route("POST", "/{number}/pack", Action.MARK_PACKED, response_model=StaffOrderOut,
        responses=MOVED)  # fmt: skip
def pack(request: Request, number: Number) -> StaffOrderOut:
    with staff_access(request, Action.MARK_PACKED) as office:
        key = orders.order_key(office.session, number)
        orders.mark_packed(office.session, settings(request), number, office.actor, office.now)
        return _moved(office, number, key, "packed", ("orders.status",))


@_route("POST", "/{number}/ship", Action.SHIP, response_model=StaffOrderOut, responses=MOVED)
def ship(request: Request, number: Number, body: ShipIn) -> StaffOrderOut:
    """The parcel left: the payment is captured, the card number purged, and the customer
    mailed the carrier and tracking number."""
    with staff_access(request, Action.SHIP) as office:
        key = orders.order_key(office.session, number)
        orders.mark_shipped(
            office.session, settings(request), _parts(request), number, carrier=body.carrier,
            tracking_number=body.tracking_number, actor=office.actor, now=office.now,
        )  # fmt: skip
        fields = ("orders.status", "orders.carrier", "orders.tracking_number")
        return _moved(office, number, key, f"shipped with {body.carrier.strip()}", fields)


@_route("POST", "/{number}/deliver", Action.SHIP, response_model=StaffOrderOut, responses=MOVED)
def deliver(request: Request, number: Number) -> StaffOrderOut:
    with staff_access(request, Action.SHIP) as office:
        key = orders.order_key(office.session, number)
        orders.mark_delivered(office.session, settings(request), number, office.actor, office.now)
        return _moved(office, number, key, "delivered", ("orders.status",))


def _flag(request: Request, number: str, kind: str, action: Action, detail: str) -> StaffOrderOut:
    with staff_access(request, action) as office:
        key = orders.order_key(office.session, number)
        flag = (
            orders.report_payment_problem
            if kind == "payment_problem"
            else orders.report_availability_problem
        )
        flag(office.session, settings(request), number, detail, office.actor, office.now)
        done = f"{kind.replace('_', ' ')} told to the customer"
        return _moved(office, number, key, done, ("orders.status", "order_events.note"))


def _preview(
    request: Request, number: str, kind: str, action: Action, detail: str
) -> MailPreviewOut:
    with staff_access(request, action) as office:
        key = orders.order_key(office.session, number)
        sources = {
            name: (table(orders.MAIL_SOURCES[name][0]), orders.MAIL_SOURCES[name][1])
            for name in orders.PREVIEW_SOURCES[kind]
        }
        shown = office.read_sources(
            sources, customer_id=key.customer_id, subject=_subject(key.order_id),
            reason=f"a preview of the {kind.replace('_', ' ')} mail",
        )  # fmt: skip
        preview = orders.preview_problem_mail(
            office.session, settings(request), number, kind, detail, shown=shown, now=office.now
        )
    return MailPreviewOut.model_validate(preview, from_attributes=True)


@_route("POST", "/{number}/payment-problem", Action.FLAG_PAYMENT_PROBLEM,
        response_model=StaffOrderOut, responses=MOVED)  # fmt: skip
def flag_payment_problem(request: Request, number: Number, body: ProblemIn) -> StaffOrderOut:
    """Tell the customer the payment has a problem (``detail`` is in the mail): they may
    give another card or cancel."""
    return _flag(request, number, "payment_problem", Action.FLAG_PAYMENT_PROBLEM, body.detail)


@_route("POST", "/{number}/payment-problem/preview", Action.FLAG_PAYMENT_PROBLEM,
        response_model=MailPreviewOut, responses=MOVED)  # fmt: skip
def preview_payment_problem(request: Request, number: Number, body: ProblemIn) -> MailPreviewOut:
    """The mail ``payment-problem`` would send with this ``detail``; nothing is queued."""
    return _preview(request, number, "payment_problem", Action.FLAG_PAYMENT_PROBLEM, body.detail)


@_route("POST", "/{number}/availability-problem", Action.FLAG_AVAILABILITY_PROBLEM,
        response_model=StaffOrderOut, responses=MOVED)  # fmt: skip
def flag_availability_problem(request: Request, number: Number, body: ProblemIn) -> StaffOrderOut:
    """Tell the customer an item is not available yet (``detail`` is in the mail): they
    choose to wait or cancel."""
    return _flag(
        request, number, "availability_problem", Action.FLAG_AVAILABILITY_PROBLEM, body.detail
    )


@_route("POST", "/{number}/availability-problem/preview", Action.FLAG_AVAILABILITY_PROBLEM,
        response_model=MailPreviewOut, responses=MOVED)  # fmt: skip
def preview_availability_problem(
    request: Request, number: Number, body: ProblemIn
) -> MailPreviewOut:
    """The mail ``availability-problem`` would send with this ``detail``; nothing is queued."""
    return _preview(
        request, number, "availability_problem", Action.FLAG_AVAILABILITY_PROBLEM, body.detail
    )


@_route("POST", "/{number}/cancel", Action.CANCEL_ORDER, response_model=StaffOrderOut,
        responses=MOVED)  # fmt: skip
def cancel(request: Request, number: Number, body: CancelIn) -> StaffOrderOut:
    """Cancel before packing: stock, the discount's use and the authorisation go back, and
    the customer is mailed (with ``reason``)."""
    with staff_access(request, Action.CANCEL_ORDER) as office:
        key = orders.order_key(office.session, number)
        orders.cancel_for_customer(
            office.session, settings(request), _parts(request), number, reason=body.reason,
            actor=office.actor, now=office.now,
        )  # fmt: skip
        done = f"cancelled: {body.reason.strip()}" if body.reason.strip() else "cancelled"
        return _moved(office, number, key, done, ("orders.status", "order_events.note"))


@_route("POST", "/{number}/refund", Action.REFUND, response_model=StaffOrderOut, responses=MOVED)
def refund(request: Request, number: Number, body: RefundIn) -> StaffOrderOut:
    """Refund ``amount_cents`` (leave it out for all that is left), with ``reason``."""
    with staff_access(request, Action.REFUND) as office:
        key = orders.order_key(office.session, number)
        amount = body.amount_cents or orders.refundable_cents(office.session, number)
        orders.refund(
            office.session, settings(request), _parts(request), number, amount,
            reason=body.reason, actor=office.actor, now=office.now,
        )  # fmt: skip
        done = f"refunded {amount} cents" + (f": {body.reason.strip()}" if body.reason else "")
        fields = ("orders.status", "orders.refunded_cents", "order_events.note")
        return _moved(office, number, key, done, fields)


@_route("POST", "/{number}/receive-return", Action.HANDLE_RETURN, response_model=StaffOrderOut,
        responses=MOVED)  # fmt: skip
def receive_return(request: Request, number: Number) -> StaffOrderOut:
    """The returned parcel arrived (refund it with ``refund``)."""
    with staff_access(request, Action.HANDLE_RETURN) as office:
        key = orders.order_key(office.session, number)
        orders.receive_return(office.session, settings(request), number, office.actor, office.now)
        return _moved(office, number, key, "return received", ("orders.status",))


# (method, path) -> the Action each route asks for: what the API description says.
STAFF_ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    (method, route.path): Action(route.openapi_extra[ACTION_KEY])
    for route in router.routes
    if isinstance(route, SignedInRoute) and route.openapi_extra
    for method in sorted(route.methods or ())
}

SITE = DomainSite(routers=(router,))
