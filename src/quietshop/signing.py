"""The shop's signing key: HMAC for links that must not be forged (unsubscribe).

From QUIETSHOP_SECRET_KEY, or a random key generated once into ``data_dir/secret.key``
(mode 0600) for the embedded default. Never logged, never in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from quietshop.settings import Settings

MIN_KEY_CHARS = 32


def signing_key(settings: Settings) -> bytes:
    configured = settings.secret_key.get_secret_value()
    if configured:
        if len(configured) < MIN_KEY_CHARS:
            raise ValueError(f"QUIETSHOP_SECRET_KEY must have at least {MIN_KEY_CHARS} characters")
        return configured.encode()
    return _key_file(settings.data_dir / "secret.key")


def _key_file(path: Path) -> bytes:
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
