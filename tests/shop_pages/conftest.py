"""The shop pages' tests share the staff tests' fixtures: cheap hashes, the keyring, the API."""

from __future__ import annotations

from tests.staff.conftest import api, cheap_hashes, keyring

__all__ = ["api", "cheap_hashes", "keyring"]
