"""Errors a service raises and every route turns into the same clear answer."""

from __future__ import annotations


class QuietshopError(Exception):
    status_code = 400


class NotFound(QuietshopError):
    """The thing asked for does not exist (or is not yours: the answer is the same)."""

    status_code = 404

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class InvalidInput(QuietshopError):
    """A named input is wrong; nothing was changed."""

    status_code = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Unauthorized(QuietshopError):
    """No valid sign-in: the answer is 401 and the browser shows the sign-in form."""

    status_code = 401

    def __init__(self, message: str = "please sign in") -> None:
        super().__init__(message)
        self.message = message


class TooManyAttempts(QuietshopError):
    """Too many tries from one place in a short time; nothing was checked."""

    status_code = 429

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many attempts; try again later")
        self.retry_after_seconds = retry_after_seconds
