"""Legal disclosure (design.md P2: "a recorded workflow"; the policy: "We will not give,
sell, rent, or loan any identifiable personal information to any third party, unless we
are legally required to do so").

Only the privacy officer discloses (``Action.LEGAL_DISCLOSURE``), always with the legal
basis: the authority that requires it and its reference ("District Court", "Order
2026/123"). What is handed over is exactly the document the customer's own "download my
data" builds (``accounts.service.export_for_disclosure``), never a selection made up here,
so an authority receives no more than the customer themselves could see. One disclosure
is, in one transaction:

- a ``legal_disclosure`` entry in the audit chain, its reason the basis, its data kinds
  the kinds handed over;
- a row of ``legal_disclosures`` (when, who, whose, basis, kinds), which the privacy
  officer lists later.

The basis is text the officer typed, kept long after the customer's data is erased: it is
cleaned (control characters and bidi overrides refused, white space folded) and must not
name the customer (number, name or email address), so that closing the account leaves
nothing of them in it. Whether the customer is told (their "who looked" list, their
export) is the shop's decision, left at "not told" (docs/promises.md, P2).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.accounts import service as accounts
from quietshop.errors import InvalidInput, NotFound
from quietshop.privacy.personal_data import PersonalDataRegistry, SubjectRows
from quietshop.staff import access
from quietshop.staff.audit_log import staff_names
from quietshop.staff.models import LegalDisclosure
from quietshop.staff.need_to_know import Action, acting_role
from quietshop.staff.sessions import SignedInStaff

MAX_AUTHORITY = 200
MAX_REFERENCE = 200
MAX_PAGE = 100
# Control characters (tabs and line breaks too: a basis is one line), bidi overrides and
# isolates, lone surrogates, and the zero-width characters that hide text inside text.
_HOSTILE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# The kinds the export's own "staff_access" part holds (when, role, kind, purpose).
_ACCESS_HISTORY_KIND = "activity"


class BasisRefused(InvalidInput):
    """A legal basis that cannot be kept: empty, too long, hostile characters, or naming
    the customer. 422 naming the field; nothing was disclosed or recorded."""

    status_code = 422
    code = "invalid_basis"


@dataclass(frozen=True)
class LegalBasis:
    authority: str
    reference: str

    @property
    def reason(self) -> str:
        """As the audit entry states it (at most 12 + 200 + 2 + 200 characters)."""
        return f"Required by {self.authority}, {self.reference}"


@dataclass(frozen=True)
class Disclosed:
    id: int
    disclosed_at: datetime
    customer_number: str
    basis: LegalBasis
    kinds: tuple[str, ...]
    document: dict[str, Any]  # what was handed over: the customer's own export


def _clean(field: str, typed: str, limit: int) -> str:
    if _HOSTILE.search(typed):
        raise BasisRefused(field, "control, invisible or direction-changing characters")
    text = " ".join(unicodedata.normalize("NFC", typed).split())
    if not text:
        raise BasisRefused(field, "name it: a disclosure needs its legal basis")
    if len(text) > limit:
        raise BasisRefused(field, f"at most {limit} characters, not {len(text)}")
    return text


def legal_basis(authority: str, reference: str) -> LegalBasis:
    """The basis as it will be kept, or BasisRefused naming the field."""
    return LegalBasis(
        _clean("authority", authority, MAX_AUTHORITY),
        _clean("reference", reference, MAX_REFERENCE),
    )


def _identity(document: dict[str, Any]) -> tuple[str, ...]:
    """What would name the customer in a basis: their number, name and email address (the
    account's part of the export, which accounts export as "account")."""
    rows = document.get("data", {}).get("account", [])
    found = [str(row.get(name) or "") for row in rows for name in ("name", "email")]
    return (str(document.get("customer_number", "")), *found)


def _check_names_no_customer(basis: LegalBasis, document: dict[str, Any]) -> None:
    for field, text in (("authority", basis.authority), ("reference", basis.reference)):
        folded = text.casefold()
        digits = re.sub(r"[\s\-\u2010-\u2013.]", "", text)
        for value in _identity(document):
            if len(value) >= 3 and (value.casefold() in folded or value in digits):
                raise BasisRefused(
                    field,
                    "names the customer: the basis is kept after their data is erased, so "
                    "give the authority and its reference only",
                )


def kinds_handed_over(registry: PersonalDataRegistry, document: dict[str, Any]) -> tuple[str, ...]:
    """The declared kinds of the personal columns of every part of the document that
    holds rows, and the access history when there is one."""
    data = document.get("data", {})
    kinds = {
        str(column.info["personal"])
        for contribution in registry.contributions
        if data.get(contribution.export_as)
        for column in contribution.table.columns
        if "personal" in column.info
    }
    if document.get("staff_access"):
        kinds.add(_ACCESS_HISTORY_KIND)
    return tuple(sorted(kinds))


def disclose(
    session: Session,
    staff: SignedInStaff,
    registry: PersonalDataRegistry,
    typed_number: str,
    basis: LegalBasis,
    now: datetime,
) -> Disclosed:
    """Hand over the data of the open account with this number under ``basis``: the audit
    entry and the record, in the caller's (writing) transaction. AccessDenied without the
    action; InvalidInput for text that is no customer number; NotFound for a number never
    issued or a closed account; BasisRefused for a basis naming the customer."""
    acting_role(staff.roles, Action.LEGAL_DISCLOSURE)
    customer_id = accounts.customer_id_for_any_number(session, typed_number)
    if customer_id is None:
        raise NotFound("customer")
    document = accounts.export_for_disclosure(session, customer_id, registry, now)
    _check_names_no_customer(basis, document)
    kinds = kinds_handed_over(registry, document)
    access.change(
        session, staff, Action.LEGAL_DISCLOSURE,
        customer_id=customer_id, subject=f"customer:{customer_id}", kinds=kinds,
        reason=basis.reason, now=now, entry="legal_disclosure",
    )  # fmt: skip
    row = LegalDisclosure(
        disclosed_at=now,
        staff_id=staff.id,
        customer_id=customer_id,
        customer_number=document["customer_number"],
        authority=basis.authority,
        reference=basis.reference,
        kinds=json.dumps(list(kinds)),
    )
    session.add(row)
    session.flush()
    return Disclosed(row.id, now, row.customer_number, basis, kinds, document)


# ---------------------------------------------------------------- the record


@dataclass(frozen=True)
class DisclosurePage:
    rows: list[dict[str, Any]]  # legal_disclosures columns by name, kinds as a list
    staff_names: dict[int, str]
    next_before: int | None


def past_disclosures(session: Session, limit: int, before: int | None) -> DisclosurePage:
    """Disclosures newest first, ``limit`` a page, older than the id ``before``."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"from 1 to {MAX_PAGE}")
    statement = select(LegalDisclosure).order_by(LegalDisclosure.id.desc()).limit(limit + 1)
    if before is not None:
        statement = statement.where(LegalDisclosure.id < before)
    found = list(session.execute(statement).scalars())
    shown = found[:limit]
    rows = [_row(disclosure) for disclosure in shown]
    more = len(found) > limit
    return DisclosurePage(rows, staff_names(session, rows), shown[-1].id if more else None)


def _row(disclosure: LegalDisclosure) -> dict[str, Any]:
    return {
        "id": disclosure.id,
        "disclosed_at": disclosure.disclosed_at,
        "staff_id": disclosure.staff_id,
        "customer_id": disclosure.customer_id,
        "customer_number": disclosure.customer_number,
        "authority": disclosure.authority,
        "reference": disclosure.reference,
        "kinds": json.loads(disclosure.kinds),
    }


# ---------------------------------------------------------------- erasure (privacy's registry)

_TABLE = LegalDisclosure.__table__

# Closing the account detaches its disclosures (the customer id NULL, the number blank)
# and keeps the rest; never part of the customer's own export (see the module's doc).
ROWS: tuple[SubjectRows, ...] = (
    SubjectRows(
        _TABLE,  # type: ignore[arg-type]
        lambda subject: _TABLE.c.customer_id == subject.customer_id,
        "scrub",
        "legal_disclosures",
        exported=False,
    ),
)
