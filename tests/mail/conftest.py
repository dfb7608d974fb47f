"""Mail fixtures: settings pointing at a test SMTP port, and a way to queue messages."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import datetime

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from quietshop.mail import service
from quietshop.mail.models import OutboxMessage
from quietshop.settings import Settings
from tests.clock import T0

SECRET = "test-secret-key-0123456789-abcdefghij"


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": SecretStr(SECRET),
            "smtp_timeout": 2.0,
            "mail_retry_base_seconds": 30.0,
            "mail_from": "Quietshop Test <shop@quietshop.test>",
        }
    )


def queue_order_update(
    db: Session,
    settings: Settings,
    to: str = "ann@example.org",
    number: str = "QS-1001",
    now: datetime = T0,
) -> OutboxMessage:
    return service.queue_message(
        db,
        settings,
        "order_shipped",
        service.Recipient(to, "Ann Example", "123456782"),
        {"order_number": number, "carrier": "Parcel Co", "tracking_number": "PC123"},
        now=now,
        reference=number,
    )


def subscribe(db: Session, number: str, email: str, name: str, now: datetime = T0) -> None:
    """A customer opted in to mailings with a confirmed address (both steps of P4)."""
    service.set_mailing_opt_in(db, number, email, name, True, now)
    service.confirm_mailing_address(db, number, email, now)


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect after each mail test, so an unclosed socket is reported by the test that
    leaked it rather than by whichever test runs when the collector happens to run."""
    yield
    gc.collect()
