"""Mail rules: what may be queued, to whom, and the mailing subscriptions.

Messages are outbox rows written in the caller's transaction, so a message exists exactly
when the change that caused it was committed. Nothing here talks to an SMTP server.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.db import utcnow
from quietshop.errors import InvalidInput, NotFound
from quietshop.mail.messages import KINDS, MailTemplates
from quietshop.mail.models import PURPOSES, Mailing, MailingSubscription, OutboxMessage
from quietshop.settings import Settings
from quietshop.signing import sign, signing_key, verify

MAX_ADDRESS = 254
MAX_HEADER_TEXT = 200
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS = re.compile(rf"^{_LOCAL}@(?:{_LABEL}\.)*{_LABEL}$")
UNSUBSCRIBE_PURPOSE = "unsubscribe"


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    customer_number: str | None = None


# ---------------------------------------------------------------- checks


def check_address(field: str, address: str) -> None:
    if not address or len(address) > MAX_ADDRESS:
        raise InvalidInput(field, f"an email address has 1 to {MAX_ADDRESS} characters")
    if not ADDRESS.match(address) or len(address.split("@", 1)[0]) > 64:
        raise InvalidInput(field, "is not a valid email address")


def check_header_text(field: str, value: str, *, required: bool) -> None:
    """No CR, LF or other control character may reach a mail header (header injection)."""
    if required and not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > MAX_HEADER_TEXT:
        raise InvalidInput(field, f"must be at most {MAX_HEADER_TEXT} characters")
    if any(not ch.isprintable() for ch in value):
        raise InvalidInput(field, "must not contain line breaks or control characters")


def check_body(field: str, body: str, limit: int) -> None:
    if not body.strip():
        raise InvalidInput(field, "must not be empty")
    if len(body.encode("utf-8")) > limit:
        raise InvalidInput(field, f"must be at most {limit} bytes")


# ---------------------------------------------------------------- queueing


def templates_for(settings: Settings) -> MailTemplates:
    return MailTemplates(settings.shop_name, settings.shop_postal_address, settings.base_url)


def queue_message(
    session: Session,
    settings: Settings,
    kind: str,
    to: Recipient,
    context: dict[str, Any],
    reference: str | None = None,
    templates: MailTemplates | None = None,
) -> OutboxMessage:
    """Render and queue one message in the caller's transaction; refuse what the policy
    does not allow. Raises InvalidInput (nothing queued) on any bad value."""
    if kind not in KINDS:
        raise InvalidInput("kind", f"unknown kind of mail {kind!r}")
    purpose = KINDS[kind].purpose
    if purpose not in PURPOSES:
        raise InvalidInput("purpose", f"{purpose!r} is not an allowed purpose")
    check_address("recipient", to.email)
    check_header_text("recipient_name", to.name, required=False)
    full_context = {"name": to.name or "customer", "customer_number": to.customer_number}
    full_context.update(context)
    unsubscribe_url = None
    if purpose == "mailing":
        unsubscribe_url = _mailing_unsubscribe_url(session, settings, to)
        full_context["unsubscribe_url"] = unsubscribe_url
    rendered = (templates or templates_for(settings)).render(kind, full_context)
    check_header_text("subject", rendered.subject, required=True)
    check_body("text_body", rendered.text, settings.mail_max_body_bytes)
    check_body("html_body", rendered.html, settings.mail_max_body_bytes)
    message = OutboxMessage(
        message_id=new_message_id(settings),
        purpose=purpose,
        recipient=to.email,
        recipient_name=to.name,
        customer_number=to.customer_number,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        reference=reference,
        unsubscribe_url=unsubscribe_url,
        status="queued",
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def new_message_id(settings: Settings) -> str:
    """A stable Message-ID, fixed at queue time so a resend after a crash is recognisable."""
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(" >") or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def _mailing_unsubscribe_url(session: Session, settings: Settings, to: Recipient) -> str:
    """A mailing goes only to a customer whose opt-in is on at this moment (P4)."""
    if not to.customer_number:
        raise InvalidInput("recipient", "a mailing goes only to a customer who opted in")
    subscription = _subscription(session, to.customer_number)
    if subscription is None or not subscription.opted_in:
        raise InvalidInput("recipient", "this customer has not opted in to mailings")
    return unsubscribe_url(settings, to.customer_number)


# ---------------------------------------------------------------- subscriptions


def _subscription(session: Session, customer_number: str) -> MailingSubscription | None:
    return session.execute(
        select(MailingSubscription).where(MailingSubscription.customer_number == customer_number)
    ).scalar()


def set_mailing_opt_in(
    session: Session, customer_number: str, email: str, name: str, opted_in: bool
) -> None:
    """Accounts call this at registration and on every change of the preference."""
    check_address("email", email)
    check_header_text("name", name, required=False)
    subscription = _subscription(session, customer_number)
    if subscription is None:
        subscription = MailingSubscription(customer_number=customer_number)
        session.add(subscription)
    subscription.email, subscription.name = email, name
    subscription.opted_in, subscription.changed_at = opted_in, utcnow()
    session.flush()


def is_opted_in(session: Session, customer_number: str) -> bool:
    subscription = _subscription(session, customer_number)
    return bool(subscription and subscription.opted_in)


def unsubscribe_token(settings: Settings, customer_number: str) -> str:
    return f"{customer_number}.{sign(signing_key(settings), UNSUBSCRIBE_PURPOSE, customer_number)}"


def unsubscribe_url(settings: Settings, customer_number: str) -> str:
    return f"{settings.base_url}/unsubscribe?token={unsubscribe_token(settings, customer_number)}"


def customer_for_token(settings: Settings, token: str) -> str:
    """The customer number a genuine token names; InvalidInput for a forged or altered one."""
    number, _, signature = token.partition(".")
    if not number or not signature or len(token) > 100:
        raise InvalidInput("token", "this unsubscribe link is not valid")
    if not verify(signing_key(settings), UNSUBSCRIBE_PURPOSE, number, signature):
        raise InvalidInput("token", "this unsubscribe link is not valid")
    return number


def unsubscribe(session: Session, settings: Settings, token: str) -> None:
    """Turn mailings off at once for the customer the token names (RFC 8058 one-click)."""
    number = customer_for_token(settings, token)
    subscription = _subscription(session, number)
    if subscription is not None and subscription.opted_in:
        subscription.opted_in, subscription.changed_at = False, utcnow()
        session.flush()


def forget_subscriber(session: Session, customer_number: str) -> None:
    """Erase the address and name kept with the opt-in (the account is closing)."""
    subscription = _subscription(session, customer_number)
    if subscription is not None:
        subscription.email = f"closed-{customer_number}@erased.invalid"
        subscription.name, subscription.opted_in = "", False
        session.flush()


def export_for_customer(session: Session, customer_number: str) -> dict[str, Any]:
    """The customer's mailing preference and every message queued or sent to them."""
    subscription = _subscription(session, customer_number)
    messages = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.customer_number == customer_number)
        .order_by(OutboxMessage.id)
    ).scalars()
    return {
        "mailing_opt_in": bool(subscription and subscription.opted_in),
        "messages": [
            {
                "sent_to": m.recipient,
                "subject": m.subject,
                "purpose": m.purpose,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
                "text": m.text_body,
            }
            for m in messages
        ],
    }


# ---------------------------------------------------------------- mailings


def create_mailing(session: Session, subject: str, text_body: str, created_by: str = "") -> Mailing:
    check_header_text("subject", subject, required=True)
    check_body("text_body", text_body, 64 * 1024)
    mailing = Mailing(subject=subject, text_body=text_body, created_by=created_by)
    session.add(mailing)
    session.flush()
    return mailing


def preview_mailing(session: Session, settings: Settings, mailing_id: int) -> tuple[str, str]:
    """Subject and text as a subscriber would read them (with a sample customer)."""
    mailing = _mailing(session, mailing_id)
    rendered = templates_for(settings).render(
        "mailing",
        {
            "name": "Sample Customer",
            "customer_number": "000000000",
            "subject": mailing.subject,
            "body": mailing.text_body,
            "unsubscribe_url": f"{settings.base_url}/unsubscribe?token=SAMPLE",
        },
    )
    return rendered.subject, rendered.text


def send_mailing(session: Session, settings: Settings, mailing_id: int) -> int:
    """Queue one message per customer opted in now; a mailing is sent once."""
    mailing = _mailing(session, mailing_id)
    if mailing.sent_at is not None:
        raise InvalidInput("mailing", "this mailing was already sent")
    subscribers = session.execute(
        select(MailingSubscription)
        .where(MailingSubscription.opted_in.is_(True))
        .order_by(MailingSubscription.id)
    ).scalars()
    templates = templates_for(settings)
    count = 0
    for subscriber in subscribers:
        queue_message(
            session,
            settings,
            "mailing",
            Recipient(subscriber.email, subscriber.name, subscriber.customer_number),
            {"subject": mailing.subject, "body": mailing.text_body},
            reference=f"mailing:{mailing.id}",
            templates=templates,
        )
        count += 1
    mailing.sent_at, mailing.recipient_count = utcnow(), count
    session.flush()
    return count


def _mailing(session: Session, mailing_id: int) -> Mailing:
    mailing = session.get(Mailing, mailing_id)
    if mailing is None:
        raise NotFound("mailing")
    return mailing
