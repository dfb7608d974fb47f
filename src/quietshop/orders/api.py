"""The checkout and orders API under /api/v1/. Routes are plain ``def``: they write, and
FastAPI runs them in its thread pool so a lock wait never stalls the event loop. Placing
an order runs in a thread too, but at most ``Settings.order_threads`` at once.

``POST /api/v1/orders`` is idempotent by its ``Idempotency-Key`` header (orders/
idempotency.py). A signed-in customer sends the bearer token; a guest sends none and
names themselves in the body. A guest's later actions carry the signed token from the
order mail in the request body, never in a URL.
"""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.encoders import jsonable_encoder

from quietshop.accounts.auth import maybe_signed_in, signed_in
from quietshop.errors import QuietshopError
from quietshop.orders import idempotency, placing, service
from quietshop.orders.schemas import (
    AvailabilityIn,
    CountryOut,
    InformationRequestIn,
    LinkAvailabilityIn,
    LinkNewCardIn,
    LinkReturnIn,
    MessageOut,
    NewCardIn,
    NewCardOut,
    OrderDetailOut,
    OrderLinkIn,
    OrderSummaryOut,
    PlacedOut,
    PlaceOrderIn,
    QuoteIn,
    QuoteOut,
    ReturnIn,
)
from quietshop.orders.views import (
    card_input,
    detail_out,
    payment_out,
    place_request,
    placed_out,
    quote_request,
    summary_out,
)
from quietshop.signing import signing_key
from quietshop.web.dependencies import count_attempt, now, read_session, settings, write_session
from quietshop.web.routing import TOO_MANY, UNAUTHORIZED, SignedInRoute
from quietshop.web.state import app_state

router = APIRouter(prefix="/api/v1", tags=["orders"])
account_router = APIRouter(prefix="/api/v1", tags=["orders"], route_class=SignedInRoute)

OrderNumber = Annotated[str, Path(min_length=1, max_length=40, description="QS-1234-56789")]
IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A unique key per order attempt (1-255 printable ASCII characters); "
        "resend the same key to retry safely",
    ),
]
# Refusals about the request itself, kept under its key and replayed (a 401, a 429 or a
# server error is not: the client may retry the same key once it is fixed).
STORED_REFUSALS = frozenset({400, 404, 409, 422})
PLACE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    409: {"description": "Totals changed, out of stock, or the same key is still running"},
    422: {"description": "This Idempotency-Key was used for another request"},
    503: {"description": "Very busy: nothing was placed; retry with the same key"},
}


def _parts(request: Request) -> service.Collaborators:
    return app_state(request).part(service.Collaborators)


@router.get("/checkout/countries", response_model=list[CountryOut])
def shipping_countries(request: Request) -> list[CountryOut]:
    with read_session(request) as session:
        codes = service.shipping_countries(session)
    return [CountryOut(code=code, name=service.country_name(code)) for code in codes]


@router.post("/checkout/quote", response_model=QuoteOut, responses=UNAUTHORIZED)
def quote(request: Request, body: QuoteIn) -> QuoteOut:
    """Today's prices, discount, shipping options and tax for a cart (nothing is kept)."""
    with maybe_signed_in(request) as (session, customer):
        view = service.quote(
            session, settings(request), quote_request(body), customer, now(request)
        )
        shown = service.quote_out(view.quote, view.options, settings(request))
    return QuoteOut.model_validate(shown)


@router.post("/orders", status_code=201, response_model=PlacedOut, responses=PLACE_RESPONSES)
async def place_order(
    request: Request, body: PlaceOrderIn, key: IdempotencyHeader = None
) -> Response:
    """Place an order. The same key and body again replays the first answer."""
    # In a thread, as plain routes run, but only a few at once (Settings.order_threads):
    # the others wait here without a thread, and the event loop keeps answering pages.
    call = functools.partial(_place_order, request, body, key)
    return await anyio.to_thread.run_sync(call, limiter=_parts(request).order_threads)


def _place_order(request: Request, body: PlaceOrderIn, key: str | None) -> Response:
    checked_key = idempotency.check_key(key)
    state, moment = app_state(request), now(request)
    scope = idempotency.scope_for(_customer_number(request))
    digest = idempotency.request_digest(
        signing_key(settings(request)), body.model_dump(mode="json")
    )
    lifetime = service.idempotency_lifetime(settings(request))
    replay = idempotency.begin(state.sessions, scope, checked_key, digest, moment, lifetime)
    if replay is not None:
        return _json(replay.status_code, replay.body, replay.headers())
    try:
        status, text = _place(request, body, scope, checked_key)
    except Exception:
        idempotency.abandon(state.sessions, scope, checked_key)
        raise
    if status != 201:  # a refusal: the order's transaction rolled back; keep it apart
        idempotency.finish(state.sessions, scope, checked_key, status, text, moment)
    return _json(status, text)


def _customer_number(request: Request) -> str | None:
    """Whose key space the Idempotency-Key lives in (401 here for a dead token)."""
    if not request.headers.get("authorization"):
        return None
    with signed_in(request) as (_, customer):
        return customer.number


def _place(request: Request, body: PlaceOrderIn, scope: str, key: str) -> tuple[int, str]:
    """The answer as status and JSON text. A placed order's answer is kept under its key
    in the order's own transaction, so the two commit together; a refusal about the
    request (4xx) is an answer the key keeps too, as the draft says (the caller stores
    it); anything else propagates."""
    moment = now(request)
    try:
        with maybe_signed_in(request, write=True) as (session, customer):
            placed = placing.place_order(
                session, settings(request), _parts(request), place_request(body), customer, moment
            )
            text = PlacedOut.model_validate(placed_out(placed)).model_dump_json()
            idempotency.record(session, scope, key, 201, text, moment)
        return 201, text
    except QuietshopError as error:
        if error.status_code not in STORED_REFUSALS or isinstance(error, idempotency.KeyInFlight):
            raise  # not an answer about this request: the key is let go for a retry
        answer = {**error.extra(), "error": error.code, "detail": error.detail()}
        return error.status_code, json.dumps(jsonable_encoder(answer))


def _json(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status_code=status, media_type="application/json", headers=headers)


@account_router.get("/orders", response_model=list[OrderSummaryOut], responses=UNAUTHORIZED)
def list_orders(request: Request) -> list[OrderSummaryOut]:
    with signed_in(request) as (session, customer):
        return [summary_out(s) for s in service.list_orders(session, customer)]


@account_router.get("/orders/{number}", response_model=OrderDetailOut, responses=UNAUTHORIZED)
def order(request: Request, number: OrderNumber) -> OrderDetailOut:
    with signed_in(request) as (session, customer):
        return detail_out(service.order_detail(session, customer, number))


@account_router.post("/orders/{number}/cancel", response_model=OrderDetailOut)
def cancel(request: Request, number: OrderNumber) -> OrderDetailOut:
    """Cancel before packing: stock goes back, the payment is released."""
    with signed_in(request, write=True) as (session, customer):
        ref = service.OrderRef(customer=customer, number=number)
        return detail_out(
            service.cancel(session, settings(request), _parts(request), ref, now(request))
        )


@account_router.post("/orders/{number}/availability", response_model=OrderDetailOut)
def availability(request: Request, number: OrderNumber, body: AvailabilityIn) -> OrderDetailOut:
    """An item is backordered: wait for it, or cancel."""
    with signed_in(request, write=True) as (session, customer):
        ref = service.OrderRef(customer=customer, number=number)
        detail = service.answer_availability(
            session, settings(request), _parts(request), ref, body.choice, now(request)
        )
        return detail_out(detail)


@account_router.post("/orders/{number}/payment", response_model=NewCardOut)
def new_card(request: Request, number: OrderNumber, body: NewCardIn) -> NewCardOut:
    """A new card after a payment problem."""
    with signed_in(request, write=True) as (session, customer):
        ref = service.OrderRef(customer=customer, number=number)
        detail, outcome = service.new_card(
            session, settings(request), _parts(request), ref, card_input(body.card), now(request)
        )
        return NewCardOut(order=detail_out(detail), payment=payment_out(outcome))


@account_router.post("/orders/{number}/return", response_model=OrderDetailOut)
def request_return(request: Request, number: OrderNumber, body: ReturnIn) -> OrderDetailOut:
    with signed_in(request, write=True) as (session, customer):
        ref = service.OrderRef(customer=customer, number=number)
        detail = service.request_return(
            session, settings(request), ref, dict(body.lines), body.reason, now(request)
        )
        return detail_out(detail)


# ---------------------------------------------------------------- a guest's order link

LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "The order link is incomplete, not ours, or expired"}
}


def _linked(body: OrderLinkIn) -> service.OrderRef:
    return service.OrderRef(link_token=body.token)


@router.post("/order-link/order", response_model=OrderDetailOut, responses=LINK_RESPONSES)
def linked_order(request: Request, body: OrderLinkIn) -> OrderDetailOut:
    """The order a mailed link names (the token travels in the body, never in a URL)."""
    with read_session(request) as session:
        return detail_out(
            service.linked_order_detail(session, settings(request), body.token, now(request))
        )


@router.post("/order-link/cancel", response_model=OrderDetailOut, responses=LINK_RESPONSES)
def linked_cancel(request: Request, body: OrderLinkIn) -> OrderDetailOut:
    with write_session(request) as session:
        detail = service.cancel(
            session, settings(request), _parts(request), _linked(body), now(request)
        )
        return detail_out(detail)


@router.post("/order-link/availability", response_model=OrderDetailOut, responses=LINK_RESPONSES)
def linked_availability(request: Request, body: LinkAvailabilityIn) -> OrderDetailOut:
    with write_session(request) as session:
        detail = service.answer_availability(
            session, settings(request), _parts(request), _linked(body), body.choice, now(request)
        )
        return detail_out(detail)


@router.post("/order-link/payment", response_model=NewCardOut, responses=LINK_RESPONSES)
def linked_new_card(request: Request, body: LinkNewCardIn) -> NewCardOut:
    with write_session(request) as session:
        detail, outcome = service.new_card(
            session,
            settings(request),
            _parts(request),
            _linked(body),
            card_input(body.card),
            now(request),
        )
        return NewCardOut(order=detail_out(detail), payment=payment_out(outcome))


@router.post("/order-link/return", response_model=OrderDetailOut, responses=LINK_RESPONSES)
def linked_return(request: Request, body: LinkReturnIn) -> OrderDetailOut:
    with write_session(request) as session:
        detail = service.request_return(
            session, settings(request), _linked(body), dict(body.lines), body.reason, now(request)
        )
        return detail_out(detail)


# ---------------------------------------------------------------- questions, guests


@router.post(
    "/information-requests", status_code=202, response_model=MessageOut, responses=TOO_MANY
)
def ask(request: Request, body: InformationRequestIn) -> MessageOut:
    """A product question or a quote request for customer service."""
    count_attempt(request)
    with write_session(request) as session:
        service.ask(
            session,
            settings(request),
            kind=body.kind,
            product_sku=body.product_sku,
            name=body.name,
            email=body.email,
            question=body.question,
            quantity=body.quantity,
            now=now(request),
        )
    days = settings(request).info_request_retention_days
    return MessageOut(
        message=f"Thank you: customer service will answer by mail. We keep your question "
        f"{days} days, only to answer it."
    )
