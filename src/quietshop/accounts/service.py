"""Account rules: registration, email verification, profile, passwords, closing, export.

Every mail goes through the mail domain's outbox in the same transaction (P4); the
mailing opt-in is the mail domain's row, told of every change here. Functions that act on
a signed-in customer take the ``SignedInCustomer`` a token resolved to and load the row
themselves; nothing outside this package holds a ``Customer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from quietshop.accounts import addresses, guests, links, passwords, staff_desk, tokens
from quietshop.accounts.models import Customer
from quietshop.accounts.numbers import new_customer_number, parse_customer_number
from quietshop.accounts.signin import email_key, open_customer_by_email
from quietshop.accounts.tokens import SignedInCustomer as SignedInCustomer
from quietshop.audit import service as audit
from quietshop.clock import to_the_minute
from quietshop.db import wipe_erased_pages
from quietshop.errors import InvalidInput, NotFound, Unauthorized
from quietshop.mail import service as mail
from quietshop.privacy.personal_data import DataSubject, PersonalDataRegistry
from quietshop.settings import Settings

MAX_NAME = 200
MAX_PHONE = 40
PHONE_CHARACTERS = set("0123456789+-() ./")


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    password: str
    phone: str = ""
    mailing_opt_in: bool = False


def _clean_name(name: str) -> str:
    name = name.strip()
    mail.check_header_text("name", name, required=True)  # it goes into mail headers
    return name


def _clean_phone(phone: str) -> str:
    phone = phone.strip()
    if len(phone) > MAX_PHONE or not set(phone) <= PHONE_CHARACTERS:
        raise InvalidInput("phone", "use digits, spaces and + - ( ) only, at most 40")
    return phone


def _clean_email(email: str) -> str:
    email = email.strip()
    mail.check_address("email", email)
    return email


def _recipient(customer: Customer) -> mail.Recipient:
    return mail.Recipient(customer.email, customer.name, customer.customer_number)


def _email_in_use(session: Session, email: str) -> bool:
    taken = session.execute(select(Customer.id).where(Customer.email_key == email_key(email)))
    return taken.first() is not None


def _row(session: Session, customer: SignedInCustomer) -> Customer:
    """The account row behind a signed-in customer (closed meanwhile: the sign-in ended)."""
    row = session.get(Customer, customer.id)
    if row is None or row.closed_at is not None:
        raise Unauthorized()
    return row


# ---------------------------------------------------------------- registration


def register(session: Session, settings: Settings, data: Registration, now: datetime) -> None:
    """A new customer with a fresh customer number and the verification mail queued; or,
    when the address already has an account, a mail to its owner and nothing else.

    The caller answers the same either way, and both ways cost one argon2id hash, so
    registration tells nobody whether an address has an account here.
    """
    name, email = _clean_name(data.name), _clean_email(data.email)
    phone = _clean_phone(data.phone)
    passwords.check_password_policy(data.password, email=email, name=name)
    password_hash = passwords.hash_password(data.password)
    existing = open_customer_by_email(session, email)
    if existing is not None:
        mail.queue_message(
            session, settings, "registration_attempt", _recipient(existing), {}, now=now
        )
        return
    customer = Customer(
        customer_number=_unused_customer_number(session),
        name=name,
        email=email,
        email_key=email_key(email),
        phone=phone,
        password_hash=password_hash,
        # To the minute: the registration's access-log line is to the second (P5). A reset
        # link made later is still newer than this (links keep the second).
        password_changed_at=to_the_minute(now),
        created_at=to_the_minute(now),
    )
    session.add(customer)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # a twin registration won the race for this address
        return
    mail.set_mailing_opt_in(
        session, customer.customer_number, email, name, data.mailing_opt_in, now
    )
    _queue_verification(session, settings, customer, now)


def _unused_customer_number(session: Session) -> str:
    connection = session.connection()
    while True:
        number = new_customer_number()
        if not connection.execute(_NUMBER_TAKEN, {"number": number}).first():
            return number


_NUMBER_TAKEN = select(Customer.id).where(Customer.customer_number == bindparam("number"))


def _queue_verification(
    session: Session, settings: Settings, customer: Customer, now: datetime
) -> None:
    link = links.create(session, customer.id, "verify_email", settings.base_url, now)
    mail.queue_message(
        session,
        settings,
        "email_verification",
        _recipient(customer),
        {},
        now=now,
        links={"link": link},
    )


def verify_email(session: Session, token: str, now: datetime) -> None:
    """The link mailed at registration was opened: the address is confirmed, and with it
    the mailing opt-in, if one was given (double opt-in)."""
    _, customer = links.redeem(session, "verify_email", token, now)
    customer.email_verified_at = customer.email_verified_at or now
    mail.confirm_mailing_address(session, customer.customer_number, customer.email, now)


def resend_verification(
    session: Session, settings: Settings, customer: SignedInCustomer, now: datetime
) -> None:
    """A fresh confirmation link, for a customer whose first one was lost or too old."""
    row = _row(session, customer)
    if row.email_verified_at is not None:
        raise InvalidInput("email", "your email address is already confirmed")
    _queue_verification(session, settings, row, now)


def find_by_number(session: Session, typed: str) -> Customer:
    """Customer service's lookup: the check digit is checked before any query (P9).
    Accepts the number as printed ("2442 7250 94") or plain."""
    number = parse_customer_number(typed)
    if number is None:
        raise InvalidInput("customer_number", "this is not a valid customer number")
    customer = session.execute(
        select(Customer).where(Customer.customer_number == number, Customer.closed_at.is_(None))
    ).scalar()
    if customer is None:
        raise NotFound("customer")
    return customer


# ---------------------------------------------------------------- profile and passwords


@dataclass(frozen=True)
class Profile:
    customer_number: str
    name: str
    email: str
    phone: str
    email_verified: bool
    mailing_opt_in: bool
    # Mailings go out only once the address is confirmed too.
    mailing_active: bool


def profile(session: Session, customer: SignedInCustomer) -> Profile:
    row = _row(session, customer)
    preference = mail.mailing_preference(session, row.customer_number)
    return Profile(
        customer_number=row.customer_number,
        name=row.name,
        email=row.email,
        phone=row.phone,
        email_verified=row.email_verified_at is not None,
        mailing_opt_in=preference.opted_in,
        mailing_active=preference.opted_in and preference.address_confirmed,
    )


def update_profile(
    session: Session,
    customer: SignedInCustomer,
    name: str | None,
    phone: str | None,
) -> None:
    row = _row(session, customer)
    if name is not None:
        row.name = _clean_name(name)
        mail.rename_subscriber(session, row.customer_number, row.name)
    if phone is not None:
        row.phone = _clean_phone(phone)
    session.flush()


def set_mailing_preference(
    session: Session, customer: SignedInCustomer, opted_in: bool, now: datetime
) -> None:
    row = _row(session, customer)
    mail.set_mailing_opt_in(session, row.customer_number, row.email, row.name, opted_in, now)
    if row.email_verified_at is not None:
        mail.confirm_mailing_address(session, row.customer_number, row.email, now)


def change_password(
    session: Session, customer: SignedInCustomer, current: str, new: str, now: datetime
) -> None:
    """Asks the current password; every sign-in of the account ends (P8)."""
    row = _row(session, customer)
    if row.password_hash is None or not passwords.verify_password(row.password_hash, current):
        raise InvalidInput("current_password", "is not your current password")
    passwords.check_password_policy(new, email=row.email, name=row.name)
    _set_password(session, row, new, now)


def _set_password(session: Session, customer: Customer, new: str, now: datetime) -> None:
    customer.password_hash = passwords.hash_password(new)
    customer.password_changed_at = now
    customer.failed_sign_ins, customer.locked_until = 0, None
    tokens.revoke_all(session, customer.id, now)
    session.flush()


def request_password_reset(session: Session, settings: Settings, email: str, now: datetime) -> None:
    """Mail a reset link if the address has an account; the caller answers the same either way."""
    customer = open_customer_by_email(session, email)
    if customer is None:
        return
    link = links.create(session, customer.id, "reset_password", settings.base_url, now)
    mail.queue_message(
        session, settings, "password_reset", _recipient(customer), {}, now=now, links={"link": link}
    )


def reset_password(session: Session, token: str, new: str, now: datetime) -> None:
    _, customer = links.redeem(session, "reset_password", token, now)
    passwords.check_password_policy(new, email=customer.email, name=customer.name)
    _set_password(session, customer, new, now)


def request_email_change(
    session: Session,
    settings: Settings,
    customer: SignedInCustomer,
    new_email: str,
    now: datetime,
) -> None:
    """A link to the new address confirms it; the old address is told.

    When another account already uses the new address, its owner is told instead and
    nothing changes; the caller answers the same either way, so this does not tell a
    signed-in stranger which addresses have accounts here."""
    row = _row(session, customer)
    new_email = _clean_email(new_email)
    if email_key(new_email) == row.email_key:
        raise InvalidInput("email", "this is already your address")
    owner = open_customer_by_email(session, new_email)
    if owner is not None:
        mail.queue_message(session, settings, "address_in_use", _recipient(owner), {}, now=now)
        return
    link = links.create(session, row.id, "change_email", settings.base_url, now, new_email)
    mail.queue_message(
        session, settings, "email_change",
        mail.Recipient(new_email, row.name, row.customer_number), {},
        now=now, links={"link": link},
    )  # fmt: skip
    mail.queue_message(
        session, settings, "email_change_notice", _recipient(row), {"new_email": new_email},
        now=now,
    )  # fmt: skip


def confirm_email_change(session: Session, token: str, now: datetime) -> None:
    """The link sent to the new address was opened: the address changes, and because that
    link reached it, the new address counts as confirmed for mailings too."""
    link, customer = links.redeem(session, "change_email", token, now)
    if link.new_email is None:
        raise InvalidInput("token", links.INVALID)
    if _email_in_use(session, link.new_email):
        raise InvalidInput("email", "another account uses this address now")
    customer.email, customer.email_key = link.new_email, email_key(link.new_email)
    customer.email_verified_at = now
    number = customer.customer_number
    opted_in = mail.is_opted_in(session, number)
    mail.set_mailing_opt_in(session, number, customer.email, customer.name, opted_in, now)
    mail.confirm_mailing_address(session, number, customer.email, now)
    session.flush()


# ---------------------------------------------------------------- who at the shop looked

# How the shop's roles, kinds of data and accesses are named to the customer (item 4):
# a role, never a person. A role not named here is "Shop staff".
STAFF_ROLE_LABELS = {
    "owner": "The shop's owner",
    "billing": "Billing",
    "customer_service": "Customer service",
    "fulfilment": "Packing and shipping",
    "catalog": "Catalog",
    "marketing": "Marketing",
    "analyst": "Analysis",
    "privacy_officer": "The privacy officer",
}
DATA_KIND_LABELS = {
    "contact": "contact details",
    "address": "addresses",
    "payment": "payment details",
    "credentials": "sign-in details",
    "activity": "account activity",
}
ACCESS_LABELS = {
    "read": "looked at",
    "change": "changed",
    "card_reveal": "saw the full card number",
    "caller_verified": "checked it was you on the phone",
    "export": "exported",
}


@dataclass(frozen=True)
class StaffAccess:
    at: datetime
    role: str
    role_label: str
    action: str
    action_label: str
    data_kinds: tuple[str, ...]
    data_label: str
    purpose: str


def staff_access(session: Session, customer: SignedInCustomer) -> list[StaffAccess]:
    """Every staff access to the customer's data, newest first, from the audit chain:
    when, in which role, what kind of data, and the stated purpose. Never who."""
    return [_staff_access(found) for found in audit.accesses_for_customer(session, customer.id)]


def _staff_access(found: audit.CustomerAccess) -> StaffAccess:
    kinds = ", ".join(DATA_KIND_LABELS.get(kind, kind) for kind in found.data_kinds)
    return StaffAccess(
        at=found.at,
        role=found.role,
        role_label=STAFF_ROLE_LABELS.get(found.role, "Shop staff"),
        action=found.action,
        action_label=ACCESS_LABELS.get(found.action, found.action),
        data_kinds=found.data_kinds,
        data_label=kinds or "your account",
        purpose=found.reason,
    )


# ---------------------------------------------------------------- leaving and taking one's data


def export_data(
    session: Session,
    customer: SignedInCustomer,
    registry: PersonalDataRegistry,
    now: datetime,
) -> dict[str, Any]:
    """Every personal datum held about the customer, in every domain, generated from the
    tables' own declaration of what is personal."""
    row = _row(session, customer)
    return {
        "customer_number": row.customer_number,
        "exported_at": now.isoformat(),
        "data": registry.export(session, DataSubject(row.id, row.customer_number, row.email)),
        # Their share of the audit chain is theirs too: when, which role, what and why.
        "staff_access": [_exported_access(access) for access in staff_access(session, customer)],
    }


def _exported_access(access: StaffAccess) -> dict[str, Any]:
    return {
        "at": access.at.isoformat(),
        "role": access.role_label,
        "action": access.action_label,
        "data_kinds": list(access.data_kinds),
        "purpose": access.purpose,
    }


def close_account(
    session: Session,
    settings: Settings,
    customer: SignedInCustomer,
    password: str,
    now: datetime,
    registry: PersonalDataRegistry,
) -> None:
    """Erase personal data in every domain, keep the customer number (order records refer
    to it), end every sign-in, and confirm by one last mail to the address being erased,
    which is itself scrubbed once sent. The password confirms it is really the customer."""
    row = _row(session, customer)
    if row.password_hash is None or not passwords.verify_password(row.password_hash, password):
        raise InvalidInput("password", "is not your password")
    goodbye = _recipient(row)
    registry.erase(session, DataSubject(row.id, row.customer_number, row.email), now)
    session.refresh(row)
    row.closed_at = now
    mail.queue_message(
        session, settings, "account_closed", goodbye, {}, now=now, erase_after_send=True
    )
    session.flush()


def erase_leftovers(settings: Settings, sessions: sessionmaker[Session], email: str) -> None:
    """After ``close_account`` has committed: the old row versions out of SQLite's files,
    and, in the demo, the mail its local mailbox caught for the address."""
    wipe_erased_pages(sessions)
    mail.forget_captured_mail(settings, email)


# ---------------------------------------------------------------- checkout (orders' seam)

Buyer = guests.Buyer
AddressInput = addresses.AddressInput


def buyer_for(session: Session, customer: SignedInCustomer) -> Buyer:
    """The signed-in customer as an order copies them (name and address as of now)."""
    return guests.buyer_of(_row(session, customer))


def guest_buyer(session: Session, name: str, email: str, now: datetime) -> Buyer:
    """A guest's customer record (made on first use), for an order without an account."""
    return guests.guest(
        session,
        _clean_name(name),
        _clean_email(email),
        # Drawn without a look-up first: the guest's INSERT skips a taken number, and
        # guests.guest then draws again (one statement fewer in every guest order).
        new_customer_number,
        now,
    )


def checked_address(data: AddressInput) -> AddressInput:
    """A typed address, cleaned by the address book's per-country rules."""
    return addresses.validate(data)


def address_from_book(
    session: Session, customer: SignedInCustomer, address_id: int, kind: str
) -> AddressInput:
    """One of the customer's saved addresses (another customer's is "not found")."""
    row = addresses.get_for(session, customer.id, address_id)
    return addresses.validate(
        AddressInput(
            kind=kind,
            name=row.name,
            line1=row.line1,
            line2=row.line2,
            city=row.city,
            region=row.region,
            postcode=row.postcode,
            country=row.country,
        )
    )


def guest_claim_link(session: Session, settings: Settings, buyer: Buyer, now: datetime) -> str:
    return guests.claim_link(session, buyer, settings.base_url, now)


def claim_guest(session: Session, token: str, password: str, now: datetime) -> str:
    """A guest sets a password from the order mail; the record becomes an account."""
    return guests.claim(session, token, password, now)


def country_name(code: str) -> str:
    """A country's name as the address book shows it (the code if it has none)."""
    return addresses.COUNTRY_NAMES.get(code, code)


def shipping_countries() -> frozenset[str]:
    """The countries the address book accepts (checkout narrows them to shipping rates)."""
    return addresses.COUNTRIES


def is_guest(session: Session, customer_id: int) -> bool:
    """A guest record: a customer number without a password."""
    row = session.get(Customer, customer_id)
    return row is None or row.password_hash is None


# ---------------------------------------------------------------- policy notices (staff's seam)

ERASED_DOMAIN = "@erased.invalid"  # privacy.personal_data's placeholder for an erased address


@dataclass(frozen=True)
class NoticeRecipient:
    id: int
    email: str
    name: str
    customer_number: str


def policy_notice_recipients(
    session: Session, after_id: int, limit: int, registered_before: datetime
) -> list[NoticeRecipient]:
    """One page of the customers to tell of a new privacy policy, by id after ``after_id``
    (the caller keeps the last id to ask for the next page, across commits); a customer
    who registered from ``registered_before`` on (the publication) read the new one then.

    Every customer record that is not closed, guests included: the policy says the contact
    details given with an order are used "in the event there is a problem processing an
    order, corporate changes, or changes in privacy practices", and a guest's orders and
    billing records are still held under it. A closed account (erased, its address a
    placeholder) is told nothing.
    """
    rows = session.execute(
        select(Customer.id, Customer.email, Customer.name, Customer.customer_number)
        .where(
            Customer.id > after_id,
            Customer.created_at < registered_before,
            Customer.closed_at.is_(None),
            Customer.email.not_like(f"%{ERASED_DOMAIN}"),
        )
        .order_by(Customer.id)
        .limit(limit)
    )
    return [NoticeRecipient(*row) for row in rows]


# ---------------------------------------------------------------- customer service (staff's seam)

# The lookup, the record behind a number and the caller's postcode live in staff_desk.py;
# the staff domain reaches accounts through this module only.
CustomerLookup = staff_desk.Lookup
CustomerRecord = staff_desk.CustomerRecord
look_up_customers = staff_desk.look_up
customer_record = staff_desk.record
customer_id_for_number = staff_desk.customer_id_for
customer_ids_for_numbers = staff_desk.customer_ids
postcode_on_file = staff_desk.postcode_on_file
LOOKUP_MAX_QUERY = staff_desk.MAX_QUERY
LOOKUP_MAX_RESULTS = staff_desk.MAX_RESULTS
LOOKUP_MAX_OFFSET = staff_desk.MAX_OFFSET


def _open_row(session: Session, customer_id: int) -> Customer:
    row = session.get(Customer, customer_id)
    if row is None or row.closed_at is not None:
        raise NotFound("customer")
    return row


def customer_id_for_any_number(session: Session, typed: str) -> int | None:
    """The id behind a customer number, closed accounts too (their audit entries still
    name them); None for a number never issued. The check digit is checked before any
    query (P9): InvalidInput naming customer_number for text that is no customer number."""
    number = parse_customer_number(typed)
    if number is None:
        raise InvalidInput("customer_number", "this is not a valid customer number")
    return staff_desk.customer_ids(session, [number]).get(number)


def export_for_disclosure(
    session: Session, customer_id: int, registry: PersonalDataRegistry, now: datetime
) -> dict[str, Any]:
    """The document ``export_data`` gives the customer themselves, for a legal disclosure
    of an open account (NotFound for a closed one: its personal data is erased)."""
    row = _open_row(session, customer_id)
    held = SignedInCustomer(row.id, row.customer_number, row.name, row.email)
    return export_data(session, held, registry, now)


def edit_contact(
    session: Session, customer_id: int, name: str | None, phone: str | None
) -> tuple[str, ...]:
    """Customer service changes a caller's name or phone by the rules of the customer's own
    profile (``update_profile``); returns the columns whose value changed."""
    if name is None and phone is None:
        raise InvalidInput("name", "give a new name, a new phone number, or both")
    row = _open_row(session, customer_id)
    changed: list[str] = []
    if name is not None and (clean_name := _clean_name(name)) != row.name:
        row.name = clean_name
        mail.rename_subscriber(session, row.customer_number, clean_name)
        changed.append("customers.name")
    if phone is not None and (clean_phone := _clean_phone(phone)) != row.phone:
        row.phone = clean_phone
        changed.append("customers.phone")
    session.flush()
    return tuple(changed)


def add_customer_address(
    session: Session, customer_id: int, data: AddressInput, now: datetime
) -> dict[str, Any]:
    """A new address in the customer's book, by the address book's rules; its row."""
    _open_row(session, customer_id)
    return staff_desk.address_row(addresses.add(session, customer_id, data, now))


def edit_customer_address(
    session: Session, customer_id: int, address_id: int, data: AddressInput
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """One of the customer's addresses changed (another customer's is not found); its row
    and the columns whose value changed."""
    _open_row(session, customer_id)
    before = staff_desk.address_row(addresses.get_for(session, customer_id, address_id))
    after = staff_desk.address_row(addresses.update(session, customer_id, address_id, data))
    changed = tuple(f"customer_addresses.{name}" for name in after if after[name] != before[name])
    return after, changed


def delete_customer_address(session: Session, customer_id: int, address_id: int) -> None:
    _open_row(session, customer_id)
    addresses.delete(session, customer_id, address_id)
