"""Passwords (P8): argon2id at OWASP's parameters or stronger, and the password policy.

Each argon2id hash costs tens of milliseconds, so hashing happens only a handful of times here;
the policy tests never hash.
"""

from __future__ import annotations

import importlib
import re
import tomllib
import unicodedata
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from quietshop.accounts import passwords
from quietshop.accounts.passwords import (
    DUMMY_HASH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_password_policy,
    common_passwords,
    hash_password,
    needs_rehash,
    verify_password,
)
from quietshop.errors import InvalidInput

PASSWORD = "violet tangerine orbit"
ENCODED_HASH = re.compile(
    r"^\$argon2id\$v=19\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$"
)
EMAIL = "Alexander.Hamilton@Example.com"
NAME = "Alexander Hamilton"


def of_length(length: int) -> str:
    """A password of exactly ``length`` code points that is on no list."""
    return ("tangerine-violin-orbit-" * 10)[:length]


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def refusal(password: str, **personal: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_password_policy(password, **personal)
    assert caught.value.field == "password"
    return caught.value


# --- hashing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["fresh", "dummy"])
def test_hashes_are_argon2id_with_at_least_owasp_parameters(stored: str, which: str) -> None:
    encoded = stored if which == "fresh" else DUMMY_HASH
    match = ENCODED_HASH.match(encoded)
    assert match, encoded
    assert int(match["m"]) >= 19456  # KiB: 19 MiB
    assert int(match["t"]) >= 2
    assert int(match["p"]) == 1


def test_hash_is_salted_and_never_contains_the_password(stored: str) -> None:
    assert PASSWORD not in stored
    assert hash_password(PASSWORD) != stored


def test_verify_accepts_the_password_and_nothing_else(stored: str) -> None:
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD.upper())
    assert not verify_password(stored, PASSWORD + " ")
    assert not verify_password(stored, "")


def test_composed_and_decomposed_forms_are_the_same_password() -> None:
    composed = "crème brûlée à la carte"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert verify_password(hash_password(decomposed), composed)


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "garbage",
        "$2b$12$C6UzMDM.H6dfI/f/IKxGhu6j3Gq4yJ9pYk8zvBbdZpJq6T5hM0ly6",  # bcrypt
        "$argon2id$v=19$m=19456,t=2,p=1$abc$def",
        "$argon2id$v=19$m=19456,t=2,p=1$ü$ü",
        "$argon2id$v=19$m=-1,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
        "\ud800",
        "\x00",
    ],
)
def test_malformed_hash_gives_false_without_raising(malformed: str) -> None:
    assert verify_password(malformed, PASSWORD) is False
    assert needs_rehash(malformed) is True


def test_wrong_types_and_unencodable_passwords_give_false(stored: str) -> None:
    assert verify_password(None, PASSWORD) is False  # type: ignore[arg-type]
    assert verify_password(stored, None) is False  # type: ignore[arg-type]
    assert verify_password(stored, "\ud800 lone surrogate") is False


def test_a_truncated_hash_gives_false(stored: str) -> None:
    assert verify_password(stored[:-4], PASSWORD) is False


def test_dummy_hash_costs_as_much_as_a_real_one_and_matches_nothing() -> None:
    # Same parameters as a customer's hash, hence the same time to verify (P8 + no account
    # enumeration by timing); its password was random and thrown away.
    assert not needs_rehash(DUMMY_HASH)
    assert not verify_password(DUMMY_HASH, PASSWORD)
    assert not verify_password(DUMMY_HASH, "")


def test_needs_rehash_for_weaker_parameters_but_not_for_current(stored: str) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    old = weak.hash(PASSWORD)
    assert needs_rehash(old)
    assert verify_password(old, PASSWORD)  # old accounts still sign in, then get rehashed
    argon2i = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1, type=Type.I)
    assert needs_rehash(argon2i.hash(PASSWORD))
    assert not needs_rehash(stored)


def test_a_huge_password_is_refused_before_normalising_or_hashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def must_not_run(*_: object) -> str:
        pytest.fail("a 10 MB password reached normalisation or hashing")

    class MustNotHash:
        verify = hash = staticmethod(must_not_run)

    monkeypatch.setattr(passwords, "_normalise", must_not_run)
    monkeypatch.setattr(passwords, "_fold", must_not_run)
    monkeypatch.setattr(passwords, "_HASHER", MustNotHash())
    huge = "x" * 10_000_000
    message = refusal(huge).message
    assert message == f"Use at most {MAX_PASSWORD_LENGTH} characters."
    assert verify_password(DUMMY_HASH, huge) is False


# --- policy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, MIN_PASSWORD_LENGTH - 1])
def test_too_short_is_refused(length: int) -> None:
    assert "at least 12" in refusal(of_length(length)).message


def test_empty_or_non_text_is_refused_not_crashed() -> None:
    assert refusal("").message == "Enter a password."
    assert refusal(None).message == "Enter a password."  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [MIN_PASSWORD_LENGTH, 50, MAX_PASSWORD_LENGTH])
def test_lengths_in_range_are_accepted(length: int) -> None:
    check_password_policy(of_length(length), email=EMAIL, name=NAME)


@pytest.mark.parametrize("length", [MAX_PASSWORD_LENGTH + 1, 4 * MAX_PASSWORD_LENGTH + 1])
def test_too_long_is_refused(length: int) -> None:
    assert "at most 128" in refusal(of_length(length)).message


def test_no_composition_rules() -> None:
    for password in ("alllowercaseletters", "ALLUPPERCASE", "824619370512", "with spaces in it"):
        check_password_policy(password)


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("😀" * 12, True),  # one code point each, though two UTF-16 units and four bytes
        ("😀" * 11, False),
        ("e\u0301" * 12, True),  # 24 code points typed, 12 after NFC ("é")
        ("e\u0301" * 6, False),  # 12 code points typed, only 6 after NFC
        ("\u0391\u0313\u0300\u0345" * MAX_PASSWORD_LENGTH, True),  # 512 typed, 128 after NFC
        ("\u0391\u0313\u0300\u0345" * (MAX_PASSWORD_LENGTH + 1), False),
        ("👨\u200d👩\u200d👧" * 2 + "ab", True),  # code points, not graphemes: 5 + 5 + 2
        ("👨\u200d👩\u200d👧" * 2, False),
    ],
)
def test_length_counts_code_points_after_nfc(password: str, accepted: bool) -> None:
    if accepted:
        check_password_policy(password)
    else:
        refusal(password)


@pytest.mark.parametrize(
    "password", ["password1234", "PASSWORD1234", "PassWord1234", "1qaz2wsx3edc", "SonyEricsson"]
)
def test_common_passwords_are_refused_case_insensitively(password: str) -> None:
    assert "commonly used" in refusal(password).message


def test_every_listed_password_long_enough_to_pass_the_length_rule_is_refused() -> None:
    long_enough = [entry for entry in common_passwords() if len(entry) >= MIN_PASSWORD_LENGTH]
    assert len(long_enough) > 200
    for entry in long_enough:
        assert "commonly used" in refusal(entry.upper()).message


def test_the_list_is_zxcvbns_ranked_password_list() -> None:
    # The shipped file is generated by scripts/make_common_passwords.py; this catches drift.
    # zxcvbn keeps the list in an internal module without type hints, hence import_module.
    frequency_lists = importlib.import_module("zxcvbn.frequency_lists")
    entries = frequency_lists.FREQUENCY_LISTS["passwords"]
    if isinstance(entries, str):
        entries = entries.split(",")
    assert len(common_passwords()) == len(set(entries)) >= 29_000
    assert common_passwords() == {entry.casefold() for entry in entries}


def test_the_list_ships_with_the_package() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    assert "accounts/*.txt" in package_data["quietshop"]


@pytest.mark.parametrize(
    "password",
    [
        "alexander.hamilton@example.com",
        "ALEXANDER.HAMILTON@EXAMPLE.COM",
        "Alexander.Hamilton",
        "alexander hamilton",
        "AlexanderHamilton",
    ],
)
def test_email_local_part_and_name_are_refused(password: str) -> None:
    message = refusal(password, email=EMAIL, name=NAME).message
    assert "email address or your name" in message


def test_personal_data_refusal_uses_canonical_caseless_matching() -> None:
    refusal("STRASSE-MÜLLER", name="straße-müller")
    refusal("josé.hernandez", email=unicodedata.normalize("NFD", "JOSÉ.HERNANDEZ@example.org"))


def test_passwords_merely_containing_personal_data_are_accepted() -> None:
    check_password_policy("alexander hamilton wrote", email=EMAIL, name=NAME)


@pytest.mark.parametrize(
    ("password", "personal"),
    [
        ("short pw", {}),
        (of_length(200), {}),
        ("password1234", {}),
        ("alexander.hamilton", {"email": EMAIL}),
        ("alexander hamilton", {"name": NAME}),
        ("\ud800 surrogate \udfff", {}),
        ("", {}),
    ],
)
def test_messages_never_contain_the_password(password: str, personal: dict[str, str]) -> None:
    error = refusal(password, **personal)
    for text in (str(error), error.message):
        assert not password or password.casefold() not in text.casefold()
        assert error.message.endswith(".")
