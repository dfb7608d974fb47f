"""Seeing the mail: the demo's local SMTP server keeps a Maildir, and `quietshop mail list`
and `quietshop mail show` print the outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quietshop.cli import app
from quietshop.db import make_engine, make_session_factory, upgrade_to_head
from quietshop.mail.background import make_sender
from quietshop.mail.local_smtp import captured_messages, start_local_smtp
from quietshop.settings import Settings
from tests.mail.conftest import queue_order_update
from tests.mail.smtp_servers import free_port


@pytest.fixture
def shop_dir(tmp_path: Path, mail_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A data dir with its own migrated SQLite database, as `quietshop demo` makes."""
    settings = mail_settings.model_copy(
        update={"data_dir": tmp_path / "var", "smtp_port": free_port()}
    )
    settings.data_dir.mkdir(parents=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade_to_head(engine)
    engine.dispose()
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QUIETSHOP_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("COLUMNS", "200")  # room for the whole table
    return settings


def test_the_local_server_keeps_a_maildir_and_the_cli_shows_it(shop_dir: Settings) -> None:
    sessions = make_session_factory(make_engine(shop_dir.resolved_database_url))
    with sessions() as session, session.begin():
        message_id = queue_order_update(session, shop_dir).message_id
    controller = start_local_smtp(shop_dir)
    try:
        summary = asyncio.run(make_sender(sessions, shop_dir).send_due())
    finally:
        controller.stop()
    assert summary.sent == 1
    ((_, captured),) = captured_messages(shop_dir)
    assert captured["Message-ID"] == message_id
    assert captured["Subject"] == "Your order QS-1001 is on its way"

    runner = CliRunner()
    listing = runner.invoke(app, ["mail", "list"])
    assert listing.exit_code == 0, listing.output
    assert "sent" in listing.output and "order_update" in listing.output
    assert "1 message(s) captured" in listing.output
    shown = runner.invoke(app, ["mail", "show", "1"])
    assert shown.exit_code == 0 and message_id in shown.output and "Parcel Co" in shown.output
    missing = runner.invoke(app, ["mail", "show", "999"])
    assert missing.exit_code == 1 and "No message 999" in missing.output


def test_mailing_commands(shop_dir: Settings) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app, ["mailing", "create", "--subject", "Spring prices", "--text", "Cheaper cables."]
    )
    assert created.exit_code == 0, created.output
    preview = runner.invoke(app, ["mailing", "preview", "1"])
    assert "Spring prices" in preview.output and "Cheaper cables." in preview.output
    sent = runner.invoke(app, ["mailing", "send", "1"])
    assert sent.exit_code == 0 and "Queued for 0 subscriber(s)" in sent.output
    again = runner.invoke(app, ["mailing", "send", "1"])
    assert again.exit_code == 2 and "already sent" in again.output
    bad = runner.invoke(app, ["mailing", "create", "--subject", "a\nb", "--text", "x"])
    assert bad.exit_code == 2 and "line breaks" in bad.output
