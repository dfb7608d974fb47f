"""Request and response bodies of the owner's back office: staff management, the access
review (staff/owner_api.py) and the rate tables (staff/rates_api.py).

Strict like the rest of the staff API: unknown fields and wrong JSON types are refused with
a 400 naming the field, and every text and number has the bound the service applies, so
the API description says what is taken. What only the tables know (a country in another
region, a code that exists already) is the service's, answered 400 or 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from quietshop.staff.roles import Role
from quietshop.staff.schemas import Strict

# Money and counts: the upper bounds are pricing's (orders.pricing.MAX_TOTAL_CENTS), checked
# by the service, which staff reaches only through orders.service.
Cents = Annotated[int, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]
BASIS_POINTS_100 = 10_000  # 100 %
# A role by its name: bodies are strict, and a strict enum wants an instance, not JSON text.
RoleName = Annotated[Role, Field(strict=False)]
Roles = Annotated[list[RoleName], Field(min_length=1, max_length=len(Role))]


def _iso_time(value: object) -> object:
    """A JSON date-time (ISO 8601 text) as a datetime: strict bodies take no other form."""
    if not isinstance(value, str) or len(value) > 40:
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("give a date and time in ISO 8601, such as 2027-01-31T00:00:00Z") from None


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_time)]

# ---------------------------------------------------------------- staff


class StaffMemberOut(BaseModel):
    id: int
    name: str
    email: str
    roles: list[Role]
    last_active_at: datetime | None = Field(description="None: never signed in")
    status: str = Field(description="active, not enrolled yet, locked until ..., disabled (why)")


class StaffListOut(BaseModel):
    staff: list[StaffMemberOut]


class AddStaffIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    roles: Roles


class AddedStaffOut(BaseModel):
    member: StaffMemberOut
    enrolment_url: str = Field(
        description="The one-time enrolment link: shown in this answer only (the shop keeps "
        "its hash); hand it to the person yourself"
    )
    enrolment_expires_at: datetime


class RolesIn(Strict):
    roles: Roles


class DisableIn(Strict):
    reason: str = Field(default="", max_length=200, description="Why, as the list shows it")


# ---------------------------------------------------------------- the access review


class HeldAccessOut(BaseModel):
    staff_id: int
    name: str
    email: str
    roles: list[Role]
    status: str
    last_active_at: datetime | None
    days_since_active: int | None = Field(description="Whole days; None: never signed in")
    unused_disable_at: datetime = Field(
        description="When the account is disabled for disuse (90 days) unless used before"
    )


class ReviewOut(BaseModel):
    id: int
    confirmed_at: datetime
    confirmed_by_id: int
    confirmed_by_name: str
    note: str
    staff_count: int
    next_due_at: datetime = Field(description="Six calendar months after confirmed_at")


class AccessReviewOut(BaseModel):
    staff: list[HeldAccessOut] = Field(description="Every staff member not disabled, by name")
    last_review: ReviewOut | None
    next_due_at: datetime | None = Field(description="None: never reviewed, so due now")
    due: bool


class ConfirmReviewIn(Strict):
    note: str = Field(default="", max_length=500)


# ---------------------------------------------------------------- rate tables


class RegionIn(Strict):
    countries: list[Annotated[str, Field(min_length=1, max_length=10)]] = Field(
        max_length=300, description="Two-letter ISO 3166 codes the address book knows"
    )


class RegionOut(BaseModel):
    code: str
    countries: list[str]
    rate_count: int


class ShippingRateIn(Strict):
    region: str = Field(min_length=1, max_length=40)
    method_code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["flat", "weight"]
    base_cents: Cents
    per_kg_cents: Cents = Field(default=0, description="Weight-based: per started kilogram")
    free_over_cents: Cents | None = Field(
        default=None, description="Free when the goods after discount reach this"
    )
    delivery_days_min: int = Field(default=1, ge=0, le=365)
    delivery_days_max: int = Field(default=5, ge=0, le=365)
    active: bool = True


class ShippingRateOut(BaseModel):
    id: int
    currency: str
    region: str
    method_code: str
    name: str
    kind: str
    base_cents: int
    per_kg_cents: int
    free_over_cents: int | None
    delivery_days_min: int
    delivery_days_max: int
    active: bool


class TaxRateIn(Strict):
    country: str = Field(min_length=1, max_length=10)
    tax_class: str = Field(default="standard", min_length=1, max_length=40)
    rate_basis_points: int = Field(ge=0, le=BASIS_POINTS_100, description="1900 = 19 %")
    name: str = Field(default="VAT", min_length=1, max_length=60)


class TaxRateOut(BaseModel):
    id: int
    country: str
    tax_class: str
    rate_basis_points: int
    name: str


class DiscountCodeIn(Strict):
    code: str = Field(min_length=1, max_length=200, description="3 to 40 of A-Z 0-9 - _")
    kind: Literal["percent", "amount"]
    percent_basis_points: int | None = Field(
        default=None, ge=1, le=BASIS_POINTS_100, description="percent codes: 1000 = 10 %"
    )
    amount_cents: Count | None = Field(default=None, description="amount codes")
    valid_from: IsoTime | None = None
    valid_until: IsoTime | None = Field(default=None, description="exclusive")
    minimum_order_cents: Cents = Field(default=0, description="goods before discount")
    max_uses: Count | None = None
    max_uses_per_customer: Count | None = None
    active: bool = True


class DiscountCodeOut(BaseModel):
    id: int
    code: str
    kind: str
    currency: str
    percent_basis_points: int | None
    amount_cents: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    minimum_order_cents: int
    max_uses: int | None
    max_uses_per_customer: int | None
    uses: int
    active: bool


class RateTablesOut(BaseModel):
    regions: list[RegionOut]
    shipping_rates: list[ShippingRateOut]
    tax_rates: list[TaxRateOut]
    discount_codes: list[DiscountCodeOut]
    countries: list[str] = Field(description="The countries a region or tax rate may name")
