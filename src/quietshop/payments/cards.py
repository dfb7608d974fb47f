"""Checking a card before anything is stored or sent (P8): pure functions, no database.

Every refusal is an ``InvalidInput`` naming its field (``card_number``, ``expiry``,
``name_on_card``, ``security_code``) with a message that never repeats what was typed: an
error body, a log line or a screen cannot carry a card number or a security code. The
objects that hold a card (``CardInput``, ``ValidCard``) show only the last four digits in
their repr and str, and never the security code or the name.

Brands, by prefix and length (the issuers' published ranges): Visa, Mastercard, American
Express, Discover, JCB and Diners Club. Maestro is not accepted: its ranges overlap the
others' and it is rarely taken card-not-present.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from quietshop.errors import InvalidInput

MIN_DIGITS, MAX_DIGITS = 12, 19
# Longer than any card number with a separator between every digit: refused unread.
MAX_NUMBER_TEXT = 2 * MAX_DIGITS + 8
MAX_NAME_CHARS = 200
MAX_YEARS_AHEAD = 20  # cards are issued for at most about ten years
_NUMBER_TEXT = re.compile(r"[0-9 \-]+")  # ASCII digits only: "٤٢" is not a card number
_EXPIRY_TEXT = re.compile(r"([0-9]{1,2}) ?[/-] ?([0-9]{2}|[0-9]{4})")
_DIGITS = re.compile(r"[0-9]+")
MASK = "••••"


class Brand(StrEnum):
    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    JCB = "jcb"
    DINERS = "diners"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def security_code_digits(self) -> int:
        return 4 if self is Brand.AMEX else 3


_LABELS = {
    Brand.VISA: "Visa",
    Brand.MASTERCARD: "Mastercard",
    Brand.AMEX: "American Express",
    Brand.DISCOVER: "Discover",
    Brand.JCB: "JCB",
    Brand.DINERS: "Diners Club",
}


@dataclass(frozen=True)
class _Rule:
    brand: Brand
    prefixes: tuple[tuple[str, str], ...]  # inclusive ranges of equally long prefixes
    lengths: tuple[int, ...]

    def matches_prefix(self, number: str) -> bool:
        return any(low <= number[: len(low)] <= high for low, high in self.prefixes)


_RULES = (
    _Rule(Brand.VISA, (("4", "4"),), (13, 16, 19)),
    _Rule(Brand.MASTERCARD, (("51", "55"), ("2221", "2720")), (16,)),
    _Rule(Brand.AMEX, (("34", "34"), ("37", "37")), (15,)),
    _Rule(
        Brand.DISCOVER,
        (("6011", "6011"), ("644", "649"), ("65", "65"), ("622126", "622925")),
        tuple(range(16, 20)),
    ),
    _Rule(Brand.JCB, (("3528", "3589"),), tuple(range(16, 20))),
    _Rule(Brand.DINERS, (("36", "36"), ("300", "305"), ("38", "39")), tuple(range(14, 20))),
)
ACCEPTED = (
    "We accept Visa, Mastercard, American Express, Discover, JCB and Diners Club; "
    "this number is none of them"
)


# ---------------------------------------------------------------- the number


def normalise_card_number(text: str) -> str:
    """The digits of a card number typed with or without spaces and dashes."""
    if not isinstance(text, str):
        raise InvalidInput("card_number", "enter the card number as text")
    if len(text) > MAX_NUMBER_TEXT:
        raise InvalidInput("card_number", "that is longer than any card number")
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("card_number", "enter the card number")
    if not _NUMBER_TEXT.fullmatch(stripped):
        raise InvalidInput(
            "card_number", "use digits only (spaces and dashes between them are fine)"
        )
    digits = stripped.replace(" ", "").replace("-", "")
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise InvalidInput("card_number", f"a card number has {MIN_DIGITS} to {MAX_DIGITS} digits")
    return digits


def luhn_ok(number: str) -> bool:
    """The Luhn check digit (ISO/IEC 7812) is right: catches every single mistyped digit and
    most swaps of two neighbours."""
    if not number or not number.isascii() or not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _rule_by_prefix(number: str) -> _Rule | None:
    return next((rule for rule in _RULES if rule.matches_prefix(number)), None)


def brand_of(number: str) -> Brand | None:
    """The brand whose prefix and length fit these digits, or None."""
    rule = _rule_by_prefix(number)
    if rule is None or len(number) not in rule.lengths:
        return None
    return rule.brand


def _lengths_text(lengths: tuple[int, ...]) -> str:
    if len(lengths) == 1:
        return str(lengths[0])
    if lengths == tuple(range(lengths[0], lengths[-1] + 1)):
        return f"{lengths[0]} to {lengths[-1]}"
    return ", ".join(str(n) for n in lengths[:-1]) + f" or {lengths[-1]}"


def check_card_number(text: str) -> tuple[str, Brand]:
    """Normalised digits and their brand, or InvalidInput("card_number", ...)."""
    number = normalise_card_number(text)
    rule = _rule_by_prefix(number)
    if rule is None:
        raise InvalidInput("card_number", ACCEPTED)
    if len(number) not in rule.lengths:
        raise InvalidInput(
            "card_number",
            f"{rule.brand.label} card numbers have {_lengths_text(rule.lengths)} digits",
        )
    if not luhn_ok(number):
        raise InvalidInput("card_number", "this card number is not valid; check the digits")
    return number, rule.brand


# ---------------------------------------------------------------- expiry


def _as_number(value: int | str, field: str, message: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(field, message)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and 0 < len(value.strip()) <= 4 and value.strip().isascii():
        text = value.strip()
        if text.isdigit():
            return int(text)
    raise InvalidInput(field, message)


def parse_expiry(month: int | str, year: int | str | None = None) -> tuple[int, int]:
    """(month, four-digit year) from a month and a year, or from one text "MM/YY" (also
    "MM/YYYY", "MM-YY") when ``year`` is None."""
    message = "give the expiry as MM/YY, as printed on the card"
    if year is None:
        if not isinstance(month, str) or len(month) > 16:
            raise InvalidInput("expiry", message)
        found = _EXPIRY_TEXT.fullmatch(month.strip())
        if found is None:
            raise InvalidInput("expiry", message)
        month, year = found.group(1), found.group(2)
    month_number = _as_number(month, "expiry", message)
    year_number = _as_number(year, "expiry", message)
    if not 1 <= month_number <= 12:
        raise InvalidInput("expiry", "the expiry month is 01 to 12")
    if 0 <= year_number <= 99 and (isinstance(year, int) or len(str(year).strip()) == 2):
        year_number += 2000
    if not 2000 <= year_number <= 2099:
        raise InvalidInput("expiry", message)
    return month_number, year_number


def check_not_expired(month: int, year: int, now: datetime) -> None:
    """A card is valid through the last day of its expiry month (in UTC)."""
    if (year, month) < (now.year, now.month):
        raise InvalidInput("expiry", "this card has expired")
    if year > now.year + MAX_YEARS_AHEAD:
        raise InvalidInput("expiry", "that expiry is too far ahead; check the year")


# ---------------------------------------------------------------- security code, name


def check_security_code(code: str, brand: Brand) -> str:
    """The code's digits: 4 for American Express (front), 3 for the others (back). The
    code is only ever passed to the authorization call, never stored."""
    digits = brand.security_code_digits
    where = "on the front" if brand is Brand.AMEX else "on the back"
    message = f"the security code is the {digits} digits {where} of the card"
    if not isinstance(code, str) or len(code) > 8:
        raise InvalidInput("security_code", message)
    text = code.strip()
    if len(text) != digits or not text.isascii() or not text.isdigit():
        raise InvalidInput("security_code", message)
    return text


def check_name_on_card(name: str) -> str:
    """The name as printed: 1 to 200 characters, no control characters."""
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS * 2:
        raise InvalidInput("name_on_card", f"at most {MAX_NAME_CHARS} characters")
    text = " ".join(name.split())
    if not text:
        raise InvalidInput("name_on_card", "enter the name as printed on the card")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidInput("name_on_card", f"at most {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise InvalidInput("name_on_card", "use letters, spaces and punctuation only")
    return text


# ---------------------------------------------------------------- storing a card


def card_associated_data(order_id: int) -> bytes:
    """What a stored card number's ciphertext is bound to: its order. Copied onto another
    order's row, it no longer decrypts."""
    return f"payment_card:{order_id}".encode()


# ---------------------------------------------------------------- showing a card


def mask(last4: str, brand: Brand) -> str:
    """The only form a card is shown in: "Visa •••• 4242"."""
    if len(last4) != 4 or not last4.isascii() or not last4.isdigit():
        raise ValueError("last4 must be four digits")
    return f"{brand.label} {MASK} {last4}"


def _masked_text(text: object) -> str:
    """The last four digits of whatever was typed, if it looks like a card number at all."""
    digits = "".join(_DIGITS.findall(text)) if isinstance(text, str) else ""
    return f"{MASK} {digits[-4:]}" if len(digits) >= MIN_DIGITS else MASK


@dataclass(frozen=True, kw_only=True)
class CardInput:
    """A card as the customer typed it, not yet checked. ``expiry_year`` None means
    ``expiry_month`` holds "MM/YY". Its repr and str show the last four digits only, so it
    can never reach a log by accident."""

    number: str
    expiry_month: int | str
    expiry_year: int | str | None = None
    name: str
    security_code: str

    def __repr__(self) -> str:
        return f"CardInput(number={_masked_text(self.number)!r}, security_code=<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True, kw_only=True)
class ValidCard:
    """A checked card: digits only, its brand, expiry as (month, four-digit year)."""

    number: str
    brand: Brand
    last4: str
    exp_month: int
    exp_year: int
    name: str

    @property
    def masked(self) -> str:
        return mask(self.last4, self.brand)

    def __repr__(self) -> str:
        return f"ValidCard({self.masked!r}, expires {self.exp_month:02d}/{self.exp_year})"

    __str__ = __repr__


def validate_card(card: CardInput, now: datetime) -> ValidCard:
    """The checked card, or InvalidInput for the first field that is wrong (number, expiry,
    name, security code). The security code is checked here but not kept: the checked card
    has no place for it, and the caller hands ``check_security_code(card.security_code,
    valid.brand)`` straight to the authorization call."""
    number, brand = check_card_number(card.number)
    month, year = parse_expiry(card.expiry_month, card.expiry_year)
    check_not_expired(month, year, now)
    name = check_name_on_card(card.name)
    check_security_code(card.security_code, brand)
    return ValidCard(
        number=number, brand=brand, last4=number[-4:], exp_month=month, exp_year=year, name=name
    )
