"""Request and response bodies of the staff API.

Strict, as the account API's: unknown fields and values of the wrong JSON type are refused
with a 400 naming the field, and every text has a bound, so a huge body costs nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from quietshop.db import MAX_ROW_ID
from quietshop.staff.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from quietshop.staff.roles import Role

# A password being checked: no stored one is longer than the rule allows.
CurrentPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
# A new one: the rule's bounds (passwords.check_password_rule says what else it checks).
NewPassword = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
# Six digits as the app shows them, spaces allowed ("123 456").
Code = Annotated[
    str,
    Field(
        min_length=6,
        max_length=9,
        description="The authenticator app's current six-digit code (spaces allowed)",
    ),
]
# An enrolment link's token (from the link's #token= part); its shape is the service's.
EnrolmentToken = Annotated[str, Field(min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=1_000)


class SignInWithCode(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: CurrentPassword
    code: Code


# --- Passkeys (WebAuthn): the JSON forms of navigator.credentials answers, bytes as
# base64url. Each text is bounded by what authenticators send (a credential id is at most
# 1023 bytes); what the bytes hold is the service's to check.

ChallengeId = Annotated[int, Field(ge=1, le=MAX_ROW_ID, description="From the options call")]
Base64Url = Annotated[str, Field(max_length=4096, pattern=r"^[A-Za-z0-9_-]*={0,2}$")]
CredentialIdText = Annotated[str, Field(min_length=1, max_length=1400)]


class WebAuthnJson(BaseModel):
    """Strict like the rest, with the field names WebAuthn's JSON uses (camelCase)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)


class AssertionResponseIn(WebAuthnJson):
    client_data_json: Base64Url = Field(alias="clientDataJSON")
    authenticator_data: Base64Url = Field(alias="authenticatorData")
    signature: Base64Url
    user_handle: Base64Url | None = Field(None, alias="userHandle")


class CredentialIn(WebAuthnJson):
    id: CredentialIdText
    raw_id: CredentialIdText = Field(alias="rawId")
    type: Literal["public-key"]
    authenticator_attachment: str | None = Field(
        None, alias="authenticatorAttachment", max_length=40
    )
    client_extension_results: dict[str, Any] | None = Field(
        None, alias="clientExtensionResults", max_length=20
    )

    def as_json(self) -> dict[str, Any]:
        """The credential as the browser sent it, for the webauthn package."""
        return self.model_dump(by_alias=True, exclude_none=True)


class AssertionIn(CredentialIn):
    """What ``navigator.credentials.get`` answered."""

    response: AssertionResponseIn


class PasskeyProofIn(Strict):
    challenge_id: ChallengeId
    credential: AssertionIn


class SignInWithPasskey(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: CurrentPassword
    passkey: PasskeyProofIn


def _second_factor(body: Any) -> str:
    """Which form a sign-in body takes: with ``passkey`` in place of ``code``, or not."""
    return "passkey" if isinstance(body, dict) and "passkey" in body else "code"


# The password and exactly one second factor: a TOTP code, or a passkey's assertion.
SignInIn = Annotated[
    Annotated[SignInWithCode, Tag("code")] | Annotated[SignInWithPasskey, Tag("passkey")],
    Discriminator(_second_factor),
]


class StaffSignedInOut(BaseModel):
    token: str
    expires_at: datetime
    idle_lock_minutes: float
    roles: list[Role]


class UnlockIn(Strict):
    password: CurrentPassword


class EnrolmentIn(Strict):
    token: EnrolmentToken


class EnrolmentOut(BaseModel):
    name: str
    email: str
    secret: str = Field(description="The TOTP secret in base32, for apps that cannot scan")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as a QR code, in SVG without script")
    expires_at: datetime


class EnrolmentCompleteIn(Strict):
    token: EnrolmentToken
    password: NewPassword
    code: Code


class MessageOut(BaseModel):
    message: str


class MeOut(BaseModel):
    name: str
    email: str
    roles: list[Role]
    idle_lock_minutes: float
    expires_at: datetime


class AttestationResponseIn(WebAuthnJson):
    client_data_json: Base64Url = Field(alias="clientDataJSON")
    attestation_object: Annotated[str, Field(max_length=16_384)] = Field(
        alias="attestationObject", pattern=r"^[A-Za-z0-9_-]*={0,2}$"
    )
    transports: list[Annotated[str, Field(max_length=20)]] | None = Field(None, max_length=10)
    # What toJSON() adds beside them; not needed (the attestation object holds it all).
    authenticator_data: Base64Url | None = Field(None, alias="authenticatorData")
    public_key: Base64Url | None = Field(None, alias="publicKey")
    public_key_algorithm: int | None = Field(None, alias="publicKeyAlgorithm")


class RegistrationIn(CredentialIn):
    """What ``navigator.credentials.create`` answered."""

    response: AttestationResponseIn


class PasskeyOptionsIn(Strict):
    """No fields: the options are the same for everyone."""


class PasskeyOptionsOut(BaseModel):
    challenge_id: int
    options: dict[str, Any] = Field(
        description="PublicKeyCredentialCreationOptions or ...RequestOptions as JSON "
        "(bytes as base64url), for navigator.credentials.create() or .get()"
    )


class PasskeyAddIn(Strict):
    challenge_id: ChallengeId
    credential: RegistrationIn
    name: str = Field(min_length=1, max_length=60)


class PasskeyOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


class PasskeyListOut(BaseModel):
    passkeys: list[PasskeyOut]


class PasskeyRemoveIn(Strict):
    password: CurrentPassword
