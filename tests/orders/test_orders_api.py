"""Placing and following orders through the API, as a guest and signed in: the server
prices everything, stock is taken once, the card is kept only encrypted, the security
code nowhere, and each move mails the customer."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from quietshop.accounts.numbers import format_customer_number
from quietshop.catalog.models import ProductVariant
from quietshop.mail import sealing
from quietshop.mail.models import OutboxMessage
from quietshop.orders import service
from quietshop.orders.models import DiscountCode, IdempotencyKey, Order, OrderEvent
from quietshop.payments.models import Payment, PaymentCard
from quietshop.settings import Settings
from tests.accounts.factories import make_customer, token_for
from tests.clock import MovableClock
from tests.orders.conftest import (
    DECLINED_CARD,
    GUEST,
    SECURITY_CODE,
    US_ADDRESS,
    Stock,
    card,
    order_body,
    quote_total,
)


def _without_numbers(text: str, order_number: str, customer_number: str | None) -> str:
    """``text`` with the order's and the customer's random numbers taken out, in every form
    they are printed: the security code's three digits turn up inside one now and then
    (a customer number 6371737621 holds "737"), which says nothing about the code."""
    forms = [order_number, service.format_order_number(order_number)]
    if customer_number:
        forms += [customer_number, format_customer_number(customer_number)]
    for form in forms:
        text = text.replace(form, "")
    return text


def _place(client: TestClient, body: dict[str, Any], key: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/orders",
        json=body,
        headers={"Idempotency-Key": key or str(uuid.uuid4()), **headers},
    )


def _stock(db: Session, sku: str) -> int:
    db.expire_all()
    return db.execute(select(ProductVariant.stock).where(ProductVariant.sku == sku)).scalar_one()


def _count(db: Session, model: Any) -> int:
    return db.execute(select(func.count()).select_from(model)).scalar_one()


def _mails(db: Session, to: str) -> list[OutboxMessage]:
    db.expire_all()
    return list(
        db.execute(
            select(OutboxMessage).where(OutboxMessage.recipient == to).order_by(OutboxMessage.id)
        ).scalars()
    )


# ---------------------------------------------------------------- quoting


def test_a_quote_prices_lines_shipping_and_tax_on_the_server(api: TestClient, stock: Stock) -> None:
    answer = api.post(
        "/api/v1/checkout/quote",
        json={"lines": [{"sku": stock.cable, "quantity": 2}], "shipping_country": "DE"},
    )
    assert answer.status_code == 200, answer.text
    quote = answer.json()
    assert quote["subtotal"] == {"cents": 2598, "currency": "USD"}
    # Cheapest method to Germany by default; Germany's 19 % is part of the price.
    assert quote["shipping_method"] == "standard"
    assert quote["shipping"]["cents"] == 1490  # the base; these test products weigh nothing
    assert quote["prices_include_tax"] is True
    assert quote["total"]["cents"] == 2598 + 1490
    # 19 % included in goods and shipping alike: 4088 * 19 / 119 = 652.7, half up.
    assert quote["tax"]["cents"] == 653
    assert {o["code"] for o in quote["shipping_options"]} == {"standard", "express"}
    assert quote["payment_simulated"] is True


def test_a_country_we_do_not_ship_to_is_named(api: TestClient, stock: Stock) -> None:
    answer = api.post(
        "/api/v1/checkout/quote",
        json={"lines": [{"sku": stock.cable, "quantity": 1}], "shipping_country": "JP"},
    )
    assert answer.status_code == 400
    assert answer.json()["detail"][0]["field"] == "country"


def test_discount_codes_apply_and_refuse_with_their_reason(
    api: TestClient, stock: Stock, clock: MovableClock
) -> None:
    lines = [{"sku": stock.cable, "quantity": 2}]
    base = {"lines": lines, "shipping_country": "US"}
    good = api.post("/api/v1/checkout/quote", json={**base, "discount_code": " welcome10 "})
    assert good.status_code == 200, good.text
    assert good.json()["discount"]["cents"] == 260  # 10 % of 25.98, half up
    assert good.json()["discount_code"] == "WELCOME10"
    for code, words in (("EXPIRED", "expired"), ("NOPE-NOT-A-CODE", "know"), ("SAVE5", None)):
        answer = api.post("/api/v1/checkout/quote", json={**base, "discount_code": code})
        if words is None:
            assert answer.status_code == 200
            continue
        assert answer.status_code == 400, code
        detail = answer.json()["detail"]
        assert detail[0]["field"] == "discount_code" and words in detail[0]["message"].lower()
    small = api.post(
        "/api/v1/checkout/quote",
        json={"lines": [{"sku": stock.adapter, "quantity": 1}], "shipping_country": "US",
              "discount_code": "WELCOME10"},
    )  # fmt: skip
    assert small.status_code == 400 and "at least" in small.json()["detail"][0]["message"]


# ---------------------------------------------------------------- placing as a guest


def test_a_guest_places_an_order_and_everything_happens_once(
    api: TestClient, stock: Stock, db: Session, shop_settings: Settings
) -> None:
    lines = [{"sku": stock.cable, "quantity": 2}, {"sku": stock.hdmi[1], "quantity": 1}]
    total = quote_total(api, lines)
    answer = _place(api, order_body(lines, total))
    assert answer.status_code == 201, answer.text
    placed = answer.json()
    assert placed["status"] == "payment_verified"
    assert placed["payment"]["card_label"] == "Visa •••• 4242"
    assert placed["payment"]["simulated"] is True
    assert placed["next"] == "mail"
    assert placed["total"] == {"cents": total, "currency": "USD"}
    assert _stock(db, stock.cable) == 8 and _stock(db, stock.hdmi[1]) == 3

    order = db.execute(select(Order)).scalar_one()
    assert service.format_order_number(order.order_number) == placed["order_number"]
    assert order.customer_number and order.email == GUEST["email"]
    assert [e.to_status for e in order.events] == ["placed", "payment_verified"]
    card_row = db.execute(select(PaymentCard)).scalar_one()
    assert card_row.last4 == "4242" and card_row.ciphertext is not None
    assert b"4242424242424242" not in card_row.ciphertext
    mails = _mails(db, GUEST["email"])
    assert [m.subject.split()[1] for m in mails] == ["received"]
    body = mails[0].text_body
    assert "[[link:order_link]]" in body and "[[link:claim_link]]" in body
    assert "4242424242424242" not in body
    assert SECURITY_CODE not in _without_numbers(body, order.order_number, order.customer_number)
    links = sealing.unseal_links(shop_settings, mails[0].sealed_context or "")
    assert "/orders/view#token=" in links["order_link"]


def test_the_order_link_shows_the_order_and_expires(
    api: TestClient, stock: Stock, db: Session, shop_settings: Settings, clock: MovableClock
) -> None:
    lines = [{"sku": stock.adapter, "quantity": 1}]
    assert _place(api, order_body(lines, quote_total(api, lines))).status_code == 201
    mail = _mails(db, GUEST["email"])[0]
    link = sealing.unseal_links(shop_settings, mail.sealed_context or "")["order_link"]
    token = link.split("#token=", 1)[1]
    seen = api.post("/api/v1/order-link/order", json={"token": token})
    assert seen.status_code == 200, seen.text
    assert seen.json()["lines"][0]["sku"] == stock.adapter
    assert "cancel" in seen.json()["actions"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert api.post("/api/v1/order-link/order", json={"token": forged}).status_code == 401
    number_only = token.split(".")[0]
    assert api.post("/api/v1/order-link/order", json={"token": number_only}).status_code == 401
    clock.advance(days=shop_settings.order_link_days, seconds=1)
    assert api.post("/api/v1/order-link/order", json={"token": token}).status_code == 401


def test_a_guest_cancels_through_the_link_and_stock_comes_back(
    api: TestClient, stock: Stock, db: Session, shop_settings: Settings
) -> None:
    lines = [{"sku": stock.adapter, "quantity": 3}]
    assert _place(api, order_body(lines, quote_total(api, lines))).status_code == 201
    assert _stock(db, stock.adapter) == 0
    mail = _mails(db, GUEST["email"])[0]
    token = sealing.unseal_links(shop_settings, mail.sealed_context or "")["order_link"].split(
        "#token="
    )[1]
    cancelled = api.post("/api/v1/order-link/cancel", json={"token": token})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert _stock(db, stock.adapter) == 3
    db.expire_all()
    assert db.execute(select(Payment.status)).scalar_one() == "voided"
    assert db.execute(select(PaymentCard.ciphertext)).scalar_one() is None
    assert [m.subject.split()[-2:] for m in _mails(db, GUEST["email"])][-1] == ["was", "cancelled"]
    again = api.post("/api/v1/order-link/cancel", json={"token": token})
    assert again.status_code == 409


# ---------------------------------------------------------------- what the server decides


def test_tampered_client_totals_are_never_charged(
    api: TestClient, stock: Stock, db: Session
) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    total = quote_total(api, lines)
    answer = _place(api, order_body(lines, 1))  # a client that says it costs one cent
    assert answer.status_code == 409
    refusal = answer.json()
    assert refusal["error"] == "totals_changed"
    assert refusal["quote"]["total"]["cents"] == total
    assert _count(db, Order) == 0 and _stock(db, stock.cable) == 10
    assert _count(db, PaymentCard) == 0 and _mails(db, GUEST["email"]) == []


def test_a_decline_reaches_payment_problem_and_mails_the_customer(
    api: TestClient, stock: Stock, db: Session
) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    body = order_body(lines, quote_total(api, lines), card=card(DECLINED_CARD))
    answer = _place(api, body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "payment_problem"
    assert answer.json()["payment"]["status"] == "declined"
    subjects = [m.subject for m in _mails(db, GUEST["email"])]
    assert any(s.startswith("Payment problem") for s in subjects)
    # Stock stays held for the customer to fix the payment.
    assert _stock(db, stock.cable) == 9


def test_out_of_stock_places_nothing(api: TestClient, stock: Stock, db: Session) -> None:
    lines = [{"sku": stock.adapter, "quantity": 4}]
    answer = _place(api, order_body(lines, quote_total(api, lines)))
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "out_of_stock"
    assert _count(db, Order) == 0 and _stock(db, stock.adapter) == 3
    assert _count(db, PaymentCard) == 0 and _mails(db, GUEST["email"]) == []


# ---------------------------------------------------------------- idempotency


def test_the_same_key_and_body_replays_the_first_answer(
    api: TestClient, stock: Stock, db: Session
) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    body = order_body(lines, quote_total(api, lines))
    first = _place(api, body, key="order-attempt-1")
    second = _place(api, body, key="order-attempt-1")
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second.headers["idempotent-replayed"] == "true"
    assert _count(db, Order) == 1 and _stock(db, stock.cable) == 9
    other = _place(
        api, {**body, "lines": [{"sku": stock.cable, "quantity": 2}]}, key="order-attempt-1"
    )
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"
    stored = db.execute(select(IdempotencyKey.response_body)).scalar_one() or ""
    (order,) = db.execute(select(Order)).scalars()
    assert "4242424242424242" not in stored
    assert SECURITY_CODE not in _without_numbers(stored, order.order_number, order.customer_number)


def test_a_key_is_required_and_must_be_sane(api: TestClient, stock: Stock, db: Session) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    body = order_body(lines, quote_total(api, lines))
    missing = api.post("/api/v1/orders", json=body)
    assert missing.status_code == 400
    assert missing.json()["detail"][0]["field"] == "Idempotency-Key"
    for bad in ("x" * 256, "with space", ""):
        answer = api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": bad})
        assert answer.status_code == 400, bad
    assert _count(db, Order) == 0


# ---------------------------------------------------------------- bad input


def test_bad_lines_are_refused_and_nothing_is_taken(
    api: TestClient, stock: Stock, db: Session
) -> None:
    cases: list[Any] = [
        [{"sku": stock.cable, "quantity": 0}],
        [{"sku": stock.cable, "quantity": -1}],
        [{"sku": stock.cable, "quantity": 1000}],
        [{"sku": stock.cable, "quantity": 2.5}],
        [{"sku": stock.cable, "quantity": "2"}],
        [{"sku": "NO-SUCH-SKU", "quantity": 1}],
        [{"sku": "", "quantity": 1}],
        [{"sku": "S" * 41, "quantity": 1}],
        [{"sku": f"S-{n}", "quantity": 1} for n in range(101)],
        [],
    ]
    for lines in cases:
        answer = _place(api, order_body(lines, 1299))
        assert answer.status_code == 400, (lines[:1], answer.text)
        assert answer.json()["error"] == "invalid_parameter"
    assert _count(db, Order) == 0 and _stock(db, stock.cable) == 10
    huge = [{"sku": stock.cable, "quantity": 1}] * 10_000
    assert _place(api, order_body(huge, 1299)).status_code in (400, 413)


def test_bad_cards_are_refused_by_field_without_echoing_digits(
    api: TestClient, stock: Stock, db: Session
) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    total = quote_total(api, lines)
    spaced = _place(api, order_body(lines, total, card=card("4242-4242 4242-4242")))
    assert spaced.status_code == 201, spaced.text  # spaces and dashes are normalised
    cases = [
        card("4242 4242 4242 424X"),
        card("4242 4242 4242 4241"),  # fails Luhn
        card(exp_year=2026, exp_month=10),  # expired (the clock says November 2026)
        card(exp_month=13),
        card(security_code="12"),
        card(security_code="abc"),
    ]
    for bad in cases:
        answer = _place(api, order_body(lines, total, card=bad))
        assert answer.status_code == 400, (bad, answer.text)
        assert "4242" not in answer.text and "424X" not in answer.text
    assert _count(db, Order) == 1


def test_a_dead_token_is_refused_not_taken_for_a_guest(api: TestClient, stock: Stock) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    answer = _place(
        api, order_body(lines, quote_total(api, lines)), authorization="Bearer not-a-token"
    )
    assert answer.status_code == 401


# ---------------------------------------------------------------- signed in


def test_a_customer_orders_from_the_address_book_and_follows_the_order(
    api: TestClient, stock: Stock, db: Session, shop_settings: Settings, clock: MovableClock
) -> None:
    account = make_customer(db, shop_settings, verified=True)
    token = token_for(db, shop_settings, account)
    db.commit()
    auth = {"authorization": f"Bearer {token}"}
    saved = api.post(
        "/api/v1/account/addresses", json={"kind": "shipping", **US_ADDRESS}, headers=auth
    )
    assert saved.status_code == 201, saved.text
    lines = [{"sku": stock.hdmi[0], "quantity": 2}]
    body = order_body(
        lines, quote_total(api, lines), guest=None, shipping_address=None,
        shipping_address_id=saved.json()["id"],
    )  # fmt: skip
    answer = _place(api, body, **auth)
    assert answer.status_code == 201, answer.text
    number = answer.json()["order_number"]
    assert answer.json()["next"] == "account"

    listed = api.get("/api/v1/orders", headers=auth).json()
    assert [o["order_number"] for o in listed] == [number]
    detail = api.get(f"/api/v1/orders/{number}", headers=auth).json()
    assert detail["card_label"] == "Visa •••• 4242"
    assert detail["shipping_address"][0] == "Ann Example"
    assert [h["status"] for h in detail["history"]] == ["placed", "payment_verified"]

    other = make_customer(db, shop_settings, verified=True)
    other_token = token_for(db, shop_settings, other)
    db.commit()
    peek = api.get(f"/api/v1/orders/{number}", headers={"authorization": f"Bearer {other_token}"})
    assert peek.status_code == 404
    assert api.get(f"/api/v1/orders/{number}").status_code == 401


def test_shipping_captures_the_payment_and_purges_the_card(
    api: TestClient,
    stock: Stock,
    db: Session,
    shop: Any,
    shop_settings: Settings,
    clock: MovableClock,
) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    placed = _place(api, order_body(lines, quote_total(api, lines))).json()
    parts = shop.state.part(service.Collaborators)
    now = clock()
    service.mark_packed(db, shop_settings, placed["order_number"], "fulfilment", now)
    service.mark_shipped(
        db, shop_settings, parts, placed["order_number"], carrier="UPS",
        tracking_number="1Z999", actor="fulfilment", now=now,
    )  # fmt: skip
    db.flush()
    assert db.execute(select(PaymentCard.ciphertext)).scalar_one() is None
    assert db.execute(select(Payment.status)).scalar_one() == "captured"
    shipped = _mails(db, GUEST["email"])[-1]
    assert "on its way" in shipped.subject and "1Z999" in shipped.text_body
    statuses = db.execute(select(OrderEvent.to_status).order_by(OrderEvent.id)).scalars().all()
    assert statuses == ["placed", "payment_verified", "packed", "shipped"]


def test_moves_off_the_graph_are_refused(
    api: TestClient, stock: Stock, db: Session, shop_settings: Settings, clock: MovableClock
) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    placed = _place(api, order_body(lines, quote_total(api, lines))).json()
    try:
        service.mark_delivered(db, shop_settings, placed["order_number"], "fulfilment", clock())
    except service.lifecycle.StatusConflict as refusal:
        assert "cannot become delivered" in str(refusal)
    else:
        raise AssertionError("a paid order cannot jump to delivered")
    clock.advance(timedelta(0).seconds)


# ---------------------------------------------------------------- guests become customers


def _claim_token(db: Session, settings: Settings, email: str) -> str:
    received = next(m for m in _mails(db, email) if "[[link:claim_link]]" in m.text_body)
    link = sealing.unseal_links(settings, received.sealed_context or "")["claim_link"]
    assert "/account/claim#token=" in link  # in the fragment: no browser sends it
    return link.split("#token=", 1)[1]


def test_a_guest_keeps_one_customer_number_and_may_claim_an_account(
    api: TestClient, stock: Stock, db: Session, shop_settings: Settings
) -> None:
    lines = [{"sku": stock.cable, "quantity": 1}]
    for _ in range(2):
        assert _place(api, order_body(lines, quote_total(api, lines))).status_code == 201
    numbers = set(db.execute(select(Order.customer_number)).scalars())
    assert len(numbers) == 1  # the same guest address, the same customer number (P9)
    token = _claim_token(db, shop_settings, GUEST["email"])
    weak = api.post("/api/v1/auth/claim-guest", json={"token": token, "password": "password"})
    assert weak.status_code == 400
    claimed = api.post(
        "/api/v1/auth/claim-guest", json={"token": token, "password": "a long guest passphrase"}
    )
    assert claimed.status_code == 200, claimed.text
    assert numbers.pop() in claimed.json()["message"]
    signed = api.post(
        "/api/v1/auth/sign-in",
        json={"email": GUEST["email"], "password": "a long guest passphrase"},
    )
    assert signed.status_code == 200, signed.text
    listed = api.get(
        "/api/v1/orders", headers={"authorization": f"Bearer {signed.json()['token']}"}
    )
    assert len(listed.json()) == 2  # the guest's orders are the account's now
    again = api.post(
        "/api/v1/auth/claim-guest", json={"token": token, "password": "another long phrase"}
    )
    assert again.status_code == 400  # a link works once


def test_a_guest_cannot_claim_an_address_an_account_uses(
    api: TestClient, stock: Stock, db: Session, shop_settings: Settings
) -> None:
    account = make_customer(db, shop_settings, email="taken@example.org", verified=True)
    db.commit()
    lines = [{"sku": stock.cable, "quantity": 1}]
    body = order_body(
        lines, quote_total(api, lines), guest={"name": "Tess", "email": account.email}
    )
    placed = _place(api, body)
    assert placed.status_code == 201, placed.text
    order = db.execute(select(Order)).scalar_one()
    assert order.customer_id != account.customer.id  # a guest order never lands in an account
    token = _claim_token(db, shop_settings, account.email)
    refused = api.post(
        "/api/v1/auth/claim-guest", json={"token": token, "password": "a long guest passphrase"}
    )
    assert refused.status_code == 409 and refused.json()["error"] == "address_has_account"


def test_a_code_past_its_limits_is_refused_and_a_cancel_gives_the_use_back(
    api: TestClient, stock: Stock, db: Session, shop_settings: Settings
) -> None:
    account = make_customer(db, shop_settings, verified=True)
    auth = {"authorization": f"Bearer {token_for(db, shop_settings, account)}"}
    db.execute(update(DiscountCode).where(DiscountCode.code == "SAVE5").values(uses=100))
    db.commit()
    lines = [{"sku": stock.cable, "quantity": 2}]
    base = {"lines": lines, "shipping_country": "US", "shipping_method": "standard"}
    used_up = api.post("/api/v1/checkout/quote", json={**base, "discount_code": "SAVE5"})
    assert used_up.status_code == 400 and "used up" in used_up.json()["detail"][0]["message"]

    welcome = {**base, "discount_code": "WELCOME10"}
    total = api.post("/api/v1/checkout/quote", json=welcome, headers=auth).json()["total"]
    body = order_body(
        lines, total["cents"], guest=None, discount_code="WELCOME10",
        shipping_address=US_ADDRESS,
    )  # fmt: skip
    placed = _place(api, body, **auth)
    assert placed.status_code == 201, placed.text
    again = api.post("/api/v1/checkout/quote", json=welcome, headers=auth)
    assert again.status_code == 400 and "already used" in again.json()["detail"][0]["message"]
    number = placed.json()["order_number"]
    assert api.post(f"/api/v1/orders/{number}/cancel", headers=auth).status_code == 200
    assert api.post("/api/v1/checkout/quote", json=welcome, headers=auth).status_code == 200
