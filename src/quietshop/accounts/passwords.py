"""Passwords (P8): argon2id hashes, and the policy a new password must meet.

The policy follows NIST SP 800-63B and OWASP's advice: long enough, no composition rules,
not a known common password, not the customer's own email address or name. Passwords are
compared and hashed in Unicode NFC, so the same password typed on a keyboard that sends
composed characters and on one that sends combining marks is the same password.
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import Argon2Error

from quietshop.errors import InvalidInput

# OWASP's minimum for argon2id (m=19 MiB, t=2, p=1): about 20-50 ms a hash here, which keeps
# sign-in quick for people and offline guessing slow. Raise them together with bench/.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST_KIB = 19456
ARGON2_PARALLELISM = 1

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128

# NFC merges at most 4 code points into one (U+1F82 is the longest canonical decomposition that
# composes back), so text longer than this is too long whatever NFC makes of it: refusing it
# before normalising keeps a 10 MB "password" from costing anything.
_RAW_LENGTH_LIMIT = 4 * MAX_PASSWORD_LENGTH

_COMMON_PASSWORDS_FILE = "common_passwords.txt"
_FIELD = "password"

_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_COST_KIB,
    parallelism=ARGON2_PARALLELISM,
    type=Type.ID,
)


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def _fold(text: str) -> str:
    # Unicode's canonical caseless match (NFD, casefold, NFD): "Straße" matches "STRASSE".
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).casefold())


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (after NFC), in the PHC string format.

    Check the policy first: this hashes whatever it gets, and raises ValueError for text that
    cannot be encoded as UTF-8 (lone surrogates), which the policy refuses.
    """
    return _HASHER.hash(_normalise(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False for a malformed hash. Never raises."""
    if not isinstance(stored_hash, str) or not isinstance(password, str):
        return False
    if len(password) > _RAW_LENGTH_LIMIT:
        # No stored password is this long (the policy refused it), so there is nothing to try.
        return False
    try:
        return _HASHER.verify(stored_hash, _normalise(password))
    except (Argon2Error, ValueError):
        # Argon2Error: a mismatch or a hash that does not decode; ValueError: an unreadable
        # hash string, unsupported parameters, or text that cannot be UTF-8 encoded.
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with other parameters than today's (or is unreadable).

    Rehash after a successful sign-in, when the plain password is at hand.
    """
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except (Argon2Error, ValueError):
        return True


# Verified against when the email is unknown, so that sign-in takes as long as for a wrong
# password and its timing does not tell who has an account. Its password is thrown away.
DUMMY_HASH = hash_password(secrets.token_urlsafe(32))


@functools.cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's ranked list of common passwords, case-folded (loaded once, on first use)."""
    data = resources.files("quietshop.accounts").joinpath(_COMMON_PASSWORDS_FILE)
    lines = data.read_text(encoding="utf-8").splitlines()
    return frozenset(_fold(line) for line in lines if line and not line.startswith("#"))


def _personal_forms(email: str, name: str) -> set[str]:
    """The forms of the customer's email address and name a password must not equal."""
    folded_email = _fold(email.strip())
    folded_name = _fold(name.strip())
    forms = {
        folded_email,
        folded_email.rpartition("@")[0],
        folded_name,
        "".join(folded_name.split()),  # "Ada Lovelace" typed as "adalovelace"
    }
    forms.discard("")
    return forms


def check_password_policy(password: str, *, email: str = "", name: str = "") -> None:
    """Raise InvalidInput("password", ...) unless ``password`` may be used.

    12 to 128 characters (Unicode code points after NFC), no composition rules, not on the
    common-password list, not the customer's email address, its local part or their name
    (all compared case-insensitively). Messages never repeat the password.
    """
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
    _check_length(_normalise(password))
    folded = _fold(password)
    if folded in common_passwords():
        raise InvalidInput(
            _FIELD, "This is one of the most commonly used passwords; choose another."
        )
    if folded in _personal_forms(email, name):
        raise InvalidInput(_FIELD, "Do not use your email address or your name as your password.")


def _check_length(normalised: str) -> None:
    if len(normalised) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(_FIELD, f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(normalised) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(_FIELD, f"Use at most {MAX_PASSWORD_LENGTH} characters.")
