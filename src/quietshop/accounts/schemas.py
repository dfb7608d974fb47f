"""Request and response bodies of the account API.

Strict: unknown fields are refused, and so is a value of the wrong JSON type (``0`` is not
``false``, ``"1"`` is not a number); each refusal is a 400 naming the field. The bounds
are the rules' own, so the API description says what the server accepts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from quietshop.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

# A new password: the policy's bounds (accounts/passwords.py says what else it checks).
NewPassword = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
# A password being checked: no stored one is longer than the policy allows.
CurrentPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=10_000)


class RegisterIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    password: NewPassword
    phone: str = Field("", max_length=40)
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
    token: str = Field(min_length=1, max_length=100)


class EmailIn(Strict):
    email: str = Field(min_length=1, max_length=254)


class NewPasswordIn(Strict):
    token: str = Field(min_length=1, max_length=100)
    new_password: NewPassword


class PasswordChangeIn(Strict):
    current_password: CurrentPassword
    new_password: NewPassword


class CloseIn(Strict):
    password: CurrentPassword


class ProfileIn(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    phone: str | None = Field(None, max_length=40)


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


class AddressIn(Strict):
    kind: str = Field(pattern="^(shipping|billing)$")
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field("", max_length=100)
    postcode: str = Field("", max_length=20)
    country: str = Field(min_length=2, max_length=2)


class AddressOut(AddressIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int


class MessageOut(BaseModel):
    message: str
