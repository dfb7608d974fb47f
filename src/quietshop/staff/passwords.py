"""Staff passwords (P7, P8): argon2id hashes, and the rule a staff password must meet.

PCI DSS 8.3.6 asks for at least 12 characters with both letters and digits, which is
stricter than the customers' rule (no composition rules, NIST SP 800-63B). The hashing is
the customers' (argon2id, m=19 MiB, t=2, p=1, NFC first), made here with argon2-cffi
directly: accounts' password module is that domain's inside, and its common-password list
is not offered through ``accounts.service``.
"""

from __future__ import annotations

import secrets
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import Argon2Error

from quietshop.errors import InvalidInput

# The same costs as the customers' hashes (accounts/passwords.py, bench/results-passwords.md).
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST_KIB = 19456
ARGON2_PARALLELISM = 1

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
# NFC merges at most 4 code points into one: longer text is too long whatever NFC makes of
# it, and is refused before it costs anything (a 10 MB "password").
_RAW_LENGTH_LIMIT = 4 * MAX_PASSWORD_LENGTH
_FIELD = "password"

_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_COST_KIB,
    parallelism=ARGON2_PARALLELISM,
    type=Type.ID,
)


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def check_password_rule(password: str) -> None:
    """Raise InvalidInput("password", ...) unless ``password`` has 12 to 128 characters
    (code points after NFC) with at least one letter and one digit. Messages never repeat
    the password."""
    if not isinstance(password, str) or not password:
        raise InvalidInput(_FIELD, "Enter a password.")
    if len(password) > _RAW_LENGTH_LIMIT:
        raise InvalidInput(_FIELD, f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            _FIELD, "The password contains characters that cannot be used."
        ) from None
    normalised = _normalise(password)
    if len(normalised) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(_FIELD, f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(normalised) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(_FIELD, f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if not any(character.isalpha() for character in normalised):
        raise InvalidInput(_FIELD, "Use letters as well as digits.")
    if not any(character.isdigit() for character in normalised):
        raise InvalidInput(_FIELD, "Use at least one digit as well as letters.")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (after NFC). Check the rule first."""
    return _HASHER.hash(_normalise(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False for none or a malformed one.
    Never raises. Without a stored hash the dummy one is checked, so the answer takes as
    long as for a wrong password."""
    if not isinstance(password, str) or len(password) > _RAW_LENGTH_LIMIT:
        return False
    try:
        matched = _HASHER.verify(stored_hash or DUMMY_HASH, _normalise(password))
    except (Argon2Error, ValueError):
        # A mismatch, a hash that does not decode, or text that cannot be UTF-8 encoded.
        return False
    return matched and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except (Argon2Error, ValueError):
        return True


def spend_time() -> None:
    """Cost what checking a password costs, for an answer that must not be quicker (an
    unknown address, a disabled or locked account)."""
    verify_password(None, secrets.token_urlsafe(16))


# Verified against when there is no stored hash; its password is thrown away.
DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(32))
