"""No card number and no security code at rest, in a log, a mail or an answer (P8; issue
8, item 8): every byte the shop wrote is read and searched for the test cards' digits.

Orders are placed through the real API with the app on a database that commits for real
(a SQLite file in the data dir, or a PostgreSQL schema of its own) and the access log on.
Then every file under the data dir is read whole (the database, its -wal and -shm, the
access log, the keyring, anything else) and, on PostgreSQL, a ``pg_dump --data-only`` of
the schema; every mail body in the outbox, every answer the API gave and every log record
the test saw are searched too. What is searched for, per card: the digits, the number as
it was typed (spaces, dashes), its ASCII in hex (how a dump shows a bytea), and the
security code as a number of its own (not inside a longer run of letters and digits, so
hex digests, tokens and order numbers cannot match it by chance). A three-digit code can
still be a number the shop writes for its own reasons: HTTP statuses and byte counts in
the access log, 495 cents of shipping. Those are the same on every run, so the codes here
were chosen among the numbers that twenty scans of this test never met (checked by
searching every one of 000-999).

Each search is shown able to fail first: a canary written into the data dir on purpose
is found, and the masked form the shop does keep ("•••• 4242") is found in the database
bytes, so the file read is the one holding the orders. Then the approved orders ship
(captured: the number is purged) and the declined one is cancelled (purged too), and
"none remain" is checked column by column.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import AssembledApp, build_app
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from quietshop.keyring import Keyring
from quietshop.mail import sealing
from quietshop.mail.models import OutboxMessage
from quietshop.orders import service
from quietshop.orders.demo import seed_demo_rates
from quietshop.orders.models import Order
from quietshop.orders.numbers import format_order_number, parse_order_number
from quietshop.payments.models import Payment, PaymentCard
from quietshop.settings import Settings
from tests.catalog.factories import make_category, make_product
from tests.clock import T0, MovableClock
from tests.conftest import POSTGRES_URL, TEST_SECRET_KEY, _postgres_engine
from tests.orders.conftest import US_ADDRESS, card
from tests.orders.live_shop import postgres_schema_url

NOT_ALNUM_BEFORE = rb"(?<![0-9A-Za-z])"
NOT_ALNUM_AFTER = rb"(?![0-9A-Za-z])"


@dataclass(frozen=True)
class KnownCard:
    typed: str  # as the customer typed it
    code: str  # a security code that nothing else the shop writes can be
    approved: bool
    masked: str  # the only form the shop may show

    @property
    def digits(self) -> str:
        return re.sub(r"\D", "", self.typed)


VISA = KnownCard("4242 4242 4242 4242", "731", True, "Visa •••• 4242")
MASTERCARD = KnownCard("5555-5555-5555-4444", "864", True, "Mastercard •••• 4444")
AMEX = KnownCard("3782 822463 10005", "9731", True, "American Express •••• 0005")
DECLINED = KnownCard("4000 0000 0000 0002", "658", False, "Visa •••• 0002")
CARDS = (VISA, MASTERCARD, AMEX, DECLINED)
# Refused before any card is kept; their digits must not be echoed or kept either.
BAD_LUHN = KnownCard("4242 4242 4242 4241", "573", False, "")
BAD_CODE = KnownCard("3714 496353 98431", "386", False, "")  # Amex wants 4 digits


# ---------------------------------------------------------------- the scanner


@dataclass(frozen=True)
class Secret:
    label: str
    pattern: re.Pattern[bytes]


def secrets_of(test_card: KnownCard) -> list[Secret]:
    """Every form of a card's number and code that must not be found."""
    digits = test_card.digits
    forms = {
        f"number {digits}": re.escape(digits.encode()),
        f"number as typed {test_card.typed!r}": re.escape(test_card.typed.encode()),
        f"number in hex {digits}": re.escape(digits.encode().hex().encode()),
        f"security code {test_card.code}": (
            NOT_ALNUM_BEFORE + re.escape(test_card.code.encode()) + NOT_ALNUM_AFTER
        ),
    }
    return [Secret(label, re.compile(pattern)) for label, pattern in forms.items()]


ALL_SECRETS = [s for c in (*CARDS, BAD_LUHN, BAD_CODE) for s in secrets_of(c)]


def found(blobs: dict[str, bytes], secrets: list[Secret] = ALL_SECRETS) -> list[str]:
    """'where: what [context]' for each secret found in each blob (empty: none found)."""
    hits = []
    for where, blob in blobs.items():
        for secret in secrets:
            match = secret.pattern.search(blob)
            if match:
                context = blob[max(0, match.start() - 40) : match.end() + 40]
                hits.append(f"{where}: {secret.label} [{context!r}]")
    return hits


def files_under(directory: Path) -> dict[str, bytes]:
    """Every byte of every file below ``directory``, by relative path."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_the_scanner_finds_every_form_and_only_whole_codes() -> None:
    blob = b"\x00\x07junk 4242424242424242 more"
    assert found({"f": blob}) == [f"f: number 4242424242424242 [{blob!r}]"]
    assert found({"f": b"x5555-5555-5555-4444y"})[0].startswith("f: number as typed")
    assert found({"f": b"\\x" + b"4000000000000002".hex().encode()})[0].startswith(
        "f: number in hex"
    )
    json_code = b'{"cvc":"731"}'
    assert found({"f": json_code}) == [f"f: security code 731 [{json_code!r}]"]
    assert found({"f": b"\x01\x029731\x00"})[0].startswith("f: security code 9731")
    # Inside a digest, an order number or a longer number, a code is no code.
    assert found({"f": b"a731f QS-7310-00731 97310 0x731"}) == []


# ---------------------------------------------------------------- the shop under test


@dataclass
class AtRestShop:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    app: AssembledApp
    api: TestClient
    sku: str
    schema: str | None  # the PostgreSQL schema, None on SQLite
    answers: list[bytes]  # every body the API answered, in order

    def call(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        answer = self.api.request(method, path, **kwargs)
        self.answers.append(answer.content)
        return answer


def _shop_settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        strict_privacy_guard=True,
        catalog_version_check_interval=0,
        secret_key=SecretStr(TEST_SECRET_KEY),
        public_base_url="https://shop.test",
        payment_processor="simulator",
        access_log_enabled=True,
    )


def _engines(dialect: str, data_dir: Path) -> Iterator[Engine]:
    """A migrated database that commits for real: a file in the data dir, or a schema."""
    if dialect == "postgresql":
        yield from _postgres_engine("_atrest")
        return
    engine = make_engine(f"sqlite:///{data_dir / 'quietshop.db'}")
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


def _schema_of(engine: Engine) -> str | None:
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        schema: str = connection.execute(text("SELECT current_schema()")).scalar_one()
        return schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shop(
    request: pytest.FixtureRequest, tmp_path: Path, clock: MovableClock
) -> Iterator[AtRestShop]:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    for engine in _engines(request.param, data_dir):
        schema = _schema_of(engine)
        url = str(engine.url) if schema is None else postgres_schema_url(POSTGRES_URL, schema)
        settings = _shop_settings(data_dir, url)
        Keyring.create(settings.keyring_path, T0)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            sku = make_product(session, make_category(session), price_cents=1299, stock=20)
            seed_demo_rates(session, "USD", T0)
        app = build_app(settings, sessions, clock=clock)
        try:
            with TestClient(app, base_url="https://testserver") as api:
                yield AtRestShop(settings, engine, sessions, app, api, sku, schema, [])
        finally:
            if app.access_log is not None:
                app.access_log.close()


# ---------------------------------------------------------------- what the shop keeps


def _pg_dump() -> str:
    found_on_path = shutil.which("pg_dump")
    if found_on_path:
        return found_on_path
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    if not installed:
        pytest.fail("pg_dump not found (it comes with the PostgreSQL server packages)")
    return installed[-1]


def _dump(schema: str) -> bytes:
    """The schema's rows as pg_dump writes them (COPY text; a bytea as \\x and hex)."""
    url = make_url(POSTGRES_URL)
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    command = [_pg_dump(), "--data-only", f"--schema={schema}", "--no-owner", "--no-privileges"]
    command += ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    command += ["-U", url.username or "postgres", url.database or "postgres"]
    done = subprocess.run(command, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def _stored(shop: AtRestShop) -> dict[str, bytes]:
    """Everything at rest: the data dir's files, and the PostgreSQL schema's dump."""
    stored = files_under(shop.settings.data_dir)
    if shop.schema is not None:
        stored["pg_dump"] = _dump(shop.schema)
    return stored


def _database_bytes(shop: AtRestShop, stored: dict[str, bytes]) -> bytes:
    if shop.schema is not None:
        return stored["pg_dump"]
    return b"".join(blob for name, blob in stored.items() if name.startswith("quietshop.db"))


def _mails(shop: AtRestShop) -> list[OutboxMessage]:
    with shop.sessions() as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def _mail_texts(shop: AtRestShop) -> dict[str, bytes]:
    """Each queued mail's subject and bodies, and its sealed links opened."""
    texts = {}
    for mail in _mails(shop):
        sealed = mail.sealed_context
        links = sealing.unseal_links(shop.settings, sealed) if sealed else {}
        parts = [mail.subject, mail.text_body, mail.html_body, *links.values()]
        texts[f"mail {mail.id}"] = "\n".join(parts).encode()
    return texts


def _order_token(shop: AtRestShop, shown_number: str) -> str:
    """The guest's order link from the order mail, as the customer would follow it."""
    number = parse_order_number(shown_number)
    for mail in _mails(shop):
        if mail.sealed_context and mail.reference == number:
            link = sealing.unseal_links(shop.settings, mail.sealed_context)["order_link"]
            return link.split("#token=", 1)[1]
    raise AssertionError(f"no order mail for {shown_number}")


def _cards(shop: AtRestShop) -> dict[str, tuple[PaymentCard, str]]:
    """Each order's card row and latest payment status, by the order number shown."""
    with shop.sessions() as session:
        rows = session.execute(
            select(Order.order_number, PaymentCard, Payment.status)
            .join(PaymentCard, PaymentCard.order_id == Order.id)
            .join(Payment, Payment.order_id == Order.id)
            .order_by(Payment.id)
        )
        return {format_order_number(n): (card_row, status) for n, card_row, status in rows}


# The order screens' fixed notice, in simulator mode, telling every visitor alike which
# well-known test numbers to type (orders/templates/_order_detail.html). It is the shop's
# own text, the same for everyone, not a card anyone gave; it is cut out, and only it.
TEST_PAYMENTS_NOTICE = re.compile(rb'<p class="notice-box" data-test-payments hidden>.*?</p>', re.S)


def _answer_texts(shop: AtRestShop) -> dict[str, bytes]:
    texts = {}
    for i, body in enumerate(shop.answers):
        shown, notices = TEST_PAYMENTS_NOTICE.subn(b"", body)
        assert notices <= 1
        texts[f"answer {i}"] = shown
    return texts


def _log_records(caplog: pytest.LogCaptureFixture) -> dict[str, bytes]:
    return {
        f"log record {i} ({record.name})": (record.getMessage() + (record.exc_text or "")).encode()
        for i, record in enumerate(caplog.records)
    }


# ---------------------------------------------------------------- placing and shipping


def _order(shop: AtRestShop, test_card: KnownCard, name: str, total: int) -> httpx2.Response:
    body = {
        "lines": [{"sku": shop.sku, "quantity": 1}],
        "guest": {"name": "Rita Rest", "email": f"rest-{name}@example.org"},
        "shipping_address": US_ADDRESS,
        "billing_same_as_shipping": True,
        "shipping_method": "standard",
        "card": card(test_card.typed, security_code=test_card.code),
        "expected_total": {"cents": total, "currency": "USD"},
    }
    # Letters only in the key: nothing of it can look like a card's digits.
    headers = {"Idempotency-Key": f"at-rest-order-{name}"}
    return shop.call("POST", "/api/v1/orders", json=body, headers=headers)


def _place_every_card(shop: AtRestShop) -> dict[KnownCard, str]:
    """One order per test card (approved or declined), and the refused cards; returns the
    order number shown for each card that made an order."""
    quote = shop.call(
        "POST",
        "/api/v1/checkout/quote",
        json={"lines": [{"sku": shop.sku, "quantity": 1}], "shipping_country": "US"},
    )
    assert quote.status_code == 200, quote.text
    total = quote.json()["total"]["cents"]
    numbers = {}
    for test_card, name in zip(CARDS, ("visa", "mastercard", "amex", "declined"), strict=True):
        answer = _order(shop, test_card, name, total)
        assert answer.status_code == 201, answer.text
        placed = answer.json()
        assert placed["payment"]["card_label"] == test_card.masked
        expected = "payment_verified" if test_card.approved else "payment_problem"
        assert placed["status"] == expected
        numbers[test_card] = placed["order_number"]
    for test_card, name, field in (
        (BAD_LUHN, "luhn", "card_number"),
        (BAD_CODE, "code", "security_code"),
    ):
        refused = _order(shop, test_card, name, total)
        assert refused.status_code == 400, refused.text
        assert [d["field"] for d in refused.json()["detail"]] == [field]
    return numbers


def _ship(shop: AtRestShop, shown_number: str, clock: MovableClock) -> None:
    """Fulfilment packs and ships: the payment is captured and the number purged."""
    parts = shop.app.state.part(service.Collaborators)
    with transaction(shop.sessions) as session:
        service.mark_packed(session, shop.settings, shown_number, "fulfilment", clock())
        service.mark_shipped(
            session,
            shop.settings,
            parts,
            shown_number,
            carrier="UPS",
            tracking_number="TRACKTHEPARCEL",
            actor="fulfilment",
            now=clock.advance(hours=1),
        )


# ---------------------------------------------------------------- the proofs


def test_a_canary_in_the_data_dir_is_found_by_the_scan(shop: AtRestShop) -> None:
    """The walk reaches nested files and reads them whole: a number written on purpose,
    deep in a binary file, is reported where it is."""
    canary = KnownCard("4000 0566 5566 5556", "482", True, "")
    nested = shop.settings.data_dir / "deep" / "er" / "canary.bin"
    nested.parent.mkdir(parents=True)
    nested.write_bytes(os.urandom(4096) + b"\x00" + canary.digits.encode() + os.urandom(64))
    hits = found(_stored(shop), secrets_of(canary))
    assert [hit.split(":")[0] for hit in hits] == ["deep/er/canary.bin"]


def test_no_card_number_or_code_is_kept_logged_mailed_or_answered(
    shop: AtRestShop, clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    numbers = _place_every_card(shop)

    # While the cards are held: encrypted, and the masked form is what the files keep.
    held = _cards(shop)
    assert all(row.ciphertext is not None for row, _ in held.values())
    stored = _stored(shop)
    database = _database_bytes(shop, stored)
    for test_card in CARDS:
        assert test_card.masked.encode() in database  # the scan reads the orders' bytes
    assert b"/api/v1/orders" in stored["log/access.log"]  # and the access log
    assert found(stored) == []

    # The order page: the masked card, and nothing more.
    token = _order_token(shop, numbers[VISA])
    page = shop.call("GET", "/orders/view")
    assert page.status_code == 200
    assert TEST_PAYMENTS_NOTICE.search(page.content)  # the one text the scan leaves out
    seen = shop.call("POST", "/api/v1/order-link/order", json={"token": token})
    assert seen.status_code == 200, seen.text
    assert seen.json()["card_label"] == VISA.masked
    assert "•••• 4242".encode() in seen.content

    # Ship the approved orders, cancel the declined one: no card number remains.
    for test_card in (VISA, MASTERCARD, AMEX):
        _ship(shop, numbers[test_card], clock)
    declined_row, declined_status = _cards(shop)[numbers[DECLINED]]
    assert declined_status == "declined" and declined_row.ciphertext is not None
    cancelled = shop.call(
        "POST", "/api/v1/order-link/cancel", json={"token": _order_token(shop, numbers[DECLINED])}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    after = _cards(shop)
    assert sorted(status for _, status in after.values()) == ["captured"] * 3 + ["declined"]
    for row, _ in after.values():
        assert (row.ciphertext, row.key_id) == (None, None)
        assert row.purged_at is not None
        assert row.last4 and row.brand  # the masked facts stay for the order's history

    # Everything the shop wrote, mailed, answered or logged, at the end.
    everything = {
        **_stored(shop),
        **_mail_texts(shop),
        **_answer_texts(shop),
        **_log_records(caplog),
    }
    assert found(everything) == []
    # ... which held every mail these orders caused, and no card number at all.
    declined = numbers[DECLINED]
    expected = [f"We received your order {n}" for n in numbers.values()]
    expected += [f"Payment problem with your order {declined}"]
    expected += [f"Your order {numbers[c]} is on its way" for c in (VISA, MASTERCARD, AMEX)]
    expected += [f"Your order {declined} was cancelled"]
    assert sorted(m.subject for m in _mails(shop)) == sorted(expected)
    with shop.sessions() as session:
        kept = (
            select(func.count()).select_from(PaymentCard).where(PaymentCard.ciphertext.is_not(None))
        )
        assert session.execute(kept).scalar_one() == 0
