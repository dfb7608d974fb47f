"""Customer numbers (P9): random, ten digits, a Damm check digit that catches typing errors."""

from __future__ import annotations

import random
from collections.abc import Iterator
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quietshop.accounts.numbers import (
    CUSTOMER_NUMBER_DIGITS,
    format_customer_number,
    is_valid_customer_number,
    new_customer_number,
    parse_customer_number,
)
from quietshop.check_digits import DAMM_TABLE, damm_check_digit

DIGITS = "0123456789"
SAMPLE_SIZE = 2_000


def single_digit_errors(number: str) -> Iterator[str]:
    for position, original in enumerate(number):
        for digit in DIGITS.replace(original, ""):
            yield number[:position] + digit + number[position + 1 :]


def adjacent_swaps(number: str) -> Iterator[str]:
    for position in range(len(number) - 1):
        first, second = number[position], number[position + 1]
        if first != second:  # swapping equal digits changes nothing
            yield number[:position] + second + first + number[position + 2 :]


def test_check_digit_matches_published_example() -> None:
    # Wikipedia's worked example of the Damm algorithm: 572 -> 4.
    assert damm_check_digit("572") == "4"
    assert damm_check_digit("5724") == "0"


def test_damm_table_is_weakly_totally_antisymmetric_quasigroup() -> None:
    # The two properties behind the guarantees, checked over the whole table: a Latin square
    # (one changed digit changes the running value, and no later digit can undo that), and
    # x*a*b == x*b*a only when a == b (so an adjacent swap changes it too).
    for row in DAMM_TABLE:
        assert sorted(row) == list(range(10))
    for column in range(10):
        assert sorted(row[column] for row in DAMM_TABLE) == list(range(10))
    for interim in range(10):
        assert DAMM_TABLE[interim][interim] == 0  # so a number with its check digit gives 0
        for a in range(10):
            for b in range(10):
                if a != b:
                    left = DAMM_TABLE[DAMM_TABLE[interim][a]][b]
                    right = DAMM_TABLE[DAMM_TABLE[interim][b]][a]
                    assert left != right


def test_every_single_digit_error_and_adjacent_swap_is_caught() -> None:
    rng = random.Random(20240601)
    numbers = {new_customer_number(rng) for _ in range(SAMPLE_SIZE)}
    assert len(numbers) == SAMPLE_SIZE
    for number in numbers:
        assert is_valid_customer_number(number)
        assert len(list(single_digit_errors(number))) == 9 * CUSTOMER_NUMBER_DIGITS
        for wrong in single_digit_errors(number):
            assert not is_valid_customer_number(wrong), (number, wrong)
        for wrong in adjacent_swaps(number):
            assert not is_valid_customer_number(wrong), (number, wrong)


def test_luhn_blind_spot_09_90_is_caught() -> None:
    body = "123450967"
    number = body + damm_check_digit(body)
    assert is_valid_customer_number(number)
    assert not is_valid_customer_number(number.replace("09", "90"))


@given(
    body=st.text(alphabet=DIGITS, min_size=9, max_size=9).filter(lambda s: s[0] != "0"),
    position=st.integers(min_value=0, max_value=CUSTOMER_NUMBER_DIGITS - 1),
    replacement=st.sampled_from(DIGITS),
)
def test_property_errors_are_caught(body: str, position: int, replacement: str) -> None:
    number = body + damm_check_digit(body)
    assert is_valid_customer_number(number)
    substituted = number[:position] + replacement + number[position + 1 :]
    assert is_valid_customer_number(substituted) == (substituted == number)
    if position < CUSTOMER_NUMBER_DIGITS - 1:
        swapped = (
            number[:position] + number[position + 1] + number[position] + number[position + 2 :]
        )
        assert is_valid_customer_number(swapped) == (swapped == number)


def test_numbers_are_random_not_sequential() -> None:
    numbers = [new_customer_number() for _ in range(1_000)]
    assert all(is_valid_customer_number(number) for number in numbers)
    assert len(set(numbers)) == len(numbers)
    assert numbers != sorted(numbers)
    steps = {int(later) - int(earlier) for earlier, later in pairwise(numbers)}
    assert len(steps) > 900  # no constant stride either
    assert {number[0] for number in numbers} == set("123456789")
    assert all(len(number) == CUSTOMER_NUMBER_DIGITS for number in numbers)


def test_a_seeded_source_gives_reproducible_numbers() -> None:
    first = [new_customer_number(random.Random(7)) for _ in range(3)]
    assert first == [new_customer_number(random.Random(7)) for _ in range(3)]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "123456789",  # 9 digits
        "12345678901",  # 11 digits
        "0000000000",  # leading zero (and check digit 0 is right for it)
        "abcdefghij",
        "12345a7890",
        "\uff12\uff14\uff14\uff12\uff17\uff12\uff15\uff10\uff19\uff14",  # fullwidth digits
        "٢٤٤٢٧٢٥٠٩٤",  # Arabic-Indic digits
        "24427250\uff194",  # one fullwidth 9
        "²442725094",
        "2442725095",  # wrong check digit
        "\x00" * 10,
        "\ud800" * 10,
        None,
        2442725094,
        b"2442725094",
        ["2442725094"],
    ],
)
def test_invalid_inputs_are_rejected_without_raising(value: object) -> None:
    assert not is_valid_customer_number(value)
    assert parse_customer_number(value) is None


@pytest.mark.parametrize("value", [" 2442725094", "2442725094\n", "2442 7250 94", "2442-7250-94"])
def test_only_the_canonical_form_is_valid(value: str) -> None:
    # Spaced forms are for people; parse_customer_number turns them into the stored form.
    assert not is_valid_customer_number(value)
    assert parse_customer_number(value) == "2442725094"


def test_leading_zero_is_refused_even_with_a_right_check_digit() -> None:
    body = "012345678"
    assert not is_valid_customer_number(body + damm_check_digit(body))


def test_the_valid_example_is_valid() -> None:
    assert is_valid_customer_number("2442725094")


def test_format_groups_in_fours_like_an_iban() -> None:
    assert format_customer_number("2442725094") == "2442 7250 94"
    with pytest.raises(ValueError, match="not a valid customer number"):
        format_customer_number("2442725095")


@pytest.mark.parametrize(
    "typed",
    [
        "2442725094",
        "2442 7250 94",
        "  2442 7250 94 ",
        "2442-7250-94",
        "244-272-5094",
        "24427 25094",
        "2442\u00a07250\u00a094",  # no-break spaces, as in an HTML mail
        "2442\u20137250\u201394",  # en dashes, as a word processor makes them
    ],
)
def test_parse_accepts_grouped_and_plain_forms(typed: str) -> None:
    assert parse_customer_number(typed) == "2442725094"


@pytest.mark.parametrize(
    "typed", ["2442.7250.94", "2442_7250_94", "2442 7250 95", "2442 7250 9", "-" * 50, "  "]
)
def test_parse_refuses_other_text(typed: str) -> None:
    assert parse_customer_number(typed) is None


@given(st.text(max_size=60))
def test_parse_and_validate_never_raise(text: str) -> None:
    parsed = parse_customer_number(text)
    assert parsed is None or is_valid_customer_number(parsed)
    assert isinstance(is_valid_customer_number(text), bool)


def test_format_parse_round_trip() -> None:
    rng = random.Random(99)
    for _ in range(500):
        number = new_customer_number(rng)
        shown = format_customer_number(number)
        assert parse_customer_number(shown) == number
        assert shown.replace(" ", "") == number
