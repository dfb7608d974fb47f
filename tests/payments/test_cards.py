"""Checking a card (P8): numbers by Luhn, length and brand prefix, expiry against the
caller's clock, the security code's shape; errors name the field and never echo the
digits; nothing that holds a card shows more than its last four digits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quietshop.errors import InvalidInput
from quietshop.payments.cards import (
    Brand,
    CardInput,
    ValidCard,
    brand_of,
    card_associated_data,
    check_card_number,
    check_not_expired,
    check_security_code,
    luhn_ok,
    mask,
    normalise_card_number,
    parse_expiry,
    validate_card,
)
from tests.clock import T0  # 2026-11-25 12:00 UTC

VISA = "4242424242424242"


def with_check_digit(prefix: str, length: int) -> str:
    """A Luhn-valid number: the prefix, zeros, and the one check digit that fits."""
    body = prefix.ljust(length - 1, "0")
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def refusal(call: object, *args: object) -> InvalidInput:
    assert callable(call)
    with pytest.raises(InvalidInput) as caught:
        call(*args)
    return caught.value


def card(**changes: object) -> CardInput:
    fields: dict[str, object] = {
        "number": "4242 4242 4242 4242",
        "expiry_month": "12/28",
        "expiry_year": None,
        "name": "Ann Example",
        "security_code": "987",
    }
    return CardInput(**{**fields, **changes})  # type: ignore[arg-type]


# ---------------------------------------------------------------- the number


@pytest.mark.parametrize(
    "typed",
    [
        VISA,
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        " 4242  4242-4242 4242 ",
        "4242 - 4242" * 2,
    ],
)
def test_spaces_and_dashes_are_accepted_and_dropped(typed: str) -> None:
    expected = "".join(ch for ch in typed if ch.isdigit())
    assert normalise_card_number(typed) == expected


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("4242 4242 4242 424a", "digits only"),
        ("4242.4242.4242.4242", "digits only"),
        ("4242/4242/4242/4242", "digits only"),
        ("4242\t4242\n4242 4242", "digits only"),
        ("\uff14\uff12" * 8, "digits only"),  # fullwidth digits
        ("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", "digits only"),  # Arabic-Indic digits
        ("4242424242424242; DROP TABLE payment_cards", "digits only"),
        ("4242424242424242' OR '1'='1" * 3, "longer than any"),
        ("<script>alert(1)</script>", "digits only"),
        ("", "enter the card number"),
        ("   ", "enter the card number"),
        ("42424242424", "12 to 19 digits"),  # 11
        ("42424242424242424242", "12 to 19 digits"),  # 20
        ("4" * 10_000, "longer than any"),
        ("- - - -", "12 to 19 digits"),
    ],
)
def test_a_number_that_is_not_one_is_refused(typed: str, says: str) -> None:
    error = refusal(normalise_card_number, typed)
    assert error.field == "card_number" and says in error.message


@pytest.mark.parametrize("typed", [None, 4242424242424242, b"4242424242424242"])
def test_a_number_that_is_not_text_is_refused(typed: object) -> None:
    assert refusal(normalise_card_number, typed).field == "card_number"


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        (VISA, True),
        ("4242424242424241", False),
        ("4242424242424224", False),  # two neighbours swapped
        ("79927398713", True),  # the textbook example
        ("0", True),
        ("", False),
        ("4242 4242", False),
        ("٤٢", False),
    ],
)
def test_luhn(number: str, ok: bool) -> None:
    assert luhn_ok(number) is ok


BRANDS = [
    (Brand.VISA, "4", (13, 16, 19)),
    (Brand.MASTERCARD, "51", (16,)),
    (Brand.MASTERCARD, "55", (16,)),
    (Brand.MASTERCARD, "2221", (16,)),
    (Brand.MASTERCARD, "2720", (16,)),
    (Brand.AMEX, "34", (15,)),
    (Brand.AMEX, "37", (15,)),
    (Brand.DISCOVER, "6011", (16, 17, 18, 19)),
    (Brand.DISCOVER, "644", (16, 19)),
    (Brand.DISCOVER, "649", (16,)),
    (Brand.DISCOVER, "65", (16, 19)),
    (Brand.DISCOVER, "622126", (16,)),
    (Brand.DISCOVER, "622925", (19,)),
    (Brand.JCB, "3528", (16, 19)),
    (Brand.JCB, "3589", (16,)),
    (Brand.DINERS, "36", (14, 16, 19)),
    (Brand.DINERS, "300", (14,)),
    (Brand.DINERS, "305", (14,)),
    (Brand.DINERS, "38", (16,)),
    (Brand.DINERS, "39", (14,)),
]


@pytest.mark.parametrize(
    ("brand", "prefix", "length"),
    [(brand, prefix, length) for brand, prefix, lengths in BRANDS for length in lengths],
)
def test_each_brand_by_prefix_and_length(brand: Brand, prefix: str, length: int) -> None:
    number = with_check_digit(prefix, length)
    assert brand_of(number) is brand
    assert check_card_number(number) == (number, brand)


@pytest.mark.parametrize(
    ("prefix", "length"),
    [
        ("4", 14), ("4", 15), ("4", 17), ("4", 18), ("51", 15), ("51", 17), ("34", 16),
        ("37", 14), ("6011", 15), ("3528", 15), ("36", 13),
    ],
)  # fmt: skip
def test_a_known_prefix_with_the_wrong_length_is_refused(prefix: str, length: int) -> None:
    number = with_check_digit(prefix, length)
    assert brand_of(number) is None
    error = refusal(check_card_number, number)
    assert error.field == "card_number" and "card numbers have" in error.message
    assert number not in error.message


@pytest.mark.parametrize(
    "prefix",
    ["2220", "2721", "50", "56", "622125", "622926", "643", "3527", "3590", "306", "35", "1", "9"],
)
def test_prefixes_just_outside_a_range_are_no_brand(prefix: str) -> None:
    number = with_check_digit(prefix, 16)
    assert brand_of(number) is None
    error = refusal(check_card_number, number)
    assert error.message.startswith("We accept Visa, Mastercard, American Express, Discover")


def test_a_wrong_check_digit_is_refused_without_echoing_it() -> None:
    error = refusal(check_card_number, "4242 4242 4242 4241")
    assert error.field == "card_number" and "check the digits" in error.message
    assert "4241" not in str(error) and "42424242" not in str(error)


def test_the_well_known_test_cards_pass() -> None:
    for number, brand in [
        (VISA, Brand.VISA),
        ("5555555555554444", Brand.MASTERCARD),
        ("378282246310005", Brand.AMEX),
        ("6011111111111117", Brand.DISCOVER),
        ("3566002020360505", Brand.JCB),
        ("36227206271667", Brand.DINERS),
        ("2223003122003222", Brand.MASTERCARD),
    ]:
        assert check_card_number(number) == (number, brand)


@given(st.text(max_size=60))
def test_any_text_is_a_card_number_or_a_refusal_naming_the_field(text: str) -> None:
    try:
        digits = normalise_card_number(text)
    except InvalidInput as error:
        assert error.field == "card_number"
        for run in re.findall(r"[0-9]{4,}", text):
            assert run not in error.message
    else:
        assert digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19


# ---------------------------------------------------------------- expiry


@pytest.mark.parametrize(
    ("month", "year", "expected"),
    [
        ("12/28", None, (12, 2028)),
        ("01/2030", None, (1, 2030)),
        ("1/30", None, (1, 2030)),
        (" 03 / 29 ", None, (3, 2029)),
        ("03-29", None, (3, 2029)),
        ("12", "28", (12, 2028)),
        ("7", "2031", (7, 2031)),
        (12, 28, (12, 2028)),
        (12, 2028, (12, 2028)),
    ],
)
def test_expiry_forms(month: int | str, year: int | str | None, expected: tuple[int, int]) -> None:
    assert parse_expiry(month, year) == expected


@pytest.mark.parametrize(
    ("month", "year"),
    [
        ("13/27", None),
        ("00/27", None),
        ("1/2", None),
        ("12/2", None),
        ("12/123", None),
        ("12/27/1", None),
        ("aa/bb", None),
        ("", None),
        ("   ", None),
        ("1227", None),
        ("12\uff0f27", None),  # fullwidth slash
        ("١٢/٢٧", None),  # Arabic-Indic digits
        ("9" * 100_000, None),
        ("12/" + "9" * 100_000, None),
        (12, None),  # a number where the text "MM/YY" belongs
        ("13", "27"),
        ("0", "27"),
        ("-1", "27"),
        ("12", "2"),
        ("12", "1999"),
        ("12", "2100"),
        ("12", "0027"),
        ("12", ""),
        ("12", "abcd"),
        (13, 2027),
        (0, 27),
        (True, 27),
        (12, False),
        (12, -1),
        (12, 10**30),
        (10**30, 2027),
        (12.0, 2027),
    ],
)
def test_malformed_expiry_is_refused(month: object, year: object) -> None:
    error = refusal(parse_expiry, month, year)
    assert error.field == "expiry"


def test_a_card_is_valid_through_the_last_moment_of_its_month() -> None:
    check_not_expired(11, 2026, T0)  # this month
    check_not_expired(11, 2026, datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC))
    error = refusal(check_not_expired, 11, 2026, datetime(2026, 12, 1, tzinfo=UTC))
    assert error.field == "expiry" and error.message == "this card has expired"
    assert refusal(check_not_expired, 10, 2026, T0).message == "this card has expired"
    error = refusal(check_not_expired, 12, 2025, T0)  # a later month of an earlier year
    assert error.message == "this card has expired"


def test_an_expiry_decades_ahead_is_refused() -> None:
    check_not_expired(12, 2046, T0)
    error = refusal(check_not_expired, 1, 2047, T0)
    assert error.field == "expiry" and "too far ahead" in error.message


@given(
    st.one_of(st.integers(), st.text(max_size=12)),
    st.one_of(st.none(), st.integers(), st.text(max_size=12)),
)
def test_any_expiry_is_a_month_and_year_or_a_refusal(month: object, year: object) -> None:
    try:
        got_month, got_year = parse_expiry(month, year)  # type: ignore[arg-type]
    except InvalidInput as error:
        assert error.field == "expiry"
    else:
        assert 1 <= got_month <= 12 and 2000 <= got_year <= 2099


# ---------------------------------------------------------------- security code, name


@pytest.mark.parametrize(
    ("code", "brand", "expected"),
    [("987", Brand.VISA, "987"), (" 987 ", Brand.MASTERCARD, "987"), ("0042", Brand.AMEX, "0042")],
)
def test_security_codes(code: str, brand: Brand, expected: str) -> None:
    assert check_security_code(code, brand) == expected


@pytest.mark.parametrize(
    ("code", "brand"),
    [
        ("9876", Brand.VISA),
        ("98", Brand.VISA),
        ("987", Brand.AMEX),
        ("98765", Brand.AMEX),
        ("", Brand.VISA),
        ("98a", Brand.VISA),
        ("\uff19\uff18\uff17", Brand.VISA),
        ("9" * 100_000, Brand.VISA),
        (None, Brand.VISA),
        (987, Brand.VISA),
    ],
)
def test_a_wrong_security_code_is_refused_without_echoing_it(code: object, brand: Brand) -> None:
    error = refusal(check_security_code, code, brand)
    assert error.field == "security_code"
    digits = 4 if brand is Brand.AMEX else 3
    assert f"the {digits} digits" in error.message
    if isinstance(code, str) and code:
        assert code not in str(error)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "enter the name"),
        ("   ", "enter the name"),
        ("A" * 201, "at most 200"),
        ("A" * 100_000, "at most 200"),
        ("Ann\x00Example", "letters"),
        ("Ann\u202eelpmaxE", "letters"),  # a right-to-left override
    ],
)
def test_a_bad_name_on_card_is_refused(name: str, says: str) -> None:
    error = refusal(validate_card, card(name=name), T0)
    assert error.field == "name_on_card" and says in error.message


# ---------------------------------------------------------------- the whole card


def test_a_good_card_is_checked_into_a_valid_card() -> None:
    valid = validate_card(card(name="  Ann   Example "), T0)
    assert valid == ValidCard(
        number=VISA, brand=Brand.VISA, last4="4242", exp_month=12, exp_year=2028, name="Ann Example"
    )
    assert valid.masked == "Visa •••• 4242"


def test_an_amex_card_with_separate_month_and_year() -> None:
    valid = validate_card(
        card(number="3782-822463-10005", expiry_month=3, expiry_year=2029, security_code="1234"),
        T0,
    )
    assert (valid.brand, valid.last4, valid.exp_month, valid.exp_year) == (
        Brand.AMEX,
        "0005",
        3,
        2029,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"number": "4242 4242 4242 424x"}, "card_number"),
        ({"number": "4242 4242 4242 4241"}, "card_number"),
        ({"expiry_month": "10/26"}, "expiry"),
        ({"expiry_month": "13/27"}, "expiry"),
        ({"name": ""}, "name_on_card"),
        ({"security_code": "12"}, "security_code"),
        ({"number": "378282246310005", "security_code": "987"}, "security_code"),
    ],
)
def test_the_first_wrong_field_is_named(changes: dict[str, object], field: str) -> None:
    error = refusal(validate_card, card(**changes), T0)
    assert error.field == field
    text = str(error) + repr(error)
    assert "42424242" not in text and "987" not in text


def test_this_month_is_accepted_and_last_month_refused() -> None:
    assert validate_card(card(expiry_month="11/26"), T0).exp_month == 11
    assert refusal(validate_card, card(expiry_month="10/26"), T0).field == "expiry"


def test_masks() -> None:
    assert mask("4242", Brand.VISA) == "Visa •••• 4242"
    assert mask("0005", Brand.AMEX) == "American Express •••• 0005"
    assert mask("1667", Brand.DINERS) == "Diners Club •••• 1667"
    for bad in ["424", "42424", "abcd", "٤٢٤٢"]:
        with pytest.raises(ValueError):
            mask(bad, Brand.VISA)


def test_nothing_that_holds_a_card_shows_it() -> None:
    typed = card(number="4242 4242 4242 4242", security_code="987", name="Ann Example")
    valid = validate_card(typed, T0)
    for shown in [repr(typed), str(typed), repr(valid), str(valid), f"{typed}", f"{valid!r}"]:
        assert "4242 4242 4242 4242" not in shown and VISA not in shown
        assert "987" not in shown and "Ann" not in shown
    assert repr(typed) == "CardInput(number='•••• 4242', security_code=<hidden>)"
    assert repr(valid) == "ValidCard('Visa •••• 4242', expires 12/2028)"
    # Garbage typed into the number field shows no digits at all.
    assert "123" not in repr(card(number="123"))


def test_the_ciphertext_is_bound_to_its_order() -> None:
    assert card_associated_data(7) == b"payment_card:7"
    assert card_associated_data(7) != card_associated_data(70)
