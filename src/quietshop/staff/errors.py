"""The staff domain's answers beyond the common ones (errors.py).

Each 401 carries its own code, because the back office acts on it: ``locked`` shows the
lock screen over the page (the session lives on), ``signed_out`` and ``unauthorized`` send
the tab to the sign-in page, ``unlock_failed`` and ``account_locked`` are shown in the
lock screen. Sign-in itself has one answer for every failure, ``sign_in_failed``, so that
it tells nobody whether an address belongs to a staff member, or whether that account is
locked, disabled or not yet enrolled.
"""

from __future__ import annotations

from datetime import datetime

from quietshop.errors import QuietshopError, Unauthorized

SIGN_IN_FAILED = (
    "The email address, the password or the code is wrong, or the account is locked for "
    "a while. Wait for your app's next code before trying again."
)


class SignInFailed(Unauthorized):
    status_code = 401
    code = "sign_in_failed"

    def __init__(self) -> None:
        super().__init__(SIGN_IN_FAILED)


class SessionLocked(Unauthorized):
    """The screen is locked: only the password (POST /api/v1/staff/unlock) opens it."""

    status_code = 401
    code = "locked"

    def __init__(self) -> None:
        super().__init__("The screen is locked: enter your password to go on.")


class SignedOut(Unauthorized):
    """The session has ended (signed out, 12 hours past, or the account disabled)."""

    status_code = 401
    code = "signed_out"

    def __init__(self) -> None:
        super().__init__("This sign-in has ended: please sign in again.")


class UnlockFailed(Unauthorized):
    status_code = 401
    code = "unlock_failed"

    def __init__(self) -> None:
        super().__init__("The password is wrong.")


class AccountLocked(Unauthorized):
    """Told at unlock only, where the person is known by their session already."""

    status_code = 401
    code = "account_locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(
            f"Too many wrong passwords: the account is locked until {until:%H:%M} UTC."
        )
        self.until = until


class Forbidden(QuietshopError):
    """The staff member's roles do not grant this (the attempt is in the audit chain)."""

    status_code = 403
    code = "forbidden"

    def __init__(self, message: str = "Your roles do not allow this.") -> None:
        super().__init__(message)
