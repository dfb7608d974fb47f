"""The shop's secret key: HMAC for links that must not be forged (unsubscribe), and
AES-256-GCM sealing for secrets that must wait somewhere until they are sent (the
one-time links of a queued mail).

From QUIETSHOP_SECRET_KEY (required outside the demo, the same on every node), or in the
demo a random key generated once into ``data_dir/secret.key`` (mode 0600). Never
logged, never in the database.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from quietshop.errors import EnvironmentProblem
from quietshop.settings import MIN_SECRET_KEY_CHARS, Settings

_NONCE_BYTES = 12


class MissingSecretKey(EnvironmentProblem):
    """Outside the demo the key must be configured: a generated one would differ per node."""


def signing_key(settings: Settings) -> bytes:
    configured = settings.secret_key.get_secret_value()
    if configured:
        if len(configured) < MIN_SECRET_KEY_CHARS:
            raise MissingSecretKey(
                f"QUIETSHOP_SECRET_KEY must have at least {MIN_SECRET_KEY_CHARS} characters"
            )
        return configured.encode()
    if not settings.demo:
        raise MissingSecretKey("QUIETSHOP_SECRET_KEY is not set (outside the demo it must be)")
    return _key_file(settings.data_dir / "secret.key")


# The demo's key, read once per process and path: it never changes once made, and
# placing an order asks for the key three times (bench/order_cpu.py).
@functools.lru_cache(maxsize=16)
def _key_file(path: Path) -> bytes:
    return _read_or_make_key_file(path)


def _read_or_make_key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes().strip()  # another process made it first
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()


def sign(key: bytes, purpose: str, value: str) -> str:
    """A MAC of ``value`` for one purpose, so a signature for one use fits no other."""
    digest = hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def verify(key: bytes, purpose: str, value: str, signature: str) -> bool:
    return hmac.compare_digest(sign(key, purpose, value), signature)


@functools.lru_cache(maxsize=64)
def _sealing_key(key: bytes, purpose: str) -> bytes:
    # One derived key per purpose: the raw key never meets AES, and a sealed value made for
    # one purpose does not open for another.
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"quietshop seal {purpose}".encode()
    ).derive(key)


def seal(key: bytes, purpose: str, plaintext: bytes) -> str:
    """AES-256-GCM with a random nonce, as URL-safe base64 text for a database column."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_sealing_key(key, purpose)).encrypt(nonce, plaintext, purpose.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


class UnsealError(ValueError):
    """The sealed text was altered, or sealed with another key or for another purpose."""


def unseal(key: bytes, purpose: str, sealed_text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(sealed_text.encode())
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return AESGCM(_sealing_key(key, purpose)).decrypt(nonce, sealed, purpose.encode())
    except (InvalidTag, ValueError) as error:
        raise UnsealError("cannot unseal: altered, or sealed with another key") from error
