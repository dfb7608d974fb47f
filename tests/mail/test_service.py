"""What may be queued (P4): a closed set of purposes, mailings only to those opted in,
and every header and body checked before anything is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.errors import InvalidInput
from quietshop.mail import sealing, service
from quietshop.mail.models import OutboxMessage
from quietshop.settings import Settings
from tests.clock import T0
from tests.mail.conftest import queue_order_update, subscribe


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
    assert message.sealed_context is None  # nothing secret in it


def test_unknown_kinds_are_refused(db: Session, mail_settings: Settings) -> None:
    with pytest.raises(InvalidInput) as error:
        service.queue_message(
            db, mail_settings, "newsletter", service.Recipient("a@example.org"), {}, now=T0
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

    def queue() -> OutboxMessage:
        return service.queue_message(db, mail_settings, "mailing", ann, context, now=T0)

    with pytest.raises(InvalidInput):
        queue()  # never asked
    subscribe(db, "123456782", "ann@example.org", "Ann")
    message = queue()
    # The unsubscribe link is made at send time: the stored body has its placeholder.
    assert "[[link:unsubscribe_url]]" in message.text_body and "token=" not in message.text_body
    service.set_mailing_opt_in(db, "123456782", "ann@example.org", "Ann", False, T0)
    with pytest.raises(InvalidInput):
        queue()  # changed her mind
    no_number = service.Recipient("bob@example.org", "Bob")
    with pytest.raises(InvalidInput):
        service.queue_message(db, mail_settings, "mailing", no_number, context, now=T0)
    assert outbox_count(db) == 1


def test_an_opt_in_counts_only_once_the_address_is_confirmed(
    db: Session, mail_settings: Settings
) -> None:
    """Defect 3 (P4, double opt-in): ticking the box for someone else's address, without
    ever opening the link sent to it, sends that person nothing."""
    ann = service.Recipient("victim@example.org", "Vic", "123456782")
    context = {"subject": "Spring prices", "body": "New low prices."}
    service.set_mailing_opt_in(db, "123456782", "victim@example.org", "Vic", True, T0)
    assert service.mailing_preference(db, "123456782") == service.MailingPreference(True, False)
    with pytest.raises(InvalidInput) as error:
        service.queue_message(db, mail_settings, "mailing", ann, context, now=T0)
    assert error.value.message == "this customer's address is not confirmed"
    mailing = service.create_mailing(db, "Spring prices", "Lower prices.", T0)
    assert service.send_mailing(db, mail_settings, mailing.id, T0) == 0
    assert outbox_count(db) == 0
    # The link sent to the address is opened: from now on it counts.
    service.confirm_mailing_address(db, "123456782", "victim@example.org", T0)
    assert service.queue_message(db, mail_settings, "mailing", ann, context, now=T0)


def test_a_new_address_needs_confirming_again(db: Session, mail_settings: Settings) -> None:
    subscribe(db, "123456782", "old@example.org", "Ann")
    service.set_mailing_opt_in(db, "123456782", "new@example.org", "Ann", True, T0)
    assert not service.mailing_preference(db, "123456782").address_confirmed
    service.confirm_mailing_address(db, "123456782", "old@example.org", T0)  # the old one
    assert not service.mailing_preference(db, "123456782").address_confirmed
    service.confirm_mailing_address(db, "123456782", "new@example.org", T0)
    assert service.mailing_preference(db, "123456782").address_confirmed
    service.set_mailing_opt_in(db, "123456782", "new@example.org", "Ann", False, T0)
    service.set_mailing_opt_in(db, "123456782", "new@example.org", "Ann", True, T0)
    assert service.mailing_preference(db, "123456782").address_confirmed  # same address


def test_one_time_links_are_sealed_and_never_in_a_stored_body(
    db: Session, mail_settings: Settings
) -> None:
    """Defect 4: with read access to the outbox, no usable link can be taken."""
    link = "https://shop.test/account/reset?token=" + "T" * 43
    message = service.queue_message(
        db, mail_settings, "password_reset", service.Recipient("a@example.org", "Ann"), {},
        now=T0, links={"link": link},
    )  # fmt: skip
    stored = " ".join(str(getattr(message, c.key)) for c in OutboxMessage.__table__.columns)
    assert "T" * 43 not in stored and "token=" not in stored
    assert message.sealed_context is not None
    assert sealing.unseal_links(mail_settings, message.sealed_context) == {"link": link}
    assert sealing.shown(message.text_body).count(sealing.SHOWN_AS) == 1
    other_key = mail_settings.model_copy(
        update={"secret_key": type(mail_settings.secret_key)("another-secret-key-0123456789-xyz")}
    )
    with pytest.raises(ValueError, match="cannot unseal"):
        sealing.unseal_links(other_key, message.sealed_context)


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
            {"order_number": "QS-1"}, now=T0,
        )  # fmt: skip
    assert error.value.field == field
    assert outbox_count(db) == 0


def test_a_subject_with_a_line_break_is_refused(db: Session, mail_settings: Settings) -> None:
    with pytest.raises(InvalidInput) as error:
        service.queue_message(
            db, mail_settings, "order_delivered", service.Recipient("a@example.org"),
            {"order_number": "QS-1\r\nBcc: x@example.org"}, now=T0,
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
    subscribe(db, "123456782", "ann@example.org", "Ann")
    with pytest.raises(InvalidInput) as empty:
        service.create_mailing(db, "Subject", "   \n ", T0)
    assert empty.value.field == "text_body"
    small = mail_settings.model_copy(update={"mail_max_body_bytes": 2048})
    with pytest.raises(InvalidInput) as huge:
        service.queue_message(
            db, small, "staff_notice", service.Recipient("staff@example.org"),
            {"title": "Notice", "body": "x" * 5000}, now=T0,
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
    subscribe(db, "123456782", "ann@example.org", "Ann")
    token = service.unsubscribe_token(mail_settings, "123456782")
    service.unsubscribe(db, mail_settings, token, T0)
    assert service.is_opted_in(db, "123456782") is False


def test_a_mailing_goes_to_those_opted_in_when_it_is_sent(
    db: Session, mail_settings: Settings
) -> None:
    subscribe(db, "100000001", "a@example.org", "A")
    service.set_mailing_opt_in(db, "100000002", "b@example.org", "B", False, T0)
    subscribe(db, "100000003", "c@example.org", "C")
    mailing = service.create_mailing(db, "Spring prices", "Lower prices on cables.\n\nEnjoy.", T0)
    subject, text = service.preview_mailing(db, mail_settings, mailing.id)
    assert subject == "Spring prices" and "Lower prices on cables." in text
    service.set_mailing_opt_in(db, "100000003", "c@example.org", "C", False, T0)
    assert service.send_mailing(db, mail_settings, mailing.id, T0) == 1
    rows = db.execute(select(OutboxMessage)).scalars().all()
    assert [(m.recipient, m.purpose, m.reference) for m in rows] == [
        ("a@example.org", "mailing", f"mailing:{mailing.id}")
    ]
    with pytest.raises(service.MailingAlreadySent):
        service.send_mailing(db, mail_settings, mailing.id, T0)  # never twice


def test_a_mailing_is_refused_until_links_are_configured(
    db: Session, mail_settings: Settings
) -> None:
    """Defect 13: outside the demo, no mailing without the base URL and key every process
    reads, so no unsubscribe link points at the wrong host or carries the wrong key."""
    subscribe(db, "100000001", "a@example.org", "A")
    mailing = service.create_mailing(db, "Spring prices", "Lower prices.", T0)
    for unset in ({"public_base_url": ""}, {"secret_key": type(mail_settings.secret_key)("")}):
        with pytest.raises(InvalidInput) as error:
            service.send_mailing(db, mail_settings.model_copy(update=unset), mailing.id, T0)
        assert error.value.field == "settings"
    assert outbox_count(db) == 0
    demo = mail_settings.model_copy(update={"public_base_url": "", "demo": True})
    assert service.send_mailing(db, demo, mailing.id, T0) == 1
