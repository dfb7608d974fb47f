"""Mail rules: what may be queued, to whom, and the mailing subscriptions.

Messages are outbox rows written in the caller's transaction, so a message exists exactly
when the change that caused it was committed. Nothing here talks to an SMTP server, and
nothing here reads the clock: every function that stamps a row takes ``now``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import lru_cache
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from quietshop.errors import Conflict, InvalidInput, NotFound
from quietshop.mail import sealing
from quietshop.mail.local_smtp import captured_messages, forget_mail_to
from quietshop.mail.messages import KINDS, MailTemplates
from quietshop.mail.models import PURPOSES, STATUSES, Mailing, MailingSubscription, OutboxMessage
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


def check_links_configured(settings: Settings) -> None:
    """Links in mail come from the one configured base URL and key every process reads;
    outside the demo, a mailing is refused until both are set."""
    if settings.demo:
        return
    if not settings.public_base_url or not settings.secret_key.get_secret_value():
        raise InvalidInput(
            "settings",
            "set QUIETSHOP_PUBLIC_BASE_URL and QUIETSHOP_SECRET_KEY (the values the server "
            "uses) before sending a mailing: its unsubscribe links are built from them",
        )


# ---------------------------------------------------------------- queueing


def templates_for(settings: Settings) -> MailTemplates:
    """The compiled templates for this shop, made once per process: compiling them takes
    about 100 ms, rendering an order mail about 1 ms (placing an order queues one)."""
    return _templates(settings.shop_name, settings.shop_postal_address, settings.base_url)


@lru_cache(maxsize=16)
def _templates(shop_name: str, shop_address: str, base_url: str) -> MailTemplates:
    # Keyed by every value the templates see, so a test's other shop gets its own set.
    return MailTemplates(shop_name, shop_address, base_url)


def queue_message(
    session: Session,
    settings: Settings,
    kind: str,
    to: Recipient,
    context: dict[str, Any],
    *,
    now: datetime,
    links: Mapping[str, str] | None = None,
    reference: str | None = None,
    templates: MailTemplates | None = None,
    erase_after_send: bool = False,
) -> OutboxMessage:
    """Render and queue one message in the caller's transaction; refuse what the policy
    does not allow. Raises InvalidInput (nothing queued) on any bad value.

    ``links`` are one-time links (a reset, a confirmation): the stored bodies carry only a
    placeholder for each, and the links themselves wait sealed until the message is sent.
    """
    row = prepare_message(
        session,
        settings,
        kind,
        to,
        context,
        now=now,
        links=links,
        reference=reference,
        templates=templates,
        erase_after_send=erase_after_send,
    )
    message = OutboxMessage(**row)
    session.add(message)
    session.flush()
    return message


def prepare_message(
    session: Session,
    settings: Settings,
    kind: str,
    to: Recipient,
    context: dict[str, Any],
    *,
    now: datetime,
    links: Mapping[str, str] | None = None,
    reference: str | None = None,
    templates: MailTemplates | None = None,
    erase_after_send: bool = False,
) -> dict[str, Any]:
    """What ``queue_message`` checks and renders, as the outbox row's values, without
    writing it: a caller may render before it takes locks and write the row later with
    ``insert_messages`` in the same transaction (placing an order does). Raises
    InvalidInput on any bad value, as ``queue_message`` does."""
    if kind not in KINDS:
        raise InvalidInput("kind", f"unknown kind of mail {kind!r}")
    purpose = KINDS[kind].purpose
    if purpose not in PURPOSES:
        raise InvalidInput("purpose", f"{purpose!r} is not an allowed purpose")
    check_address("recipient", to.email)
    check_header_text("recipient_name", to.name, required=False)
    links = dict(links or {})
    full_context: dict[str, Any] = {
        "name": to.name or "customer",
        "customer_number": to.customer_number,
    }
    full_context.update(context)
    full_context.update({name: sealing.placeholder(name) for name in links})
    if purpose == "mailing":
        _refuse_unless_subscribed(session, to)
        full_context[sealing.UNSUBSCRIBE] = sealing.placeholder(sealing.UNSUBSCRIBE)
    rendered = (templates or templates_for(settings)).render(kind, full_context)
    check_header_text("subject", rendered.subject, required=True)
    check_body("text_body", rendered.text, settings.mail_max_body_bytes)
    check_body("html_body", rendered.html, settings.mail_max_body_bytes)
    return {
        "message_id": new_message_id(settings),
        "purpose": purpose,
        "recipient": to.email,
        "recipient_name": to.name,
        "customer_number": to.customer_number,
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "sealed_context": sealing.seal_links(settings, links) if links else None,
        "erase_after_send": erase_after_send,
        "reference": reference,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


# Built once: a plain INSERT on the session's connection costs a fraction of an ORM flush.
_INSERT_MESSAGE = insert(OutboxMessage)


def insert_messages(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write rows from ``prepare_message`` to the outbox, in the caller's transaction and
    in the order given (one statement)."""
    if rows:
        session.connection().execute(_INSERT_MESSAGE, list(rows))


def new_message_id(settings: Settings) -> str:
    """A stable Message-ID, fixed at queue time so a resend after a crash is recognisable."""
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(" >") or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def _refuse_unless_subscribed(session: Session, to: Recipient) -> None:
    """A mailing goes only to a customer whose opt-in is on at this moment and whose
    address is confirmed (P4: double opt-in)."""
    if not to.customer_number:
        raise InvalidInput("recipient", "a mailing goes only to a customer who opted in")
    subscription = _subscription(session, to.customer_number)
    if subscription is None or not subscription.opted_in:
        raise InvalidInput("recipient", "this customer has not opted in to mailings")
    if subscription.address_confirmed_at is None or subscription.email != to.email:
        raise InvalidInput("recipient", "this customer's address is not confirmed")


# ---------------------------------------------------------------- subscriptions


def _subscription(session: Session, customer_number: str) -> MailingSubscription | None:
    return session.execute(
        select(MailingSubscription).where(MailingSubscription.customer_number == customer_number)
    ).scalar()


def set_mailing_opt_in(
    session: Session,
    customer_number: str,
    email: str,
    name: str,
    opted_in: bool,
    now: datetime,
) -> None:
    """Accounts call this at registration and on every change of the preference or the
    address. A new address starts unconfirmed: mailings wait for its confirmation."""
    check_address("email", email)
    check_header_text("name", name, required=False)
    subscription = _subscription(session, customer_number)
    if subscription is None:
        subscription = MailingSubscription(customer_number=customer_number, email=email)
        session.add(subscription)
    if subscription.email != email:
        subscription.address_confirmed_at = None
    subscription.email, subscription.name = email, name
    subscription.opted_in, subscription.changed_at = opted_in, now
    session.flush()


def rename_subscriber(session: Session, customer_number: str, name: str) -> None:
    """The customer changed their name: mailings greet them by the new one."""
    check_header_text("name", name, required=False)
    subscription = _subscription(session, customer_number)
    if subscription is not None:
        subscription.name = name
        session.flush()


def confirm_mailing_address(
    session: Session, customer_number: str, email: str, now: datetime
) -> None:
    """The customer opened a link sent to ``email``: that address is theirs."""
    subscription = _subscription(session, customer_number)
    if subscription is not None and subscription.email == email:
        subscription.address_confirmed_at = subscription.address_confirmed_at or now
        session.flush()


@dataclass(frozen=True)
class MailingPreference:
    opted_in: bool
    # Mailings go out only once this is true as well (double opt-in).
    address_confirmed: bool


def mailing_preference(session: Session, customer_number: str) -> MailingPreference:
    subscription = _subscription(session, customer_number)
    if subscription is None:
        return MailingPreference(False, False)
    return MailingPreference(subscription.opted_in, subscription.address_confirmed_at is not None)


def is_opted_in(session: Session, customer_number: str) -> bool:
    return mailing_preference(session, customer_number).opted_in


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


def unsubscribe(session: Session, settings: Settings, token: str, now: datetime) -> None:
    """Turn mailings off at once for the customer the token names (RFC 8058 one-click)."""
    number = customer_for_token(settings, token)
    subscription = _subscription(session, number)
    if subscription is not None and subscription.opted_in:
        subscription.opted_in, subscription.changed_at = False, now
        session.flush()


# ---------------------------------------------------------------- mailings


_LAYOUT = frozenset("\n\r\t")  # the only control characters a mailing's text may hold


def create_mailing(
    session: Session, subject: str, text_body: str, now: datetime, created_by: str = ""
) -> Mailing:
    check_header_text("subject", subject, required=True)
    check_body("text_body", text_body, 64 * 1024)
    if any(not ch.isprintable() and ch not in _LAYOUT for ch in text_body):
        # A NUL or an escape sequence is no letter to a customer (and PostgreSQL refuses NUL).
        raise InvalidInput("text_body", "must not contain control characters")
    mailing = Mailing(subject=subject, text_body=text_body, created_by=created_by, created_at=now)
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
            sealing.UNSUBSCRIBE: f"{settings.base_url}/unsubscribe?token=SAMPLE",
        },
    )
    return rendered.subject, rendered.text


def send_mailing(session: Session, settings: Settings, mailing_id: int, now: datetime) -> int:
    """Queue one message per customer opted in, with a confirmed address, right now; a
    mailing is sent once."""
    check_links_configured(settings)
    mailing = _mailing(session, mailing_id)
    _claim_for_sending(session, mailing, now)
    subscribers = session.execute(
        select(MailingSubscription).where(*_SUBSCRIBED).order_by(MailingSubscription.id)
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
            now=now,
            reference=f"mailing:{mailing.id}",
            templates=templates,
        )
        count += 1
    mailing.sent_at, mailing.recipient_count = now, count
    session.flush()
    return count


def _mailing(session: Session, mailing_id: int) -> Mailing:
    mailing = session.get(Mailing, mailing_id)
    if mailing is None:
        raise NotFound("mailing")
    return mailing


class MailingAlreadySent(Conflict):
    """A mailing goes out once (409): a second send, even one racing the first, queues
    nothing."""

    status_code = 409
    code = "mailing_already_sent"

    def __init__(self) -> None:
        super().__init__("this mailing was already sent")


# Who a mailing goes to right now: opted in, with the address confirmed (double opt-in).
_SUBSCRIBED = (
    MailingSubscription.opted_in.is_(True),
    MailingSubscription.address_confirmed_at.is_not(None),
)


def _claim_for_sending(session: Session, mailing: Mailing, now: datetime) -> None:
    """Mark the mailing sent by a conditional UPDATE, so that of two sends at once (two
    staff members, two processes, PostgreSQL's read committed) exactly one goes on."""
    claimed = session.execute(
        update(Mailing)
        .where(Mailing.id == mailing.id, Mailing.sent_at.is_(None))
        .values(sent_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise MailingAlreadySent


def subscriber_count(session: Session) -> int:
    """How many customers a mailing sent now would go to: a count, never who."""
    counted = select(func.count()).select_from(MailingSubscription).where(*_SUBSCRIBED)
    return session.execute(counted).scalar_one()


def draft_mailing_count(session: Session) -> int:
    """Mailings written and not sent yet."""
    counted = select(func.count()).select_from(Mailing).where(Mailing.sent_at.is_(None))
    return session.execute(counted).scalar_one()


MAX_MAILINGS_PAGE = 100
# What the back office lists of a mailing: never its recipients (they are not kept with
# it: only how many there were).
MAILING_COLUMNS = ("id", "subject", "created_at", "sent_at", "recipient_count")


def mailing_rows(
    session: Session, limit: int, before_id: int | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Mailings, newest first, older than ``before_id`` when given; and whether another
    page follows."""
    if not 1 <= limit <= MAX_MAILINGS_PAGE:
        raise InvalidInput("limit", f"from 1 to {MAX_MAILINGS_PAGE}")
    statement = select(*(Mailing.__table__.c[name] for name in MAILING_COLUMNS))
    if before_id is not None:
        statement = statement.where(Mailing.id < before_id)
    found = session.execute(statement.order_by(Mailing.id.desc()).limit(limit + 1)).all()
    rows = [dict(zip(MAILING_COLUMNS, row, strict=True)) for row in found[:limit]]
    return rows, len(found) > limit


def mailing_row(session: Session, mailing_id: int) -> dict[str, Any]:
    """One mailing as ``mailing_rows`` lists it; NotFound if there is none."""
    found = session.execute(
        select(*(Mailing.__table__.c[name] for name in MAILING_COLUMNS)).where(
            Mailing.id == mailing_id
        )
    ).first()
    if found is None:
        raise NotFound("mailing")
    return dict(zip(MAILING_COLUMNS, found, strict=True))


def forget_captured_mail(settings: Settings, address: str) -> None:
    """In the demo, delete what its local mailbox caught for an address being erased."""
    forget_mail_to(settings, address)


# ---------------------------------------------------------------- reading the outbox


def recent_messages(session: Session, limit: int) -> list[OutboxMessage]:
    """The newest outbox messages first (``quietshop mail list``)."""
    return list(
        session.execute(
            select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        ).scalars()
    )


def stored_message(session: Session, message_id: int) -> OutboxMessage:
    """One outbox message; its bodies as stored hold no usable link (see ``sealing.shown``)."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"outbox message {message_id}")
    return message


# ---------------------------------------------------------------- the back office (staff's seam)
#
# The outbox and the demo's captured mail as the staff screens show them: mappings of the
# outbox's columns, which the staff domain cuts to what each role reads. No link token
# ever leaves here: the stored bodies hold placeholders (sealing.py), the sealed context is
# never read, and a token in a link that arrived whole (the demo mailbox) is cut out.

OUTBOX_COLUMNS = (
    "id",
    "message_id",
    "purpose",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "sent_at",
    "recipient",
    "recipient_name",
    "customer_number",
    "subject",
    "reference",
    "last_error",
)
MAX_OUTBOX_PAGE = 50
MAX_CAPTURED_PAGE = 50
MAX_CAPTURED_OFFSET = 10_000
REDACTED = "[redacted]"
_TOKEN_IN_LINK = re.compile(r"(token=)[^\s&\"'<>)\]]+", re.IGNORECASE)
_CAPTURED_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_OUTBOX_SELECT = tuple(getattr(OutboxMessage, name) for name in OUTBOX_COLUMNS)


def redacted(text: str) -> str:
    """Text as the back office shows it: where a link was stored, a note saying so; and
    the token of any link that arrived whole cut out, so that no one-time link can be
    used by whoever reads it."""
    return _TOKEN_IN_LINK.sub(rf"\g<1>{REDACTED}", sealing.shown(text))


def outbox_rows(
    session: Session,
    limit: int,
    before_id: int | None = None,
    status: str | None = None,
    purpose: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Outbox messages, newest first, older than ``before_id`` when given; and whether
    another page follows. Never a body, never the sealed links."""
    if not 1 <= limit <= MAX_OUTBOX_PAGE:
        raise InvalidInput("limit", f"from 1 to {MAX_OUTBOX_PAGE}")
    statement = select(*_OUTBOX_SELECT)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput("status", f"one of {', '.join(STATUSES)}")
        statement = statement.where(OutboxMessage.status == status)
    if purpose is not None:
        if purpose not in PURPOSES:
            raise InvalidInput("purpose", f"one of {', '.join(PURPOSES)}")
        statement = statement.where(OutboxMessage.purpose == purpose)
    if before_id is not None:
        statement = statement.where(OutboxMessage.id < before_id)
    found = session.execute(statement.order_by(OutboxMessage.id.desc()).limit(limit + 1)).all()
    rows = [dict(zip(OUTBOX_COLUMNS, row, strict=True)) for row in found[:limit]]
    return rows, len(found) > limit


def outbox_row(session: Session, message_id: int) -> dict[str, Any]:
    """One message with its text body as shown (``redacted``); NotFound if there is none."""
    found = session.execute(
        select(*_OUTBOX_SELECT, OutboxMessage.text_body).where(OutboxMessage.id == message_id)
    ).first()
    if found is None:
        raise NotFound("outbox message")
    row = dict(zip((*OUTBOX_COLUMNS, "text_body"), found, strict=True))
    row["text_body"] = redacted(row["text_body"])
    return row


@dataclass(frozen=True)
class CapturedMail:
    """A message the demo's mail server received, as the back office lists it."""

    key: str  # its Maildir key
    received_at: datetime
    sender: str
    to: str
    subject: str
    customer_number: str | None  # of the outbox message with its Message-ID, if any
    text: str | None = None  # the plain text, redacted; only when one message is read


def _require_demo(settings: Settings) -> None:
    # A real shop's mail has left the machine: there is nothing captured to read.
    if not settings.demo:
        raise NotFound("captured mail")


def _captured(
    session: Session, items: list[tuple[str, Any]], *, with_text: bool
) -> list[CapturedMail]:
    message_ids = [str(message.get("Message-ID", "")) for _, message in items]
    numbers = dict(
        session.execute(
            select(OutboxMessage.message_id, OutboxMessage.customer_number).where(
                OutboxMessage.message_id.in_([m for m in message_ids if m])
            )
        ).all()
    )
    return [
        CapturedMail(
            key=key,
            received_at=datetime.fromtimestamp(message.get_date(), UTC),
            sender=str(message.get("From", "")),
            to=str(message.get("To", "")),
            subject=str(message.get("Subject", "")),
            customer_number=numbers.get(message_id),
            text=_captured_text(message) if with_text else None,
        )
        for (key, message), message_id in zip(items, message_ids, strict=True)
    ]


def _captured_text(message: Any) -> str:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    body = parsed.get_body(preferencelist=("plain",)) if isinstance(parsed, EmailMessage) else None
    return redacted(body.get_content()) if isinstance(body, EmailMessage) else ""


def captured_mail(
    session: Session, settings: Settings, limit: int, offset: int = 0
) -> tuple[list[CapturedMail], bool]:
    """What the demo's mail server caught, newest first; NotFound outside the demo."""
    _require_demo(settings)
    if not 1 <= limit <= MAX_CAPTURED_PAGE:
        raise InvalidInput("limit", f"from 1 to {MAX_CAPTURED_PAGE}")
    if not 0 <= offset <= MAX_CAPTURED_OFFSET:
        raise InvalidInput("offset", f"from 0 to {MAX_CAPTURED_OFFSET}")
    items = list(reversed(captured_messages(settings)))
    page = items[offset : offset + limit]
    return _captured(session, page, with_text=False), len(items) > offset + limit


def captured_mail_message(session: Session, settings: Settings, key: str) -> CapturedMail:
    """One captured message with its plain text, tokens cut out; NotFound outside the demo
    or for a key the mailbox does not hold."""
    _require_demo(settings)
    if not _CAPTURED_KEY.match(key):
        raise NotFound("captured message")
    found = [item for item in captured_messages(settings) if item[0] == key]
    if not found:
        raise NotFound("captured message")
    return _captured(session, found, with_text=True)[0]
