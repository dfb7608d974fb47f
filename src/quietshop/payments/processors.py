"""Payment processors behind one Protocol shaped like a real gateway (P8).

``authorize`` reserves an amount on a card, ``capture`` takes it (once, up to the amount
authorized), ``void`` releases an authorization not captured, ``refund`` returns part or
all of a capture (never more than captured minus already refunded). Every call carries an
idempotency key: the same key with the same request answers what it answered the first
time, so a retry after a timeout never charges twice.

Two implementations, chosen by name (``processor_for``):

- ``manual``, the default for a small shop: billing staff charge the card on the shop's
  own terminal. ``authorize`` answers ``pending_manual`` and charges nothing; the orders
  service then lets billing record "approved, authorization code ..." or "declined,
  reason ...". ``capture``, ``void`` and ``refund`` answer ``pending_manual`` too: they
  record the intent, and staff do it on the terminal. It keeps no state (the service's
  tables are the ledger, so the refund limit is the service's to enforce), and it never
  sees a use for the security code: staff key the card in without it, since it is not
  kept for them (PCI DSS 3.3.1).
- ``simulator``, for the demo and the tests only: deterministic answers by the well-known
  test card numbers (``SIMULATOR_CARDS``), gateway rules enforced, state in memory per
  instance (gone on restart, not shared between processes). Its ``label`` says SIMULATED
  so every screen can say "test payments: no real money".

The security code is a parameter of ``authorize`` only. It is never kept on anything that
outlives the call, never in a repr, never in an error: a request's repr shows the masked
card and the amount, and the simulator remembers a request by a keyed hash that excludes
the code.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeVar

from quietshop.errors import Conflict, EnvironmentProblem, InvalidInput, NotFound, QuietshopError
from quietshop.payments.cards import ValidCard, check_security_code

MAX_IDEMPOTENCY_KEY = 255
MAX_REFERENCE = 100
MAX_AMOUNT_CENTS = 100_000_000_00  # a hundred million in any currency: past any one order


class AuthorizationStatus(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    ERROR = "error"  # the processor failed; trying again later may work
    PENDING_MANUAL = "pending_manual"  # billing staff decide (ManualProcessor)


class OperationStatus(StrEnum):
    COMPLETED = "completed"
    PENDING_MANUAL = "pending_manual"  # recorded; staff do it on the terminal


class IdempotencyKeyReused(QuietshopError):
    """The key was used before for a different request (IETF idempotency draft: 422)."""

    status_code = 422
    code = "idempotency_key_reused"


class UnknownProcessor(EnvironmentProblem):
    """The setting names no processor this shop has."""


# ---------------------------------------------------------------- requests and results


def _check_text(value: str, field_name: str, limit: int) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise InvalidInput(field_name, f"1 to {limit} characters")
    if not value.isascii() or not value.isprintable():
        raise InvalidInput(field_name, "printable ASCII only")


def _check_amount(amount_cents: int) -> None:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidInput("amount_cents", "a whole number of cents")
    if not 0 < amount_cents <= MAX_AMOUNT_CENTS:
        raise InvalidInput("amount_cents", f"between 1 and {MAX_AMOUNT_CENTS} cents")


@dataclass(frozen=True, kw_only=True)
class AuthorizationRequest:
    """One authorization call's input. Lives for the call only: it is the one object that
    holds the security code, and its repr shows neither that nor the card number."""

    idempotency_key: str
    amount_cents: int
    currency: str
    card: ValidCard
    security_code: str = field(repr=False)
    reference: str  # the shop's own reference for the payment (the order number)

    def __post_init__(self) -> None:
        _check_text(self.idempotency_key, "idempotency_key", MAX_IDEMPOTENCY_KEY)
        _check_amount(self.amount_cents)
        if not (
            isinstance(self.currency, str)
            and len(self.currency) == 3
            and self.currency.isascii()
            and self.currency.isupper()
            and self.currency.isalpha()
        ):
            raise InvalidInput("currency", "three capital letters (ISO 4217), like USD")
        _check_text(self.reference, "reference", MAX_REFERENCE)
        check_security_code(self.security_code, self.card.brand)

    def __repr__(self) -> str:
        return (
            f"AuthorizationRequest({self.amount_cents} {self.currency}, {self.card.masked!r}, "
            "security_code=<hidden>)"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class AuthorizationResult:
    status: AuthorizationStatus
    authorization_code: str | None  # the issuer's approval code, when approved
    decline_reason: str | None  # e.g. "insufficient_funds", when declined or failed
    processor_reference: str  # what capture, void and refund name


@dataclass(frozen=True)
class CaptureResult:
    status: OperationStatus
    processor_reference: str
    amount_cents: int


@dataclass(frozen=True)
class VoidResult:
    status: OperationStatus
    processor_reference: str


@dataclass(frozen=True)
class RefundResult:
    status: OperationStatus
    processor_reference: str
    refund_reference: str
    amount_cents: int


class PaymentProcessor(Protocol):
    """A card gateway: the shape every processor has, real or not."""

    @property
    def name(self) -> str:
        """The setting's value that chooses it."""
        ...

    @property
    def label(self) -> str:
        """What screens show about it (SIMULATED for the simulator)."""
        ...

    @property
    def simulated(self) -> bool:
        """True when no real money moves: screens must say so."""
        ...

    def authorize(self, request: AuthorizationRequest) -> AuthorizationResult: ...

    def capture(
        self, processor_reference: str, amount_cents: int, idempotency_key: str
    ) -> CaptureResult: ...

    def void(self, processor_reference: str, idempotency_key: str) -> VoidResult: ...

    def refund(
        self, processor_reference: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult: ...


# ---------------------------------------------------------------- manual


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class ManualProcessor:
    """Billing staff charge the card on the shop's own terminal; this records intents.

    Stateless: a reference is derived from the idempotency key, so a replay answers the
    same. It cannot tell a replay from another request under the same key, nor enforce
    refund limits: the service, whose tables hold the payment, does both."""

    name = "manual"
    label = "Manual: billing staff charge the card on the shop's own terminal"
    simulated = False

    def authorize(self, request: AuthorizationRequest) -> AuthorizationResult:
        # Nothing is charged and the security code goes no further than this call.
        reference = f"manual_{_digest(request.idempotency_key)}"
        return AuthorizationResult(AuthorizationStatus.PENDING_MANUAL, None, None, reference)

    def capture(
        self, processor_reference: str, amount_cents: int, idempotency_key: str
    ) -> CaptureResult:
        _check_operation(processor_reference, idempotency_key, amount_cents)
        return CaptureResult(OperationStatus.PENDING_MANUAL, processor_reference, amount_cents)

    def void(self, processor_reference: str, idempotency_key: str) -> VoidResult:
        _check_operation(processor_reference, idempotency_key)
        return VoidResult(OperationStatus.PENDING_MANUAL, processor_reference)

    def refund(
        self, processor_reference: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult:
        _check_operation(processor_reference, idempotency_key, amount_cents)
        refund_reference = f"{processor_reference}_refund_{_digest(idempotency_key)[:12]}"
        return RefundResult(
            OperationStatus.PENDING_MANUAL, processor_reference, refund_reference, amount_cents
        )


def _check_operation(
    processor_reference: str, idempotency_key: str, amount_cents: int | None = None
) -> None:
    _check_text(processor_reference, "processor_reference", MAX_REFERENCE)
    _check_text(idempotency_key, "idempotency_key", MAX_IDEMPOTENCY_KEY)
    if amount_cents is not None:
        _check_amount(amount_cents)


# ---------------------------------------------------------------- simulator

# Stripe's well-known test numbers: (status, decline reason). Any other valid card approves.
SIMULATOR_CARDS: dict[str, tuple[AuthorizationStatus, str | None]] = {
    "4242424242424242": (AuthorizationStatus.APPROVED, None),
    "4000000000000002": (AuthorizationStatus.DECLINED, "card_declined"),
    "4000000000009995": (AuthorizationStatus.DECLINED, "insufficient_funds"),
    "4000000000000069": (AuthorizationStatus.DECLINED, "expired_card"),
    "4000000000000127": (AuthorizationStatus.DECLINED, "incorrect_cvc"),
    "4000000000000119": (AuthorizationStatus.ERROR, "processing_error"),
    "5555555555554444": (AuthorizationStatus.APPROVED, None),
    "378282246310005": (AuthorizationStatus.APPROVED, None),
}


@dataclass
class _Payment:
    """What the simulator remembers of an authorization: amounts and state, no card."""

    amount_cents: int
    approved: bool
    voided: bool = False
    captured_cents: int = 0
    refunded_cents: int = 0
    refunds: int = 0


Result = TypeVar("Result")


class SimulatorProcessor:
    """SIMULATED payments for the demo and the tests: no real money, no network.

    Deterministic by card number (``SIMULATOR_CARDS``); idempotent by key (a replay answers
    the first answer, another request under a used key raises IdempotencyKeyReused); gateway
    rules enforced (one capture up to the authorized amount, void only before capture,
    refunds up to what was captured). State lives in this instance's memory only."""

    name = "simulator"
    label = "SIMULATED: test payments, no real money moves"
    simulated = True

    def __init__(self) -> None:
        self._lock = threading.RLock()  # _once holds it while make() looks up a payment
        self._payments: dict[str, _Payment] = {}
        self._answers: dict[str, tuple[bytes, object]] = {}
        self._numbers = itertools.count(1)
        # Keys the fingerprints of requests: equal requests compare equal, and no card
        # number can be recovered from what is kept.
        self._fingerprint_key = secrets.token_bytes(32)

    def __repr__(self) -> str:
        return f"SimulatorProcessor({len(self._payments)} payments)"

    def _fingerprint(self, *parts: object) -> bytes:
        text = "\x1f".join(str(part) for part in parts)
        return hmac.new(self._fingerprint_key, text.encode(), hashlib.sha256).digest()

    def _once(self, key: str, fingerprint: bytes, make: Callable[[], Result]) -> Result:
        """The answer stored under ``key`` for this very request, else a new one kept there.
        A refusal (an exception) is not kept: the same call may be tried again."""
        with self._lock:
            if key in self._answers:
                kept_fingerprint, answer = self._answers[key]
                if not hmac.compare_digest(kept_fingerprint, fingerprint):
                    raise IdempotencyKeyReused("this idempotency key was used for another request")
                return answer  # type: ignore[return-value]  # same fingerprint, same type
            answer = make()
            self._answers[key] = (fingerprint, answer)
            return answer

    def _payment(self, processor_reference: str) -> _Payment:
        """The authorization behind a reference. One made by another simulator (another
        server process, or this one before a restart) is rebuilt from the reference,
        which carries its outcome and amount, as a real gateway would look it up."""
        with self._lock:
            payment = self._payments.get(processor_reference)
            if payment is None:
                payment = _payment_from_reference(processor_reference)
                self._payments[processor_reference] = payment
            return payment

    def authorize(self, request: AuthorizationRequest) -> AuthorizationResult:
        card = request.card
        fingerprint = self._fingerprint(
            "authorize",
            request.amount_cents,
            request.currency,
            request.reference,
            card.number,
            card.exp_month,
            card.exp_year,
        )
        return self._once(
            request.idempotency_key, fingerprint, lambda: self._new_authorization(request)
        )

    def _new_authorization(self, request: AuthorizationRequest) -> AuthorizationResult:
        number = next(self._numbers)
        status, reason = SIMULATOR_CARDS.get(
            request.card.number, (AuthorizationStatus.APPROVED, None)
        )
        approved = status is AuthorizationStatus.APPROVED
        outcome = "ok" if approved else "no"
        reference = f"sim_{outcome}_{request.amount_cents}_{secrets.token_hex(6)}"
        self._payments[reference] = _Payment(request.amount_cents, approved=approved)
        code = f"SIM{number:03d}" if approved else None
        return AuthorizationResult(status, code, reason, reference)

    def capture(
        self, processor_reference: str, amount_cents: int, idempotency_key: str
    ) -> CaptureResult:
        _check_operation(processor_reference, idempotency_key, amount_cents)
        fingerprint = self._fingerprint("capture", processor_reference, amount_cents)

        def make() -> CaptureResult:
            payment = self._payment(processor_reference)
            if not payment.approved:
                raise Conflict("this payment was not approved; nothing can be captured")
            if payment.voided:
                raise Conflict("this authorization was voided")
            if payment.captured_cents:
                raise Conflict("this payment was already captured")
            if amount_cents > payment.amount_cents:
                raise InvalidInput(
                    "amount_cents", f"at most the {payment.amount_cents} cents authorized"
                )
            payment.captured_cents = amount_cents
            return CaptureResult(OperationStatus.COMPLETED, processor_reference, amount_cents)

        return self._once(idempotency_key, fingerprint, make)

    def void(self, processor_reference: str, idempotency_key: str) -> VoidResult:
        _check_operation(processor_reference, idempotency_key)
        fingerprint = self._fingerprint("void", processor_reference)

        def make() -> VoidResult:
            payment = self._payment(processor_reference)
            if payment.captured_cents:
                raise Conflict("this payment was captured; refund it instead")
            payment.voided = True
            return VoidResult(OperationStatus.COMPLETED, processor_reference)

        return self._once(idempotency_key, fingerprint, make)

    def refund(
        self, processor_reference: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult:
        _check_operation(processor_reference, idempotency_key, amount_cents)
        fingerprint = self._fingerprint("refund", processor_reference, amount_cents)

        def make() -> RefundResult:
            payment = self._payment(processor_reference)
            if not payment.captured_cents:
                raise Conflict("nothing was captured; void the authorization instead")
            remaining = payment.captured_cents - payment.refunded_cents
            if amount_cents > remaining:
                raise InvalidInput("amount_cents", f"at most {remaining} cents are left to refund")
            payment.refunded_cents += amount_cents
            payment.refunds += 1
            refund_reference = f"{processor_reference}_refund_{payment.refunds}"
            return RefundResult(
                OperationStatus.COMPLETED, processor_reference, refund_reference, amount_cents
            )

        return self._once(idempotency_key, fingerprint, make)


_SIMULATOR_REFERENCE = re.compile(r"^sim_(ok|no)_([0-9]{1,12})_[0-9a-f]{12}$")


def _payment_from_reference(reference: str) -> _Payment:
    match = _SIMULATOR_REFERENCE.match(reference)
    if match is None:
        raise NotFound("payment")
    return _Payment(int(match.group(2)), approved=match.group(1) == "ok")


# ---------------------------------------------------------------- choosing one

PROCESSORS: dict[str, Callable[[], PaymentProcessor]] = {
    "manual": ManualProcessor,
    "simulator": SimulatorProcessor,
}


def processor_for(name: str) -> PaymentProcessor:
    """A new processor of the kind the setting names (the app keeps one per process)."""
    make = PROCESSORS.get(name)
    if make is None:
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise UnknownProcessor(
            f"QUIETSHOP_PAYMENT_PROCESSOR must be one of {', '.join(PROCESSORS)} (got {shown!r})"
        )
    return make()
