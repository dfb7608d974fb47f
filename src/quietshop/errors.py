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
