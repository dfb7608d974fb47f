"""The keyring (P8): AES-256-GCM under data keys kept in a 0600 file outside the database,
rotatable, written atomically, refusing a file that is damaged or open to other users."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from quietshop.errors import InvalidInput, NotFound
from quietshop.keyring import (
    NONCE_BYTES,
    DamagedKeyring,
    DecryptionFailed,
    Keyring,
    KeyringExists,
    KeyringProblem,
    MissingKeyring,
    UnknownKey,
    UnsafeKeyringFile,
    open_keyring,
)
from quietshop.settings import Settings
from tests.clock import T0, MovableClock

CARD = b"4242424242424242"
BOUND = b"payment_card:1"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keyring.json"


@pytest.fixture
def keyring(path: Path) -> Keyring:
    return Keyring.create(path, T0)


def secrets_in(path: Path) -> list[str]:
    return [entry["key"] for entry in json.loads(path.read_text())["keys"]]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- encrypting


def test_a_ciphertext_opens_with_its_key_and_its_row(keyring: Keyring) -> None:
    sealed = keyring.encrypt(CARD, BOUND)
    assert sealed.key_id == keyring.active_key_id
    assert CARD not in sealed.ciphertext
    # nonce (12) + plaintext (16) + GCM tag (16)
    assert len(sealed.ciphertext) == NONCE_BYTES + len(CARD) + 16
    assert keyring.decrypt(sealed.key_id, sealed.ciphertext, BOUND) == CARD


def test_every_encryption_has_its_own_nonce(keyring: Keyring) -> None:
    first, second = keyring.encrypt(CARD, BOUND), keyring.encrypt(CARD, BOUND)
    assert first.ciphertext[:NONCE_BYTES] != second.ciphertext[:NONCE_BYTES]
    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize("where", [0, NONCE_BYTES - 1, NONCE_BYTES, NONCE_BYTES + 5, -1])
def test_a_flipped_byte_anywhere_is_refused(keyring: Keyring, where: int) -> None:
    sealed = keyring.encrypt(CARD, BOUND)
    altered = bytearray(sealed.ciphertext)
    altered[where] ^= 0x01
    with pytest.raises(DecryptionFailed, match="altered"):
        keyring.decrypt(sealed.key_id, bytes(altered), BOUND)


@pytest.mark.parametrize("cut", [b"", b"\x00" * 5, b"\x00" * NONCE_BYTES])
def test_a_truncated_ciphertext_is_refused(keyring: Keyring, cut: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        keyring.decrypt(keyring.active_key_id, cut, BOUND)


def test_a_ciphertext_moved_to_another_row_does_not_open(keyring: Keyring) -> None:
    sealed = keyring.encrypt(CARD, b"payment_card:1")
    with pytest.raises(DecryptionFailed, match="another row"):
        keyring.decrypt(sealed.key_id, sealed.ciphertext, b"payment_card:2")


def test_associated_data_is_required(keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="associated data is required"):
        keyring.encrypt(CARD, b"")


def test_an_unknown_key_id_is_named_in_one_line(keyring: Keyring, path: Path) -> None:
    with pytest.raises(UnknownKey) as caught:
        keyring.decrypt("deadbeef", keyring.encrypt(CARD, BOUND).ciphertext, BOUND)
    assert caught.value.key_id == "deadbeef"
    assert "'deadbeef'" in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_no_repr_shows_key_material(keyring: Keyring, path: Path) -> None:
    keyring.rotate(T0)
    sealed = keyring.encrypt(CARD, BOUND)
    shown = " ".join(
        [repr(keyring), str(keyring), repr(sealed), repr(keyring.key_infos()), repr(vars(keyring))]
    )
    for secret in secrets_in(path):
        assert secret not in shown
        assert base64.b64decode(secret).hex() not in shown
    assert CARD.decode() not in shown
    assert repr(sealed) == f"Sealed(key_id={sealed.key_id!r}, {len(sealed.ciphertext)} bytes)"


# ---------------------------------------------------------------- rotating and retiring


def test_rotation_adds_an_active_key_and_old_ciphertexts_still_open(
    keyring: Keyring, path: Path
) -> None:
    clock = MovableClock()
    old_id = keyring.active_key_id
    old = keyring.encrypt(CARD, BOUND)
    new_id = keyring.rotate(clock.advance(days=90))
    assert new_id != old_id and keyring.active_key_id == new_id
    assert keyring.decrypt(old.key_id, old.ciphertext, BOUND) == CARD
    assert keyring.encrypt(CARD, BOUND).key_id == new_id
    assert [(k.id, k.created_at, k.active) for k in keyring.key_infos()] == [
        (old_id, T0, False),
        (new_id, clock.now, True),
    ]
    reread = Keyring.load(path)
    assert reread.active_key_id == new_id
    assert reread.decrypt(old.key_id, old.ciphertext, BOUND) == CARD


def test_a_keyring_loaded_before_a_rotation_reads_the_new_keys(path: Path) -> None:
    server = Keyring.create(path, T0)
    command = Keyring.load(path)  # `quietshop keys rotate`, in another process
    new_id = command.rotate(T0)
    sealed = command.encrypt(CARD, BOUND)
    assert server.decrypt(new_id, sealed.ciphertext, BOUND) == CARD  # re-read on demand


def test_encrypt_follows_a_rotation_made_elsewhere(path: Path) -> None:
    server = Keyring.create(path, T0)
    old_id = server.active_key_id
    new_id = Keyring.load(path).rotate(T0)
    assert server.encrypt(CARD, BOUND).key_id == old_id  # looked less than a second ago
    server.follow_seconds = 0
    assert server.encrypt(CARD, BOUND).key_id == new_id


def test_two_rotations_from_stale_copies_lose_no_key(path: Path) -> None:
    first, second = Keyring.create(path, T0), Keyring.load(path)
    a = first.rotate(T0)
    b = second.rotate(T0)  # second never saw a: it re-reads the file under the lock
    ids = {key.id for key in Keyring.load(path).key_infos()}
    assert {a, b} <= ids and len(ids) == 3


def test_retiring_an_old_key(keyring: Keyring, path: Path) -> None:
    old_id = keyring.active_key_id
    old = keyring.encrypt(CARD, BOUND)
    new_id = keyring.rotate(T0)
    keyring.retire(old_id)
    assert [key.id for key in Keyring.load(path).key_infos()] == [new_id]
    with pytest.raises(UnknownKey):
        keyring.decrypt(old_id, old.ciphertext, BOUND)


def test_the_active_key_cannot_be_retired(keyring: Keyring, path: Path) -> None:
    before = path.read_bytes()
    with pytest.raises(InvalidInput) as caught:
        keyring.retire(keyring.active_key_id)
    assert caught.value.field == "key_id" and "rotate first" in caught.value.message
    with pytest.raises(NotFound):
        keyring.retire("00000000")
    assert path.read_bytes() == before


def test_times_must_be_aware(path: Path, keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="naive"):
        keyring.rotate(T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        Keyring.create(path.with_name("other.json"), T0.replace(tzinfo=None))


# ---------------------------------------------------------------- the file


def test_the_file_is_private_to_its_owner(keyring: Keyring, path: Path) -> None:
    assert mode_of(path) == 0o600
    keyring.rotate(T0)
    assert mode_of(path) == 0o600
    assert mode_of(path.with_name("keyring.json.lock")) == 0o600
    body = json.loads(path.read_text())
    assert body["format"] == "quietshop keyring" and body["version"] == 1
    assert body["active"] == keyring.active_key_id
    assert [len(base64.b64decode(key)) for key in secrets_in(path)] == [32, 32]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602])
def test_a_file_others_can_read_or_write_is_refused(
    keyring: Keyring, path: Path, mode: int
) -> None:
    path.chmod(mode)
    with pytest.raises(UnsafeKeyringFile) as caught:
        Keyring.load(path)
    message = str(caught.value)
    assert f"chmod 600 {path}" in message and f"{mode:04o}" in message and "\n" not in message


def test_create_never_overwrites(keyring: Keyring, path: Path) -> None:
    before = path.read_bytes()
    with pytest.raises(KeyringExists):
        Keyring.create(path, T0)
    assert path.read_bytes() == before


def test_load_or_create_makes_one_keyring_then_reads_it(path: Path) -> None:
    made = Keyring.load_or_create(path, T0)
    again = Keyring.load_or_create(path, T0)
    assert again.active_key_id == made.active_key_id
    assert mode_of(path) == 0o600


def test_a_rotation_replaces_the_file_whole(keyring: Keyring, path: Path) -> None:
    inode = path.stat().st_ino
    keyring.rotate(T0)
    assert path.stat().st_ino != inode  # a new file renamed over the old, not rewritten
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyring.json", "keyring.json.lock"]


def test_a_write_that_fails_leaves_the_old_keyring(
    keyring: Keyring, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, active = path.read_bytes(), keyring.active_key_id

    def crash(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space"):
        keyring.rotate(T0)
    assert path.read_bytes() == before
    assert keyring.active_key_id == active  # memory did not move ahead of the file
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyring.json", "keyring.json.lock"]


def test_a_missing_keyring_says_what_to_do(path: Path) -> None:
    with pytest.raises(MissingKeyring, match="quietshop keys init"):
        Keyring.load(path)


def _valid_body(path: Path) -> dict[str, object]:
    Keyring.create(path, T0)
    body: dict[str, object] = json.loads(path.read_text())
    return body


def _key(body: dict[str, object]) -> dict[str, object]:
    keys = body["keys"]
    assert isinstance(keys, list)
    first: dict[str, object] = keys[0]
    return first


DAMAGES = {
    "empty": lambda body: b"",
    "not json": lambda body: b"{not json",
    "binary": lambda body: b"\xff\xfe\x00garbage",
    "a list": lambda body: b"[]",
    "another format": lambda body: {**body, "format": "something else"},
    "no version": lambda body: {k: v for k, v in body.items() if k != "version"},
    "version 2": lambda body: {**body, "version": 2},
    "no keys": lambda body: {**body, "keys": []},
    "keys not a list": lambda body: {**body, "keys": "abc"},
    "key not an object": lambda body: {**body, "keys": ["abc"]},
    "key not base64": lambda body: {**body, "keys": [{**_key(body), "key": "***"}]},
    "key too short": lambda body: {
        **body,
        "keys": [{**_key(body), "key": base64.b64encode(b"x" * 16).decode()}],
    },
    "key not text": lambda body: {**body, "keys": [{**_key(body), "key": 12}]},
    "bad id": lambda body: {**body, "keys": [{**_key(body), "id": "../etc"}]},
    "huge id": lambda body: {**body, "keys": [{**_key(body), "id": "a" * 17}]},
    "naive time": lambda body: {
        **body,
        "keys": [{**_key(body), "created_at": "2026-11-25T12:00:00"}],
    },
    "bad time": lambda body: {**body, "keys": [{**_key(body), "created_at": "yesterday"}]},
    "duplicate ids": lambda body: {**body, "keys": [_key(body), _key(body)]},
    "active unknown": lambda body: {**body, "active": "ffffffff"},
    "no active": lambda body: {k: v for k, v in body.items() if k != "active"},
    "deeply nested": lambda body: b"[" * 100_000 + b"]" * 100_000,
    "huge": lambda body: b" " * (1024 * 1024 + 10),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_keyring_is_refused_in_one_line(path: Path, damage: str) -> None:
    body = _valid_body(path)
    secret = secrets_in(path)[0]
    changed = DAMAGES[damage](body)
    data = changed if isinstance(changed, bytes) else json.dumps(changed).encode()
    path.write_bytes(data)
    with pytest.raises(DamagedKeyring) as caught:
        Keyring.load(path)
    message = str(caught.value)
    assert message.startswith(f"the keyring {path} is damaged (")
    assert message.endswith("restore it from a backup")
    assert "\n" not in message and secret not in message and len(message) < 300


def test_an_unreadable_path_is_a_keyring_problem(tmp_path: Path) -> None:
    folder = tmp_path / "keyring.json"
    folder.mkdir()
    with pytest.raises(KeyringProblem):
        Keyring.load(folder)


# ---------------------------------------------------------------- the shop's keyring


def test_the_demo_makes_its_keyring_on_first_use(settings: Settings) -> None:
    demo = settings.model_copy(update={"demo": True})
    keyring = open_keyring(demo, T0)
    assert demo.keyring_path.exists() and mode_of(demo.keyring_path) == 0o600
    assert open_keyring(demo, T0).active_key_id == keyring.active_key_id


def test_outside_the_demo_the_keyring_must_exist(settings: Settings) -> None:
    with pytest.raises(MissingKeyring) as caught:
        open_keyring(settings, T0)
    assert "quietshop keys init" in str(caught.value) and "\n" not in str(caught.value)
    assert not settings.keyring_path.exists()
    made = Keyring.create(settings.keyring_path, T0)
    assert open_keyring(settings, T0).active_key_id == made.active_key_id
