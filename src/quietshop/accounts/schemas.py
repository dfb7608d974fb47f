"""Request and response bodies of the account API. Unknown fields are refused (400)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=10_000)


class RegisterIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)  # the policy says 12 to 128
    phone: str = Field("", max_length=40)
    mailing_opt_in: bool = False


class RegisteredOut(BaseModel):
    customer_number: str
    message: str


class SignInIn(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


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
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class CloseIn(Strict):
    password: str = Field(min_length=1, max_length=1024)


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
