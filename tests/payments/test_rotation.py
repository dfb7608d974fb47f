"""Key rotation over a real database (P8): `quietshop keys rotate` moves every stored card
number to the new key in committed batches, can be resumed, and run again does nothing; a
card that does not decrypt is left alone and keeps its key from being retired."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from quietshop.db import make_engine, make_session_factory, upgrade_to_head
from quietshop.errors import Conflict, InvalidInput
from quietshop.keyring import Keyring, UnknownKey
from quietshop.orders.models import Order
from quietshop.payments import rotation
from quietshop.payments.cards import card_associated_data
from quietshop.payments.commands import keys_app
from quietshop.payments.models import PaymentCard
from tests.clock import T0

NUMBERS = ["4242424242424242", "5555555555554444", "378282246310005", "6011111111111117"]


def add_order(session: Session, number: int) -> int:
    values = {
        "order_number": f"T{number:09d}",
        "email": "ann@example.org",
        "customer_name": "Ann Example",
        "status": "placed",
        "currency": "USD",
        "subtotal_cents": 1000,
        "discount_cents": 0,
        "shipping_cents": 0,
        "tax_cents": 0,
        "total_cents": 1000,
        "refunded_cents": 0,
        "prices_include_tax": True,
        "shipping_method": "standard",
        "shipping_method_name": "Standard",
        "placed_at": T0,
        "updated_at": T0,
        **{f"{side}_{part}": "x" for side in ("ship", "bill") for part in ("name", "line1")},
        **{f"{side}_{part}": "" for side in ("ship", "bill") for part in ("line2", "region")},
        **{f"{side}_city": "Springfield" for side in ("ship", "bill")},
        **{f"{side}_postcode": "12345" for side in ("ship", "bill")},
        **{f"{side}_country": "US" for side in ("ship", "bill")},
    }
    order_id: int = session.execute(insert(Order).values(values).returning(Order.id)).scalar_one()
    return order_id


def store_cards(sessions: sessionmaker[Session], keyring: Keyring, count: int) -> dict[int, bytes]:
    """``count`` orders with a stored card each; {card id: card number}."""
    stored: dict[int, bytes] = {}
    with sessions() as session, session.begin():
        for n in range(count):
            order_id = add_order(session, n + 1)
            number = NUMBERS[n % len(NUMBERS)].encode()
            sealed = keyring.encrypt(number, card_associated_data(order_id))
            card = PaymentCard(
                order_id=order_id, brand="visa", last4=number[-4:].decode(), exp_month=12,
                exp_year=2030, name_on_card="Ann Example", key_id=sealed.key_id,
                ciphertext=sealed.ciphertext, created_at=T0,
            )  # fmt: skip
            session.add(card)
            session.flush()
            stored[card.id] = number
    return stored


def cards(sessions: sessionmaker[Session]) -> list[PaymentCard]:
    with sessions() as session:
        return list(session.scalars(select(PaymentCard).order_by(PaymentCard.id)))


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keyring.json", T0)


def test_rotation_reencrypts_every_card_in_batches_and_again_is_a_no_op(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    old = keyring.active_key_id
    stored = store_cards(sessions, keyring, 5)
    with sessions() as session, session.begin():  # a purged card holds no number
        purged = add_order(session, 99)
        session.add(
            PaymentCard(
                order_id=purged, brand="visa", last4="4242", exp_month=1, exp_year=2030,
                name_on_card="", key_id=old, ciphertext=None, purged_at=T0, created_at=T0,
            )
        )  # fmt: skip
    before = {card.id: card.ciphertext for card in cards(sessions)}
    new = keyring.rotate(T0)
    assert rotation.count_per_key(sessions) == {old: 5}
    assert rotation.pending_count(sessions, new) == 5

    seen: list[tuple[int, int]] = []
    summary = rotation.reencrypt_cards(
        sessions, keyring, batch_size=2, progress=lambda done, total: seen.append((done, total))
    )
    assert (summary.key_id, summary.reencrypted, summary.failed_card_ids) == (new, 5, [])
    assert seen == [(2, 5), (4, 5), (5, 5)]
    for card in cards(sessions):
        if card.ciphertext is None:
            assert card.purged_at is not None
            continue
        assert card.key_id == new and card.ciphertext != before[card.id]
        bound = card_associated_data(card.order_id)
        assert keyring.decrypt(new, card.ciphertext, bound) == stored[card.id]
    assert rotation.count_per_key(sessions) == {new: 5}

    after = {card.id: (card.key_id, card.ciphertext) for card in cards(sessions)}
    again = rotation.reencrypt_cards(
        sessions, keyring, batch_size=2, progress=lambda done, total: seen.append((done, total))
    )
    assert again.reencrypted == 0 and len(seen) == 3  # nothing selected, no progress
    assert {card.id: (card.key_id, card.ciphertext) for card in cards(sessions)} == after

    rotation.retire_key(sessions, keyring, old)
    assert [key.id for key in keyring.key_infos()] == [new]
    with pytest.raises(InvalidInput):
        rotation.retire_key(sessions, keyring, new)


def test_an_interrupted_rotation_is_resumed(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    store_cards(sessions, keyring, 5)
    old, new = keyring.active_key_id, keyring.rotate(T0)

    def interrupted(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotation.reencrypt_cards(sessions, keyring, batch_size=2, progress=interrupted)
    assert rotation.count_per_key(sessions) == {new: 2, old: 3}  # the first batch committed
    with pytest.raises(Conflict, match="3 stored card number"):
        rotation.retire_key(sessions, keyring, old)
    assert rotation.reencrypt_cards(sessions, keyring, batch_size=2).reencrypted == 3
    assert rotation.count_per_key(sessions) == {new: 5}


def test_a_card_that_does_not_decrypt_is_left_alone_and_named(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    stored = store_cards(sessions, keyring, 4)
    first, second, *_ = sorted(stored)
    with sessions() as session, session.begin():  # one ciphertext moved onto another order
        a, b = session.get(PaymentCard, first), session.get(PaymentCard, second)
        assert a is not None and b is not None
        b.ciphertext = a.ciphertext
    old, new = keyring.active_key_id, keyring.rotate(T0)
    summary = rotation.reencrypt_cards(sessions, keyring)
    assert (summary.reencrypted, summary.failed_card_ids) == (3, [second])
    assert rotation.count_per_key(sessions) == {new: 3, old: 1}
    with pytest.raises(Conflict):
        rotation.retire_key(sessions, keyring, old)


def test_a_key_the_keyring_lacks_stops_the_batch(
    sessions: sessionmaker[Session], keyring: Keyring, tmp_path: Path
) -> None:
    store_cards(sessions, keyring, 3)
    stranger = Keyring.create(tmp_path / "other.json", T0)
    with sessions() as session, session.begin():
        order_id = add_order(session, 50)
        sealed = stranger.encrypt(b"4242424242424242", card_associated_data(order_id))
        session.add(
            PaymentCard(
                order_id=order_id, brand="visa", last4="4242", exp_month=1, exp_year=2030,
                name_on_card="", key_id=sealed.key_id, ciphertext=sealed.ciphertext,
                created_at=T0,
            )
        )  # fmt: skip
    new = keyring.rotate(T0)
    with pytest.raises(UnknownKey):
        rotation.reencrypt_cards(sessions, keyring, batch_size=10)
    assert new not in rotation.count_per_key(sessions)  # the batch rolled back whole


# ---------------------------------------------------------------- `quietshop keys`


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    """A data dir with a migrated SQLite database, as `quietshop migrate` leaves it."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    for name in list(os.environ):
        if name.startswith("QUIETSHOP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    engine = make_engine(f"sqlite:///{data_dir / 'quietshop.db'}")
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_the_keys_commands(shop: sessionmaker[Session], tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(keys_app, ["status"])
    assert missing.exit_code == 2 and "quietshop keys init" in missing.output

    made = runner.invoke(keys_app, ["init"])
    assert made.exit_code == 0 and "Keyring created at" in made.output
    path = tmp_path / "var" / "keyring.json"
    assert path.stat().st_mode & 0o777 == 0o600
    first = Keyring.load(path)
    again = runner.invoke(keys_app, ["init"])
    assert again.exit_code == 0 and "already exists" in again.output
    assert Keyring.load(path).active_key_id == first.active_key_id

    store_cards(shop, first, 3)
    status = runner.invoke(keys_app, ["status"])
    assert status.exit_code == 0
    assert any(first.active_key_id in line and line.rstrip().endswith(" yes     3")
               for line in status.output.splitlines()), status.output  # fmt: skip

    rotated = runner.invoke(keys_app, ["rotate", "--batch-size", "2"])
    assert rotated.exit_code == 0, rotated.output
    new = Keyring.load(path).active_key_id
    assert f"New active key {new}" in rotated.output
    assert f"3 card number(s) re-encrypted under key {new}" in rotated.output
    assert rotation.count_per_key(shop) == {new: 3}

    resumed = runner.invoke(keys_app, ["rotate", "--resume"])
    assert resumed.exit_code == 0 and "No stored card number is under an older key" in (
        resumed.output
    )
    assert len(Keyring.load(path).key_infos()) == 2  # --resume added no key

    retired = runner.invoke(keys_app, ["retire", first.active_key_id])
    assert retired.exit_code == 0, retired.output
    refused = runner.invoke(keys_app, ["retire", new])
    assert refused.exit_code == 2 and "active key cannot be retired" in refused.output
    unknown = runner.invoke(keys_app, ["retire", "nosuchkey"])
    assert unknown.exit_code == 2 and "not found" in unknown.output
    for result in (made, status, rotated, resumed, retired):
        for secret in (key["key"] for key in json.loads(path.read_text())["keys"]):
            assert secret not in result.output
        assert "4242424242424242" not in result.output


def test_keys_rotate_needs_a_migrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("QUIETSHOP_DATABASE_URL", raising=False)
    result = CliRunner().invoke(keys_app, ["rotate"])
    assert result.exit_code == 2 and "no Quietshop database" in result.output
    assert not (tmp_path / "empty" / "keyring.json").exists()  # no key added first
