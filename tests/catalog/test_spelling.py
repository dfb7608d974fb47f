"""Typo correction against the catalog vocabulary (no database)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from quietshop.catalog.search import plan_query
from quietshop.catalog.spelling import Vocabulary, edit_distance, words_of

VOCABULARY = Vocabulary(
    [
        "High Speed HDMI Cable",
        "HDMI cable 2 m",
        "Ethernet patch cable Cat6",
        "Surge protector",
        "USB-C to USB-A adapter",
        "Network cable tester",
        "Crimping tool",
    ]
)


def test_words_are_letters_and_digits_only() -> None:
    assert words_of('USB-C "cable" OR 1=1 -- NEAR(') == [
        "usb",
        "c",
        "cable",
        "or",
        "1",
        "1",
        "near",
    ]
    assert words_of("") == []
    assert words_of("Ünïcödé Kabel") == ["ünïcödé", "kabel"]


def test_edit_distance_counts_swaps_as_one() -> None:
    assert edit_distance("cable", "cabel") == 1
    assert edit_distance("cable", "cable") == 0
    assert edit_distance("cable", "table") == 1
    assert edit_distance("network", "netwrok") == 1
    assert edit_distance("", "abc") == 3


def test_corrections() -> None:
    assert VOCABULARY.correct("cabel") == "cable"
    assert VOCABULARY.correct("ethrenet") == "ethernet"
    assert VOCABULARY.correct("protectr") == "protector"
    # A prefix of a real word is kept as typed: the engine matches it as a prefix.
    assert VOCABULARY.correct("crimp") == "crimp"
    # Short words are not corrected (too many neighbours) and nonsense stays as typed.
    assert VOCABULARY.correct("xq") == "xq"
    assert VOCABULARY.correct("zzzzzzzz") == "zzzzzzzz"


def test_plan_marks_corrections_and_limits_size() -> None:
    plan = plan_query("hdmi cabel", VOCABULARY)
    assert plan.words == ("hdmi", "cable") and plan.corrected
    assert plan_query("hdmi cable", VOCABULARY).corrected is False
    huge = plan_query("cable " * 5000, VOCABULARY)
    assert len(huge.original) <= 200 and len(huge.words) <= 8


@given(st.text(max_size=300))
def test_any_text_plans_to_plain_words(raw: str) -> None:
    plan = plan_query(raw, VOCABULARY)
    assert all(word.isalnum() for word in plan.words)
    assert len(plan.words) <= 8
    assert all(ch.isprintable() for ch in plan.original)
