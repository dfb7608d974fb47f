"""Pricing, worked by hand: goods, discount codes, shipping rates and tax, to the cent.

Every expected figure below was computed on paper first (the working is in the comments), so
these tests pin the rules themselves, not whatever the code happens to print. The properties
that must hold for every cart are in test_pricing_properties.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from quietshop.errors import InvalidInput
from quietshop.orders.pricing import (
    MAX_LINES,
    MAX_TOTAL_CENTS,
    CartLine,
    DiscountCode,
    Money,
    Quote,
    QuoteLine,
    ShippingOption,
    ShippingRate,
    TaxAmount,
    TaxRate,
    Totals,
    allocate,
    check_discount,
    compute_quote,
    discount_cents,
    format_money,
    normalize_country,
    normalize_discount_code,
    shipping_cost,
    shipping_options,
)
from tests.clock import T0

# --- builders: the smallest valid thing, changed by keyword where a test cares ----------


def line(sku: str = "CABLE-1", **changes: Any) -> CartLine:
    fields: dict[str, Any] = {
        "sku": sku,
        "name": f"Product {sku}",
        "unit_price_cents": 1000,
        "currency": "EUR",
        "quantity": 1,
        "weight_grams": 100,
    }
    return CartLine(**(fields | changes))


def rate(method_code: str = "standard", **changes: Any) -> ShippingRate:
    fields: dict[str, Any] = {
        "method_code": method_code,
        "name": method_code.title(),
        "region_code": "DE",
        "countries": frozenset({"DE"}),
        "currency": "EUR",
        "kind": "flat",
        "base_cents": 490,
    }
    return ShippingRate(**(fields | changes))


def code(name: str = "SAVE10", **changes: Any) -> DiscountCode:
    fields: dict[str, Any] = {
        "code": name,
        "kind": "percent",
        "currency": "EUR",
        "percent_basis_points": 1000,
    }
    return DiscountCode(**(fields | changes))


GERMAN_TAX = (
    TaxRate(country="DE", tax_class="standard", rate_basis_points=1900),
    TaxRate(country="DE", tax_class="reduced", rate_basis_points=700),
)


def quote(lines: list[CartLine], **changes: Any) -> Quote:
    arguments: dict[str, Any] = {
        "country": "DE",
        "shipping_method": "standard",
        "rates": [rate()],
        "tax_rates": GERMAN_TAX,
        "discount": None,
        "prices_include_tax": True,
    }
    return compute_quote(lines, **(arguments | changes))


def refused(error: pytest.ExceptionInfo[InvalidInput]) -> tuple[str, str]:
    return error.value.field, error.value.message


# --- worked examples --------------------------------------------------------------------


def test_consumer_order_with_tax_included_two_rates_and_a_percent_code() -> None:
    # Given a German consumer cart: three cables at 19.99 (19 %) and a book at 12.50 (7 %),
    # a 10 % code and flat shipping of 4.90 (free only from 100.00).
    cables = line("CABLE-1", unit_price_cents=1999, quantity=3, weight_grams=100)
    book = line("BOOK-1", unit_price_cents=1250, weight_grams=400, tax_class="reduced")

    result = quote([cables, book], rates=[rate(free_over_cents=10_000)], discount=code("SAVE10"))

    # subtotal 59.97 + 12.50 = 72.47; 10 % = 7.247 -> 7.25 (half-up).
    # Split 725 by 5997 : 1250 -> exact 599.95 and 125.05: whole cents 599 + 125 = 724, the
    # one left over goes to the larger remainder (the cables) -> 600 and 125.
    # 19 %: (5997 - 600) + 490 shipping = 5887 gross; tax 5887 * 19/119 = 939.94 -> 940,
    # split 5397 : 490 -> 861.76 and 78.24 -> 861 + 78 = 939, +1 to the cables -> 862, 78.
    # 7 %: 1250 - 125 = 1125 gross; tax 1125 * 7/107 = 73.60 -> 74.
    # total = 7247 - 725 + 490 = 7012, of which tax 940 + 74 = 1014.
    assert result.totals == Totals(
        currency="EUR",
        subtotal_cents=7247,
        discount_cents=725,
        shipping_cents=490,
        tax_cents=1014,
        total_cents=7012,
    )
    assert result.lines == (
        QuoteLine(
            sku="CABLE-1",
            name="Product CABLE-1",
            tax_class="standard",
            unit_price_cents=1999,
            quantity=3,
            line_total_cents=5997,
            discount_cents=600,
            tax_rate_basis_points=1900,
            tax_cents=862,
        ),
        QuoteLine(
            sku="BOOK-1",
            name="Product BOOK-1",
            tax_class="reduced",
            unit_price_cents=1250,
            quantity=1,
            line_total_cents=1250,
            discount_cents=125,
            tax_rate_basis_points=700,
            tax_cents=74,
        ),
    )
    assert result.shipping_tax_rate_basis_points == 1900
    assert result.shipping_tax_cents == 78
    assert result.tax_summary == (
        TaxAmount(rate_basis_points=700, base_cents=1125, tax_cents=74),
        TaxAmount(rate_basis_points=1900, base_cents=5887, tax_cents=940),
    )
    assert result.discount_code == "SAVE10"
    assert result.weight_grams == 700
    assert result.country == "DE"
    assert result.prices_include_tax is True


def test_business_order_with_tax_added_weight_shipping_and_an_amount_code() -> None:
    # Given net prices: three at 10.00 (250 g) and seven at 0.99 (100 g), a 5.00 code, and
    # parcel shipping of 3.00 plus 1.50 per started kilogram.
    heavy = line("A", unit_price_cents=1000, quantity=3, weight_grams=250)
    light = line("B", unit_price_cents=99, quantity=7, weight_grams=100)
    parcel = rate("parcel", kind="weight", base_cents=300, per_kg_cents=150)
    five_off = code("FIVE-OFF", kind="amount", percent_basis_points=None, amount_cents=500)

    result = quote(
        [heavy, light],
        shipping_method="parcel",
        rates=[parcel],
        discount=five_off,
        prices_include_tax=False,
    )

    # subtotal 30.00 + 6.93 = 36.93; 500 split 3000 : 693 -> 406.17 and 93.83 -> 406 + 93,
    # +1 to B (remainder .83) -> 406 and 94; goods 31.93.
    # weight 750 + 700 = 1450 g = 2 started kg -> 300 + 2 * 150 = 600.
    # tax 19 % on 2594 + 599 + 600 = 3793 -> 720.67 -> 721, split -> 493.08, 113.86, 114.05
    # -> 493 + 113 + 114 = 720, +1 to B (largest remainder) -> 493, 114, 114.
    # total = 3193 + 600 + 721 = 4514.
    assert result.totals == Totals(
        currency="EUR",
        subtotal_cents=3693,
        discount_cents=500,
        shipping_cents=600,
        tax_cents=721,
        total_cents=4514,
    )
    assert [(ln.discount_cents, ln.tax_cents) for ln in result.lines] == [(406, 493), (94, 114)]
    assert result.shipping_tax_cents == 114
    assert result.shipping == ShippingOption(
        method_code="parcel",
        name="Parcel",
        region_code="DE",
        cost_cents=600,
        currency="EUR",
        delivery_days_min=1,
        delivery_days_max=5,
    )


def test_tax_is_rounded_once_per_rate_so_lines_cannot_drift() -> None:
    # Three lines of 0.05 at 10 % added: each line's exact tax is half a cent. Rounding each
    # line would charge 3 cents; the rate's exact tax is 1.5 -> 2 cents, split 1, 1, 0 with
    # the tie going to the SKUs in order (A, B before C). Shipping is free here.
    ten_percent = [TaxRate(country="DE", tax_class="standard", rate_basis_points=1000)]
    cart = [line(sku, unit_price_cents=5) for sku in ("C", "A", "B")]

    result = quote(
        cart, rates=[rate(base_cents=0)], tax_rates=ten_percent, prices_include_tax=False
    )

    assert {ln.sku: ln.tax_cents for ln in result.lines} == {"A": 1, "B": 1, "C": 0}
    assert (result.tax_cents, result.total_cents) == (2, 17)


def test_half_a_cent_rounds_up() -> None:
    # 10.10 at 5 % is 0.505 -> 0.51; 10.30 is 0.515 -> 0.52; 10.09 is 0.5045 -> 0.50.
    five = code(percent_basis_points=500)
    assert discount_cents(five, 1010, "EUR") == 51
    assert discount_cents(five, 1030, "EUR") == 52
    assert discount_cents(five, 1009, "EUR") == 50
    # Tax too: 2.50 net at 19 % is 0.475 -> 0.48.
    result = quote([line(unit_price_cents=250)], rates=[rate(base_cents=0)],
                   prices_include_tax=False)  # fmt: skip
    assert result.tax_cents == 48


def test_only_goods_are_discounted_and_never_below_zero() -> None:
    # A 100.00 code on 36.93 of goods makes the goods free; shipping is still charged and
    # taxed (4.90 gross at 19 % holds 0.78 of tax).
    cart = [
        line("A", unit_price_cents=1000, quantity=3),
        line("B", unit_price_cents=99, quantity=7),
    ]
    big = code("BIG", kind="amount", percent_basis_points=None, amount_cents=10_000)

    result = quote(cart, discount=big)

    assert (result.subtotal_cents, result.discount_cents) == (3693, 3693)
    assert [ln.discount_cents for ln in result.lines] == [3000, 693]
    assert [ln.tax_cents for ln in result.lines] == [0, 0]
    assert (result.shipping_cents, result.tax_cents, result.total_cents) == (490, 78, 490)


def test_a_hundred_percent_code_leaves_only_shipping() -> None:
    result = quote([line(quantity=2)], discount=code(percent_basis_points=10_000))
    assert (result.discount_cents, result.total_cents) == (2000, 490)


def test_free_shipping_is_judged_on_goods_after_discount() -> None:
    cart = [line(unit_price_cents=5200)]
    free_from_50 = [rate(free_over_cents=5000)]

    # 52.00 of goods reach 50.00: free.
    assert quote(cart, rates=free_from_50).shipping_cents == 0
    # With 10 % off the goods cost 46.80: shipping is charged again.
    assert quote(cart, rates=free_from_50, discount=code()).shipping_cents == 490
    # Exactly the threshold is enough.
    assert quote([line(unit_price_cents=5000)], rates=free_from_50).shipping_cents == 0
    assert shipping_cost(cart, "DE", "standard", free_from_50, discount=code()) == 490


def test_missing_tax_rows_mean_zero_percent() -> None:
    # Switzerland has a shipping rate but no tax rows; a German line of a class with no row
    # ("exempt") is untaxed too, while its shipping still pays the standard 19 %.
    swiss = rate(region_code="CH", countries=frozenset({"CH"}))
    result = quote([line(unit_price_cents=2000)], country="CH", rates=[swiss],
                   prices_include_tax=False)  # fmt: skip
    assert (result.tax_cents, result.total_cents) == (0, 2490)
    assert result.tax_summary == (TaxAmount(rate_basis_points=0, base_cents=2490, tax_cents=0),)

    exempt = quote([line(tax_class="exempt")], prices_include_tax=False)
    assert exempt.lines[0].tax_cents == 0
    assert exempt.shipping_tax_cents == 93  # 4.90 * 19 % = 0.931


def test_shipping_is_taxed_at_the_standard_rate_even_with_only_reduced_goods() -> None:
    book = line("BOOK-1", unit_price_cents=1250, tax_class="reduced")
    result = quote([book])
    # book 12.50 * 7/107 = 0.8178 -> 0.82; shipping 4.90 * 19/119 = 0.7824 -> 0.78.
    assert (result.lines[0].tax_cents, result.shipping_tax_cents) == (82, 78)
    assert result.shipping_tax_rate_basis_points == 1900


# --- money and allocation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [
        (1234, "EUR", "12.34 EUR"),
        (5, "EUR", "0.05 EUR"),
        (0, "EUR", "0.00 EUR"),
        (-5, "EUR", "-0.05 EUR"),
        (1234, "JPY", "1234 JPY"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
def test_format_money(cents: int, currency: str, text: str) -> None:
    assert format_money(cents, currency) == text


def test_money_adds_one_currency_and_refuses_two() -> None:
    total = Money(cents=150, currency="EUR") + Money(cents=250, currency="EUR")
    assert total == Money(cents=400, currency="EUR")
    assert str(total - Money(cents=500, currency="EUR")) == "-1.00 EUR"
    with pytest.raises(InvalidInput) as error:
        Money(cents=1, currency="EUR") + Money(cents=1, currency="USD")
    assert refused(error) == ("currency", "cannot combine EUR and USD")


@pytest.mark.parametrize(
    ("cents", "currency", "field"),
    [(1.5, "EUR", "cents"), (2.0, "EUR", "cents"), (True, "EUR", "cents"), ("12", "EUR", "cents"),
     (1, "eur", "currency"), (1, "EURO", "currency"), (1, "", "currency"), (1, "€", "currency")],
)  # fmt: skip
def test_money_refuses_floats_and_bad_currencies(cents: Any, currency: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        Money(cents=cents, currency=currency)
    assert error.value.field == field


def test_allocate_gives_left_over_cents_to_the_largest_remainders_then_by_key() -> None:
    assert allocate(10, [1, 1, 1], ["a", "b", "c"]) == [4, 3, 3]
    assert allocate(10, [1, 1, 1], ["c", "b", "a"]) == [3, 3, 4]  # still "a" that gets it
    assert allocate(100, [1, 2, 0], ["a", "b", "c"]) == [33, 67, 0]  # 33.3, 66.7, nothing
    assert allocate(0, [0, 0], ["a", "b"]) == [0, 0]
    with pytest.raises(ValueError, match="zero weights"):
        allocate(1, [0, 0], ["a", "b"])


# --- the cart: bad input ----------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, 1000, 10**12, 1.5, 2.0, True, "2", None], ids=repr)
def test_quantity_must_be_a_whole_number_from_1_to_999(quantity: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        line("CABLE-1", quantity=quantity)
    assert refused(error) == (
        "quantity",
        "quantity of CABLE-1 must be a whole number from 1 to 999",
    )


@pytest.mark.parametrize("quantity", [1, 999])
def test_quantity_limits_are_inclusive(quantity: int) -> None:
    assert line(quantity=quantity).quantity == quantity


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"unit_price_cents": -1}, "unit_price_cents"),
        ({"unit_price_cents": 19.99}, "unit_price_cents"),
        ({"unit_price_cents": False}, "unit_price_cents"),
        ({"unit_price_cents": MAX_TOTAL_CENTS + 1}, "unit_price_cents"),
        ({"weight_grams": -1}, "weight_grams"),
        ({"weight_grams": 0.5}, "weight_grams"),
        ({"sku": ""}, "sku"),
        ({"sku": "X" * 401}, "sku"),
        ({"sku": 12}, "sku"),
        ({"name": ""}, "name"),
        ({"currency": "eur"}, "currency"),
        ({"tax_class": ""}, "tax_class"),
        ({"tax_class": "standard rate"}, "tax_class"),
        ({"tax_class": "<script>"}, "tax_class"),
    ],
)
def test_a_bad_cart_line_cannot_be_built(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        line(**changes)
    assert error.value.field == field


def test_a_free_line_is_allowed() -> None:
    result = quote([line("SAMPLE", unit_price_cents=0)], rates=[rate(base_cents=0)])
    assert (result.subtotal_cents, result.tax_cents, result.total_cents) == (0, 0, 0)


@pytest.mark.parametrize(
    ("cart", "message"),
    [
        ([], "the cart is empty"),
        ([line(f"SKU-{i}") for i in range(MAX_LINES + 1)], "an order can have at most 100 lines"),
        ([line("A"), line("A", quantity=2)], "A is in the cart twice; give it one line"),
        ([line("A"), line("B", currency="USD")], "one order cannot mix EUR, USD"),
        (
            [line(s, unit_price_cents=1_000_000, quantity=999) for s in ("A", "B")],
            "an order can total at most 10000000.00 EUR",
        ),
        ([{"sku": "A", "quantity": 1}], "every line must be a CartLine"),
    ],
    ids=["empty", "101 lines", "duplicate sku", "two currencies", "over the cap", "not a line"],
)
def test_a_bad_cart_is_refused_whole(cart: list[Any], message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        quote(cart)
    assert refused(error) == ("lines", message)


def test_a_cart_of_ten_thousand_lines_is_refused() -> None:
    cart = [line(f"SKU-{i}") for i in range(10_000)]
    with pytest.raises(InvalidInput) as error:
        quote(cart)
    assert refused(error) == ("lines", "an order can have at most 100 lines")


def test_a_hundred_lines_are_fine() -> None:
    result = quote([line(f"SKU-{i:03d}", unit_price_cents=1) for i in range(MAX_LINES)])
    assert result.subtotal_cents == 100


def test_a_total_over_the_cap_after_tax_is_refused() -> None:
    # Goods just under the cap are fine alone, but 19 % added on top takes the total over.
    cart = [line(unit_price_cents=MAX_TOTAL_CENTS - 490)]
    assert quote(cart).total_cents == MAX_TOTAL_CENTS
    with pytest.raises(InvalidInput) as error:
        quote(cart, prices_include_tax=False)
    assert refused(error) == ("lines", "an order can total at most 10000000.00 EUR")


@pytest.mark.parametrize("flag", [1, 0, "yes", None])
def test_prices_include_tax_must_be_a_bool(flag: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        quote([line()], prices_include_tax=flag)
    assert error.value.field == "prices_include_tax"


# --- countries and shipping -------------------------------------------------------------


@pytest.mark.parametrize("text", ["de", " DE ", "De"])
def test_country_is_trimmed_and_upper_cased(text: str) -> None:
    assert normalize_country(text) == "DE"


@pytest.mark.parametrize(
    "text", ["", "D", "DEU", "D3", "\uff24\uff25", "D E", 49, None, "DE" * 1000], ids=repr
)
def test_a_malformed_country_is_refused(text: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_country(text)
    assert refused(error) == ("country", "country must be a two-letter ISO 3166 code")


def test_we_say_plainly_where_we_do_not_ship() -> None:
    with pytest.raises(InvalidInput) as error:
        quote([line()], country="US")
    assert refused(error) == ("country", "we do not ship to US")
    with pytest.raises(InvalidInput):
        shipping_options([line()], "us", [rate()])


def test_weight_rates_charge_each_started_kilogram() -> None:
    parcel = [rate("parcel", kind="weight", base_cents=300, per_kg_cents=150)]
    costs = {
        grams: shipping_cost([line(weight_grams=grams)], "DE", "parcel", parcel)
        for grams in (0, 1, 1000, 1001, 2500)
    }
    assert costs == {0: 300, 1: 450, 1000: 450, 1001: 600, 2500: 750}


def test_options_list_what_the_cart_may_use_cheapest_first() -> None:
    rates = [
        rate("express", base_cents=1290, delivery_days_min=1, delivery_days_max=1),
        rate("parcel", kind="weight", base_cents=300, per_kg_cents=150, max_weight_grams=31_500),
        rate("freight", base_cents=4900, delivery_days_min=3, delivery_days_max=7),
    ]
    # 2 x 12 kg = 24 kg: parcel 3.00 + 24 * 1.50 = 39.00.
    cart = [line(quantity=2, weight_grams=12_000)]
    assert [(o.method_code, o.cost_cents) for o in shipping_options(cart, "DE", rates)] == [
        ("express", 1290),
        ("parcel", 3900),
        ("freight", 4900),
    ]
    # At 33 kg the parcel carrier is no longer offered, and choosing it is refused.
    heavy = [line(quantity=3, weight_grams=11_000)]
    assert [o.method_code for o in shipping_options(heavy, "DE", rates)] == ["express", "freight"]
    with pytest.raises(InvalidInput) as error:
        quote(heavy, shipping_method="parcel", rates=rates)
    assert refused(error) == ("shipping_method", "choose one of the methods offered for DE")


def test_a_cart_too_heavy_for_every_method_says_so() -> None:
    parcel = [
        rate("parcel", kind="weight", base_cents=300, per_kg_cents=150, max_weight_grams=31_500)
    ]
    with pytest.raises(InvalidInput) as error:
        shipping_options([line(quantity=32, weight_grams=1_000)], "DE", parcel)
    assert refused(error) == ("lines", "no shipping method takes 32.000 kg to DE")


@pytest.mark.parametrize("method", ["", "express", "STANDARD", "x" * 10_000, "standard "])
def test_an_unknown_shipping_method_is_refused_without_echoing_it(method: str) -> None:
    with pytest.raises(InvalidInput) as error:
        quote([line()], shipping_method=method)
    assert refused(error) == ("shipping_method", "choose one of the methods offered for DE")


def test_the_smallest_region_that_holds_the_country_sets_the_price() -> None:
    rates = [
        rate(region_code="EU", countries=frozenset({"DE", "FR", "AT"}), base_cents=990),
        rate(region_code="DE", countries=frozenset({"DE"}), base_cents=490),
        rate(region_code="DE", countries=frozenset({"DE"}), base_cents=1, currency="USD"),
    ]
    assert shipping_cost([line()], "DE", "standard", rates) == 490
    assert shipping_cost([line()], "FR", "standard", rates) == 990
    # A rate in another currency is never offered to this cart.
    with pytest.raises(InvalidInput) as error:
        shipping_cost([line()], "DE", "standard", [rates[2]])
    assert refused(error) == ("country", "we do not ship to DE")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"countries": "DE"}, "countries"),
        ({"countries": frozenset()}, "countries"),
        ({"countries": frozenset({"de"})}, "countries"),
        ({"kind": "zone"}, "kind"),
        ({"per_kg_cents": 100}, "per_kg_cents"),  # a flat rate has no per-kilogram price
        ({"base_cents": -1}, "base_cents"),
        ({"base_cents": 4.9}, "base_cents"),
        ({"free_over_cents": -1}, "free_over_cents"),
        ({"max_weight_grams": 0}, "max_weight_grams"),
        ({"delivery_days_min": 5, "delivery_days_max": 2}, "delivery_days_max"),
        ({"method_code": "std rate"}, "method_code"),
        ({"currency": "Euro"}, "currency"),
    ],
)
def test_a_bad_shipping_rate_cannot_be_built(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        rate(**changes)
    assert error.value.field == field


def test_countries_may_be_given_as_any_set() -> None:
    assert rate(countries={"DE", "AT"}).countries == frozenset({"DE", "AT"})


# --- tax rows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rate_basis_points": 10_001}, "rate_basis_points"),
        ({"rate_basis_points": -1}, "rate_basis_points"),
        ({"rate_basis_points": 19.0}, "rate_basis_points"),
        ({"country": "de"}, "country"),
        ({"tax_class": "a b"}, "tax_class"),
    ],
)
def test_a_bad_tax_rate_cannot_be_built(changes: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {"country": "DE", "tax_class": "standard", "rate_basis_points": 1900}
    with pytest.raises(InvalidInput) as error:
        TaxRate(**(fields | changes))
    assert error.value.field == field


def test_two_rates_for_one_class_and_country_are_refused() -> None:
    doubled = [*GERMAN_TAX, TaxRate(country="DE", tax_class="standard", rate_basis_points=1600)]
    with pytest.raises(InvalidInput) as error:
        quote([line()], tax_rates=doubled)
    assert refused(error) == ("tax_rates", "two rates for DE standard")
    # Other countries' rows do not matter to a German order.
    other = [*GERMAN_TAX, TaxRate(country="AT", tax_class="standard", rate_basis_points=2000)]
    assert quote([line()], tax_rates=other).tax_cents == quote([line()]).tax_cents


# --- discount codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("  summer-10 ", "SUMMER-10"), ("\tsale\n", "SALE"), ("ab_1", "AB_1"), ("X" * 40, "X" * 40)],
)
def test_codes_are_trimmed_and_case_insensitive(typed: str, stored: str) -> None:
    assert normalize_discount_code(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",  # blank: the caller's "no code", never a code
        "   ",
        "ab",  # too short
        "X" * 41,  # too long
        "SUM MER",  # a space inside
        "\u017fummer",  # long s: upper-cases to "SUMMER"
        "\u0131tem",  # dotless i: upper-cases to "ITEM"
        "\uff33\uff21\uff2c\uff25",  # fullwidth letters
        "sale;--",
        "\x00SALE",
        "S" * 1_000_000,  # not read at all
        12345,
        None,
    ],
    ids=repr,
)
def test_a_malformed_code_is_refused(typed: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_discount_code(typed)
    assert refused(error) == ("discount_code", "a code is 3 to 40 letters, digits, - or _")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "save10"}, "code"),  # rows hold the normalized form
        ({"code": "S"}, "code"),
        ({"kind": "bogo"}, "kind"),
        ({"percent_basis_points": 0}, "percent_basis_points"),
        ({"percent_basis_points": 10_001}, "percent_basis_points"),
        ({"percent_basis_points": 10.5}, "percent_basis_points"),
        ({"percent_basis_points": None}, "percent_basis_points"),
        ({"amount_cents": 500}, "amount_cents"),  # a percent code with an amount too
        ({"kind": "amount"}, "amount_cents"),
        ({"kind": "amount", "amount_cents": 500}, "percent_basis_points"),
        ({"currency": "eur"}, "currency"),
        ({"valid_from": datetime(2026, 11, 1)}, "valid_from"),  # naive on purpose
        ({"valid_from": T0, "valid_until": T0}, "valid_until"),
        ({"minimum_order_cents": -1}, "minimum_order_cents"),
        ({"max_uses": 0}, "max_uses"),
        ({"max_uses_per_customer": 0}, "max_uses_per_customer"),
        ({"active": 1}, "active"),
    ],
)
def test_a_bad_discount_row_cannot_be_built(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        code(**changes)
    assert error.value.field == field


def check(discount: DiscountCode | None, *, subtotal: int = 10_000, at: datetime = T0,
          uses: int = 0, mine: int = 0, currency: str | None = "EUR") -> DiscountCode:  # fmt: skip
    return check_discount(discount, subtotal, at, uses, mine, currency=currency)


def reason(discount: DiscountCode | None, **given: Any) -> str:
    with pytest.raises(InvalidInput) as error:
        check(discount, **given)
    assert error.value.field == "discount_code"
    return error.value.message


def test_a_usable_code_is_returned() -> None:
    saving = code(valid_from=T0, valid_until=T0 + timedelta(days=7), max_uses=100,
                  max_uses_per_customer=1, minimum_order_cents=5000)  # fmt: skip
    assert check(saving, subtotal=5000, uses=99, mine=0) is saving
    assert check(saving, at=T0 + timedelta(days=7, seconds=-1)) is saving
    assert check(saving, currency=None) is saving


def test_each_reason_a_code_cannot_be_used_is_told_plainly() -> None:
    week = code(valid_from=T0, valid_until=T0 + timedelta(days=7))
    assert reason(None) == "we do not know this code"
    assert reason(code(active=False)) == "we do not know this code"
    assert reason(week, at=T0 - timedelta(seconds=1)) == (
        "this code is valid from 2026-11-25 12:00 UTC"
    )
    assert reason(week, at=T0 + timedelta(days=7)) == (
        "this code expired at 2026-12-02 12:00 UTC"  # valid_until is exclusive
    )
    assert reason(code(max_uses=100), uses=100) == "this code has been used up"
    assert reason(code(max_uses_per_customer=1), mine=1) == "you have already used this code once"
    assert reason(code(max_uses_per_customer=3), mine=3) == (
        "you have already used this code 3 times"
    )
    assert reason(code(minimum_order_cents=5000), subtotal=4999) == (
        "this code needs an order of at least 50.00 EUR"
    )
    assert reason(code(currency="USD")) == "this code is for orders in USD"


def test_dates_in_reasons_are_told_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    later = code(valid_from=datetime(2026, 12, 1, 0, 0, tzinfo=berlin))
    assert reason(later) == "this code is valid from 2026-11-30 23:00 UTC"


def test_checking_a_code_needs_an_aware_time_and_real_counts() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(code(), at=datetime(2026, 11, 25, 12))  # naive on purpose
    with pytest.raises(ValueError, match="non-negative"):
        check(code(), uses=-1)


def test_an_amount_code_in_another_currency_is_refused_by_the_quote_too() -> None:
    dollars = code("USD5", kind="amount", percent_basis_points=None, amount_cents=500,
                   currency="USD")  # fmt: skip
    with pytest.raises(InvalidInput) as error:
        quote([line()], discount=dollars)
    assert refused(error) == ("discount_code", "this code is for orders in USD")


# --- comparing the client's figures -----------------------------------------------------


def test_the_digest_is_stable_and_covers_every_figure_shown() -> None:
    cart = [line("A", unit_price_cents=1999, quantity=3), line("B", unit_price_cents=1250)]
    first = quote(cart, discount=code())

    # Same cart in another order: same figures, same digest, and a digest fixed across
    # processes and releases (a deliberate format change bumps the version inside).
    again = quote(cart[::-1], discount=code())
    assert again.totals == first.totals
    assert again.totals_digest() == first.totals_digest()
    assert first.totals_digest() == (
        "272f5e11cbcdda066bc8ed5eec403963acc5ed08be379050f651c5de687c0e25"
    )

    # A cent's change to one price, a quantity or the shipping method changes it.
    dearer = quote([replace(cart[0], unit_price_cents=2000), cart[1]], discount=code())
    more = quote([replace(cart[0], quantity=4), cart[1]], discount=code())
    other_method = quote(cart, discount=code(), rates=[rate(), rate("express")],
                         shipping_method="express")  # fmt: skip
    digests = {q.totals_digest() for q in (first, dearer, more, other_method)}
    assert len(digests) == 4
    assert dearer.totals != first.totals
