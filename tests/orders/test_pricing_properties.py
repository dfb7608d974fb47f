"""Money never drifts by a cent: properties of every quote, over random carts, codes and rates.

Each property is checked against the quote's own parts and against an oracle worked in exact
fractions (``Fraction``), independent of the integer arithmetic the module uses.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any, Literal

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from quietshop.orders.pricing import (
    CartLine,
    DiscountCode,
    Quote,
    ShippingRate,
    TaxRate,
    allocate,
    compute_quote,
)

RUN = hypothesis.settings(max_examples=200, deadline=None)
SKUS = [f"SKU-{n:02d}" for n in range(12)]
# "unlisted" has no tax row: those lines are taxed at 0 %.
TAX_CLASSES = ["standard", "reduced", "zero", "unlisted"]
RATE_KINDS: list[Literal["flat", "weight"]] = ["flat", "weight"]


@dataclasses.dataclass(frozen=True)
class Scenario:
    lines: list[CartLine]
    rates: list[ShippingRate]
    tax_rates: list[TaxRate]
    discount: DiscountCode | None
    prices_include_tax: bool

    def quote(self, lines: list[CartLine] | None = None) -> Quote:
        return compute_quote(
            self.lines if lines is None else lines,
            country="DE",
            shipping_method="ship",
            rates=self.rates,
            tax_rates=self.tax_rates,
            discount=self.discount,
            prices_include_tax=self.prices_include_tax,
        )


@st.composite
def cart_lines(draw: st.DrawFn) -> list[CartLine]:
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=8, unique=True))
    return [
        CartLine(
            sku=sku,
            name=f"Product {sku}",
            unit_price_cents=draw(st.integers(0, 50_000)),
            currency="EUR",
            quantity=draw(st.integers(1, 999)),
            weight_grams=draw(st.integers(0, 5_000)),
            tax_class=draw(st.sampled_from(TAX_CLASSES)),
        )
        for sku in skus
    ]


@st.composite
def discounts(draw: st.DrawFn) -> DiscountCode | None:
    kind = draw(st.sampled_from([None, "percent", "amount"]))
    if kind == "percent":
        percent = draw(st.integers(1, 10_000))
        return DiscountCode(code="PCT", kind="percent", currency="EUR",
                            percent_basis_points=percent)  # fmt: skip
    if kind == "amount":
        amount = draw(st.integers(1, 200_000))
        return DiscountCode(code="AMT", kind="amount", currency="EUR", amount_cents=amount)
    return None


@st.composite
def shipping_rates(draw: st.DrawFn) -> list[ShippingRate]:
    kind = draw(st.sampled_from(RATE_KINDS))
    return [
        ShippingRate(
            method_code="ship",
            name="Shipping",
            region_code="DE",
            countries=frozenset({"DE"}),
            currency="EUR",
            kind=kind,
            base_cents=draw(st.integers(0, 2_000)),
            per_kg_cents=draw(st.integers(0, 500)) if kind == "weight" else 0,
            free_over_cents=draw(st.none() | st.integers(0, 100_000)),
        )
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    tax_rates = [
        TaxRate(country="DE", tax_class=tax_class, rate_basis_points=draw(st.integers(0, 2_700)))
        for tax_class in ("standard", "reduced", "zero")
    ]
    return Scenario(
        lines=draw(cart_lines()),
        rates=draw(shipping_rates()),
        tax_rates=tax_rates,
        discount=draw(discounts()),
        prices_include_tax=draw(st.booleans()),
    )


def every_value(thing: Any) -> list[Any]:
    """All leaf values inside a quote: dataclass fields, tuples, recursively."""
    if dataclasses.is_dataclass(thing) and not isinstance(thing, type):
        return [v for f in dataclasses.fields(thing) for v in every_value(getattr(thing, f.name))]
    if isinstance(thing, tuple | list):
        return [v for item in thing for v in every_value(item)]
    return [thing]


def half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@RUN
@given(scenarios())
def test_the_totals_add_up(scenario: Scenario) -> None:
    q = scenario.quote()
    goods = q.subtotal_cents - q.discount_cents
    added_tax = 0 if q.prices_include_tax else q.tax_cents
    assert q.total_cents == goods + q.shipping_cents + added_tax
    assert sum(ln.line_total_cents for ln in q.lines) == q.subtotal_cents
    assert all(ln.line_total_cents == ln.unit_price_cents * ln.quantity for ln in q.lines)
    assert sum(ln.discount_cents for ln in q.lines) == q.discount_cents
    assert sum(ln.tax_cents for ln in q.lines) + q.shipping_tax_cents == q.tax_cents
    assert sum(t.tax_cents for t in q.tax_summary) == q.tax_cents
    assert sum(t.base_cents for t in q.tax_summary) == goods + q.shipping_cents
    assert q.shipping_cents == q.shipping.cost_cents


@RUN
@given(scenarios())
def test_nothing_is_negative_and_no_discount_exceeds_what_it_discounts(scenario: Scenario) -> None:
    q = scenario.quote()
    assert all(value >= 0 for value in every_value(q) if type(value) is int)
    assert q.discount_cents <= q.subtotal_cents
    for ln in q.lines:
        assert ln.discount_cents <= ln.line_total_cents
        if q.prices_include_tax:  # tax is part of what is paid, never more than it
            assert ln.tax_cents <= ln.line_total_cents - ln.discount_cents
    if q.prices_include_tax:
        assert q.shipping_tax_cents <= q.shipping_cents


@RUN
@given(scenarios())
def test_no_float_anywhere_in_a_quote(scenario: Scenario) -> None:
    q = scenario.quote()
    kinds = {type(value) for value in every_value(q)}
    assert kinds <= {int, str, bool, type(None)}
    assert float not in kinds


@RUN
@given(scenarios())
def test_every_figure_matches_exact_arithmetic(scenario: Scenario) -> None:
    q = scenario.quote()
    discount = scenario.discount
    # The discount: a percentage rounded half-up once, an amount taken whole, capped.
    if discount is None:
        expected = 0
    elif discount.percent_basis_points is not None:
        expected = half_up(Fraction(q.subtotal_cents * discount.percent_basis_points, 10_000))
    else:
        assert discount.amount_cents is not None
        expected = discount.amount_cents
    assert q.discount_cents == min(expected, q.subtotal_cents)
    # Each line's share of it is within a cent of the exact proportional share.
    for ln in q.lines:
        if q.subtotal_cents:
            exact = Fraction(q.discount_cents * ln.line_total_cents, q.subtotal_cents)
            assert abs(ln.discount_cents - exact) < 1
    # Each rate's tax is its exact tax rounded half-up once...
    for summary in q.tax_summary:
        rate = Fraction(summary.rate_basis_points, 10_000)
        exact_tax = summary.base_cents * (rate / (1 + rate) if q.prices_include_tax else rate)
        assert summary.tax_cents == half_up(exact_tax)
    # ... and each line's tax is within a cent of its exact share of that.
    by_rate = {t.rate_basis_points: t for t in q.tax_summary}
    for ln in q.lines:
        group = by_rate[ln.tax_rate_basis_points]
        if group.base_cents:
            base = ln.line_total_cents - ln.discount_cents
            assert abs(ln.tax_cents - Fraction(group.tax_cents * base, group.base_cents)) < 1


@RUN
@given(scenarios())
def test_free_shipping_follows_the_goods_after_discount(scenario: Scenario) -> None:
    q = scenario.quote()
    threshold = scenario.rates[0].free_over_cents
    goods = q.subtotal_cents - q.discount_cents
    if threshold is not None and goods >= threshold:
        assert q.shipping_cents == 0
    else:
        started_kg = -(-q.weight_grams // 1000)
        rate = scenario.rates[0]
        assert q.shipping_cents == rate.base_cents + rate.per_kg_cents * started_kg


@RUN
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_same_cart_in_any_order_costs_the_same(scenario: Scenario, rnd: Any) -> None:
    first = scenario.quote()
    shuffled = list(scenario.lines)
    rnd.shuffle(shuffled)
    again = scenario.quote(shuffled)
    assert again.totals == first.totals
    assert again.totals_digest() == first.totals_digest()
    assert again.tax_summary == first.tax_summary
    assert again.shipping_tax_cents == first.shipping_tax_cents
    assert {ln.sku: ln for ln in again.lines} == {ln.sku: ln for ln in first.lines}
    # Lines keep the order they came in.
    assert [ln.sku for ln in again.lines] == [ln.sku for ln in shuffled]
    # And computing twice gives equal quotes (nothing random, no clock).
    assert scenario.quote() == first


@RUN
@given(
    st.integers(0, 10**9),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=20).filter(lambda w: sum(w) > 0),
    st.randoms(use_true_random=False),
)
def test_allocate_splits_exactly_and_fairly_in_any_order(
    total: int, weights: list[int], rnd: Any
) -> None:
    keys = [f"k{n:02d}" for n in range(len(weights))]
    parts = allocate(total, weights, keys)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - Fraction(total * weight, sum(weights))) < 1
        assert weight or not part
    order = list(range(len(weights)))
    rnd.shuffle(order)
    shuffled = allocate(total, [weights[i] for i in order], [keys[i] for i in order])
    assert {keys[i]: p for i, p in zip(order, shuffled, strict=True)} == dict(
        zip(keys, parts, strict=True)
    )
