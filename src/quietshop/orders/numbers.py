"""Order numbers: "QS" and nine random digits, the last a Damm check digit.

Random rather than the internal id, so a number says nothing about how many orders the
shop takes and cannot be guessed from a neighbour's. It is not a secret either: nobody
sees an order by its number alone (a guest needs the signed link from the order mail).
Shown as ``QS-4821-93057``; typed in any case, with or without the hyphens.
"""

from __future__ import annotations

import re
import secrets

from quietshop.check_digits import damm_check_digit, damm_interim

PREFIX = "QS"
_RANDOM_DIGITS = 8
_SYSTEM_RANDOM = secrets.SystemRandom()
_TYPED = re.compile(r"^\s*QS[-\s]?(\d{4})[-\s]?(\d{5})\s*$", re.IGNORECASE)


def new_order_number() -> str:
    body = str(_SYSTEM_RANDOM.randrange(10 ** (_RANDOM_DIGITS - 1), 10**_RANDOM_DIGITS))
    return f"{PREFIX}{body}{damm_check_digit(body)}"


def is_valid_order_number(value: object) -> bool:
    if not isinstance(value, str) or len(value) != len(PREFIX) + _RANDOM_DIGITS + 1:
        return False
    digits = value[len(PREFIX) :]
    return (
        value.startswith(PREFIX)
        and digits.isascii()
        and digits.isdigit()
        and (damm_interim(digits) == 0)
    )


def parse_order_number(text: object) -> str | None:
    """The canonical form of a typed order number, or None if it is not a valid one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    match = _TYPED.match(text)
    if match is None:
        return None
    number = PREFIX + match.group(1) + match.group(2)
    return number if is_valid_order_number(number) else None


def format_order_number(number: str) -> str:
    digits = number[len(PREFIX) :]
    return f"{PREFIX}-{digits[:4]}-{digits[4:]}"
