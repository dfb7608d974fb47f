"""Errors a service raises and every route turns into the same clear answer.

One protocol: each kind of error carries its HTTP status, its machine-readable ``code``,
the ``detail`` a client is shown and any headers the answer needs. The app's one handler
reads those four things and nothing else, so a new kind of error cannot come out as
another kind's answer: a subclass that does not name its own code and status is refused
when the class is defined.
"""

from __future__ import annotations

from typing import Any, ClassVar


class QuietshopError(Exception):
    """Base of every error a service raises on purpose; never raised itself."""

    status_code: ClassVar[int]
    code: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if "code" not in own or "status_code" not in own:
            raise TypeError(f"{cls.__name__} must declare its own `code` and `status_code`")

    def detail(self) -> str | list[dict[str, str]]:
        """What the client is told: a sentence, or a list of {field, message}."""
        return str(self)

    def headers(self) -> dict[str, str]:
        return {}

    def extra(self) -> dict[str, Any]:
        """More fields of the JSON answer beside ``error`` and ``detail`` (e.g. the new
        totals a client must confirm); they never replace those two."""
        return {}


class InvalidInput(QuietshopError):
    """A named input is wrong; nothing was changed."""

    status_code = 400
    code = "invalid_parameter"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def detail(self) -> list[dict[str, str]]:
        return [{"field": self.field, "message": self.message}]


class Unauthorized(QuietshopError):
    """No valid sign-in: the answer is 401 and the browser shows the sign-in form."""

    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "please sign in") -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        return {"www-authenticate": "Bearer"}


class NotFound(QuietshopError):
    """The thing asked for does not exist (or is not yours: the answer is the same)."""

    status_code = 404
    code = "not_found"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class Conflict(QuietshopError):
    """The request clashes with the current state (or with one still running)."""

    status_code = 409
    code = "conflict"


class TooManyAttempts(QuietshopError):
    """Too many tries from one place in a short time; nothing was checked."""

    status_code = 429
    code = "too_many_attempts"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many attempts; try again later")
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after_seconds)}


class EnvironmentProblem(RuntimeError):
    """Not a bug and not bad input, but something about where the shop runs: a busy port, a
    missing database, a setting that must be set. The message says what to do, in one
    line (or one line per problem); commands print it without a traceback."""
