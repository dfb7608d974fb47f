"""What may be queued (P4): a closed set of purposes, mailings only to those opted in,
and every header and body checked before anything is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.errors import InvalidInput
from quietshop.mail import service
from quietshop.mail.models import OutboxMessage
from quietshop.settings import Settings
from tests.mail.conftest import queue_order_update


def outbox_count(db: Session) -> int:
    return db.execute(select(func.count(OutboxMessage.id))).scalar_one()


def test_an_order_update_is_queued_with_everything_it_needs(
    db: Session, mail_settings: Settings
) -> None:
    message = queue_order_update(db, mail_settings)
    assert (message.purpose, message.status, message.attempts) == ("order_update", "queued", 0)
    assert message.subject == "Your order QS-1001 is on its way"
    assert message.reference == "QS-1001"
    assert message.message_id.startswith("<") and message.message_id.endswith("@quietshop.test>")
    for body in (message.text_body, message.html_body):
        assert "Parcel Co" in body and "PC123" in body
        assert "123456782" in body  # the customer number (P9)
        assert mail_settings.shop_postal_address in body and mail_settings.shop_name in body
    assert message.unsubscribe_url is None


def test_unknown_kinds_are_refused(db: Session, mail_settings: Settings) -> None:
    with pytest.raises(InvalidInput) as error:
        service.queue_message(
            db, mail_settings, "newsletter", service.Recipient("a@example.org"), {}
        )
    assert error.value.field == "kind"
    assert outbox_count(db) == 0


def test_the_database_refuses_a_purpose_outside_the_set(db: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    db.add(
        OutboxMessage(
            message_id="<x@y>", purpose="marketing", recipient="a@example.org", subject="s",
            text_body="t", html_body="h",
        )
    )  # fmt: skip
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_a_mailing_needs_an_opt_in_at_that_moment(db: Session, mail_settings: Settings) -> None:
    ann = service.Recipient("ann@example.org", "Ann", "123456782")
    context = {"subject": "Spring prices", "body": "New low prices."}
    with pytest.raises(InvalidInput):
        service.queue_message(db, mail_settings, "mailing", ann, context)  # never asked
    service.set_mailing_opt_in(db, "123456782", "ann@example.org", "Ann", opted_in=True)
    message = service.queue_message(db, mail_settings, "mailing", ann, context)
    assert message.unsubscribe_url is not None and "/unsubscribe?token=" in message.unsubscribe_url
    service.set_mailing_opt_in(db, "123456782", "ann@example.org", "Ann", opted_in=False)
    with pytest.raises(InvalidInput):
        service.queue_message(db, mail_settings, "mailing", ann, context)  # changed her mind
    no_number = service.Recipient("bob@example.org", "Bob")
    with pytest.raises(InvalidInput):
        service.queue_message(db, mail_settings, "mailing", no_number, context)
    assert outbox_count(db) == 1


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("Ann\r\nBcc: everyone@example.org", "recipient_name"),
        ("Ann\nExample", "recipient_name"),
        ("Ann\x00", "recipient_name"),
        ("A" * 201, "recipient_name"),
    ],
)
def test_hostile_names_are_refused(
    db: Session, mail_settings: Settings, name: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        service.queue_message(
            db, mail_settings, "order_delivered", service.Recipient("a@example.org", name),
            {"order_number": "QS-1"},
        )  # fmt: skip
    assert error.value.field == field
    assert outbox_count(db) == 0


def test_a_subject_with_a_line_break_is_refused(db: Session, mail_settings: Settings) -> None:
    with pytest.raises(InvalidInput) as error:
        service.queue_message(
            db, mail_settings, "order_delivered", service.Recipient("a@example.org"),
            {"order_number": "QS-1\r\nBcc: x@example.org"},
        )  # fmt: skip
    assert error.value.field == "subject"
    assert outbox_count(db) == 0


@pytest.mark.parametrize(
    "address",
    ["", "plainaddress", "@example.org", "a@", "a b@example.org", "a@exa mple.org",
     "a@example.org\r\nBcc: x@example.org", "a" * 65 + "@example.org",
     "a@" + "b" * 250 + ".org", "a@-example.org", "<a@example.org>", "a@@example.org"],
)  # fmt: skip
def test_invalid_addresses_are_refused(db: Session, mail_settings: Settings, address: str) -> None:
    with pytest.raises(InvalidInput) as error:
        queue_order_update(db, mail_settings, to=address)
    assert error.value.field == "recipient"
    assert outbox_count(db) == 0


def test_valid_addresses_pass(db: Session, mail_settings: Settings) -> None:
    for address in ("a@example.org", "first.last+tag@mail.example.co.uk", "o'neil@example.org"):
        queue_order_update(db, mail_settings, to=address)
    assert outbox_count(db) == 3


def test_empty_and_oversized_bodies_are_refused(db: Session, mail_settings: Settings) -> None:
    service.set_mailing_opt_in(db, "123456782", "ann@example.org", "Ann", opted_in=True)
    with pytest.raises(InvalidInput) as empty:
        service.create_mailing(db, "Subject", "   \n ")
    assert empty.value.field == "text_body"
    small = mail_settings.model_copy(update={"mail_max_body_bytes": 2048})
    with pytest.raises(InvalidInput) as huge:
        service.queue_message(
            db, small, "staff_notice", service.Recipient("staff@example.org"),
            {"title": "Notice", "body": "x" * 5000},
        )  # fmt: skip
    assert huge.value.field == "text_body"
    assert outbox_count(db) == 0


def test_unsubscribe_tokens_cannot_be_forged(db: Session, mail_settings: Settings) -> None:
    token = service.unsubscribe_token(mail_settings, "123456782")
    assert service.customer_for_token(mail_settings, token) == "123456782"
    number, _, signature = token.partition(".")
    forged = [
        f"123456790.{signature}",  # another customer, same signature
        f"{number}.{'0' * len(signature)}",
        f"{number}.{signature[:-1]}",
        number,
        "",
        "x" * 500,
    ]
    for bad in forged:
        with pytest.raises(InvalidInput):
            service.customer_for_token(mail_settings, bad)
    other_key = mail_settings.model_copy(
        update={"secret_key": type(mail_settings.secret_key)("another-secret-key-0123456789-xyz")}
    )
    with pytest.raises(InvalidInput):
        service.customer_for_token(other_key, token)


def test_unsubscribe_turns_the_opt_in_off_at_once(db: Session, mail_settings: Settings) -> None:
    service.set_mailing_opt_in(db, "123456782", "ann@example.org", "Ann", opted_in=True)
    service.unsubscribe(db, mail_settings, service.unsubscribe_token(mail_settings, "123456782"))
    assert service.is_opted_in(db, "123456782") is False


def test_a_mailing_goes_to_those_opted_in_when_it_is_sent(
    db: Session, mail_settings: Settings
) -> None:
    service.set_mailing_opt_in(db, "100000001", "a@example.org", "A", opted_in=True)
    service.set_mailing_opt_in(db, "100000002", "b@example.org", "B", opted_in=False)
    service.set_mailing_opt_in(db, "100000003", "c@example.org", "C", opted_in=True)
    mailing = service.create_mailing(db, "Spring prices", "Lower prices on cables.\n\nEnjoy.")
    subject, text = service.preview_mailing(db, mail_settings, mailing.id)
    assert subject == "Spring prices" and "Lower prices on cables." in text
    service.set_mailing_opt_in(db, "100000003", "c@example.org", "C", opted_in=False)
    assert service.send_mailing(db, mail_settings, mailing.id) == 1
    rows = db.execute(select(OutboxMessage)).scalars().all()
    assert [(m.recipient, m.purpose, m.reference) for m in rows] == [
        ("a@example.org", "mailing", f"mailing:{mailing.id}")
    ]
    with pytest.raises(InvalidInput):
        service.send_mailing(db, mail_settings, mailing.id)  # never twice
