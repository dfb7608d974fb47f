"""Caller verification (P9, issue 9 item 7): before customer service discusses or changes
an account on the phone, the caller gives the customer number and the postcode of an
address on file, and the check is recorded in the audit chain.

- ``verify``: the postcode is compared normalised and in constant time
  (``accounts.service.postcode_on_file``) with the customer's address book and the
  addresses on their orders (a guest has no book). Either way an entry is appended,
  ``caller_verified`` or ``caller_verification_failed``, naming the customer, never the
  postcode typed. After ``MAX_FAILURES`` failed checks for one customer within
  ``FAILURE_WINDOW``, by anyone, the customer is refused (429) until the oldest of them
  ages out: the number is printed on every mail, so a guesser must not get to try every
  postcode of a country.
- ``verified_customer``: an edit of contact details or addresses wants a check that
  passed within ``VERIFIED_FOR``, in this staff session.

Where a passed check is kept: in the audit chain itself, nowhere else. The entry has to be
written anyway (the issue asks for it), the chain is shared by every ``serve`` process
behind a load balancer (a process's memory is not), and it adds no table to classify,
export or erase. "In this staff session" is read as: appended by this staff member, from
this session's origin, since this session began. Two sessions of one person from one
address at the same time count as one; both are that person, signed in with their second
factor.

Refusals roll the request's transaction back, so ``customer_desk`` appends them as a
``denied`` entry in a transaction of their own, like every refused access.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.accounts import service as accounts
from quietshop.audit import service as audit
from quietshop.errors import QuietshopError, TooManyAttempts
from quietshop.orders import service as orders
from quietshop.staff.access import Office, staff_access
from quietshop.staff.models import StaffSession
from quietshop.staff.need_to_know import Action
from quietshop.web.dependencies import now
from quietshop.web.state import app_state

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)
VERIFIED_FOR = timedelta(minutes=15)
VERIFIED = "caller_verified"
FAILED = "caller_verification_failed"
# What the customer reads in their account beside "checked it was you on the phone".
PURPOSE = "a caller gave the customer number and the postcode of an address on file"
WRONG = "a caller gave the customer number and a postcode that is not on file"
# The columns compared (never shown): the postcodes of the book and of the orders.
COMPARED = ("customer_addresses.postcode", "orders.bill_postcode", "orders.ship_postcode")


@dataclass(frozen=True)
class CallerCheck:
    verified: bool
    valid_until: datetime | None  # when a passed check stops allowing edits
    attempts_left: int  # failed checks still allowed within the hour


class CallerRefused(QuietshopError):
    """A refusal of customer service's that the chain must keep: ``event`` is appended in
    a transaction of its own once the request's has rolled back."""

    status_code = 403
    code = "forbidden"

    def __init__(self, message: str, event: audit.AuditEvent) -> None:
        super().__init__(message)
        self.event = event


class CallerNotVerified(CallerRefused):
    status_code = 403
    code = "caller_not_verified"


class VerificationsThrottled(CallerRefused):
    """Too many failed checks for this customer within the hour (429, Retry-After)."""

    status_code = 429
    code = TooManyAttempts.code

    def __init__(self, event: audit.AuditEvent, retry_after_seconds: int) -> None:
        super().__init__(
            "Too many wrong postcodes for this customer in the last hour: try again later, "
            "or ask the customer to write in.",
            event,
        )
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after_seconds)}


def _denied(office: Office, customer_id: int, reason: str) -> audit.AuditEvent:
    return audit.AuditEvent(
        action="denied",
        staff_id=office.staff.id,
        role=office.role.value,
        subject=f"customer:{customer_id}",
        customer_id=customer_id,
        reason=reason,
        origin=office.staff.origin[: audit.MAX_ORIGIN],
    )


def _recent(
    session: Session, action: str, customer_id: int, since: datetime, *, staff_id: int | None
) -> list[audit.AuditEntryOut]:
    """The newest entries of ``action`` about the customer since ``since`` (by anyone when
    ``staff_id`` is None), at most MAX_FAILURES of them."""
    wanted = audit.AuditFilter(
        action=action, customer_id=customer_id, since=since, staff_id=staff_id
    )
    return audit.entries(session, wanted, limit=MAX_FAILURES)


def _check_not_throttled(office: Office, customer_id: int) -> int:
    """The failed checks still allowed; VerificationsThrottled when none is."""
    # Within the hour: a failure exactly an hour old no longer counts, as Retry-After says.
    since = office.now - FAILURE_WINDOW + timedelta(microseconds=1)
    failures = _recent(office.session, FAILED, customer_id, since, staff_id=None)
    if len(failures) < MAX_FAILURES:
        return MAX_FAILURES - len(failures)
    oldest = failures[-1].at  # newest first: the fifth is the oldest that still counts
    wait = max(1, ceil((oldest + FAILURE_WINDOW - office.now).total_seconds()))
    reason = f"caller verification refused: {MAX_FAILURES} failed checks within the hour"
    raise VerificationsThrottled(_denied(office, customer_id, reason), wait)


def verify(office: Office, typed_number: str, postcode: str) -> CallerCheck:
    """Check a caller's postcode against the customer's addresses on file and append the
    outcome; NotFound for a number that names no open account."""
    session = office.session
    customer_id = accounts.customer_id_for_number(session, typed_number)
    left = _check_not_throttled(office, customer_id)
    on_orders = orders.order_postcodes(session, customer_id)
    verified = accounts.postcode_on_file(session, customer_id, postcode, on_orders)
    office.change(
        customer_id=customer_id,
        subject=f"customer:{customer_id}",
        fields=COMPARED,
        kinds=("address",),
        reason=PURPOSE if verified else WRONG,
        entry=VERIFIED if verified else FAILED,
    )
    if verified:
        return CallerCheck(True, office.now + VERIFIED_FOR, left)
    return CallerCheck(False, None, left - 1)


def _session_started(session: Session, session_id: int) -> datetime:
    statement = select(StaffSession.created_at).where(StaffSession.id == session_id)
    started: datetime = session.execute(statement).scalar_one()
    return started


def verified_until(office: Office, customer_id: int) -> datetime | None:
    """Until when this staff session's last passed check for the customer allows edits
    (None: no check passed in the last VERIFIED_FOR, in this session)."""
    started = _session_started(office.session, office.staff.session_id)
    since = max(office.now - VERIFIED_FOR, started)
    passed = [
        entry
        for entry in _recent(office.session, VERIFIED, customer_id, since, staff_id=office.staff.id)
        if entry.origin == office.staff.origin[: audit.MAX_ORIGIN]
    ]
    return passed[0].at + VERIFIED_FOR if passed else None


def verified_customer(office: Office, typed_number: str) -> int:
    """The id of the customer with this number, whose caller this session verified within
    VERIFIED_FOR; NotFound for no such customer, CallerNotVerified otherwise."""
    customer_id = accounts.customer_id_for_number(office.session, typed_number)
    if verified_until(office, customer_id) is None:
        raise CallerNotVerified(
            "Verify the caller first (customer number and the postcode of an address on "
            f"file): an edit needs a check passed in the last {VERIFIED_FOR.seconds // 60} "
            "minutes.",
            _denied(office, customer_id, f"{office.action.value} without a verified caller"),
        )
    return customer_id


@contextmanager
def customer_desk(request: Request, action: Action) -> Iterator[Office]:
    """``access.staff_access(request, action)``, with customer service's own refusals
    (not verified, throttled) appended to the chain after the request rolled back."""
    try:
        with staff_access(request, action) as office:
            yield office
    except CallerRefused as refused:
        audit.record(app_state(request).sessions, refused.event, now(request))
        raise
