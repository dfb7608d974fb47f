"""Seeing the mail: the demo's local SMTP server keeps a Maildir, and `quietshop mail list`
and `quietshop mail show` print the outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quietshop.cli import app
from quietshop.db import make_engine, make_session_factory, upgrade_to_head
from quietshop.mail import service
from quietshop.mail.background import make_sender
from quietshop.mail.local_smtp import captured_messages, start_local_smtp
from quietshop.settings import Settings, load_settings, write_demo_marker
from tests.clock import T0
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
    monkeypatch.setenv("QUIETSHOP_PUBLIC_BASE_URL", settings.public_base_url)
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
    assert "1 message(s) delivered to the demo mailbox" in listing.output
    shown = runner.invoke(app, ["mail", "show", "1"])
    assert shown.exit_code == 0 and message_id in shown.output and "Parcel Co" in shown.output
    assert "as delivered to the demo mailbox" in shown.output
    missing = runner.invoke(app, ["mail", "show", "999"])
    assert missing.exit_code == 2 and "outbox message 999 not found" in missing.output


def test_mail_show_redacts_links_in_the_outbox_and_never_wraps_the_delivered_one(
    shop_dir: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defects 4 and 15: the stored copy shows where the link was, not the link; the demo
    mailbox's copy (what the customer received) shows the whole link on one line, however
    narrow the terminal."""
    monkeypatch.setenv("COLUMNS", "40")
    link = "https://localhost:8443/account/verify?token=" + "v" * 43
    sessions = make_session_factory(make_engine(shop_dir.resolved_database_url))
    with sessions() as session, session.begin():
        service.queue_message(
            session, shop_dir, "email_verification",
            service.Recipient("ann@example.org", "Ann", "123456782"), {},
            now=T0, links={"link": link},
        )  # fmt: skip
    shown = CliRunner().invoke(app, ["mail", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "v" * 43 not in shown.output and "[link sent in the mail; not kept]" in shown.output
    controller = start_local_smtp(shop_dir)
    try:
        asyncio.run(make_sender(sessions, shop_dir).send_due())
    finally:
        controller.stop()
    delivered = CliRunner().invoke(app, ["mail", "show", "1"])
    assert link in delivered.output.splitlines()  # one whole line, not cut at 40 columns


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


def test_mailing_send_is_refused_without_the_shared_base_url_and_key(
    shop_dir: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 13: from another shell without the server's settings, no mailing goes out
    with links to the wrong host or signed with the wrong key."""
    runner = CliRunner()
    runner.invoke(app, ["mailing", "create", "--subject", "Spring", "--text", "Cheaper."])
    monkeypatch.delenv("QUIETSHOP_PUBLIC_BASE_URL", raising=False)
    refused = runner.invoke(app, ["mailing", "send", "1"])
    assert refused.exit_code == 2 and "QUIETSHOP_PUBLIC_BASE_URL" in refused.output


def test_the_demo_marker_makes_every_shell_use_the_demo_links(
    shop_dir: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUIETSHOP_PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("QUIETSHOP_SECRET_KEY", raising=False)
    write_demo_marker(shop_dir.model_copy(update={"https_port": 9443, "public_base_url": ""}))
    settings = load_settings()
    assert settings.demo and settings.base_url == "https://localhost:9443"
    runner = CliRunner()
    runner.invoke(app, ["mailing", "create", "--subject", "Spring", "--text", "Cheaper."])
    sent = runner.invoke(app, ["mailing", "send", "1"])
    assert sent.exit_code == 0, sent.output


def test_the_demo_mailbox_forgets_a_closed_account(shop_dir: Settings) -> None:
    """The demo's mailbox lives in the shop's data dir: closing an account deletes what it
    caught for the address, and the goodbye right after it is delivered."""
    demo = shop_dir.model_copy(update={"local_smtp": True})
    sessions = make_session_factory(make_engine(demo.resolved_database_url))
    with sessions() as session, session.begin():
        queue_order_update(session, demo, to="leaving@example.org")
        queue_order_update(session, demo, to="staying@example.org", number="QS-2")
    controller = start_local_smtp(demo)
    try:
        asyncio.run(make_sender(sessions, demo).send_due())
        assert len(captured_messages(demo)) == 2
        service.forget_captured_mail(demo, "LEAVING@example.org")
        assert [m["To"] for _, m in captured_messages(demo)] == [
            "Ann Example <staying@example.org>"
        ]
        with sessions() as session, session.begin():
            service.queue_message(
                session, demo, "account_closed",
                service.Recipient("leaving@example.org", "Leaving Person", "123456782"), {},
                now=T0, erase_after_send=True,
            )  # fmt: skip
        assert asyncio.run(make_sender(sessions, demo).send_due()).sent == 1
    finally:
        controller.stop()
    assert [m["To"] for _, m in captured_messages(demo)] == ["Ann Example <staying@example.org>"]
    # Outside the demo there is no mailbox of the shop's to forget anything in.
    service.forget_captured_mail(shop_dir, "staying@example.org")
    assert len(captured_messages(demo)) == 1
