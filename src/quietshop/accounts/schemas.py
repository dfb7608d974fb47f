"""Request and response bodies of the account API.

Strict: unknown fields are refused, and so is a value of the wrong JSON type (``0`` is not
``false``, ``"1"`` is not a number); each refusal is a 400 naming the field. The bounds
are the rules' own, so the API description says what the server accepts.

Some rules are checked by the service, with messages a person can act on ("this link is
incomplete", "we do not ship to this country"); their shape is still described here, from
the rule's own constant, but only described (``json_schema_extra``), so the message stays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from quietshop.accounts.addresses import COUNTRIES, COUNTRY_RULES
from quietshop.accounts.links import TOKEN_SHAPE
from quietshop.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from quietshop.accounts.service import MAX_PHONE, PHONE_CHARACTERS

# A new password: the policy's bounds (accounts/passwords.py says what else it checks).
NewPassword = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
# A password being checked: no stored one is longer than the policy allows.
CurrentPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
# An address that becomes the account's: the service checks its shape (mail.check_address:
# dot-atoms, a local part of at most 64 characters, no quoted parts or IP literals).
NewEmail = Annotated[
    str,
    Field(
        min_length=3,
        max_length=254,
        json_schema_extra={"format": "email"},
        description="An email address (surrounding spaces are dropped)",
    ),
]
# A mailed link's token (links.TOKEN_SHAPE); any other text is refused as "incomplete".
LinkToken = Annotated[
    str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": TOKEN_SHAPE.pattern})
]
# Digits, spaces and + - ( ) . / (service._clean_phone), after surrounding spaces are dropped.
_PHONE_CLASS = "".join(sorted(PHONE_CHARACTERS)).replace("-", "") + "-"
Phone = Annotated[
    str, Field(max_length=MAX_PHONE, json_schema_extra={"pattern": rf"^\s*[{_PHONE_CLASS}]*\s*$"})
]
# A name goes into mail headers: printable, without line breaks, not blank.
PersonName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Printable text without line breaks or control characters; not blank",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=10_000)


class RegisterIn(Strict):
    name: PersonName
    email: NewEmail
    password: NewPassword
    phone: Phone = ""
    mailing_opt_in: bool = False


class RegisteredOut(BaseModel):
    message: str


class SignInIn(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: CurrentPassword


class SignedInOut(BaseModel):
    token: str
    customer_number: str
    idle_minutes: float
    expires_at: datetime


class TokenIn(Strict):
    token: LinkToken


class EmailIn(Strict):
    """An address to look up (a password reset): the answer is the same for any text."""

    email: str = Field(min_length=1, max_length=254)


class NewEmailIn(Strict):
    """A new address for the account: its shape is checked."""

    email: NewEmail


class NewPasswordIn(Strict):
    token: LinkToken
    new_password: NewPassword


class PasswordChangeIn(Strict):
    current_password: CurrentPassword
    new_password: NewPassword


class ClaimGuestIn(Strict):
    token: LinkToken
    password: NewPassword


class CloseIn(Strict):
    password: CurrentPassword


class ProfileIn(Strict):
    name: PersonName | None = None
    phone: Phone | None = None


class ProfileOut(BaseModel):
    customer_number: str
    name: str
    email: str
    phone: str
    email_verified: bool
    mailing_opt_in: bool
    # True once mailings really go out: opted in, and the address confirmed.
    mailing_active: bool


class MailingIn(Strict):
    opted_in: bool


_PRINTABLE = "Printable text without line breaks or control characters"
_SHIPPING_COUNTRIES: JsonDict = {"enum": [*sorted(COUNTRIES)]}
_WITH_REGIONS = ", ".join(code for code, (_, needed) in COUNTRY_RULES.items() if needed)


class AddressIn(Strict):
    kind: str = Field(pattern="^(shipping|billing)$")
    name: str = Field(min_length=1, max_length=200, description=f"{_PRINTABLE}; not blank")
    line1: str = Field(min_length=1, max_length=200, description=f"{_PRINTABLE}; not blank")
    line2: str = Field("", max_length=200, description=_PRINTABLE)
    city: str = Field(min_length=1, max_length=100, description=f"{_PRINTABLE}; not blank")
    region: str = Field(
        "", max_length=100, description=f"{_PRINTABLE}; required for {_WITH_REGIONS}"
    )
    postcode: str = Field(
        "", max_length=20, description="In the shape the country uses; required where it has one"
    )
    country: str = Field(
        min_length=2,
        max_length=2,
        json_schema_extra=_SHIPPING_COUNTRIES,
        description="A country we ship to, as its two-letter code",
    )


class AddressOut(AddressIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int


class MessageOut(BaseModel):
    message: str


class StaffAccessOut(BaseModel):
    """One staff access to my data: when, which role, what and why; never who."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    role: str = Field(description="The role's code: billing, customer_service, ...")
    role_label: str = Field(description="How the role is named to you: Billing, ...")
    action: str = Field(description="read, change, card_reveal, caller_verified or export")
    action_label: str
    data_kinds: list[str] = Field(description="contact, address, payment, ...")
    data_label: str
    purpose: str = Field(description="The reason the staff member gave")
