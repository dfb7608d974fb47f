"""What every route may reach through its request: one typed object, built by ``app.py``.

``web/`` knows no domain, so the objects a domain owns (the catalog memo, the registry of
personal data) travel in ``parts``, looked up by their type: ``state.part(CatalogMemo)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from quietshop.clock import Clock
from quietshop.settings import Settings
from quietshop.web.limits import AttemptLimiter
from quietshop.web.templating import Templates

T = TypeVar("T")


@dataclass(frozen=True)
class AppState:
    settings: Settings
    sessions: sessionmaker[Session]
    templates: Templates
    clock: Clock
    # Per client address: sign-in, registration, and every route that hashes or mails.
    limiter: AttemptLimiter
    parts: Mapping[type[Any], Any] = field(default_factory=dict)

    def part(self, kind: type[T]) -> T:
        """The one object of type ``kind`` a domain handed in at assembly."""
        found = self.parts.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"no {kind.__name__} was assembled into this app")
        return found


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.quietshop
    return state
