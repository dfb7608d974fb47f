from __future__ import annotations

import pytest
from pydantic import SecretStr

from quietshop.settings import Settings


@pytest.fixture
def account_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": SecretStr("test-secret-key-0123456789-abcdefghij"),
            "public_base_url": "https://shop.test",
        }
    )
