"""Idempotency-Key for placing orders: claim, replay, mismatch, in flight, races, expiry.

On SQLite and PostgreSQL. The rules run on the shared database, each ``transaction`` a
savepoint of the test's rolled-back one (``sessions``); the races, and one whole life of a
key, run where commits are real (``committing_engine``), because there what is proved is
what another connection sees.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.db import make_session_factory, transaction
from quietshop.errors import Conflict, InvalidInput
from quietshop.orders.idempotency import (
    HEADER,
    KeyInFlight,
    KeyReused,
    Replay,
    abandon,
    begin,
    check_key,
    finish,
    forget_expired,
    holds_card_number,
    request_digest,
    scope_for,
)
from quietshop.orders.models import IdempotencyKey
from quietshop.settings import Settings
from quietshop.signing import signing_key
from tests.clock import T0, MovableClock

DAY = timedelta(hours=24)
CARD = "4111111111111111"  # the well-known Visa test number: passes Luhn
ORDER = {
    "lines": [{"sku": "ROPE-10M", "quantity": 2}],
    "card": {"number": CARD, "security_code": "123", "expiry": "12/29"},
    "shipping_method": "standard",
}
ANSWER = '{"order_number":"Q7K2M9X4P3","total_cents":4598,"currency":"EUR"}'


@pytest.fixture
def committed(committing_engine: Engine) -> sessionmaker[Session]:
    """Sessions on a database of the test's own, whose commits are real."""
    return make_session_factory(committing_engine)


@pytest.fixture
def key(settings: Settings) -> bytes:
    return signing_key(settings)


@pytest.fixture
def digest(key: bytes) -> Callable[..., str]:
    """The digest of ORDER with some fields changed."""

    def of(**changes: object) -> str:
        return request_digest(key, {**ORDER, **changes})

    return of


def rows(sessions: sessionmaker[Session]) -> list[IdempotencyKey]:
    with sessions() as session:
        query = select(IdempotencyKey).order_by(IdempotencyKey.id)
        return list(session.execute(query).scalars())


# --- the header --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "8e03978e-40d5-43e8-bc93-6894a57f9324",
        "x",
        "k" * 255,
        '"8e03978e-40d5-43e8-bc93-6894a57f9324"',  # the draft's quoted form, kept verbatim
        "".join(chr(c) for c in range(0x21, 0x7F)),  # every printable ASCII character
        "';DROP/**/TABLE/**/idempotency_keys;--",  # hostile but printable: just a key
    ],
)
def test_a_key_of_printable_ascii_up_to_255_characters_is_taken_as_sent(raw: str) -> None:
    assert check_key(raw) == raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "this header is required: a unique key for this order"),
        ("", "must not be empty"),
        ("k" * 256, "must be at most 255 characters"),
        ("k" * 1_000_000, "must be at most 255 characters"),
        ("clé-de-commande", "use printable ASCII characters only"),
        ("ключ", "use printable ASCII characters only"),
        ("key\N{ZERO WIDTH SPACE}", "use printable ASCII characters only"),
        ("key\x00", "use printable ASCII characters only"),
        ("key\r\nX-Injected: 1", "use printable ASCII characters only"),
        ("key\t1", "use printable ASCII characters only"),
        ("key\x7f", "use printable ASCII characters only"),
        ("two words", "use printable ASCII characters only"),
        (" ", "use printable ASCII characters only"),
    ],
)
def test_a_missing_or_malformed_key_is_a_400_naming_the_header(
    raw: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_key(raw)
    assert refused.value.status_code == 400
    assert refused.value.field == HEADER == "Idempotency-Key"
    assert refused.value.message.startswith(message)


def test_a_signed_in_customer_has_a_scope_of_their_own_and_guests_share_one() -> None:
    assert scope_for("4829105736") == "customer:4829105736"
    assert scope_for(None) == "guest"
    assert scope_for("") == "guest"


# --- the request digest ------------------------------------------------------------------


def test_the_digest_is_the_same_for_the_same_json_however_it_is_written(key: bytes) -> None:
    reordered = {
        "shipping_method": "standard",
        "card": {"expiry": "12/29", "security_code": "123", "number": CARD},
        "lines": [{"quantity": 2, "sku": "ROPE-10M"}],
    }
    spaced = json.dumps(ORDER, indent=4).encode()
    assert request_digest(key, ORDER) == request_digest(key, reordered)
    assert request_digest(key, ORDER) == request_digest(key, spaced)
    assert len(request_digest(key, ORDER)) == 64
    assert int(request_digest(key, ORDER), 16) >= 0  # hex


def test_the_digest_differs_for_another_card_code_or_line_order(
    digest: Callable[..., str],
) -> None:
    other_card = {**ORDER["card"], "number": "4111111111111129"}  # type: ignore[dict-item]
    other_code = {**ORDER["card"], "security_code": "124"}  # type: ignore[dict-item]
    two_lines = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]
    assert digest(card=other_card) != digest()
    assert digest(card=other_code) != digest()
    # A list keeps its order: which line comes first is part of the request.
    assert digest(lines=two_lines) != digest(lines=two_lines[::-1])


def test_the_digest_cannot_be_checked_against_guessed_cards_without_the_shops_key(
    key: bytes,
) -> None:
    # Given a stored digest, someone without the key who tries card number and code...
    canonical = json.dumps(ORDER, sort_keys=True, separators=(",", ":")).encode()
    stored = request_digest(key, ORDER)
    # ...then a bare hash of the right guess does not match, nor does another key's HMAC.
    assert hashlib.sha256(canonical).hexdigest() != stored
    assert request_digest(b"another-shop-key-0123456789abcdef", ORDER) != stored


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_a_raw_body_that_is_no_json_object_is_refused(key: bytes, raw: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        request_digest(key, raw)
    assert (refused.value.field, refused.value.message) == ("body", "must be a JSON object")


# --- claiming, replaying, refusing -------------------------------------------------------


def test_the_first_request_claims_the_key_for_at_least_24_hours(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    assert begin(sessions, "guest", "k1", digest(), clock(), DAY) is None

    [row] = rows(sessions)
    assert (row.scope, row.key, row.request_digest, row.status) == (
        "guest",
        "k1",
        digest(),
        "running",
    )
    assert (row.created_at, row.expires_at) == (T0, T0 + DAY)
    assert (row.response_status, row.response_body) == (None, None)


def test_the_same_key_and_body_replays_the_first_answer_byte_for_byte(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    body = '{ "order_number":"Q7K2M9X4P3",\n "name": "Zoë Ærø ✓" }'
    begin(sessions, "guest", "k1", digest(), clock(), DAY)
    finish(sessions, "guest", "k1", 201, body, clock())

    clock.advance(minutes=5)
    replay = begin(sessions, "guest", "k1", digest(), clock(), DAY)

    assert replay == Replay(status_code=201, body=body)
    assert replay.headers() == {"idempotent-replayed": "true"}
    assert begin(sessions, "guest", "k1", digest(), clock(), DAY) == replay  # and again
    [row] = rows(sessions)
    assert (row.status, row.created_at) == ("done", T0)  # a replay does not renew the key


def test_a_refusal_about_the_request_is_its_answer_and_is_replayed(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    out_of_stock = '{"code":"conflict","detail":"ROPE-10M: only 1 left"}'
    begin(sessions, "guest", "k1", digest(), clock(), DAY)
    finish(sessions, "guest", "k1", 409, out_of_stock, clock())

    assert begin(sessions, "guest", "k1", digest(), clock(), DAY) == Replay(409, out_of_stock)


def test_the_same_key_with_another_body_is_a_422_once_done_and_while_running(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "done", digest(), clock(), DAY)
    finish(sessions, "guest", "done", 201, ANSWER, clock())
    begin(sessions, "guest", "running", digest(), clock(), DAY)

    for key in ("done", "running"):
        with pytest.raises(KeyReused) as refused:
            begin(sessions, "guest", key, digest(shipping_method="express"), clock(), DAY)
        assert (refused.value.status_code, refused.value.code) == (422, "idempotency_key_reused")

    # Nothing changed: the first request's claim and answer stand.
    assert [(r.key, r.request_digest, r.status) for r in rows(sessions)] == [
        ("done", digest(), "done"),
        ("running", digest(), "running"),
    ]


def test_a_key_whose_first_request_is_still_running_is_a_409_with_retry_after(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "k1", digest(), clock(), DAY)

    with pytest.raises(KeyInFlight) as waiting:
        begin(sessions, "guest", "k1", digest(), clock(), DAY)

    assert isinstance(waiting.value, Conflict)
    assert (waiting.value.status_code, waiting.value.code) == (409, "idempotency_key_in_flight")
    assert waiting.value.headers() == {"retry-after": "1"}


def test_scopes_are_separate_so_two_customers_and_a_guest_may_use_one_key(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    first, second = scope_for("4829105736"), scope_for("7310562948")
    assert begin(sessions, first, "k1", digest(), clock(), DAY) is None
    assert begin(sessions, second, "k1", digest(shipping_method="x"), clock(), DAY) is None
    assert begin(sessions, "guest", "k1", digest(shipping_method="y"), clock(), DAY) is None
    finish(sessions, first, "k1", 201, ANSWER, clock())

    # One customer's answer is not another's, and finishing one leaves the others running.
    with pytest.raises(KeyInFlight):
        begin(sessions, second, "k1", digest(shipping_method="x"), clock(), DAY)
    assert begin(sessions, first, "k1", digest(), clock(), DAY) == Replay(201, ANSWER)


# --- racing, and real commits -----------------------------------------------------------


def race(attempt: Callable[[], Replay | None], threads: int = 8) -> list[Replay | Exception | None]:
    """Run ``attempt`` in several threads released at the same moment."""
    start = threading.Barrier(threads)

    def one() -> Replay | Exception | None:
        start.wait()
        try:
            return attempt()
        except KeyInFlight as error:
            return error

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda _: one(), range(threads)))


def test_of_requests_racing_for_one_key_exactly_one_owns_it_and_the_rest_get_409(
    committed: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    for key in ("k1", "k2", "k3"):  # a few rounds: the race need not go the same way each time
        results = race(partial(begin, committed, "guest", key, digest(), clock(), DAY))

        assert results.count(None) == 1
        assert [type(r) for r in results if r is not None] == [KeyInFlight] * 7
    assert [(row.key, row.status) for row in rows(committed)] == [
        ("k1", "running"),
        ("k2", "running"),
        ("k3", "running"),
    ]


def test_a_racer_that_comes_after_the_owner_finished_gets_the_replay(
    committed: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    def place() -> Replay | None:
        replay = begin(committed, "guest", "k1", digest(), clock(), DAY)
        if replay is None:  # this one owns the key: it answers at once
            finish(committed, "guest", "k1", 201, ANSWER, clock())
        return replay

    results = race(place)

    assert results.count(None) == 1
    assert all(r == Replay(201, ANSWER) or isinstance(r, KeyInFlight) for r in results if r)
    assert begin(committed, "guest", "k1", digest(), clock(), DAY) == Replay(201, ANSWER)


def test_of_requests_racing_to_renew_an_expired_key_exactly_one_owns_it(
    committing_engine: Engine,
    committed: sessionmaker[Session],
    digest: Callable[..., str],
    clock: MovableClock,
) -> None:
    begin(committed, "guest", "k1", digest(), clock(), DAY)
    finish(committed, "guest", "k1", 201, ANSWER, clock())
    clock.advance(hours=24)

    # Every racer has read the expired row before the first renews it: the renewal itself
    # must still let only one through (on PostgreSQL the others wait on the row's lock).
    def let_the_others_read(*args: object) -> None:
        if str(args[2]).startswith("UPDATE idempotency_keys"):
            time.sleep(0.1)

    event.listen(committing_engine, "before_cursor_execute", let_the_others_read)
    renewed = digest(shipping_method="express")
    try:
        results = race(lambda: begin(committed, "guest", "k1", renewed, clock(), DAY))
    finally:
        event.remove(committing_engine, "before_cursor_execute", let_the_others_read)

    assert results.count(None) == 1
    assert [type(r) for r in results if r is not None] == [KeyInFlight] * 7
    [row] = rows(committed)
    assert (row.request_digest, row.status, row.created_at) == (renewed, "running", T0 + DAY)


def test_a_key_lives_its_whole_life_in_committed_transactions(
    committed: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    # Claimed: another connection sees the claim at once.
    assert begin(committed, "guest", "k1", digest(), clock(), DAY) is None
    with pytest.raises(KeyInFlight):
        begin(committed, "guest", "k1", digest(), clock(), DAY)
    # Abandoned, claimed again, answered: replayed; another body is refused.
    abandon(committed, "guest", "k1")
    assert begin(committed, "guest", "k1", digest(), clock(), DAY) is None
    finish(committed, "guest", "k1", 201, ANSWER, clock())
    assert begin(committed, "guest", "k1", digest(), clock(), DAY) == Replay(201, ANSWER)
    with pytest.raises(KeyReused):
        begin(committed, "guest", "k1", digest(shipping_method="express"), clock(), DAY)
    # A day later it is forgotten.
    clock.advance(hours=24)
    with transaction(committed) as session:
        assert forget_expired(session, clock()) == 1
    assert rows(committed) == []


# --- expiry ------------------------------------------------------------------------------


def test_a_key_is_kept_24_hours_then_starts_afresh(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "k1", digest(), clock(), DAY)
    finish(sessions, "guest", "k1", 201, ANSWER, clock())

    clock.advance(hours=24, seconds=-1)
    assert begin(sessions, "guest", "k1", digest(), clock(), DAY) == Replay(201, ANSWER)
    with pytest.raises(KeyReused):
        begin(sessions, "guest", "k1", digest(shipping_method="express"), clock(), DAY)

    clock.advance(seconds=1)  # 24 h after the first request: a new request may use the key
    assert begin(sessions, "guest", "k1", digest(shipping_method="express"), clock(), DAY) is None
    [row] = rows(sessions)
    assert (row.status, row.response_status, row.response_body) == ("running", None, None)
    assert (row.created_at, row.expires_at) == (T0 + DAY, T0 + 2 * DAY)


def test_a_claim_left_running_past_its_expiry_is_taken_over_and_its_late_finish_ignored(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "k1", digest(), clock(), DAY)
    clock.advance(hours=25)
    assert begin(sessions, "guest", "k1", digest(), clock(), DAY) is None

    finish(sessions, "guest", "k1", 201, "the stale request's answer", clock() + DAY)

    [row] = rows(sessions)
    assert (row.status, row.response_body) == ("running", None)


def test_a_key_is_never_kept_less_than_24_hours(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    with pytest.raises(ValueError, match="at least 24 hours"):
        begin(sessions, "guest", "k1", digest(), clock(), DAY - timedelta(seconds=1))
    assert rows(sessions) == []


def test_forget_expired_deletes_only_the_expired_keys(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "old-done", digest(), clock(), DAY)
    finish(sessions, "guest", "old-done", 201, ANSWER, clock())
    begin(sessions, "guest", "old-running", digest(), clock(), DAY)
    clock.advance(hours=12)
    begin(sessions, "guest", "young", digest(), clock(), DAY)
    begin(sessions, "guest", "kept-longer", digest(), T0, 2 * DAY)
    clock.advance(hours=12)  # T0 + 24 h: the first two have had their day

    with transaction(sessions) as session:
        assert forget_expired(session, clock()) == 2
    with transaction(sessions) as session:
        assert forget_expired(session, clock()) == 0

    assert [row.key for row in rows(sessions)] == ["young", "kept-longer"]


# --- finishing and abandoning ------------------------------------------------------------


def test_an_answer_about_the_moment_is_not_kept_so_a_retry_runs_afresh(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    for status in (500, 502, 503, 599, 408, 429):
        begin(sessions, "guest", "k1", digest(), clock(), DAY)
        finish(sessions, "guest", "k1", status, '{"code":"server_error"}', clock())

        assert rows(sessions) == [], status
    assert begin(sessions, "guest", "k1", digest(), clock(), DAY) is None


def test_finish_refuses_a_status_that_is_no_final_answer(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "k1", digest(), clock(), DAY)
    for status in (199, 600, 0, -1):
        with pytest.raises(ValueError, match="not a final HTTP status"):
            finish(sessions, "guest", "k1", status, ANSWER, clock())
    assert [row.status for row in rows(sessions)] == ["running"]


CARD_BODIES = [
    f'{{"order_number":"Q7K2M9X4P3","card":"{CARD}"}}',
    '{"card":"4111 1111 1111 1111"}',
    '{"card":"4111-1111-1111-1111"}',
    '{"note":"2 4111 1111 1111 1111"}',  # right after another number
    '{"card":"5555555555554444"}',  # Mastercard test number
    '{"card":"378282246310005"}',  # American Express, 15 digits
    '{"card":"6759649826438453"}',  # Maestro
    "4111111111111111",  # the whole body
]
CARDLESS_BODIES = [
    ANSWER,
    '{"card":"•••• 1111"}',  # masked, as every screen shows it
    '{"card":"4111111111111112"}',  # 16 digits with a wrong check digit
    '{"card":"41111111111"}',  # 11 digits: too short for a card
    '{"customer_number":"4829105736"}',  # ten digits
    '{"placed_at":"2026-11-25T12:00:00+00:00","total_cents":123456789}',
    '{"digits":"41111111111111110000"}',  # 20 digits in one run: no card length
    "",
]


@pytest.mark.parametrize("text", CARD_BODIES)
def test_a_card_number_is_found_however_it_is_written(text: str) -> None:
    assert holds_card_number(text)


@pytest.mark.parametrize("text", CARDLESS_BODIES)
def test_numbers_that_are_no_card_are_not_taken_for_one(text: str) -> None:
    assert not holds_card_number(text)


def test_finish_refuses_to_store_an_answer_holding_a_card_number(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "k1", digest(), clock(), DAY)

    for body in CARD_BODIES:
        with pytest.raises(ValueError, match="card number"):
            finish(sessions, "guest", "k1", 201, body, clock())

    # Nothing stored, and the claim stays so that a retry cannot place the order twice.
    [row] = rows(sessions)
    assert (row.status, row.response_body) == ("running", None)


def test_an_answer_without_a_card_number_is_stored_as_given(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    for number, body in enumerate(CARDLESS_BODIES):
        begin(sessions, "guest", f"k{number}", digest(), clock(), DAY)
        finish(sessions, "guest", f"k{number}", 201, body, clock())
        assert begin(sessions, "guest", f"k{number}", digest(), clock(), DAY) == Replay(201, body)


def test_abandoning_a_claim_lets_a_retry_claim_the_key_again(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "k1", digest(), clock(), DAY)
    abandon(sessions, "guest", "k1")

    assert rows(sessions) == []
    assert begin(sessions, "guest", "k1", digest(), clock(), DAY) is None


def test_a_finished_key_is_never_abandoned(
    sessions: sessionmaker[Session], digest: Callable[..., str], clock: MovableClock
) -> None:
    begin(sessions, "guest", "k1", digest(), clock(), DAY)
    finish(sessions, "guest", "k1", 201, ANSWER, clock())
    abandon(sessions, "guest", "k1")
    abandon(sessions, "guest", "never-claimed")

    assert begin(sessions, "guest", "k1", digest(), clock(), DAY) == Replay(201, ANSWER)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
