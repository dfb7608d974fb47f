"""Check digits for numbers people read aloud and type: customer and order numbers.

The Damm check digit catches every single-digit error and every swap of two adjacent
digits; Luhn, the usual choice, misses the swap 09 <-> 90.
"""

from __future__ import annotations

# Damm's totally anti-symmetric quasigroup of order 10 with a zero diagonal (H. M. Damm, 2004,
# the table everyone uses). Each row and column is a permutation, so one changed digit always
# changes the result; anti-symmetry makes every adjacent swap change it too.
DAMM_TABLE: tuple[tuple[int, ...], ...] = (
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


def is_ascii_digits(text: str) -> bool:
    # str.isdigit alone accepts fullwidth, Arabic-Indic and superscript digits: only the
    # ASCII 0-9 are digits of our numbers.
    return text.isascii() and text.isdigit()


def damm_interim(digits: str) -> int:
    """0 exactly when ``digits`` ends in its right check digit."""
    interim = 0
    for digit in digits:
        interim = DAMM_TABLE[interim][ord(digit) - ord("0")]
    return interim


def damm_check_digit(digits: str) -> str:
    """The Damm check digit to append to ``digits`` (ASCII 0-9 only, else ValueError)."""
    if digits and not is_ascii_digits(digits):
        raise ValueError("Damm check digits are computed over the ASCII digits 0-9 only")
    return str(damm_interim(digits))
