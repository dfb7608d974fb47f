"""Policy texts: the current version of a kind and its history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.errors import NotFound
from quietshop.privacy.models import Policy


def current_policy(session: Session, kind: str = "privacy") -> Policy:
    policy = session.execute(
        select(Policy).where(Policy.kind == kind).order_by(Policy.version.desc()).limit(1)
    ).scalar()
    if policy is None:
        raise NotFound("policy")
    return policy


def policy_version(session: Session, kind: str, version: int) -> Policy:
    policy = session.execute(
        select(Policy).where(Policy.kind == kind, Policy.version == version)
    ).scalar()
    if policy is None:
        raise NotFound("policy")
    return policy


def policy_history(session: Session, kind: str = "privacy") -> list[Policy]:
    return list(
        session.execute(
            select(Policy).where(Policy.kind == kind).order_by(Policy.version.desc())
        ).scalars()
    )
