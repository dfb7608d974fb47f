"""Checkout: price a cart on the server, and place an order.

The client sends SKUs and quantities and the total it showed; every price, discount,
shipping cost and tax is computed here from the catalog and the owner's rate tables. A
client total that differs from the server's is answered with the new totals to confirm
(``TotalsChanged``), never charged. Placing an order checks everything first (lines,
addresses, card) and only then takes stock, counts the discount, stores the encrypted
card and asks the processor, all in the caller's one transaction: any refusal leaves no
order, no stock taken, no card and no mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from quietshop.accounts import service as accounts
from quietshop.accounts.service import SignedInCustomer
from quietshop.catalog import service as catalog
from quietshop.errors import Conflict, InvalidInput
from quietshop.orders import pricing
from quietshop.orders.models import (
    DiscountCode,
    DiscountRedemption,
    ShippingRate,
    ShippingRegion,
    TaxRate,
)

MAX_LINES = 100
MAX_QUANTITY = 999


@dataclass(frozen=True)
class WantedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class QuoteRequest:
    lines: tuple[WantedLine, ...]
    country: str
    shipping_method: str | None = None
    discount_code: str | None = None


class TotalsChanged(Conflict):
    """The client confirmed figures the server no longer computes (a price or a rate
    changed, or the client's were wrong): the new quote is in the answer, to confirm."""

    status_code = 409
    code = "totals_changed"

    def __init__(self, quote: pricing.Quote, shown: dict[str, Any]) -> None:
        super().__init__(
            "The total changed since you saw it: please check the new total and confirm."
        )
        self.quote = quote
        self.shown = shown

    def extra(self) -> dict[str, Any]:
        return {"quote": self.shown}


def check_lines(lines: Sequence[WantedLine]) -> tuple[WantedLine, ...]:
    """1..100 distinct SKUs, each 1..999 whole units; the same SKU twice is merged."""
    if not lines:
        raise InvalidInput("lines", "the cart is empty")
    if len(lines) > MAX_LINES:
        raise InvalidInput("lines", f"an order holds at most {MAX_LINES} different items")
    merged: dict[str, int] = {}
    for line in lines:
        sku = line.sku.strip() if isinstance(line.sku, str) else ""
        if not sku or len(sku) > 40:
            raise InvalidInput("sku", "each line needs a SKU of at most 40 characters")
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidInput("quantity", "quantities are whole numbers")
        merged[sku] = merged.get(sku, 0) + quantity
    for sku, quantity in merged.items():
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput("quantity", f"{sku}: order between 1 and {MAX_QUANTITY}")
    return tuple(WantedLine(sku, quantity) for sku, quantity in merged.items())


def cart_lines(session: Session, lines: Sequence[WantedLine]) -> list[pricing.CartLine]:
    """The cart at today's catalog prices; an unknown or withdrawn SKU is refused."""
    found = catalog.orderable_variants(session, [line.sku for line in lines])
    missing = [line.sku for line in lines if line.sku not in found or not found[line.sku].active]
    if missing:
        raise InvalidInput("sku", f"not for sale (any more): {', '.join(sorted(missing)[:10])}")
    cart = []
    for line in lines:
        variant = found[line.sku]
        name = (
            f"{variant.product_name} ({variant.label})" if variant.label else variant.product_name
        )
        cart.append(
            pricing.CartLine(
                sku=line.sku,
                name=name[:200],
                unit_price_cents=variant.price_cents,
                currency=variant.currency,
                quantity=line.quantity,
                weight_grams=variant.weight_grams,
            )
        )
    return cart


def shipping_rates(session: Session) -> list[pricing.ShippingRate]:
    # Plain rows, not ORM objects: every quote and order reads these few rows, and loaded
    # entities would sit in the session's identity map through every later flush. One
    # statement: each active rate with every country of its region (a region without a
    # country ships nowhere, and the join leaves it out).
    rates: dict[int, tuple[Any, set[str]]] = {}
    for row in session.connection().execute(_RATES_WITH_COUNTRIES):
        rates.setdefault(row.id, (row, set()))[1].add(row.country)
    return [
        pricing.ShippingRate(
            method_code=row.method_code,
            name=row.name,
            region_code=row.region,
            countries=frozenset(countries),
            currency=row.currency,
            kind="weight" if row.kind == "weight" else "flat",
            base_cents=row.base_cents,
            per_kg_cents=row.per_kg_cents,
            free_over_cents=row.free_over_cents,
            delivery_days_min=row.delivery_days_min,
            delivery_days_max=row.delivery_days_max,
        )
        for row, countries in rates.values()
    ]


_RATE = ShippingRate
_RATES_WITH_COUNTRIES = (
    select(
        _RATE.id, _RATE.method_code, _RATE.name, _RATE.region, _RATE.currency, _RATE.kind,
        _RATE.base_cents, _RATE.per_kg_cents, _RATE.free_over_cents, _RATE.delivery_days_min,
        _RATE.delivery_days_max, ShippingRegion.country,
    )
    .join(ShippingRegion, ShippingRegion.region == _RATE.region)
    .where(_RATE.active.is_(True))
    .order_by(_RATE.id)
)  # fmt: skip


def shipping_countries(session: Session) -> list[str]:
    """Countries with a shipping rate that the address book also knows how to check."""
    known = accounts.shipping_countries()
    rows = session.execute(
        select(ShippingRegion.country)
        .join(ShippingRate, ShippingRate.region == ShippingRegion.region)
        .where(ShippingRate.active.is_(True))
        .distinct()
    )
    return sorted(country for (country,) in rows if country in known)


def tax_rates(session: Session, country: str) -> list[pricing.TaxRate]:
    rows = session.connection().execute(_TAX_RATES, {"country": country})
    return [
        pricing.TaxRate(country=country, tax_class=tax_class, rate_basis_points=basis_points)
        for tax_class, basis_points in rows
    ]


_TAX_RATES = select(TaxRate.tax_class, TaxRate.rate_basis_points).where(
    TaxRate.country == bindparam("country")
)


def _discount_row(session: Session, typed: str | None) -> DiscountCode | None:
    if typed is None or not typed.strip():
        return None
    code = pricing.normalize_discount_code(typed)
    row = session.execute(select(DiscountCode).where(DiscountCode.code == code)).scalar()
    if row is None:
        raise InvalidInput("discount_code", "We do not know this discount code.")
    return row


def _as_discount(row: DiscountCode) -> pricing.DiscountCode:
    return pricing.DiscountCode(
        code=row.code,
        kind="percent" if row.kind == "percent" else "amount",
        currency=row.currency,
        percent_basis_points=row.percent_basis_points if row.kind == "percent" else None,
        amount_cents=row.amount_cents if row.kind == "amount" else None,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        minimum_order_cents=row.minimum_order_cents,
        max_uses=row.max_uses,
        max_uses_per_customer=row.max_uses_per_customer,
        active=row.active,
    )


def _uses_by(session: Session, row: DiscountCode, customer_id: int | None) -> int:
    if customer_id is None:
        return 0
    count = session.execute(
        select(func.count(DiscountRedemption.id)).where(
            DiscountRedemption.discount_code_id == row.id,
            DiscountRedemption.customer_id == customer_id,
            DiscountRedemption.released.is_(False),
        )
    ).scalar_one()
    return int(count)


@dataclass(frozen=True)
class PricedCart:
    quote: pricing.Quote
    discount_row: DiscountCode | None
    # Every method that reaches the country, priced as this quote prices shipping (after
    # the discount, so a free-shipping threshold shows the same on the method list).
    options: tuple[pricing.ShippingOption, ...]


def price(
    session: Session,
    settings_prices_include_tax: bool,
    request: QuoteRequest,
    now: datetime,
    customer_id: int | None = None,
) -> PricedCart:
    """The server's quote for a cart (stock is checked when placing, not here)."""
    lines = check_lines(request.lines)
    cart = cart_lines(session, lines)
    country = pricing.normalize_country(request.country)
    rates = shipping_rates(session)
    discount_row = _discount_row(session, request.discount_code)
    discount = _as_discount(discount_row) if discount_row is not None else None
    if discount_row is not None:
        subtotal = sum(line.unit_price_cents * line.quantity for line in cart)
        pricing.check_discount(
            discount,
            subtotal,
            now,
            uses_so_far=discount_row.uses,
            uses_by_customer=_uses_by(session, discount_row, customer_id),
            currency=cart[0].currency,
        )
    options = tuple(pricing.shipping_options(cart, country, rates, discount=discount))
    cheapest = min(options, key=lambda o: (o.cost_cents, o.delivery_days_max))
    method = request.shipping_method or cheapest.method_code
    quote = pricing.compute_quote(
        cart,
        country=country,
        shipping_method=method,
        rates=rates,
        tax_rates=tax_rates(session, country),
        discount=discount,
        prices_include_tax=settings_prices_include_tax,
    )
    return PricedCart(quote, discount_row, options)


def redeem_discount(
    session: Session, row: DiscountCode, order_id: int, customer_id: int | None
) -> None:
    """Count one use, atomically: two orders racing for a code's last use cannot both
    get it (the UPDATE's WHERE decides)."""
    taken = session.execute(
        update(DiscountCode)
        .where(
            DiscountCode.id == row.id,
            or_(DiscountCode.max_uses.is_(None), DiscountCode.uses < DiscountCode.max_uses),
        )
        .values(uses=DiscountCode.uses + 1)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise InvalidInput("discount_code", "This discount code has been used up.")
    session.add(
        DiscountRedemption(discount_code_id=row.id, order_id=order_id, customer_id=customer_id)
    )


def release_discount(session: Session, order_id: int) -> None:
    """A cancelled order gives its use of a code back."""
    rows = session.execute(
        select(DiscountRedemption).where(
            DiscountRedemption.order_id == order_id, DiscountRedemption.released.is_(False)
        )
    ).scalars()
    for redemption in rows:
        redemption.released = True
        session.execute(
            update(DiscountCode)
            .where(DiscountCode.id == redemption.discount_code_id, DiscountCode.uses > 0)
            .values(uses=DiscountCode.uses - 1)
        )


def buyer(
    session: Session,
    customer: SignedInCustomer | None,
    guest_name: str | None,
    guest_email: str | None,
    now: datetime,
) -> accounts.Buyer:
    if customer is not None:
        return accounts.buyer_for(session, customer)
    if not guest_name or not guest_email:
        raise InvalidInput("guest", "give your name and email address, or sign in")
    return accounts.guest_buyer(session, guest_name, guest_email, now)
