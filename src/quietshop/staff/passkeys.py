"""Passkeys (WebAuthn) as a staff second factor beside the TOTP app (P7, issue 9 item 1):
the ceremonies that hand out challenges, and the credentials kept.

A passkey is phishing-resistant: the browser writes the page's origin into what the
authenticator signs, so a look-alike site gets a signature this shop refuses. Here

- a signed-in staff member registers one (``registration_options``, then ``register``):
  a discoverable credential ("resident key", so signing in needs no list of credentials
  sent for an email address) with the user verified (PIN or biometrics), no attestation
  (which authenticator it is, is nobody's business here), excluding the ones they hold;
- signing in asks for ``sign_in_options``: a challenge with an empty ``allowCredentials``,
  so the options say nothing about who has which passkey (no account enumeration); the
  assertion is checked by ``second_factor.check_second_factor`` beside the password;
- removing one needs the password typed again, which counts toward the ten failures.

The relying party is this shop: its id is the host of ``base_url``, the origin is
``base_url``'s (``second_factor.relying_party``). Challenges are 256 random bits, kept as
SHA-256 only, for five minutes, spent once. Only public material is stored (the credential
id and COSE public key); nothing here is a customer's, so no column takes part in export
or erasure.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from quietshop.audit import service as audit
from quietshop.db import MAX_ROW_ID, transaction
from quietshop.errors import InvalidInput, NotFound
from quietshop.staff import signin
from quietshop.staff.models import StaffMember, StaffPasskey, StaffPasskeyChallenge
from quietshop.staff.second_factor import (
    UNREADABLE,
    ChallengePurpose,
    FactorOutcome,
    RelyingParty,
    challenge_digest,
    challenge_refusal,
    library_reason,
    signed_challenge,
    spend_challenge,
    user_handle,
)
from quietshop.staff.sessions import SignedInStaff
from quietshop.staff.trail import staff_event

__all__ = [
    "Ceremony",
    "PasskeySummary",
    "list_passkeys",
    "register",
    "registration_options",
    "remove_passkey",
    "sign_in_options",
]

CHALLENGE_LIFETIME = timedelta(minutes=5)
# How long the browser's prompt waits (a hint): well inside the challenge's lifetime.
PROMPT_TIMEOUT_MS = 120_000
MAX_PASSKEYS = 10
MAX_NAME = 60
# EdDSA, ES256 and RS256: what authenticators make (and what webauthn 3.x offers by
# default), named here so every version of the package offers and accepts the same.
ALGORITHMS = [
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
_TRANSPORTS = frozenset(transport.value for transport in AuthenticatorTransport)


@dataclass(frozen=True)
class Ceremony:
    """A challenge handed out, and the options for ``navigator.credentials`` in their JSON
    form (bytes as base64url): what the browser needs to ask the authenticator."""

    challenge_id: int
    options: dict[str, Any]


@dataclass(frozen=True)
class PasskeySummary:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


# ---------------------------------------------------------------- challenges


def _new_challenge(
    session: Session, purpose: ChallengePurpose, staff_id: int | None, now: datetime
) -> tuple[int, bytes]:
    """A fresh challenge for one ceremony; the expired ones go (a spent or expired
    challenge is refused all the same, so nothing is lost)."""
    session.execute(delete(StaffPasskeyChallenge).where(StaffPasskeyChallenge.expires_at <= now))
    challenge = secrets.token_bytes(32)
    row = StaffPasskeyChallenge(
        purpose=purpose.value,
        staff_id=staff_id,
        challenge_hash=challenge_digest(challenge),
        expires_at=now + CHALLENGE_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row.id, challenge


def sign_in_options(session: Session, rp: RelyingParty, now: datetime) -> Ceremony:
    """Options for signing in with a passkey: no credential named, so they are the same
    for everyone and the authenticator offers whichever of this shop's it holds."""
    challenge_id, challenge = _new_challenge(session, ChallengePurpose.SIGN_IN, None, now)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=PROMPT_TIMEOUT_MS,
        allow_credentials=[],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return Ceremony(challenge_id, options_to_json_dict(options))


# ---------------------------------------------------------------- registering


def _owned(session: Session, staff_id: int) -> list[StaffPasskey]:
    return list(
        session.execute(
            select(StaffPasskey)
            .where(StaffPasskey.staff_id == staff_id)
            .order_by(StaffPasskey.created_at, StaffPasskey.id)
        ).scalars()
    )


def _room_for_one_more(session: Session, staff_id: int) -> None:
    held = session.execute(
        select(func.count()).where(StaffPasskey.staff_id == staff_id)
    ).scalar_one()
    if held >= MAX_PASSKEYS:
        raise InvalidInput(
            "passkey", f"You have {MAX_PASSKEYS} passkeys already: remove one to add another."
        )


def _descriptor(passkey: StaffPasskey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in passkey.transports.split(",") if t]
    return PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=transports or None)


def registration_options(
    session: Session, rp: RelyingParty, staff: SignedInStaff, now: datetime
) -> Ceremony:
    """Options for registering a new passkey of the signed-in staff member."""
    _room_for_one_more(session, staff.id)
    challenge_id, challenge = _new_challenge(session, ChallengePurpose.REGISTER, staff.id, now)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=staff.email,
        user_id=user_handle(staff.id),
        user_display_name=staff.name,
        challenge=challenge,
        timeout=PROMPT_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in _owned(session, staff.id)],
        supported_pub_key_algs=ALGORITHMS,
    )
    return Ceremony(challenge_id, options_to_json_dict(options))


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME or not cleaned.isprintable():
        raise InvalidInput("name", f"Give the passkey a name of 1 to {MAX_NAME} characters.")
    return cleaned


_CHALLENGE_MESSAGES = {
    FactorOutcome.CHALLENGE_EXPIRED: "This request for a passkey has expired: start again.",
    FactorOutcome.CHALLENGE_WRONG: "The browser answered another request: start again.",
}


def _refused_registration(outcome: FactorOutcome, rp: RelyingParty) -> InvalidInput:
    if outcome in (FactorOutcome.ORIGIN_WRONG, FactorOutcome.RELYING_PARTY_WRONG):
        message = f"This passkey was made for another site: open the back office at {rp.origin}."
    elif outcome in (FactorOutcome.NOT_VERIFIED, FactorOutcome.NOT_PRESENT):
        message = "Your device did not verify you (a PIN, fingerprint or face): it must."
    else:
        message = "The browser's answer could not be checked: please try again."
    return InvalidInput("credential", message)


def _transports(credential: Mapping[str, Any]) -> str:
    given = credential["response"].get("transports") or []
    known = sorted({t for t in given if isinstance(t, str) and t in _TRANSPORTS})
    return ",".join(known)[:200]


def register(
    session: Session,
    rp: RelyingParty,
    staff: SignedInStaff,
    challenge_id: int,
    credential: Mapping[str, Any],
    name: str,
    now: datetime,
) -> PasskeySummary:
    """Keep the passkey ``credential`` (the JSON of ``navigator.credentials.create``)
    made for challenge ``challenge_id``, under ``name``; its challenge is spent. Nothing is
    kept when it does not verify (InvalidInput naming the field)."""
    clean_name = _clean_name(name)
    signed = signed_challenge(credential)
    if signed is None:
        raise _refused_registration(FactorOutcome.MALFORMED, rp)
    refusal = challenge_refusal(
        session, challenge_id, ChallengePurpose.REGISTER, staff.id, signed, now
    )
    if refusal is not None:
        message = _CHALLENGE_MESSAGES.get(
            refusal, "This request for a passkey is not valid any more: start again."
        )
        raise InvalidInput("challenge_id", message)
    try:
        verified = verify_registration_response(
            credential=dict(credential),
            expected_challenge=signed,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except WebAuthnException as refused:
        raise _refused_registration(library_reason(refused), rp) from None
    except UNREADABLE:
        raise _refused_registration(FactorOutcome.MALFORMED, rp) from None
    known = select(StaffPasskey.id).where(StaffPasskey.credential_id == verified.credential_id)
    if session.execute(known).first() is not None:
        raise InvalidInput("credential", "This passkey is registered already.")
    _room_for_one_more(session, staff.id)
    if not spend_challenge(session, challenge_id, now):
        raise InvalidInput("challenge_id", "This request for a passkey was used already.")
    passkey = StaffPasskey(
        staff_id=staff.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=_transports(credential),
        name=clean_name,
        created_at=now,
    )
    session.add(passkey)
    session.flush()
    event = staff_event(
        "second_factor_added", staff_id=staff.id, origin=staff.origin,
        reason=f"passkey {passkey.id} ({clean_name})",
    )  # fmt: skip
    audit.append(session, event, now)
    return _summary(passkey)


# ---------------------------------------------------------------- listing and removing


def _summary(passkey: StaffPasskey) -> PasskeySummary:
    return PasskeySummary(passkey.id, passkey.name, passkey.created_at, passkey.last_used_at)


def list_passkeys(session: Session, staff_id: int) -> list[PasskeySummary]:
    """A staff member's own passkeys, oldest first."""
    return [_summary(passkey) for passkey in _owned(session, staff_id)]


def remove_passkey(
    factory: sessionmaker[Session],
    staff: SignedInStaff,
    passkey_id: int,
    password: str,
    now: datetime,
) -> None:
    """Remove one of the signed-in staff member's passkeys, confirmed by their password.
    Another's, or a missing one, is NotFound alike. A refused password is counted (the
    tenth locks the account, as at unlock) and appended to the audit chain after that
    count commits, then raised as InvalidInput naming ``password``."""
    with transaction(factory) as session:
        refused = _remove(session, staff, passkey_id, password, now)
    if refused is not None:
        reason = f"removing passkey {passkey_id}: {refused.reason}"
        denied = staff_event("denied", staff_id=staff.id, origin=staff.origin, reason=reason)
        audit.record(factory, denied, now)
        if refused.locked_account:
            audit.record(factory, signin.lock_event(staff.id, staff.origin), now)
        raise InvalidInput("password", refused.message)


def _remove(
    session: Session, staff: SignedInStaff, passkey_id: int, password: str, now: datetime
) -> signin.PasswordRefused | None:
    passkey = session.get(StaffPasskey, passkey_id) if 0 < passkey_id <= MAX_ROW_ID else None
    if passkey is None or passkey.staff_id != staff.id:
        raise NotFound("passkey")
    refused = signin.confirm_password(session.get_one(StaffMember, staff.id), password, now)
    if refused is not None:
        return refused
    session.delete(passkey)
    event = staff_event(
        "staff_change", staff_id=staff.id, origin=staff.origin,
        reason=f"passkey {passkey.id} ({passkey.name}) removed",
    )  # fmt: skip
    audit.append(session, event, now)
    return None
