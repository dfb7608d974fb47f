"""Data keys and AES-256-GCM field encryption (P8): card numbers at rest, later staff secrets.

The keys live in one JSON file outside the database (``data_dir/keyring.json``), so a copy
of the database alone, a dump or a stolen backup, holds no readable card number. The file
lists data keys (an 8-hex id, when it was made, 32 random bytes) and names the active one:
new ciphertexts use the active key, and every key stays until ``retire`` so older
ciphertexts still open. Each ciphertext is stored with its key's id.

The file rules:

- Written atomically (a temporary file in the same folder, fsync, ``os.replace``, fsync of
  the folder): a crash leaves the old keyring or the new one, never half of one.
- Mode 0600, and a keyring that other users can read or write is **refused**, not just
  warned about (as ssh refuses a private key others can read): a warning scrolls by in a
  log, while the refusal names the one command that fixes it.
- Changes (create, rotate, retire) hold an exclusive lock on ``keyring.json.lock`` and
  re-read the file first, so two ``keys rotate`` at once cannot lose a key.
- A keyring that another process has rotated is re-read when a ciphertext names a key this
  one has not seen, and ``encrypt`` looks at the file at most once a second, so a running
  server moves to the new active key soon after ``quietshop keys rotate``. With several
  machines, copy the file to each after a rotation.

Outside the demo a missing keyring is an environment problem (``quietshop keys init`` makes
it); in the demo and tests it is created on first use. Key material is never logged and
never in a repr. Nonces are 96 random bits, safe for far more encryptions per key than a
shop makes between rotations.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quietshop.errors import EnvironmentProblem, InvalidInput, NotFound
from quietshop.settings import Settings

FORMAT = "quietshop keyring"
VERSION = 1
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, the size GCM is made for
MAX_FILE_BYTES = 1024 * 1024  # thousands of keys; anything larger is not a keyring
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")  # fits the 16-character key_id columns
NOTE = (
    "Data keys for the card numbers Quietshop stores. Keep a backup somewhere safe and "
    "apart from the database backups: without this file stored cards cannot be read."
)


class KeyringProblem(EnvironmentProblem):
    """Something is wrong with the keyring file; the message says what to do, in one line."""


class MissingKeyring(KeyringProblem):
    """Outside the demo no keyring is made behind the operator's back."""


class KeyringExists(KeyringProblem):
    """``create`` never overwrites: that would make every stored card unreadable."""


class DamagedKeyring(KeyringProblem):
    """The file does not parse as a keyring; nothing was changed."""


class UnsafeKeyringFile(KeyringProblem):
    """Other users can read or write the file."""


class UnknownKey(KeyringProblem):
    """A ciphertext names a key this keyring does not hold (not even after re-reading it)."""

    def __init__(self, key_id: str, path: Path) -> None:
        super().__init__(
            f"no data key {key_id!r} in the keyring {path}: copy the newest keyring file "
            "to this machine (after `quietshop keys rotate` every machine needs it)"
        )
        self.key_id = key_id


class DecryptionFailed(ValueError):
    """The ciphertext was altered, or belongs to another row (its associated data differs)."""


@dataclass(frozen=True)
class Sealed:
    """A ciphertext (nonce, then AES-GCM output) and the id of the key that made it."""

    key_id: str
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id!r}, {len(self.ciphertext)} bytes)"


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never the key itself."""

    id: str
    created_at: datetime
    active: bool


@dataclass(frozen=True)
class _DataKey:
    id: str
    created_at: datetime
    secret: bytes = field(repr=False)
    aead: AESGCM = field(repr=False, compare=False)

    @classmethod
    def new(cls, key_id: str, created_at: datetime, secret: bytes) -> _DataKey:
        return cls(key_id, created_at, secret, AESGCM(secret))


@dataclass(frozen=True)
class _State:
    """One consistent view of the file; replaced whole, so readers never see half of one."""

    active: str
    keys: dict[str, _DataKey]
    identity: tuple[int, int] = (0, 0)  # the file's (inode, mtime) when it was read


class Keyring:
    """The keyring file, loaded. Build it with ``load``, ``create`` or ``load_or_create``."""

    # How often encrypt() looks whether another process has rotated the file.
    follow_seconds = 1.0

    def __init__(self, path: Path, state: _State) -> None:
        self.path = path
        self._state = state
        self._reload_lock = threading.Lock()
        self._looked_at = time.monotonic()

    def __repr__(self) -> str:
        state = self._state
        return f"Keyring({str(self.path)!r}, active={state.active!r}, keys={len(state.keys)})"

    # ------------------------------------------------------------ opening

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """The keyring at ``path``; MissingKeyring, UnsafeKeyringFile or DamagedKeyring."""
        return cls(path, _read(path))

    @classmethod
    def create(cls, path: Path, now: datetime) -> Keyring:
        """A new keyring with one key, written with mode 0600; KeyringExists if there is one."""
        _require_aware(now)
        with _locked(path):
            if path.exists():
                raise KeyringExists(f"a keyring already exists at {path}; it was left as it is")
            state = _write(path, *_added_key({}, now))
        return cls(path, state)

    @classmethod
    def load_or_create(cls, path: Path, now: datetime) -> Keyring:
        """The demo's and the tests' way in: the keyring at ``path``, made first if absent."""
        _require_aware(now)
        with _locked(path):
            if not path.exists():
                return cls(path, _write(path, *_added_key({}, now)))
        return cls.load(path)

    # ------------------------------------------------------------ using

    @property
    def active_key_id(self) -> str:
        return self._state.active

    def key_infos(self) -> list[KeyInfo]:
        """Every key, oldest first, without its secret."""
        state = self._state
        return [
            KeyInfo(key.id, key.created_at, key.id == state.active)
            for key in sorted(state.keys.values(), key=lambda key: key.created_at)
        ]

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> Sealed:
        """AES-256-GCM under the active key. ``associated_data`` names the row the
        ciphertext belongs to (``b"payment_card:<order id>"``): moved to another row, it
        no longer opens."""
        if not associated_data:
            raise ValueError("associated data is required: it binds the ciphertext to its row")
        self._follow_file()
        state = self._state
        key = state.keys[state.active]
        nonce = os.urandom(NONCE_BYTES)
        return Sealed(key.id, nonce + key.aead.encrypt(nonce, plaintext, associated_data))

    def decrypt(self, key_id: str, ciphertext: bytes, associated_data: bytes) -> bytes:
        """The plaintext; UnknownKey for a key this keyring lacks, DecryptionFailed for a
        ciphertext altered or taken from another row."""
        key = self._key(key_id)
        nonce, sealed = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
        if len(nonce) < NONCE_BYTES:
            raise DecryptionFailed("the ciphertext is too short to be one")
        try:
            return key.aead.decrypt(nonce, sealed, associated_data)
        except InvalidTag:
            raise DecryptionFailed(
                "the ciphertext was altered, or belongs to another row"
            ) from None

    def _key(self, key_id: str) -> _DataKey:
        key = self._state.keys.get(key_id)
        if key is None:
            # Another process may have rotated since this one read the file.
            self.reload()
            key = self._state.keys.get(key_id)
        if key is None:
            raise UnknownKey(key_id, self.path)
        return key

    def _follow_file(self) -> None:
        """Pick up a rotation by another process within ``follow_seconds``, so that new
        ciphertexts do not go on landing under the old key (which then cannot be retired)."""
        now = time.monotonic()
        if now - self._looked_at < self.follow_seconds:
            return
        self._looked_at = now
        try:
            identity = _identity(os.stat(self.path))
        except OSError:
            return  # keep the keys in hand; decrypt will name the problem if it matters
        if identity != self._state.identity:
            with contextlib.suppress(KeyringProblem):
                self.reload()

    def reload(self) -> None:
        """Read the file again (after a rotation by another process)."""
        with self._reload_lock:
            self._state = _read(self.path)

    # ------------------------------------------------------------ changing

    def rotate(self, now: datetime) -> str:
        """Add a key and make it the active one; older keys stay, so their ciphertexts still
        open. Returns the new key's id. Re-encrypting old ciphertexts is the caller's."""
        _require_aware(now)
        with _locked(self.path):
            current = _read(self.path)  # the file, not memory: another rotation may have run
            state = _write(self.path, *_added_key(current.keys, now))
            self._state = state
        return state.active

    def retire(self, key_id: str) -> None:
        """Remove a key. Only once no ciphertext uses it: the caller checks (a ciphertext
        under a retired key is lost for good). The active key cannot be retired."""
        with _locked(self.path):
            current = _read(self.path)
            if key_id not in current.keys:
                raise NotFound("data key")
            if key_id == current.active:
                raise InvalidInput("key_id", "the active key cannot be retired; rotate first")
            keys = {kid: key for kid, key in current.keys.items() if kid != key_id}
            self._state = _write(self.path, current.active, keys)


# ---------------------------------------------------------------- the shop's keyring


def open_keyring(settings: Settings, now: datetime) -> Keyring:
    """The shop's keyring (``settings.keyring_path``, beside the database and never in it):
    made on first use in the demo, required everywhere else."""
    path = settings.keyring_path
    if settings.demo:
        return Keyring.load_or_create(path, now)
    if not path.exists():
        raise MissingKeyring(
            f"no keyring at {path.resolve()}: run `quietshop keys init` once, keep a backup "
            "of the file, and give every machine the same copy"
        )
    return Keyring.load(path)


# ---------------------------------------------------------------- the file


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("naive datetime given; the keyring records UTC-aware times only")


def _added_key(keys: dict[str, _DataKey], now: datetime) -> tuple[str, dict[str, _DataKey]]:
    key_id = secrets.token_hex(4)
    while key_id in keys:  # one chance in four billion per key; cheap to rule out
        key_id = secrets.token_hex(4)
    return key_id, {**keys, key_id: _DataKey.new(key_id, now, secrets.token_bytes(KEY_BYTES))}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside the keyring, held while it is read, changed and written."""
    import fcntl  # POSIX; the shop runs on Linux and macOS

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_ino, status.st_mtime_ns


def _write(path: Path, active: str, keys: dict[str, _DataKey]) -> _State:
    """Write the keyring atomically; the state as written (call with the lock held)."""
    body = {
        "format": FORMAT,
        "version": VERSION,
        "note": NOTE,
        "active": active,
        "keys": [
            {
                "id": key.id,
                "created_at": key.created_at.isoformat(),
                "key": base64.b64encode(key.secret).decode("ascii"),
            }
            for key in sorted(keys.values(), key=lambda key: key.created_at)
        ],
    }
    data = (json.dumps(body, indent=2) + "\n").encode("utf-8")
    # mkstemp makes the file 0600 from the start: the keys are never readable by others,
    # not even for the moment before a chmod.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)
    return _State(active, keys, _identity(os.stat(path)))


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the folder's entry is on disk too.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> _State:
    try:
        with open(path, "rb") as file:
            status = os.fstat(file.fileno())
            _check_private(path, status)
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise MissingKeyring(
            f"no keyring at {path}: run `quietshop keys init`, or restore it from a backup"
        ) from None
    except OSError as error:  # a folder, no permission, an I/O error
        raise KeyringProblem(f"cannot read the keyring {path}: {error.strerror}") from None
    try:
        active, keys = _parse(data)
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise DamagedKeyring(
            f"the keyring {path} is damaged ({_reason(error)}); restore it from a backup"
        ) from None
    return _State(active, keys, _identity(status))


def _check_private(path: Path, status: os.stat_result) -> None:
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        raise UnsafeKeyringFile(
            f"the keyring {path} is open to other users (mode {mode:04o}); "
            f"run `chmod 600 {path}` and check who may have copied it"
        )


def _reason(error: Exception) -> str:
    # json's own messages name a line and column, never the text around it, and _parse's
    # name the part that is wrong: neither can carry key material into a log.
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON: {error.msg} at line {error.lineno}"
    if isinstance(error, KeyError):
        return f"{error.args[0]!r} is missing"
    return str(error)


def _parse(data: bytes) -> tuple[str, dict[str, _DataKey]]:
    if len(data) > MAX_FILE_BYTES:
        raise ValueError("larger than any keyring")
    body = json.loads(data.decode("utf-8"))
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValueError("not a Quietshop keyring")
    if body["version"] != VERSION:
        raise ValueError(f"version {body['version']!r}; this Quietshop reads version {VERSION}")
    entries = body["keys"]
    if not isinstance(entries, list) or not entries:
        raise ValueError("it lists no keys")
    keys: dict[str, _DataKey] = {}
    for number, entry in enumerate(entries, start=1):
        key = _parse_key(entry, number)
        if key.id in keys:
            raise ValueError(f"key id {key.id!r} appears twice")
        keys[key.id] = key
    active = body["active"]
    if not isinstance(active, str) or active not in keys:
        raise ValueError("the active key is not among its keys")
    return active, keys


def _parse_key(entry: Any, number: int) -> _DataKey:
    if not isinstance(entry, dict):
        raise ValueError(f"key {number} is not an object")
    key_id = entry["id"]
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        raise ValueError(f"key {number} has no valid id")
    try:
        created_at = datetime.fromisoformat(entry["created_at"])
    except (TypeError, ValueError):
        raise ValueError(f"key {key_id} has no valid creation time") from None
    if created_at.tzinfo is None:
        raise ValueError(f"key {key_id} has a creation time without a time zone")
    try:
        secret = base64.b64decode(entry["key"], validate=True)
    except (binascii.Error, TypeError):
        raise ValueError(f"key {key_id} is not base64") from None
    if len(secret) != KEY_BYTES:
        raise ValueError(f"key {key_id} is not {KEY_BYTES} bytes")
    return _DataKey.new(key_id, created_at, secret)
