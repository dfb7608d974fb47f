"""A real shop for browser tests: `quietshop demo` over TLS with its local mail server on a
free port, driven by Debian's Chromium through playwright. Mailed links are read from the
demo's mailbox, as a customer would read them: the shop's own outbox never holds one."""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.e2e.shopping import Choice, Watch, find_choice

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class RunningShop:
    base_url: str
    data_dir: Path

    def mailed_link(self, email: str, path: str, timeout: float = 20.0) -> str:
        """The link to ``path`` in the newest message delivered to ``email``."""
        deadline = time.monotonic() + timeout
        pattern = re.compile(re.escape(path) + r"\?token=[A-Za-z0-9_-]+")
        while time.monotonic() < deadline:
            for text in reversed(_delivered_to(self.data_dir / "mail", email)):
                found = pattern.search(text)
                if found:
                    return found.group(0)
            time.sleep(0.2)
        raise AssertionError(f"no mail to {email} with a link to {path}")

    def mailed_fragment_link(self, email: str, path: str, timeout: float = 20.0) -> str:
        """The link to ``path#token=...`` in the newest message delivered to ``email``:
        the order links keep their token in the fragment, which no browser sends."""
        deadline = time.monotonic() + timeout
        pattern = re.compile(re.escape(path) + r"#token=[A-Za-z0-9_.~-]+")
        while time.monotonic() < deadline:
            for _, text in reversed(_messages_to(self.data_dir / "mail", email)):
                found = pattern.search(text)
                if found:
                    return found.group(0)
            time.sleep(0.2)
        raise AssertionError(f"no mail to {email} with a fragment link to {path}")

    def mailed_text(self, email: str, subject: str, timeout: float = 20.0) -> str:
        """The plain text of the newest message to ``email`` whose subject holds ``subject``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for found, text in reversed(_messages_to(self.data_dir / "mail", email)):
                if subject in found:
                    return text
            time.sleep(0.2)
        raise AssertionError(f"no mail to {email} with {subject!r} in its subject")


def _messages_to(maildir: Path, email: str) -> list[tuple[str, str]]:
    """(subject, plain-text body) of the demo mailbox's messages to ``email``, oldest first."""
    if not maildir.exists():
        return []
    box = mailbox.Maildir(maildir, create=False)
    found = []
    for key in box.iterkeys():
        message = message_from_bytes(box.get_bytes(key), policy=policy.default)
        if isinstance(message, EmailMessage) and email in str(message["To"]):
            body = message.get_body(preferencelist=("plain",))
            if isinstance(body, EmailMessage):
                subject = str(message["Subject"])
                found.append((message["Date"].datetime, subject, body.get_content()))
    return [(subject, text) for _, subject, text in sorted(found, key=lambda item: item[0])]


def _delivered_to(maildir: Path, email: str) -> list[str]:
    """Plain-text bodies of the demo mailbox's messages to ``email``, oldest first."""
    return [text for _, text in _messages_to(maildir, email)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_tls(port: int, ca_file: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            context = ssl.create_default_context(cafile=str(ca_file))
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
                context.wrap_socket(raw, server_hostname="localhost"),
            ):
                return
        except (OSError, ssl.SSLError):
            time.sleep(0.2)
    raise TimeoutError(f"the shop did not answer on port {port}")


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("QUIETSHOP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing (QUIETSHOP_REQUIRE_BROWSER=1)")
        pytest.skip(f"{CHROMIUM} is missing; browser tests skipped (apt-get install chromium)")


@contextmanager
def start_shop(
    tmp_path_factory: pytest.TempPathFactory, *, manual: bool = False
) -> Iterator[RunningShop]:
    """`quietshop demo` on free ports. With ``manual``, the demo's data (catalog, rates,
    staff) served by `quietshop serve` with the shop's own card terminal
    (``payment_processor = "manual"``) and the demo's local mail server: the demo itself
    always pays with its simulator, so no order would wait for billing there."""
    _require_chromium()
    data_dir = tmp_path_factory.mktemp("shop") / "var"
    port = _free_port()
    env = {
        **os.environ,
        "QUIETSHOP_DATA_DIR": str(data_dir),
        "QUIETSHOP_HTTPS_PORT": str(port),
        "QUIETSHOP_HTTP_PORT": "0",
        "QUIETSHOP_SMTP_PORT": str(_free_port()),
    }
    for inherited in ("QUIETSHOP_DATABASE_URL", "QUIETSHOP_SECRET_KEY", "QUIETSHOP_DEMO"):
        env.pop(inherited, None)
    cli = [sys.executable, "-m", "quietshop.cli"]
    quiet = subprocess.DEVNULL
    if manual:
        subprocess.run([*cli, "demo", "--products", "80", "--no-serve"], env=env, check=True,
                       timeout=300, stdout=quiet, stderr=quiet)  # fmt: skip
        env.update(QUIETSHOP_PAYMENT_PROCESSOR="manual", QUIETSHOP_LOCAL_SMTP="true")
    command = [*cli, "serve"] if manual else [*cli, "demo", "--products", "80"]
    server = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet, start_new_session=True)
    try:
        _wait_for_tls(port, data_dir / "tls" / "ca.pem", time.monotonic() + 90)
        yield RunningShop(base_url=f"https://localhost:{port}", data_dir=data_dir)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def running_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    with start_shop(tmp_path_factory) as shop:
        yield shop


@pytest.fixture(scope="module")
def browser(running_shop: RunningShop) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def watch(browser: Browser, running_shop: RunningShop) -> Iterator[Watch]:
    """A fresh browser context, watched; its tabs come from ``watch.page()``."""
    # Sign-in hashes with argon2id, and placing an order waits on the processor: on a busy
    # machine an answer can take longer than expect()'s default 5 seconds.
    expect.set_options(timeout=20_000)
    context = browser.new_context(ignore_https_errors=True)
    yield Watch(context, running_shop.base_url)
    context.close()
    expect.set_options(timeout=5_000)  # playwright's default, for other modules


@pytest.fixture(scope="module")
def choice(browser: Browser, running_shop: RunningShop) -> Choice:
    context = browser.new_context(ignore_https_errors=True)
    try:
        return find_choice(context, running_shop.base_url)
    finally:
        context.close()
