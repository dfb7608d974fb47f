"""Payment processors (P8): one gateway-shaped Protocol, the simulator's deterministic
answers and gateway rules, the manual processor's pending intents, and a security code that
nothing keeps or shows."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from quietshop.errors import Conflict, EnvironmentProblem, InvalidInput, NotFound
from quietshop.payments.cards import CardInput, ValidCard, validate_card
from quietshop.payments.processors import (
    SIMULATOR_CARDS,
    AuthorizationRequest,
    AuthorizationResult,
    AuthorizationStatus,
    IdempotencyKeyReused,
    ManualProcessor,
    OperationStatus,
    PaymentProcessor,
    SimulatorProcessor,
    UnknownProcessor,
    processor_for,
)
from tests.clock import T0

CODE = "987"
AMEX_CODE = "9876"


def valid_card(number: str) -> ValidCard:
    code = AMEX_CODE if number.startswith(("34", "37")) else CODE
    typed = CardInput(number=number, expiry_month="12/30", name="Ann Example", security_code=code)
    return validate_card(typed, T0)


def request(
    number: str = "4242424242424242", *, key: str = "pay-1", amount: int = 1999, **changes: str
) -> AuthorizationRequest:
    card = valid_card(number)
    fields = {
        "idempotency_key": key,
        "amount_cents": amount,
        "currency": "USD",
        "card": card,
        "security_code": AMEX_CODE if card.brand == "amex" else CODE,
        "reference": "QS-10001",
        **changes,
    }
    return AuthorizationRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
def simulator() -> SimulatorProcessor:
    return SimulatorProcessor()


def approved(simulator: SimulatorProcessor, amount: int = 1000) -> str:
    result = simulator.authorize(request(amount=amount, key=f"auth-{amount}"))
    assert result.status is AuthorizationStatus.APPROVED
    return result.processor_reference


# ---------------------------------------------------------------- the simulator's table


@pytest.mark.parametrize(("number", "expected"), list(SIMULATOR_CARDS.items()))
def test_the_simulator_answers_by_test_card(
    simulator: SimulatorProcessor,
    number: str,
    expected: tuple[AuthorizationStatus, str | None],
) -> None:
    result = simulator.authorize(request(number))
    assert (result.status, result.decline_reason) == expected
    outcome = "ok" if result.status is AuthorizationStatus.APPROVED else "no"
    assert re.fullmatch(rf"sim_{outcome}_1999_[0-9a-f]{{12}}", result.processor_reference)
    if result.status is AuthorizationStatus.APPROVED:
        assert result.authorization_code == "SIM001"
    else:
        assert result.authorization_code is None


def test_the_table_is_stripe_s() -> None:
    assert SIMULATOR_CARDS["4000000000000002"] == (AuthorizationStatus.DECLINED, "card_declined")
    assert SIMULATOR_CARDS["4000000000009995"][1] == "insufficient_funds"
    assert SIMULATOR_CARDS["4000000000000069"][1] == "expired_card"
    assert SIMULATOR_CARDS["4000000000000127"][1] == "incorrect_cvc"
    assert SIMULATOR_CARDS["4000000000000119"] == (AuthorizationStatus.ERROR, "processing_error")


@pytest.mark.parametrize("number", ["4111111111111111", "3566002020360505", "6011111111111117"])
def test_any_other_valid_card_is_approved(simulator: SimulatorProcessor, number: str) -> None:
    assert simulator.authorize(request(number)).status is AuthorizationStatus.APPROVED


def test_the_simulator_says_it_is_one() -> None:
    simulator: PaymentProcessor = SimulatorProcessor()
    assert simulator.simulated is True and simulator.name == "simulator"
    assert "SIMULATED" in simulator.label and "no real money" in simulator.label
    manual: PaymentProcessor = ManualProcessor()
    assert manual.simulated is False and manual.name == "manual"
    assert "SIMULATED" not in manual.label


# ---------------------------------------------------------------- idempotency


def test_the_same_key_and_request_replays_the_first_answer(simulator: SimulatorProcessor) -> None:
    first = simulator.authorize(request(key="k1"))
    again = simulator.authorize(request(key="k1"))
    assert again == first
    assert simulator.authorize(request(key="k2")).processor_reference != first.processor_reference


def test_a_decline_replays_as_a_decline(simulator: SimulatorProcessor) -> None:
    first = simulator.authorize(request("4000000000009995", key="k1"))
    assert simulator.authorize(request("4000000000009995", key="k1")) == first


@pytest.mark.parametrize(
    "other",
    [
        {"amount": 2000},
        {"number": "5555555555554444"},
        {"reference": "QS-10002"},
        {"currency": "EUR"},
    ],
)
def test_another_request_under_a_used_key_is_refused(
    simulator: SimulatorProcessor, other: dict[str, object]
) -> None:
    first = simulator.authorize(request(key="k1"))
    with pytest.raises(IdempotencyKeyReused) as caught:
        simulator.authorize(request(key="k1", **other))  # type: ignore[arg-type]
    assert caught.value.status_code == 422
    assert simulator.authorize(request(key="k1")) == first


def test_a_key_used_for_one_operation_fits_no_other(simulator: SimulatorProcessor) -> None:
    reference = simulator.authorize(request(key="k1")).processor_reference
    with pytest.raises(IdempotencyKeyReused):
        simulator.capture(reference, 1999, "k1")


def test_concurrent_retries_authorize_once(simulator: SimulatorProcessor) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: simulator.authorize(request(key="k1")), range(32)))
    assert len(set(results)) == 1
    assert (
        simulator.authorize(request(key="k2")).processor_reference != results[0].processor_reference
    )


def test_a_reference_from_another_simulator_can_be_captured() -> None:
    """Two server processes, or a restart between placing and shipping: the reference
    itself says what was authorised."""
    placed = SimulatorProcessor().authorize(request(key="k1"))
    later = SimulatorProcessor()
    assert later.capture(placed.processor_reference, 1999, "c1").amount_cents == 1999
    declined = SimulatorProcessor().authorize(request("4000000000000002", key="k2"))
    with pytest.raises(Conflict):
        later.capture(declined.processor_reference, 1999, "c2")


# ---------------------------------------------------------------- capture, void, refund


def test_capture_up_to_the_authorized_amount_once(simulator: SimulatorProcessor) -> None:
    reference = approved(simulator, 1000)
    with pytest.raises(InvalidInput) as caught:
        simulator.capture(reference, 1001, "c1")
    assert caught.value.field == "amount_cents" and "1000" in caught.value.message
    captured = simulator.capture(reference, 800, "c2")  # a partial capture
    assert captured == simulator.capture(reference, 800, "c2")  # replayed
    assert (captured.status, captured.amount_cents) == (OperationStatus.COMPLETED, 800)
    with pytest.raises(Conflict, match="already captured"):
        simulator.capture(reference, 200, "c3")


def test_a_declined_payment_cannot_be_captured(simulator: SimulatorProcessor) -> None:
    reference = simulator.authorize(request("4000000000000002")).processor_reference
    with pytest.raises(Conflict, match="not approved"):
        simulator.capture(reference, 1999, "c1")


def test_void_only_before_capture(simulator: SimulatorProcessor) -> None:
    first, second = approved(simulator, 1000), approved(simulator, 2000)
    voided = simulator.void(first, "v1")
    assert voided.status is OperationStatus.COMPLETED and simulator.void(first, "v1") == voided
    with pytest.raises(Conflict, match="voided"):
        simulator.capture(first, 1000, "c1")
    simulator.capture(second, 2000, "c2")
    with pytest.raises(Conflict, match="refund it instead"):
        simulator.void(second, "v2")


def test_refunds_never_exceed_the_capture(simulator: SimulatorProcessor) -> None:
    reference = approved(simulator, 1000)
    with pytest.raises(Conflict, match="nothing was captured"):
        simulator.refund(reference, 100, "r0")
    simulator.capture(reference, 1000, "c1")
    first = simulator.refund(reference, 300, "r1")
    assert (first.amount_cents, first.refund_reference) == (300, f"{reference}_refund_1")
    assert simulator.refund(reference, 300, "r1") == first  # a retry refunds nothing more
    with pytest.raises(InvalidInput) as caught:
        simulator.refund(reference, 701, "r2")
    assert caught.value.field == "amount_cents" and "at most 700" in caught.value.message
    assert simulator.refund(reference, 700, "r2").refund_reference == f"{reference}_refund_2"
    with pytest.raises(InvalidInput, match="at most 0"):
        simulator.refund(reference, 1, "r3")


def test_an_unknown_reference_is_not_found(simulator: SimulatorProcessor) -> None:
    for call in (
        lambda: simulator.capture("sim_auth_999999", 100, "k"),
        lambda: simulator.void("sim_auth_999999", "k"),
        lambda: simulator.refund("sim_auth_999999", 100, "k"),
    ):
        with pytest.raises(NotFound):
            call()


@pytest.mark.parametrize("processor", [SimulatorProcessor, ManualProcessor])
@pytest.mark.parametrize(
    ("amount", "key", "reference", "field"),
    [
        (0, "k", "ref", "amount_cents"),
        (-5, "k", "ref", "amount_cents"),
        (True, "k", "ref", "amount_cents"),
        (10.5, "k", "ref", "amount_cents"),
        (10**15, "k", "ref", "amount_cents"),
        (100, "", "ref", "idempotency_key"),
        (100, "k" * 256, "ref", "idempotency_key"),
        (100, "k\n", "ref", "idempotency_key"),
        (100, "ключ", "ref", "idempotency_key"),
        (100, "k", "", "processor_reference"),
        (100, "k", "r" * 101, "processor_reference"),
    ],
)
def test_bad_operation_arguments_are_refused(
    processor: type[PaymentProcessor], amount: object, key: str, reference: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        processor().refund(reference, amount, key)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": 0}, "amount_cents"),
        ({"amount": -1}, "amount_cents"),
        ({"key": ""}, "idempotency_key"),
        ({"key": "x" * 256}, "idempotency_key"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "US"}, "currency"),
        ({"currency": "ÉUR"}, "currency"),
        ({"currency": ""}, "currency"),
        ({"reference": ""}, "reference"),
        ({"reference": "x" * 101}, "reference"),
        ({"security_code": "98"}, "security_code"),
        ({"security_code": "9876"}, "security_code"),
        ({"security_code": "abc"}, "security_code"),
    ],
)
def test_a_bad_authorization_request_is_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        request(**changes)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert "98" not in caught.value.message and "4242" not in caught.value.message


# ---------------------------------------------------------------- manual


def test_manual_charges_nothing_and_waits_for_billing() -> None:
    manual = ManualProcessor()
    result = manual.authorize(request(key="k1"))
    assert result == AuthorizationResult(
        AuthorizationStatus.PENDING_MANUAL, None, None, result.processor_reference
    )
    assert result.processor_reference.startswith("manual_")
    assert manual.authorize(request(key="k1")) == result  # the same key, the same reference
    assert manual.authorize(request(key="k2")).processor_reference != result.processor_reference
    # Even a card the simulator would decline waits for billing staff.
    assert manual.authorize(request("4000000000000002")).status is (
        AuthorizationStatus.PENDING_MANUAL
    )


def test_manual_capture_void_and_refund_record_intent() -> None:
    manual = ManualProcessor()
    reference = manual.authorize(request()).processor_reference
    captured = manual.capture(reference, 1999, "c1")
    assert (captured.status, captured.amount_cents) == (OperationStatus.PENDING_MANUAL, 1999)
    assert manual.void(reference, "v1").status is OperationStatus.PENDING_MANUAL
    refund = manual.refund(reference, 500, "r1")
    assert (refund.status, refund.amount_cents) == (OperationStatus.PENDING_MANUAL, 500)
    assert refund == manual.refund(reference, 500, "r1")
    assert refund.refund_reference != manual.refund(reference, 500, "r2").refund_reference


# ---------------------------------------------------------------- nothing keeps the code


def _everything_in(root: object) -> Iterator[object]:
    """Every object reachable from ``root`` through attributes and containers."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, type):
            continue  # a class's attributes are code, not what this instance kept
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif dataclasses.is_dataclass(item) or hasattr(item, "__dict__"):
            stack.extend(vars(item).values())


@pytest.mark.parametrize("processor", [SimulatorProcessor, ManualProcessor])
@pytest.mark.parametrize("number", list(SIMULATOR_CARDS))
def test_no_object_shows_or_keeps_the_number_or_the_code(
    processor: type[PaymentProcessor], number: str
) -> None:
    gateway = processor()
    sent = request(number)
    code = sent.security_code
    result = gateway.authorize(sent)
    shown = [repr(sent), str(sent), repr(result), str(result), repr(gateway), repr(sent.card)]
    if result.status is AuthorizationStatus.APPROVED:
        reference = result.processor_reference
        shown += [
            repr(gateway.capture(reference, 1999, "c")),
            repr(gateway.refund(reference, 100, "r")),
        ]
    for text in shown:
        assert number not in text and number[-8:] not in text
        assert f"'{code}'" not in text and f"={code}" not in text
    assert "security_code=<hidden>" in repr(sent) and sent.card.masked in repr(sent)
    everything = list(_everything_in(gateway))
    if processor is SimulatorProcessor:  # the walk reaches what the simulator keeps
        assert {"_Payment", "AuthorizationResult", "bytes"} <= {
            type(k).__name__ for k in everything
        }
    for kept in everything:
        if isinstance(kept, str):
            assert number not in kept and kept != code
        elif isinstance(kept, bytes):
            assert number.encode() not in kept


def test_processor_for_builds_a_fresh_one_by_name() -> None:
    assert isinstance(processor_for("manual"), ManualProcessor)
    first, second = processor_for("simulator"), processor_for("simulator")
    assert isinstance(first, SimulatorProcessor) and first is not second
    mine = first.authorize(request(key="k1"))
    # The second remembers nothing of the first's keys: the same key is new to it.
    assert second.authorize(request(key="k1")).processor_reference != mine.processor_reference


@pytest.mark.parametrize("name", ["stripe", "", "Manual", "x" * 10_000])
def test_an_unknown_processor_name_is_one_clear_line(name: str) -> None:
    with pytest.raises(UnknownProcessor) as caught:
        processor_for(name)
    message = str(caught.value)
    assert isinstance(caught.value, EnvironmentProblem)
    assert message.startswith("QUIETSHOP_PAYMENT_PROCESSOR must be one of manual, simulator")
    assert "\n" not in message and len(message) < 150
