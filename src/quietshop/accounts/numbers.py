"""Customer numbers (P9): random, permanent, ten digits, the last a Damm check digit.

A customer number is an identifier read aloud on the phone and typed from mails, so its one
job beyond being unique is to catch typing and reading mistakes. The Damm check digit catches
every single-digit error and every swap of two adjacent digits; Luhn, the usual choice, misses
the swap 09 <-> 90. The nine other digits are random rather than sequential so that a number
says nothing about how many customers there are or when someone registered, and cannot be
guessed from a neighbour's. It is never a secret: customer service asks for a second fact.

Nine random digits give 900 million numbers, so collisions become likely after some tens of
thousands of customers (birthday bound): whoever stores a number must keep it unique (a unique
constraint) and draw again on a clash.
"""

from __future__ import annotations

import random
import secrets

CUSTOMER_NUMBER_DIGITS = 10
_RANDOM_DIGITS = CUSTOMER_NUMBER_DIGITS - 1

# Damm's totally anti-symmetric quasigroup of order 10 with a zero diagonal (H. M. Damm, 2004,
# the table everyone uses). Each row and column is a permutation, so one changed digit always
# changes the result; anti-symmetry makes every adjacent swap change it too.
_DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Shown like an IBAN on paper: groups of four from the left, the last group shorter.
_GROUP_SIZE = 4
# Spaces and hyphens, including the no-break and typographic ones that a copy from a mail,
# a PDF or a word processor brings along.
_SEPARATORS = frozenset(" -\u00a0\u202f\u2010\u2011\u2012\u2013")
_MAX_INPUT_LENGTH = 40  # generous for 10 digits and separators; longer text is not a number

# The operating system's generator: numbers must not be predictable from earlier ones.
_SYSTEM_RANDOM = secrets.SystemRandom()


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit alone accepts fullwidth, Arabic-Indic and superscript digits: only the
    # ASCII 0-9 are customer-number digits.
    return text.isascii() and text.isdigit()


def _damm_interim(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = _DAMM_TABLE[interim][ord(digit) - ord("0")]
    return interim


def damm_check_digit(digits: str) -> str:
    """The Damm check digit to append to ``digits`` (ASCII 0-9 only, else ValueError)."""
    if digits and not _is_ascii_digits(digits):
        raise ValueError("Damm check digits are computed over the ASCII digits 0-9 only")
    return str(_damm_interim(digits))


def new_customer_number(random_source: random.Random | None = None) -> str:
    """A fresh random customer number: nine random digits (no leading 0) and a check digit.

    ``random_source`` is for reproducible tests (a seeded ``random.Random``); production uses
    the system's cryptographic generator (``secrets.SystemRandom`` is a ``random.Random``).
    """
    source = random_source if random_source is not None else _SYSTEM_RANDOM
    # No leading zero, so the number keeps its length wherever it is treated as an integer.
    body = str(source.randrange(10 ** (_RANDOM_DIGITS - 1), 10**_RANDOM_DIGITS))
    return body + damm_check_digit(body)


def is_valid_customer_number(value: object) -> bool:
    """True for exactly ten ASCII digits, not starting with 0, whose check digit is right.

    Accepts any object and never raises, so it can guard raw input directly.
    """
    return (
        isinstance(value, str)
        and len(value) == CUSTOMER_NUMBER_DIGITS
        and _is_ascii_digits(value)
        and value[0] != "0"
        and _damm_interim(value) == 0
    )


def format_customer_number(value: str) -> str:
    """The number for display, in groups of four: ``"4821 0937 56"`` (ValueError if invalid)."""
    if not is_valid_customer_number(value):
        raise ValueError("not a valid customer number")
    groups = [value[i : i + _GROUP_SIZE] for i in range(0, len(value), _GROUP_SIZE)]
    return " ".join(groups)


def parse_customer_number(text: object) -> str | None:
    """The canonical ten digits of a typed number, or None if it is not a valid one.

    Spaces and hyphens anywhere are ignored, so the displayed form, the plain digits and a
    caller's own grouping all work. Never raises.
    """
    if not isinstance(text, str) or len(text) > _MAX_INPUT_LENGTH:
        return None
    digits = "".join(char for char in text.strip() if char not in _SEPARATORS)
    return digits if is_valid_customer_number(digits) else None
