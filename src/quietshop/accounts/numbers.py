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

from quietshop.check_digits import damm_check_digit, damm_interim, is_ascii_digits

CUSTOMER_NUMBER_DIGITS = 10
_RANDOM_DIGITS = CUSTOMER_NUMBER_DIGITS - 1

# Shown like an IBAN on paper: groups of four from the left, the last group shorter.
_GROUP_SIZE = 4
# Spaces and hyphens, including the no-break and typographic ones that a copy from a mail,
# a PDF or a word processor brings along.
_SEPARATORS = frozenset(" -\u00a0\u202f\u2010\u2011\u2012\u2013")
_MAX_INPUT_LENGTH = 40  # generous for 10 digits and separators; longer text is not a number

# The operating system's generator: numbers must not be predictable from earlier ones.
_SYSTEM_RANDOM = secrets.SystemRandom()


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
        and is_ascii_digits(value)
        and value[0] != "0"
        and damm_interim(value) == 0
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
