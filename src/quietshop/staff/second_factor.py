"""The second factor (P7): a TOTP code (RFC 6238) or a passkey (WebAuthn) at every
sign-in, each accepted once.

``check_second_factor`` is the one place sign-in asks whether a proof of the second factor
holds. A proof is a ``TotpCode`` or a ``PasskeyAssertion`` (issue 9 item 1); sign-in treats
both alike, and every refusal is one reason in the audit chain behind the one answer.

A code is accepted for the current 30-second step or the one before or after (clocks
drift, and a code typed at the end of its step arrives in the next one), and only for a
step later than the last one accepted: the same code twice, or an older one after it, is
"replayed" (RFC 6238 section 5.2). The secret is sealed with the keyring under associated
data that names the staff member, so a ciphertext copied to another row does not open.

A passkey assertion (``navigator.credentials.get``, checked by the ``webauthn`` package) is
accepted when it signs a challenge this shop handed out for signing in, unexpired and not
yet spent, for this shop's origin and relying-party id, with the user verified (PIN or
biometrics) and the authenticator's counter above the last one seen (0 stays allowed for
authenticators that do not count, as the specification says); the credential must be one
the staff member registered (``passkeys.py`` hands out the challenges and stores the
credentials). The challenge is spent by the one conditional UPDATE that accepts it, so the
same assertion never works twice, not even twice at once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import pyotp
from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session
from webauthn import verify_authentication_response
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException

from quietshop.db import MAX_ROW_ID
from quietshop.keyring import Keyring, Sealed
from quietshop.settings import Settings
from quietshop.staff.models import StaffMember, StaffPasskey, StaffPasskeyChallenge

STEP_SECONDS = 30
DIGITS = 6
# Steps either side of now whose code is still accepted.
WINDOW = 1


class FactorOutcome(StrEnum):
    """Whether a proof holds; any other value than ACCEPTED is the audit chain's reason."""

    ACCEPTED = "accepted"
    WRONG = "wrong code"
    REPLAYED = "replayed code"
    MISSING = "no second factor enrolled"
    # A passkey's refusals: one answer to the caller, each its own reason in the chain.
    CHALLENGE_UNKNOWN = "passkey: no such challenge"
    CHALLENGE_FOREIGN = "passkey: a challenge handed out for another ceremony"
    CHALLENGE_SPENT = "passkey: challenge used already"
    CHALLENGE_EXPIRED = "passkey: challenge expired"
    CHALLENGE_WRONG = "passkey: signed another challenge"
    PASSKEY_UNKNOWN = "passkey: not registered"
    PASSKEY_FOREIGN = "passkey: another staff member's"
    ORIGIN_WRONG = "passkey: signed for another origin"
    RELYING_PARTY_WRONG = "passkey: signed for another relying party"
    NOT_PRESENT = "passkey: user not present"
    NOT_VERIFIED = "passkey: user not verified"
    COUNTER_NOT_INCREASED = "passkey: signature counter did not increase"
    SIGNATURE_WRONG = "passkey: signature does not verify"
    MALFORMED = "passkey: malformed assertion"


@dataclass(frozen=True)
class TotpCode:
    """A code as typed: spaces are allowed ("123 456", as apps show it)."""

    text: str

    def digits(self) -> str | None:
        compact = self.text.replace(" ", "")
        if len(compact) != DIGITS or not (compact.isascii() and compact.isdigit()):
            return None
        return compact


@dataclass(frozen=True)
class RelyingParty:
    """Who a passkey is for (WebAuthn's relying party): the host of ``base_url`` as its
    id, and the origin the browser must have signed from (scheme://host[:port])."""

    id: str
    origin: str
    name: str


def relying_party(settings: Settings) -> RelyingParty:
    parts = urlsplit(settings.base_url)
    host = parts.hostname or "localhost"
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    port = "" if parts.port in (None, default_port) else f":{parts.port}"
    return RelyingParty(host, f"{parts.scheme}://{host}{port}", settings.shop_name)


@dataclass(frozen=True)
class PasskeyAssertion:
    """A passkey's answer to ``navigator.credentials.get`` (its JSON form: id, rawId,
    type and a response of clientDataJSON, authenticatorData, signature and userHandle,
    base64url), for the challenge ``challenge_id`` handed out by
    ``passkeys.sign_in_options``."""

    challenge_id: int
    credential: Mapping[str, Any]
    relying_party: RelyingParty


# Every kind of proof sign-in accepts.
SecondFactorProof = TotpCode | PasskeyAssertion
# Where the keyring comes from, asked only once a secret is really needed: a forged link or
# an unknown address is refused without reading the keyring file.
KeyringSource = Callable[[], Keyring]


def new_secret() -> str:
    """160 random bits in base32, the size RFC 4226 recommends."""
    return pyotp.random_base32()


def associated_data(staff_id: int) -> bytes:
    return f"staff_totp:{staff_id}".encode()


def seal_secret(keyring: Keyring, staff_id: int, secret: str) -> Sealed:
    return keyring.encrypt(secret.encode("ascii"), associated_data(staff_id))


def open_secret(keyring: Keyring, member: StaffMember) -> str | None:
    if member.totp_key_id is None or member.totp_ciphertext is None:
        return None
    plain = keyring.decrypt(member.totp_key_id, member.totp_ciphertext, associated_data(member.id))
    return plain.decode("ascii")


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, now: datetime) -> str:
    """The code an authenticator shows at ``now`` (tests and the demo's `staff code`)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(time_step(now))


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    return totp.provisioning_uri(name=email, issuer_name=issuer)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The step within the window whose code is ``code`` (latest first), or None."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # Every step is compared, in constant time: how long this takes says nothing.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def check_second_factor(
    keys: KeyringSource, member: StaffMember, proof: SecondFactorProof, now: datetime
) -> FactorOutcome:
    """Whether ``proof`` holds for ``member``; on ACCEPTED what makes it single-use is
    recorded (a code's step on the row; a passkey's challenge spent, its counter and last
    use), in the member's own session: the caller's transaction commits it."""
    if isinstance(proof, PasskeyAssertion):
        return _check_passkey(member, proof, now)
    if member.totp_ciphertext is None:
        return FactorOutcome.MISSING
    secret = open_secret(keys(), member)
    if secret is None:
        return FactorOutcome.MISSING
    code = proof.digits()
    step = None if code is None else matching_step(secret, code, now)
    if step is None:
        return FactorOutcome.WRONG
    if member.totp_last_step is not None and step <= member.totp_last_step:
        return FactorOutcome.REPLAYED
    member.totp_last_step = step
    return FactorOutcome.ACCEPTED


# ---------------------------------------------------------------- passkeys


class ChallengePurpose(StrEnum):
    REGISTER = "register"
    SIGN_IN = "sign_in"


# What a hostile or broken credential can make the parsers raise, besides the webauthn
# package's own errors: each is a refusal, never a server error.
UNREADABLE = (
    ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError,
)  # fmt: skip

# The webauthn package says why it refused in its message only; the reasons it can give
# after our own checks, in the words of the chain. Anything else is MALFORMED.
_LIBRARY_REASONS: tuple[tuple[str, FactorOutcome], ...] = (
    ("Unexpected client data origin", FactorOutcome.ORIGIN_WRONG),
    ("Unexpected RP ID hash", FactorOutcome.RELYING_PARTY_WRONG),
    ("User was not present", FactorOutcome.NOT_PRESENT),
    ("User presence was required", FactorOutcome.NOT_PRESENT),
    ("User verification is required", FactorOutcome.NOT_VERIFIED),
    ("Response sign count", FactorOutcome.COUNTER_NOT_INCREASED),
    ("Could not verify authentication signature", FactorOutcome.SIGNATURE_WRONG),
    ("Client data challenge", FactorOutcome.CHALLENGE_WRONG),
)


def library_reason(refused: WebAuthnException) -> FactorOutcome:
    message = str(refused)
    for start, outcome in _LIBRARY_REASONS:
        if message.startswith(start):
            return outcome
    return FactorOutcome.MALFORMED


def user_handle(staff_id: int) -> bytes:
    """The WebAuthn user handle of a staff member, kept by the authenticator with each of
    their passkeys: a digest, so it names no one (WebAuthn 14.6.1), and needs no column."""
    return hashlib.sha256(f"quietshop staff passkey user {staff_id}".encode()).digest()


def challenge_digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def signed_challenge(credential: Mapping[str, Any]) -> bytes | None:
    """The challenge the browser wrote into clientDataJSON, which the authenticator
    signed (None: it cannot be read)."""
    try:
        client_data_json = base64url_to_bytes(credential["response"]["clientDataJSON"])
        return parse_client_data_json(client_data_json).challenge
    except (WebAuthnException, *UNREADABLE):
        return None


def challenge_refusal(
    session: Session,
    challenge_id: int,
    purpose: ChallengePurpose,
    staff_id: int | None,
    signed: bytes,
    now: datetime,
) -> FactorOutcome | None:
    """Why challenge ``challenge_id`` cannot be spent by this ceremony (None: it can): it
    must exist, have been handed out for ``purpose`` (to ``staff_id``, NULL for signing
    in), be unspent and unexpired, and be the challenge ``signed``."""
    row = (
        session.get(StaffPasskeyChallenge, challenge_id) if 0 < challenge_id <= MAX_ROW_ID else None
    )
    if row is None:
        return FactorOutcome.CHALLENGE_UNKNOWN
    if row.purpose != purpose.value or row.staff_id != staff_id:
        return FactorOutcome.CHALLENGE_FOREIGN
    if row.used_at is not None:
        return FactorOutcome.CHALLENGE_SPENT
    if now >= row.expires_at:
        return FactorOutcome.CHALLENGE_EXPIRED
    if not hmac.compare_digest(row.challenge_hash, challenge_digest(signed)):
        return FactorOutcome.CHALLENGE_WRONG
    return None


def spend_challenge(session: Session, challenge_id: int, now: datetime) -> bool:
    """Spend a challenge once: False if another request spent it first."""
    spent = session.execute(
        update(StaffPasskeyChallenge)
        .where(StaffPasskeyChallenge.id == challenge_id, StaffPasskeyChallenge.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(spent.rowcount == 1)  # type: ignore[attr-defined]


def _check_passkey(member: StaffMember, proof: PasskeyAssertion, now: datetime) -> FactorOutcome:
    session = object_session(member)
    assert session is not None, "the member is read in the sign-in's own session"
    credential = proof.credential
    signed = signed_challenge(credential)
    if signed is None:
        return FactorOutcome.MALFORMED
    refusal = challenge_refusal(
        session, proof.challenge_id, ChallengePurpose.SIGN_IN, None, signed, now
    )
    if refusal is not None:
        return refusal
    passkey = _passkey_of(session, credential)
    if passkey is None:
        return FactorOutcome.PASSKEY_UNKNOWN
    handle = credential["response"].get("userHandle")  # optional: the passkey names its owner
    own_handle = bytes_to_base64url(user_handle(member.id))
    if passkey.staff_id != member.id or handle not in (None, own_handle):
        return FactorOutcome.PASSKEY_FOREIGN
    rp = proof.relying_party
    try:
        verified = verify_authentication_response(
            credential=dict(credential),
            expected_challenge=signed,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except WebAuthnException as refused:
        return library_reason(refused)
    except UNREADABLE:
        return FactorOutcome.MALFORMED
    if not spend_challenge(session, proof.challenge_id, now):
        return FactorOutcome.CHALLENGE_SPENT
    passkey.sign_count, passkey.last_used_at = verified.new_sign_count, now
    return FactorOutcome.ACCEPTED


def _passkey_of(session: Session, credential: Mapping[str, Any]) -> StaffPasskey | None:
    try:
        raw_id = base64url_to_bytes(credential["rawId"])
    except UNREADABLE:
        return None
    return session.execute(
        select(StaffPasskey).where(StaffPasskey.credential_id == raw_id)
    ).scalar()
