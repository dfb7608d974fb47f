"""Policy texts (a version and its history) and the rule for links that leave the shop."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.errors import InvalidInput, NotFound
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
