"""Staff tables (P7): the shop's employees, apart from its customers.

A staff member is not a customer: nothing here is a customer's personal data, so no column
takes part in a customer's export or erasure (tests/privacy/ walks only declared columns),
except in ``legal_disclosures``, which names whose data was disclosed (erased with them).
What is secret is kept as customers' secrets are: the password as an argon2id hash, sign-in
and enrolment tokens as SHA-256 digests only, and the TOTP secret AES-256-GCM sealed under
the keyring (``quietshop.keyring``) with associated data naming the staff member, so a
database copy alone gives no second factor. Times are always given by the caller's clock.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from quietshop.db import Base, UTCDateTime
from quietshop.privacy.personal_data import personal
from quietshop.staff.roles import Role

ROLE_CHECK = "role IN ({})".format(", ".join(repr(role.value) for role in Role))


class StaffMember(Base):
    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    # The address case-folded: unique, so Ann@Shop.example and ann@shop.example are one.
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    # NULL until enrolment sets it.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # nonce || AES-256-GCM(TOTP secret) under the keyring's key ``totp_key_id``, bound to
    # this row by associated data. Set at enrolment's first step, confirmed at its second.
    totp_key_id: Mapped[str | None] = mapped_column(String(16))
    totp_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The last TOTP time-step a code was accepted for: that step and earlier are refused.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Recorded at most once a minute: enough for "unused for 90 days".
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str] = mapped_column(String(200), default="")
    # Failed sign-ins and unlocks since the last success; the tenth locks the account.
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The one-time enrolment link's token (SHA-256), NULL once spent.
    enrolment_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffRole(Base):
    """One row per role a staff member holds (roles.py names the closed set)."""

    __tablename__ = "staff_roles"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class StaffSession(Base):
    """A signed-in back-office tab. Only the SHA-256 of its token is kept.

    ``origin`` is the address the sign-in came from: the audit chain records it with each
    entry of the session (PCI DSS 10.2.2). It is an employee's, never a customer's (P5).
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Recorded at most once a minute (sessions.TOUCH_INTERVAL).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the screen locked (idle, or asked); NULL again once unlocked.
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    origin: Mapped[str] = mapped_column(String(64), default="")


class StaffPolicyAcknowledgement(Base):
    """A staff member's "I have read and understood this" for one policy version (P7).

    Acknowledgements lapse when a calendar quarter begins (UTC): one counts while its
    policy is the newest of its kind and ``acknowledged_at`` is in the current quarter
    (staff/policies.py decides; nothing changes here when a quarter turns). One row per
    person, version and quarter, so the record shows every quarter's confirmation and a
    double click is one row. Kind and version are copied so the record reads on its own.
    """

    __tablename__ = "staff_policy_acknowledgements"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), primary_key=True)
    quarter: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2027Q2"
    kind: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffPolicyMailRun(Base):
    """How far one round of policy mail has gone, so it is sent once: the notice of a
    new privacy policy to every customer (``notice:<policy id>``, queued in batches, the
    last customer id reached committed with each batch) and the quarterly reminder to
    staff (``quarter:2027Q2``, whose insert is the claim)."""

    __tablename__ = "staff_policy_mail_runs"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    after_customer_id: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    # What changed, in the owner's words: the customers' notice says it.
    summary: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffPasskey(Base):
    """A passkey (WebAuthn credential) a staff member registered as a second factor beside
    the TOTP app: phishing-resistant, since the browser binds each signature to this
    shop's origin. Only public material is kept: the credential's id and its COSE public
    key; the private key never leaves the authenticator.

    ``sign_count`` is the authenticator's own counter (0 for those that do not count): a
    signature must show a higher one than the last, or a cloned key would pass unseen.
    """

    __tablename__ = "staff_passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    # The authenticator's id for the credential (at most 1023 bytes, WebAuthn 5.1).
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # An unsigned 32-bit counter: more than an Integer holds.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # How the browser may reach it ("internal,hybrid"), handed back when it is excluded.
    transports: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffPasskeyChallenge(Base):
    """A WebAuthn challenge handed out for one ceremony: registering a passkey (for the
    signed-in ``staff_id``) or signing in (``staff_id`` NULL: nobody is known yet, and the
    options name no credential). Single-use: ``used_at`` is set by the one conditional
    UPDATE that spends it; it expires after five minutes. Only the challenge's SHA-256 is
    kept, compared with the challenge the browser signed."""

    __tablename__ = "staff_passkey_challenges"
    __table_args__ = (CheckConstraint("purpose IN ('register', 'sign_in')", name="purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"))
    challenge_hash: Mapped[str] = mapped_column(String(64))
    # Indexed: each new challenge clears the expired ones.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffAccessReview(Base):
    """The owner's confirmation of who holds which roles (issue 9 item 1: an access review
    every six months). ``snapshot`` is what was confirmed, as JSON: each active staff
    member's id, name, email, roles, status and last activity at that moment, so the
    record reads on its own after people and roles have changed. Staff data, never a
    customer's; rows are only added."""

    __tablename__ = "staff_access_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmed_by: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(500), default="")
    snapshot: Mapped[str] = mapped_column(Text)


class LegalDisclosure(Base):
    """A customer's data handed to an authority that required it by law (design.md P2: a
    recorded workflow; the policy: "unless we are legally required to do so").

    Who disclosed (``staff_id``, a privacy officer), when, under which legal basis (the
    authority and its reference: "District Court", "Order 2026/123"; the disclosure refuses
    a basis that names the customer) and which kinds of data were handed over. The same
    disclosure is a ``legal_disclosure`` entry in the audit chain.

    The only table of the staff domain that holds a customer's personal data: whose data it
    was. Closing the account detaches the row (customer id NULL, number blank) and keeps
    what the shop must be able to show later, that a disclosure was made, when, by whom and
    on what basis. Never in the customer's own export: whether a customer may be told is
    the shop's decision (docs/promises.md, P2).
    """

    __tablename__ = "legal_disclosures"

    id: Mapped[int] = mapped_column(primary_key=True)
    disclosed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    customer_id: Mapped[int | None] = mapped_column(
        Integer, index=True, info=personal("activity", erase="blank")
    )
    customer_number: Mapped[str] = mapped_column(
        String(20), default="", info=personal("contact", erase="blank")
    )
    authority: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(200))
    # The kinds of personal data handed over, as a JSON array ("contact", "address", ...).
    kinds: Mapped[str] = mapped_column(Text)
