from __future__ import annotations

import pytest

from quietshop.settings import Settings


@pytest.fixture
def account_settings(settings: Settings) -> Settings:
    """The shared test settings (a secret key and a public base URL are set there)."""
    return settings
