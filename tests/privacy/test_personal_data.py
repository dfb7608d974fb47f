"""Personal data is declared once, and export and erasure reach every table (defect 6).

The big test fills every table through the shop's own actions, as a customer and the
shop would, closes the account, lets the goodbye mail go out, and then reads every text
column of every table for the customer's name, email address, phone number and the new
address they had asked to change to. Nothing may be left.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, Text, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.accounts import addresses, service
from quietshop.app import personal_data_registry
from quietshop.keyring import Keyring
from quietshop.mail import service as mail
from quietshop.mail.models import OutboxMessage
from quietshop.mail.sender import MailSender, SmtpTransport
from quietshop.models import metadata
from quietshop.orders import service as orders
from quietshop.orders.demo import seed_demo_rates
from quietshop.orders.models import IdempotencyKey, Order
from quietshop.payments.service import CardInput
from quietshop.privacy.personal_data import (
    PERSONAL_KINDS,
    DataSubject,
    PersonalDataRegistry,
    personal,
    personal_columns,
    tables_with_personal_data,
)
from quietshop.settings import Settings
from tests.accounts.factories import PASSWORD, T0, link_in, mails_to, make_customer, token_for
from tests.catalog.factories import small_catalog
from tests.clock import MovableClock
from tests.mail.conftest import queue_order_update
from tests.mail.smtp_servers import recording_smtp_server

NAME = "Zebulon Quartermaine"
EMAIL = "zebulon.q@example.org"
PHONE = "+1 555 0199 7731"
PENDING_EMAIL = "zeb.new.address@example.org"
SECRETS = (NAME, EMAIL, PHONE, PENDING_EMAIL, "Zebulon", "Quartermaine", "0199 7731")


def _send_due(sessions: sessionmaker[Session], settings: Settings, replies: list[str]) -> None:
    with recording_smtp_server(replies) as (port, _):
        pointed = settings.model_copy(update={"smtp_port": port})
        sender = MailSender(sessions, pointed, SmtpTransport(pointed), "test", MovableClock())
        asyncio.run(sender.send_due())


def _fill_every_table(db: Session, sessions: sessionmaker[Session], settings: Settings) -> Any:
    """One customer who did everything there is to do today."""
    catalog = small_catalog(db)
    seed_demo_rates(db, "USD", T0)
    account = make_customer(db, settings, name=NAME, email=EMAIL, opt_in=True, verified=True)
    me = account.signed_in
    service.update_profile(db, me, None, PHONE)
    for kind, city in (("shipping", "Springfield"), ("billing", "Shelbyville")):
        addresses.add(
            db, me.id,
            addresses.AddressInput(kind, NAME, "1 Main St", city, "US", region="IL",
                                   postcode="62701"),
            T0,
        )  # fmt: skip
    token_for(db, settings, account)
    service.request_email_change(db, settings, me, PENDING_EMAIL, T0)  # never confirmed
    service.request_password_reset(db, settings, EMAIL, T0)
    service.register(db, settings, service.Registration("Other", EMAIL, "yet another long one"), T0)
    mailing = mail.create_mailing(db, "Spring prices", "Cheaper cables.", T0)
    assert mail.send_mailing(db, settings, mailing.id, T0) == 1
    queue_order_update(db, settings, to=EMAIL, number="QS-77").customer_number = me.number
    _order_and_return(db, settings, me, catalog.hdmi_skus[0])
    orders.ask(
        db, settings, kind="question", product_sku=None, name=NAME, email=EMAIL,
        question=f"Does it fit? Call me on {PHONE}", quantity=None, now=T0,
    )  # fmt: skip
    db.add(
        IdempotencyKey(
            scope=f"customer:{me.number}", key="k-1", request_digest="0" * 64, status="done",
            response_status=201, response_body="{}", created_at=T0,
            expires_at=T0 + timedelta(days=1),
        )
    )  # fmt: skip
    db.commit()
    # Some mail goes out, one is refused with the address quoted in the reply.
    _send_due(sessions, settings, ["250 OK"] * 6 + [f"550 5.1.1 <{EMAIL}>: unknown"])
    db.expire_all()
    statuses = {m.status for m in db.execute(select(OutboxMessage)).scalars()}
    assert statuses == {"sent", "failed"}, statuses
    return account


def _order_and_return(db: Session, settings: Settings, me: Any, sku: str) -> None:
    """An order with a discount code, shipped, delivered and partly sent back."""
    shop = settings.model_copy(update={"payment_processor": "simulator"})
    Keyring.create(shop.keyring_path, T0)
    parts = orders.Collaborators(shop, MovableClock())
    ship = addresses.AddressInput("shipping", NAME, "1 Main St", "Springfield", "US",
                                  region="IL", postcode="62701")  # fmt: skip
    bill = addresses.AddressInput("billing", NAME, "9 Side St", "Shelbyville", "US",
                                  region="IL", postcode="62565")  # fmt: skip
    lines = (orders.WantedLine(sku, 3),)
    quote = orders.quote(
        db, shop, orders.QuoteRequest(lines, "US", "standard", "WELCOME10"), me, T0
    )
    placed = orders.place_order(
        db, shop, parts,
        orders.PlaceOrder(
            lines=lines, shipping_address=ship, shipping_address_id=None,
            billing_address=bill, billing_address_id=None, billing_same_as_shipping=False,
            shipping_method="standard", discount_code="WELCOME10",
            card=CardInput(number="4242 4242 4242 4242", expiry_month=12, expiry_year=2030,
                           name=NAME, security_code="737"),
            expected_total_cents=quote.quote.total_cents, expected_currency="USD",
        ),
        me, T0,
    )  # fmt: skip
    number = placed.order_number
    orders.mark_packed(db, shop, number, "fulfilment", T0)
    orders.mark_shipped(db, shop, parts, number, carrier="UPS", tracking_number="1Z",
                        actor="fulfilment", now=T0)  # fmt: skip
    orders.mark_delivered(db, shop, number, "fulfilment", T0)
    ref = orders.OrderRef(customer=me, number=number)
    orders.request_return(db, shop, ref, {sku: 1}, f"Wrong size, {NAME}", T0)


def _text_values(db: Session) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text or JSON value in every table."""
    found = []
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        for row in db.execute(select(*columns)).all() if columns else []:
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    found.append((table.name, column.name, str(value)))
    return found


def _holding(db: Session, *needles: str) -> list[tuple[str, str]]:
    lowered = [needle.casefold() for needle in needles]
    return sorted(
        {
            (table, column)
            for table, column, value in _text_values(db)
            if any(needle in value.casefold() for needle in lowered)
        }
    )


def test_closing_an_account_leaves_nothing_of_the_person_in_any_table(
    db: Session, sessions: sessionmaker[Session], settings: Settings
) -> None:
    account = _fill_every_table(db, sessions, settings)
    assert len(_holding(db, *SECRETS)) >= 8  # the fill really reached the tables

    service.close_account(db, settings, account.signed_in, PASSWORD, T0, personal_data_registry())
    db.commit()
    # Until the goodbye mail is sent, it alone knows where to send it; the invoice keeps
    # the billing name as tax law asks, until the retention period ends.
    assert _holding(db, *SECRETS) == [
        ("mail_outbox", "html_body"),
        ("mail_outbox", "recipient"),
        ("mail_outbox", "recipient_name"),
        ("mail_outbox", "text_body"),
        ("orders", "bill_name"),
    ]
    (goodbye,) = mails_to(db, EMAIL)
    assert goodbye.subject == "Your account is closed" and goodbye.status == "queued"

    _send_due(sessions, settings, ["250 OK"])
    db.expire_all()
    assert _holding(db, *SECRETS) == [("orders", "bill_name")]
    order = db.execute(select(Order)).scalar_one()
    assert order.customer_id is None and order.pseudonymised_at == T0
    assert (order.ship_line1, order.email, order.bill_city) == ("", "", "Shelbyville")
    past_retention = T0 + timedelta(days=settings.order_retention_days + 1)
    orders.forget_expired(db, settings, past_retention)
    db.commit()
    assert _holding(db, *SECRETS, "Shelbyville", "9 Side St") == []
    # What stays is the record that mail was sent, and the permanent customer number.
    kept = db.execute(select(OutboxMessage.status, OutboxMessage.recipient)).all()
    assert kept and all(recipient == "" for _, recipient in kept)
    assert account.customer.customer_number in {v for _, _, v in _text_values(db)}


def test_mail_not_yet_sent_to_a_closing_account_is_cancelled(
    db: Session, settings: Settings
) -> None:
    account = make_customer(db, settings, name=NAME, email=EMAIL)
    queued = queue_order_update(db, settings, to=EMAIL, number="QS-78")
    queued.customer_number = account.customer.customer_number
    service.close_account(db, settings, account.signed_in, PASSWORD, T0, personal_data_registry())
    db.refresh(queued)
    assert (queued.status, queued.recipient, queued.text_body) == ("cancelled", "", "")


def test_the_export_holds_every_declared_column_of_every_table(
    db: Session, sessions: sessionmaker[Session], settings: Settings
) -> None:
    """Generated from the declaration: each personal column of each contributed table is in
    the export, and no row about someone else is."""
    account = _fill_every_table(db, sessions, settings)
    other = make_customer(db, settings, name="Someone Else", email="else@example.org")
    registry = personal_data_registry()
    subject = DataSubject(account.customer.id, account.customer.customer_number, EMAIL)
    exported = registry.export(db, subject)
    for contribution in registry.contributions:
        if not contribution.exported:  # a legal disclosure: erased, never exported
            assert contribution.export_as not in exported
            continue
        rows = exported[contribution.export_as]
        assert rows, contribution.export_as  # the fill reached it
        for column in personal_columns(contribution.table):
            assert all(column in row for row in rows), (contribution.export_as, column)
    text = str(exported)
    assert "Someone Else" not in text and other.customer.customer_number not in text
    assert "token=" not in text  # links are described, never given


def test_every_table_with_personal_data_is_covered_by_export_and_erasure() -> None:
    """A new table holding personal data fails here until its domain contributes it."""
    assert personal_data_registry().unregistered_tables(metadata) == []
    assert {t.name for t in tables_with_personal_data(metadata)} >= {
        "customers", "customer_addresses", "customer_tokens", "account_links",
        "mail_outbox", "mailing_subscriptions",
    }  # fmt: skip


def test_a_new_personal_column_without_a_contribution_is_caught() -> None:
    extra = MetaData()
    Table(
        "loyalty_cards",
        extra,
        Column("id", Integer, primary_key=True),
        Column("holder", String(200), info=personal("contact")),
    )
    assert personal_data_registry().unregistered_tables(extra) == ["loyalty_cards"]


def test_declarations_use_the_closed_set_of_kinds_and_say_why_a_column_is_kept() -> None:
    for table in tables_with_personal_data(metadata):
        for name, info in personal_columns(table).items():
            assert info["personal"] in PERSONAL_KINDS, (table.name, name)
            if info["erase"] == "keep":
                assert len(info["why_kept"]) > 20, (table.name, name)
    with pytest.raises(ValueError, match="unknown kind"):
        personal("hobbies")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must say why"):
        personal("contact", erase="keep")


def test_a_declaration_erasure_cannot_perform_is_refused_at_assembly() -> None:
    from quietshop.privacy.personal_data import SubjectRows

    table = Table(
        "visits",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("count", Integer, nullable=False, info=personal("activity")),
    )
    with pytest.raises(ValueError, match="cannot be blanked"):
        PersonalDataRegistry(
            [SubjectRows(table, lambda s: table.c.id == s.customer_id, "scrub", "visits")]
        )


def test_a_verified_address_and_a_pending_one_are_both_erased(
    db: Session, settings: Settings
) -> None:
    account = make_customer(db, settings, name=NAME, email=EMAIL, verified=True)
    service.request_email_change(db, settings, account.signed_in, PENDING_EMAIL, T0)
    change = mails_to(db, PENDING_EMAIL)[0]
    assert link_in(change, settings)  # a live link to the new address, until closing
    service.close_account(
        db, settings, account.signed_in, PASSWORD, T0 + timedelta(minutes=5),
        personal_data_registry(),
    )  # fmt: skip
    assert _holding(db, PENDING_EMAIL) == []
