"""The staff domain's entries in the audit chain: who signed in, out, locked and unlocked,
every failed attempt, and changes to staff accounts, each with the session's origin (PCI
DSS 10.2.1.4, 10.2.2).

One builder, so every entry about a staff session reads alike. The subject is the staff
member (``staff:<id>``), never a customer; an entry about an address that belongs to no
staff member names no one, and never the address typed (it may be a customer's, or a
password typed into the wrong field). These entries act in no role (``role`` is empty):
which roles the person held is the staff table's, and a denial's reason names them.
"""

from __future__ import annotations

from collections.abc import Iterable

from quietshop.audit import service as audit


def roles_text(roles: Iterable[str]) -> str:
    """Roles as a reason names them: "billing, owner"."""
    return ", ".join(sorted(str(role) for role in roles)) or "no role"


def staff_event(
    action: str,
    *,
    staff_id: int | None,
    origin: str = "",
    reason: str = "",
    about: int | None = None,
) -> audit.AuditEvent:
    """An entry by ``staff_id`` (None: nobody known, or the owner at the command line)
    about the staff member ``about`` (by default the same person)."""
    subject_id = about if about is not None else staff_id
    return audit.AuditEvent(
        action=action,
        staff_id=staff_id,
        role="",
        subject=f"staff:{subject_id}" if subject_id is not None else "staff",
        customer_id=None,
        reason=reason,
        origin=origin[: audit.MAX_ORIGIN],
    )
