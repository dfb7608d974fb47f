"""Policy texts (a version and its history, publishing the next one) and the rule for
links that leave the shop."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quietshop.errors import Conflict, InvalidInput, NotFound
from quietshop.privacy.models import Policy


def policy_history(session: Session, kind: str = "privacy") -> list[Policy]:
    return list(
        session.execute(
            select(Policy).where(Policy.kind == kind).order_by(Policy.version.desc())
        ).scalars()
    )


def policy_with_history(
    session: Session, kind: str, version: int | None = None
) -> tuple[Policy, list[Policy]]:
    """One version of a policy (the newest when none is asked for) and every version."""
    history = policy_history(session, kind)
    wanted = next(
        (policy for policy in history if version is None or policy.version == version), None
    )
    if wanted is None:
        raise NotFound("policy")
    return wanted, history


def leaving_host(target: str) -> str:
    """The host a link that leaves the shop goes to (P2 notice); only http(s) addresses."""
    try:
        parts = urlsplit(target)
    except ValueError:
        raise InvalidInput("to", "is not a web address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("to", "must be an http or https address")
    return parts.hostname


# ---------------------------------------------------------------- publishing versions
#
# A version is never edited: publishing makes the next one of its kind, and every older
# one stays for the record (the public page lists them). Other domains receive
# ``PolicyVersion`` copies, never the row.

POLICY_KIND = re.compile(r"[a-z0-9_-]{2,40}")
MAX_POLICY_TITLE = 200
MAX_POLICY_BODY = 100_000
# C0 and C1 controls but tab and line feed, the bidirectional overrides that make a text
# read other than it is, and lone surrogates: nothing a policy text needs.
_HOSTILE_IN_BODY = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


@dataclass(frozen=True)
class PolicyVersion:
    id: int
    kind: str
    version: int
    title: str
    body: str
    published_at: datetime


@dataclass(frozen=True)
class PolicyHeader:
    """A version without its text, for lists of versions."""

    id: int
    kind: str
    version: int
    title: str
    published_at: datetime


class PolicyPublishedMeanwhile(Conflict):
    status_code = 409
    code = "policy_published_meanwhile"


def _version_of(policy: Policy) -> PolicyVersion:
    return PolicyVersion(
        policy.id, policy.kind, policy.version, policy.title, policy.body, policy.published_at
    )


def checked_policy_kind(kind: object) -> str:
    if not isinstance(kind, str) or not POLICY_KIND.fullmatch(kind):
        raise InvalidInput("kind", "use 2 to 40 characters: a-z, 0-9, - and _")
    return kind


def _checked_title(title: str) -> str:
    title = title.strip()
    if not 1 <= len(title) <= MAX_POLICY_TITLE:
        raise InvalidInput("title", f"give a title of 1 to {MAX_POLICY_TITLE} characters")
    if not title.isprintable():
        raise InvalidInput("title", "must be one line, without control characters")
    return title


def _checked_body(body: str) -> str:
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if not body.strip():
        raise InvalidInput("body", "must not be empty")
    if len(body) > MAX_POLICY_BODY:
        raise InvalidInput("body", f"must be at most {MAX_POLICY_BODY:,} characters")
    if _HOSTILE_IN_BODY.search(body):
        raise InvalidInput("body", "must not contain control characters or direction overrides")
    return body


def add_policy_version(
    session: Session, kind: str, title: str, body: str, now: datetime
) -> PolicyVersion:
    """The next version of ``kind`` (the first, for a new kind), in the caller's
    transaction. InvalidInput names the field for a bad kind, title or body (nothing is
    written); PolicyPublishedMeanwhile when another version of the kind got the number
    first (on PostgreSQL; SQLite writers queue)."""
    kind, title, body = checked_policy_kind(kind), _checked_title(title), _checked_body(body)
    latest = session.execute(select(func.max(Policy.version)).where(Policy.kind == kind))
    policy = Policy(
        kind=kind, version=(latest.scalar() or 0) + 1, title=title, body=body, published_at=now
    )
    try:
        with session.begin_nested():
            session.add(policy)
    except IntegrityError:
        raise PolicyPublishedMeanwhile(
            f"another version of {kind} was published at the same moment: reload and try again"
        ) from None
    return _version_of(policy)


_LATEST = (
    select(Policy.kind, func.max(Policy.version).label("version")).group_by(Policy.kind).subquery()
)


def latest_policy_versions(session: Session) -> list[PolicyVersion]:
    """The newest version of every kind, by kind: what staff must have acknowledged."""
    rows = session.execute(
        select(Policy)
        .join(_LATEST, (Policy.kind == _LATEST.c.kind) & (Policy.version == _LATEST.c.version))
        .order_by(Policy.kind)
    ).scalars()
    return [_version_of(policy) for policy in rows]


def policy_version(session: Session, policy_id: int) -> PolicyVersion:
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise NotFound("policy")
    return _version_of(policy)


def policy_headers(session: Session) -> list[PolicyHeader]:
    """Every version of every kind without its text, by kind, newest version first."""
    rows = session.execute(
        select(Policy.id, Policy.kind, Policy.version, Policy.title, Policy.published_at).order_by(
            Policy.kind, Policy.version.desc()
        )
    )
    return [PolicyHeader(*row) for row in rows]
