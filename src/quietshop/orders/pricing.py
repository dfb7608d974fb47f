"""What an order costs: goods, discount, shipping and tax, to the cent, the same every time.

Pure Python, no database and no HTTP: the order service loads the shop's tables, maps each
row to one of the frozen dataclasses below and calls :func:`compute_quote`. Every figure the
customer is shown or charged is computed here and nowhere else, so the checkout page, the
order row, the invoice and the mail cannot disagree.

The contract, in the order :func:`compute_quote` applies it:

- **Money** is an integer count of the currency's minor unit ("cents") with an ISO 4217
  code. No float is ever made: every division is done on integers.
- **One rounding rule: half-up** (exactly half a cent goes up; every amount rounded here is
  non-negative, so half-up and half-away-from-zero agree). It is the rule customers and tax
  authorities expect on a receipt. Banker's rounding exists to stop small biases piling up
  over many roundings; here nothing piles up, because each total is rounded once and then
  *split* (next point), never re-rounded line by line.
- **Splitting a rounded total over lines** uses the largest-remainder method: each line gets
  the whole cents of its exact share, and the cents left over go one each to the lines with
  the largest remainders, ties broken by SKU. The parts therefore add up to the total
  exactly, each part is within one cent of its exact share, and nothing depends on the order
  of the lines. Discounts and taxes are split this way.
- **A discount** applies to the goods, never to shipping: a percentage is rounded half-up, an
  amount is taken whole, and neither takes the goods below zero (a larger amount code makes
  the goods free). The discount is split over the lines in proportion to their totals, so a
  line's tax is computed on what the customer really pays for it. :func:`check_discount`
  decides whether a code may be used; :func:`compute_quote` applies the code it is given.
- **Shipping** is chosen from the rates of the destination country (see
  :class:`ShippingRate`); it is free when the goods *after* discount reach the rate's
  ``free_over_cents``.
- **Tax** comes from rows of (country, tax class, rate). A line whose (country, class) has
  no row is taxed at 0 %: the service supplies the rows, and an owner who sells into a
  country lists its rates. Shipping is taxed at the destination's ``standard`` rate. Tax
  is rounded once per rate (as an invoice shows it: one amount per rate) and that amount is
  split over the lines, and the shipping, that carry the rate.
- ``prices_include_tax``: when true (as EU shops show prices to consumers), catalog prices
  and shipping rates are what the customer pays and the tax is the part of them that goes
  to the state; when false, tax is added on top. Rates follow the same convention as the
  catalog prices they sit beside.

Limits: 1 to :data:`MAX_LINES` lines, one line per SKU (a repeated SKU is refused, not
merged: the browser's cart is keyed by SKU, so a repeat is a bug or a forgery, and merging
would have to pick one of two names and prices), quantities 1 to :data:`MAX_QUANTITY`, and
no figure above :data:`MAX_TOTAL_CENTS`. Anything else is an ``InvalidInput`` naming the
field; a dataclass that would break a rule cannot be built.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from quietshop.errors import InvalidInput

MAX_LINES = 100
MAX_QUANTITY = 999
# Ten million in a two-decimal currency: far beyond any order a small shop takes, and it
# fits a 32-bit INTEGER column (2**31 - 1) on every database, so no order figure overflows.
MAX_TOTAL_CENTS = 1_000_000_000
MAX_UNIT_WEIGHT_GRAMS = 1_000_000  # one tonne per unit
MAX_BASIS_POINTS = 10_000  # 100 %
STANDARD_TAX_CLASS = "standard"

# ISO 4217 currencies whose minor unit is not a hundredth; all others in use have two decimals.
_MINOR_UNIT_DIGITS = {"BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0,
                      "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3, "UGX": 0, "VND": 0}  # fmt: skip
_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,40}")  # tax classes, method and region codes
_DISCOUNT_CODE = re.compile(r"[A-Z0-9_-]{3,40}")
_MAX_CODE_INPUT = 200  # what a customer may paste around a code before we stop reading
_MAX_TEXT = 400  # SKUs and names (a variant's is its product's name and its label)
_DIGEST_VERSION = "quote-v1"


# --- checks every dataclass shares ------------------------------------------------------


def _whole(value: object, field: str, low: int, high: int, what: str = "") -> int:
    """``value`` as an int in [low, high]. bool and float are refused even when whole (2.0):
    a float in a money path means someone's arithmetic already went wrong."""
    if type(value) is not int or not low <= value <= high:
        subject = f"{field} of {what}" if what else field
        raise InvalidInput(field, f"{subject} must be a whole number from {low} to {high}")
    return value


def _optional_whole(value: object, field: str, low: int, high: int) -> int | None:
    return None if value is None else _whole(value, field, low, high)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TEXT:
        raise InvalidInput(field, f"{field} must be text of 1 to {_MAX_TEXT} characters")
    return value


def _token(value: object, field: str) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise InvalidInput(field, f"{field} must be 1 to 40 letters, digits, - or _")
    return value


def _currency(value: object, field: str = "currency") -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidInput(field, "currency must be an ISO 4217 code of three capital letters")
    return value


def normalize_country(value: object) -> str:
    """An ISO 3166-1 alpha-2 code, trimmed and upper-cased ("de " -> "DE")."""
    text = value.strip().upper() if isinstance(value, str) and len(value) <= 10 else ""
    if not (text.isascii() and _COUNTRY.fullmatch(text)):
        raise InvalidInput("country", "country must be a two-letter ISO 3166 code")
    return text


def _aware(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(field, f"{field} must be a timezone-aware date and time")
    return value


# --- money ------------------------------------------------------------------------------


def format_money(cents: int, currency: str) -> str:
    """``1234, "EUR"`` -> ``"12.34 EUR"``; for messages, not for locale-aware display."""
    digits = _MINOR_UNIT_DIGITS.get(currency, 2)
    sign, size = ("-" if cents < 0 else ""), abs(cents)
    if digits == 0:
        return f"{sign}{size} {currency}"
    units, minor = divmod(size, 10**digits)
    return f"{sign}{units}.{minor:0{digits}d} {currency}"


@dataclass(frozen=True, kw_only=True)
class Money:
    """An amount in minor units of one currency; adding two currencies is refused."""

    cents: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.cents) is not int:  # negative is fine: a refund, a difference
            raise InvalidInput("cents", "cents must be a whole number")
        _currency(self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInput("currency", f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(cents=self.cents + other.cents, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(cents=self.cents - other.cents, currency=self.currency)

    def __str__(self) -> str:
        return format_money(self.cents, self.currency)


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, for numerator >= 0 and denominator > 0."""
    return (2 * numerator + denominator) // (2 * denominator)


def allocate(total: int, weights: Sequence[int], keys: Sequence[str]) -> list[int]:
    """Split ``total`` cents in proportion to ``weights`` so that the parts sum to it exactly.

    Largest remainder: every part gets the whole cents of its exact share; the cents left
    over go one each to the largest remainders, ties to the smallest key. Keys must be
    unique, which makes the split independent of the order the parts come in. Each part is
    within one cent of its exact share and no part with weight 0 gets anything.
    """
    whole = sum(weights)
    if whole == 0:
        if total:
            raise ValueError("cannot split a non-zero total over zero weights")
        return [0] * len(weights)
    parts = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    left_over = total - sum(parts)
    by_claim = sorted(range(len(weights)), key=lambda i: (-remainders[i], keys[i]))
    for index in by_claim[:left_over]:
        parts[index] += 1
    return parts


# --- the cart ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CartLine:
    """One SKU in the cart, priced from the catalog by the server (never by the client)."""

    sku: str
    name: str
    unit_price_cents: int
    currency: str
    quantity: int
    weight_grams: int  # one unit's shipping weight
    tax_class: str = STANDARD_TAX_CLASS

    def __post_init__(self) -> None:
        _text(self.sku, "sku")
        _text(self.name, "name")
        _whole(self.unit_price_cents, "unit_price_cents", 0, MAX_TOTAL_CENTS, self.sku)
        _currency(self.currency)
        _whole(self.quantity, "quantity", 1, MAX_QUANTITY, self.sku)
        _whole(self.weight_grams, "weight_grams", 0, MAX_UNIT_WEIGHT_GRAMS, self.sku)
        _token(self.tax_class, "tax_class")

    @property
    def total_cents(self) -> int:
        return self.unit_price_cents * self.quantity


@dataclass(frozen=True)
class _Cart:
    lines: tuple[CartLine, ...]
    currency: str
    subtotal_cents: int
    weight_grams: int


def _check_cart(lines: Iterable[CartLine]) -> _Cart:
    cart = tuple(lines)
    if not cart:
        raise InvalidInput("lines", "the cart is empty")
    if len(cart) > MAX_LINES:
        raise InvalidInput("lines", f"an order can have at most {MAX_LINES} lines")
    if not all(isinstance(line, CartLine) for line in cart):
        raise InvalidInput("lines", "every line must be a CartLine")
    currencies = {line.currency for line in cart}
    if len(currencies) > 1:
        raise InvalidInput("lines", f"one order cannot mix {', '.join(sorted(currencies))}")
    seen: set[str] = set()
    for line in cart:
        if line.sku in seen:
            raise InvalidInput("lines", f"{line.sku} is in the cart twice; give it one line")
        seen.add(line.sku)
    subtotal = sum(line.total_cents for line in cart)
    currency = cart[0].currency
    if subtotal > MAX_TOTAL_CENTS:
        limit = format_money(MAX_TOTAL_CENTS, currency)
        raise InvalidInput("lines", f"an order can total at most {limit}")
    weight = sum(line.weight_grams * line.quantity for line in cart)
    return _Cart(cart, currency, subtotal, weight)


# --- discounts --------------------------------------------------------------------------


def normalize_discount_code(text: object) -> str:
    """A code as the customer typed it -> the stored form: trimmed, upper-cased, and 3 to 40
    of A-Z 0-9 - _. Only ASCII is read: the dotless i and the long s upper-case to I and S.
    A blank field is the caller's "no code", not a code: it is refused here too."""
    stripped = text.strip() if isinstance(text, str) and len(text) <= _MAX_CODE_INPUT else ""
    code = stripped.upper() if stripped.isascii() else ""
    if not _DISCOUNT_CODE.fullmatch(code):
        raise InvalidInput("discount_code", "a code is 3 to 40 letters, digits, - or _")
    return code


@dataclass(frozen=True, kw_only=True)
class DiscountCode:
    """A row of the shop's discount codes. ``valid_until`` is exclusive; None means open."""

    code: str
    kind: Literal["percent", "amount"]
    currency: str
    percent_basis_points: int | None = None  # 1000 = 10 %
    amount_cents: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    minimum_order_cents: int = 0  # goods before discount
    max_uses: int | None = None
    max_uses_per_customer: int | None = None
    active: bool = True

    def __post_init__(self) -> None:
        try:
            normalized = normalize_discount_code(self.code)
        except InvalidInput as error:  # the owner's field is "code", the customer's is not
            raise InvalidInput("code", error.message) from None
        if normalized != self.code:
            raise InvalidInput("code", f"store the code as {normalized}")
        _currency(self.currency)
        if self.kind == "percent":
            _whole(self.percent_basis_points, "percent_basis_points", 1, MAX_BASIS_POINTS)
            if self.amount_cents is not None:
                raise InvalidInput("amount_cents", "a percent code has no amount")
        elif self.kind == "amount":
            _whole(self.amount_cents, "amount_cents", 1, MAX_TOTAL_CENTS)
            if self.percent_basis_points is not None:
                raise InvalidInput("percent_basis_points", "an amount code has no percentage")
        else:
            raise InvalidInput("kind", "kind must be 'percent' or 'amount'")
        start = _aware(self.valid_from, "valid_from")
        end = _aware(self.valid_until, "valid_until")
        if start is not None and end is not None and end <= start:
            raise InvalidInput("valid_until", "valid_until must come after valid_from")
        _whole(self.minimum_order_cents, "minimum_order_cents", 0, MAX_TOTAL_CENTS)
        _optional_whole(self.max_uses, "max_uses", 1, MAX_TOTAL_CENTS)
        _optional_whole(self.max_uses_per_customer, "max_uses_per_customer", 1, MAX_TOTAL_CENTS)
        if not isinstance(self.active, bool):
            raise InvalidInput("active", "active must be true or false")


def _moment(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def check_discount(
    discount: DiscountCode | None,
    subtotal_cents: int,
    now: datetime,
    uses_so_far: int,
    uses_by_customer: int,
    *,
    currency: str | None = None,
) -> DiscountCode:
    """The code, if this customer may use it on goods worth ``subtotal_cents`` at ``now``;
    else ``InvalidInput("discount_code", reason)``. ``discount`` is the row the service found
    for the normalized code, or None (an inactive code answers like an unknown one: the
    owner withdrew it). The counts are the code's uses so far, overall and by this customer
    (a guest is counted by the customer record checkout gives them). ``currency``, when
    given, is the cart's, and a code for another currency is refused."""
    # These come from the clock and the database, not the customer: a wrong one is a bug.
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if any(type(n) is not int or n < 0 for n in (subtotal_cents, uses_so_far, uses_by_customer)):
        raise ValueError("subtotal and use counts must be non-negative ints")
    if discount is None or not discount.active:
        raise InvalidInput("discount_code", "we do not know this code")
    if currency is not None and currency != discount.currency:
        raise InvalidInput("discount_code", f"this code is for orders in {discount.currency}")
    if discount.valid_from is not None and now < discount.valid_from:
        raise InvalidInput(
            "discount_code", f"this code is valid from {_moment(discount.valid_from)}"
        )
    if discount.valid_until is not None and now >= discount.valid_until:
        raise InvalidInput("discount_code", f"this code expired at {_moment(discount.valid_until)}")
    if discount.max_uses is not None and uses_so_far >= discount.max_uses:
        raise InvalidInput("discount_code", "this code has been used up")
    limit = discount.max_uses_per_customer
    if limit is not None and uses_by_customer >= limit:
        times = "once" if limit == 1 else f"{limit} times"
        raise InvalidInput("discount_code", f"you have already used this code {times}")
    if subtotal_cents < discount.minimum_order_cents:
        minimum = format_money(discount.minimum_order_cents, discount.currency)
        raise InvalidInput("discount_code", f"this code needs an order of at least {minimum}")
    return discount


def discount_cents(discount: DiscountCode | None, subtotal_cents: int, currency: str) -> int:
    """What ``discount`` takes off goods worth ``subtotal_cents``: at most all of it."""
    if discount is None:
        return 0
    if discount.currency != currency:
        raise InvalidInput("discount_code", f"this code is for orders in {discount.currency}")
    if discount.kind == "percent":
        assert discount.percent_basis_points is not None  # __post_init__ saw to it
        off = _div_half_up(subtotal_cents * discount.percent_basis_points, MAX_BASIS_POINTS)
    else:
        assert discount.amount_cents is not None
        off = discount.amount_cents
    return min(off, subtotal_cents)


# --- shipping ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ShippingRate:
    """One shipping method's price to one region (a named set of countries).

    ``flat``: ``base_cents`` whatever the weight. ``weight``: ``base_cents`` plus
    ``per_kg_cents`` for every started kilogram (1 g to 1000 g is one kilogram), as small
    shops' parcel tables read. Either may stop at ``max_weight_grams`` (a parcel carrier's
    31.5 kg): a heavier order is not offered the method. A rate is priced in one currency
    and offered only to carts in it. When a country lies in two regions with the same
    method, the smaller region wins ("DE" before "EU"), then the lower ``region_code``.
    """

    method_code: str
    name: str
    region_code: str
    countries: frozenset[str]
    currency: str
    kind: Literal["flat", "weight"]
    base_cents: int
    per_kg_cents: int = 0
    max_weight_grams: int | None = None
    free_over_cents: int | None = None  # free when goods after discount reach this
    delivery_days_min: int = 1
    delivery_days_max: int = 5

    def __post_init__(self) -> None:
        _token(self.method_code, "method_code")
        _text(self.name, "name")
        _token(self.region_code, "region_code")
        if isinstance(self.countries, str) or not isinstance(self.countries, Iterable):
            raise InvalidInput("countries", "countries must be a set of two-letter codes")
        codes = frozenset(self.countries)
        if not codes or any(not isinstance(c, str) or not _COUNTRY.fullmatch(c) for c in codes):
            raise InvalidInput("countries", "countries must be a set of two-letter codes")
        object.__setattr__(self, "countries", codes)
        _currency(self.currency)
        if self.kind not in ("flat", "weight"):
            raise InvalidInput("kind", "kind must be 'flat' or 'weight'")
        _whole(self.base_cents, "base_cents", 0, MAX_TOTAL_CENTS)
        top = MAX_TOTAL_CENTS if self.kind == "weight" else 0
        _whole(self.per_kg_cents, "per_kg_cents", 0, top)
        _optional_whole(self.max_weight_grams, "max_weight_grams", 1, MAX_UNIT_WEIGHT_GRAMS * 1000)
        _optional_whole(self.free_over_cents, "free_over_cents", 0, MAX_TOTAL_CENTS)
        _whole(self.delivery_days_min, "delivery_days_min", 0, 365)
        _whole(self.delivery_days_max, "delivery_days_max", self.delivery_days_min, 365)

    def cost_cents(self, weight_grams: int, goods_cents: int) -> int:
        if self.free_over_cents is not None and goods_cents >= self.free_over_cents:
            return 0
        started_kg = -(-weight_grams // 1000)
        return self.base_cents + self.per_kg_cents * started_kg


@dataclass(frozen=True, kw_only=True)
class ShippingOption:
    """A method the customer may choose for this cart and country, with its price."""

    method_code: str
    name: str
    region_code: str
    cost_cents: int
    currency: str
    delivery_days_min: int
    delivery_days_max: int


def _rates_for(country: str, currency: str, rates: Iterable[ShippingRate]) -> list[ShippingRate]:
    """The one rate per method that applies to ``country`` (see ShippingRate)."""
    best: dict[str, ShippingRate] = {}
    for rate in rates:
        if country not in rate.countries or rate.currency != currency:
            continue
        held = best.get(rate.method_code)
        rank = (len(rate.countries), rate.region_code)
        if held is None or rank < (len(held.countries), held.region_code):
            best[rate.method_code] = rate
    return list(best.values())


def _options(
    cart: _Cart, country: str, rates: Iterable[ShippingRate], goods_cents: int
) -> list[ShippingOption]:
    applicable = _rates_for(country, cart.currency, rates)
    if not applicable:
        raise InvalidInput("country", f"we do not ship to {country}")
    options = [
        ShippingOption(
            method_code=rate.method_code,
            name=rate.name,
            region_code=rate.region_code,
            cost_cents=rate.cost_cents(cart.weight_grams, goods_cents),
            currency=rate.currency,
            delivery_days_min=rate.delivery_days_min,
            delivery_days_max=rate.delivery_days_max,
        )
        for rate in applicable
        if rate.max_weight_grams is None or cart.weight_grams <= rate.max_weight_grams
    ]
    if not options:
        kilos = f"{cart.weight_grams // 1000}.{cart.weight_grams % 1000:03d}"
        raise InvalidInput("lines", f"no shipping method takes {kilos} kg to {country}")
    return sorted(options, key=lambda option: (option.cost_cents, option.method_code))


def shipping_options(
    lines: Iterable[CartLine],
    country: str,
    rates: Iterable[ShippingRate],
    *,
    discount: DiscountCode | None = None,
) -> list[ShippingOption]:
    """The methods offered for this cart to ``country``, cheapest first. ``discount`` (already
    checked) only moves the free-shipping threshold. No rate for the country:
    ``InvalidInput("country", "we do not ship to XX")``."""
    cart = _check_cart(lines)
    goods = cart.subtotal_cents - discount_cents(discount, cart.subtotal_cents, cart.currency)
    return _options(cart, normalize_country(country), rates, goods)


def _choose(options: list[ShippingOption], method_code: str, country: str) -> ShippingOption:
    for option in options:
        if option.method_code == method_code:
            return option
    raise InvalidInput("shipping_method", f"choose one of the methods offered for {country}")


def shipping_cost(
    lines: Iterable[CartLine],
    country: str,
    method_code: str,
    rates: Iterable[ShippingRate],
    *,
    discount: DiscountCode | None = None,
) -> int:
    """The price of ``method_code`` for this cart to ``country``, in the cart's currency."""
    options = shipping_options(lines, country, rates, discount=discount)
    return _choose(options, method_code, normalize_country(country)).cost_cents


# --- tax --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TaxRate:
    """The rate of one tax class in one country; 1900 basis points = 19 %."""

    country: str
    tax_class: str
    rate_basis_points: int

    def __post_init__(self) -> None:
        if not isinstance(self.country, str) or not _COUNTRY.fullmatch(self.country):
            raise InvalidInput("country", "country must be a two-letter ISO 3166 code")
        _token(self.tax_class, "tax_class")
        _whole(self.rate_basis_points, "rate_basis_points", 0, MAX_BASIS_POINTS)


def _tax_table(tax_rates: Iterable[TaxRate], country: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for rate in tax_rates:
        if rate.country != country:
            continue
        if rate.tax_class in table:
            raise InvalidInput("tax_rates", f"two rates for {country} {rate.tax_class}")
        table[rate.tax_class] = rate.rate_basis_points
    return table


@dataclass(frozen=True, kw_only=True)
class TaxAmount:
    """One line of an invoice's tax summary: what was taxed at a rate, and the tax."""

    rate_basis_points: int
    base_cents: int  # gross when prices include tax, net when they do not
    tax_cents: int


def _group_tax(base_cents: int, rate: int, prices_include_tax: bool) -> int:
    denominator = MAX_BASIS_POINTS + rate if prices_include_tax else MAX_BASIS_POINTS
    return _div_half_up(base_cents * rate, denominator)


def _taxes(
    amounts: Sequence[int], rates: Sequence[int], keys: Sequence[str], prices_include_tax: bool
) -> tuple[list[int], tuple[TaxAmount, ...]]:
    """Each amount's tax, and the summary by rate: rounded once per rate, then allocated."""
    taxes = [0] * len(amounts)
    summary = []
    for rate in sorted(set(rates)):
        members = [i for i, member_rate in enumerate(rates) if member_rate == rate]
        base = sum(amounts[i] for i in members)
        total = _group_tax(base, rate, prices_include_tax)
        parts = allocate(total, [amounts[i] for i in members], [keys[i] for i in members])
        for index, part in zip(members, parts, strict=True):
            taxes[index] = part
        summary.append(TaxAmount(rate_basis_points=rate, base_cents=base, tax_cents=total))
    return taxes, tuple(summary)


# --- the quote --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class QuoteLine:
    sku: str
    name: str
    tax_class: str
    unit_price_cents: int
    quantity: int
    line_total_cents: int  # unit price x quantity, before discount
    discount_cents: int  # this line's share of the order's discount
    tax_rate_basis_points: int
    tax_cents: int  # on line total - discount; included in it or added to it


@dataclass(frozen=True, kw_only=True)
class Totals:
    """The figures a customer confirms; two quotes agree when their Totals are equal."""

    currency: str
    subtotal_cents: int
    discount_cents: int
    shipping_cents: int
    tax_cents: int
    total_cents: int


@dataclass(frozen=True, kw_only=True)
class Quote:
    """Everything an order costs. ``total = subtotal - discount + shipping``, plus ``tax``
    when prices exclude it (when they include it, ``tax`` is the part of the total that is
    tax). Lines keep the order they were given in; no figure depends on it."""

    currency: str
    country: str
    prices_include_tax: bool
    lines: tuple[QuoteLine, ...]
    discount_code: str | None
    shipping: ShippingOption
    shipping_tax_rate_basis_points: int
    shipping_tax_cents: int
    tax_summary: tuple[TaxAmount, ...]
    weight_grams: int
    subtotal_cents: int
    discount_cents: int
    shipping_cents: int
    tax_cents: int
    total_cents: int

    @property
    def totals(self) -> Totals:
        return Totals(
            currency=self.currency,
            subtotal_cents=self.subtotal_cents,
            discount_cents=self.discount_cents,
            shipping_cents=self.shipping_cents,
            tax_cents=self.tax_cents,
            total_cents=self.total_cents,
        )

    def totals_digest(self) -> str:
        """A stable fingerprint (sha256 hex) of every figure the review page shows: send it
        with the quote, and an order whose digest differs from a fresh quote's was confirmed
        on figures that have since changed. The same in every process and for every line
        order; a change of format changes the version inside, so old digests never match."""
        lines = sorted(
            [ln.sku, ln.quantity, ln.unit_price_cents, ln.line_total_cents, ln.discount_cents,
             ln.tax_rate_basis_points, ln.tax_cents]
            for ln in self.lines
        )  # fmt: skip
        payload = [
            _DIGEST_VERSION, self.currency, self.country, self.prices_include_tax,
            self.discount_code, self.shipping.method_code, self.subtotal_cents,
            self.discount_cents, self.shipping_cents, self.shipping_tax_cents, self.tax_cents,
            self.total_cents, lines,
        ]  # fmt: skip
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()


def compute_quote(
    lines: Iterable[CartLine],
    *,
    country: str,
    shipping_method: str,
    rates: Iterable[ShippingRate],
    tax_rates: Iterable[TaxRate],
    discount: DiscountCode | None,
    prices_include_tax: bool,
) -> Quote:
    """Price the cart for delivery to ``country`` by ``shipping_method`` (see the module's
    docstring for every rule). ``discount`` must already have passed :func:`check_discount`;
    this function saves nothing and reads no clock, so the same arguments give the same
    Quote everywhere. Bad input raises ``InvalidInput`` naming the field."""
    if not isinstance(prices_include_tax, bool):
        raise InvalidInput("prices_include_tax", "prices_include_tax must be true or false")
    cart = _check_cart(lines)
    destination = normalize_country(country)
    rates = tuple(rates)
    off = discount_cents(discount, cart.subtotal_cents, cart.currency)
    line_totals = [line.total_cents for line in cart.lines]
    skus = [line.sku for line in cart.lines]
    line_discounts = allocate(off, line_totals, skus)
    goods = cart.subtotal_cents - off
    options = _options(cart, destination, rates, goods)
    shipping = _choose(options, shipping_method, destination)

    table = _tax_table(tax_rates, destination)
    line_rates = [table.get(line.tax_class, 0) for line in cart.lines]
    shipping_rate = table.get(STANDARD_TAX_CLASS, 0)
    # Shipping joins the standard rate's group under the key "", which no SKU can have.
    amounts = [t - d for t, d in zip(line_totals, line_discounts, strict=True)]
    taxes, summary = _taxes(
        [*amounts, shipping.cost_cents], [*line_rates, shipping_rate], [*skus, ""],
        prices_include_tax,
    )  # fmt: skip
    tax = sum(taxes)
    total = goods + shipping.cost_cents + (0 if prices_include_tax else tax)
    if total > MAX_TOTAL_CENTS:
        limit = format_money(MAX_TOTAL_CENTS, cart.currency)
        raise InvalidInput("lines", f"an order can total at most {limit}")
    quote_lines = tuple(
        QuoteLine(
            sku=line.sku,
            name=line.name,
            tax_class=line.tax_class,
            unit_price_cents=line.unit_price_cents,
            quantity=line.quantity,
            line_total_cents=line.total_cents,
            discount_cents=line_discount,
            tax_rate_basis_points=rate,
            tax_cents=line_tax,
        )
        for line, line_discount, rate, line_tax in zip(
            cart.lines, line_discounts, line_rates, taxes[:-1], strict=True
        )
    )
    return Quote(
        currency=cart.currency,
        country=destination,
        prices_include_tax=prices_include_tax,
        lines=quote_lines,
        discount_code=discount.code if discount is not None else None,
        shipping=shipping,
        shipping_tax_rate_basis_points=shipping_rate,
        shipping_tax_cents=taxes[-1],
        tax_summary=summary,
        weight_grams=cart.weight_grams,
        subtotal_cents=cart.subtotal_cents,
        discount_cents=off,
        shipping_cents=shipping.cost_cents,
        tax_cents=tax,
        total_cents=total,
    )
