"""Real ``quietshop serve`` processes for the proofs an in-process TestClient cannot give:
several server processes racing on one database (orders/test_overselling.py).

``running_shop(settings, processes=2)`` starts that many separate ``quietshop serve``
processes, each on its own free port of 127.0.0.1, sharing one data dir (keyring, TLS
certificate, access log) and one database, the way several nodes share PostgreSQL behind
a balancer. Separate processes on separate ports, rather than ``serve --workers 2`` on one
port: with SO_REUSEPORT the kernel, not the test, decides which worker a connection
reaches, so nothing would prove that both processes took part; here the test sends every
other request to the other process and can count the answers of each.

The processes run as a real shop, not as the demo, because that starts fastest and
leaves the database as the test made it: ``quietshop demo`` loads a generated catalog,
starts a local SMTP server and the mail sender (which would send, not leave queued, the
mails the test counts) and generates its key on first start. Here everything is given
up front (secret key, public base URL, simulated payments, the keyring, no mail sender),
and the certificate is made once before the processes start, so they never race to
write it. Each process runs in its own process group, killed group-wise at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from pydantic import SecretStr
from sqlalchemy import make_url

from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.web.serving import export_settings
from quietshop.web.tls import ensure_certificate
from tests.clock import T0

SECRET_KEY = "live-shop-secret-key-0123456789-abcdefghij"
PUBLIC_BASE_URL = "https://shop.test"
HOST = "127.0.0.1"
STARTUP_SECONDS = 30.0
STOP_SECONDS = 10.0
# A cheap route that reads the rate tables: answered, it shows the worker's app is up and
# reads the database the test seeded (the right file, or the right PostgreSQL schema).
READY_PATH = "/api/v1/checkout/countries"


@dataclass(frozen=True)
class LiveShop:
    data_dir: Path
    ports: tuple[int, ...]
    logs: tuple[Path, ...]
    ca_file: Path

    def base_url(self, index: int) -> str:
        return f"https://{HOST}:{self.ports[index]}"

    def client(self, index: int, *, connections: int = 50) -> httpx2.Client:
        """A client of process ``index`` that trusts the shop's local CA and no other."""
        return httpx2.Client(
            base_url=self.base_url(index),
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            timeout=30.0,
            limits=httpx2.Limits(max_connections=connections),
        )

    def log_text(self) -> str:
        """Every process's output, for a failure message."""
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')}" for log in self.logs)


def live_settings(data_dir: Path, database_url: str) -> Settings:
    """A shop that takes simulated card payments and leaves its mail queued."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        bind_host=HOST,
        http_port=0,
        secret_key=SecretStr(SECRET_KEY),
        public_base_url=PUBLIC_BASE_URL,
        payment_processor="simulator",
        send_mail_in_process=False,
        strict_privacy_guard=True,
        access_log_enabled=True,
    )


def postgres_schema_url(server_url: str, schema: str) -> str:
    """The server's URL with every connection's search_path set to ``schema`` (psycopg
    passes the ``options`` query parameter on to libpq)."""
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _prepare(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.keyring_path.exists():
        Keyring.create(settings.keyring_path, T0)
    # Dated by the real clock, as it must be: the client checks it against the real time.
    ensure_certificate(settings)


def _environment(settings: Settings, port: int) -> dict[str, str]:
    # Only these settings may configure the child, not whatever the test runner inherited.
    env = {key: value for key, value in os.environ.items() if not key.startswith("QUIETSHOP_")}
    export_settings(settings.model_copy(update={"https_port": port}), env)
    return env


def _start(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "quietshop.cli", "serve", "--workers", "1"],
            env=_environment(settings, port),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: granian's worker with it
        )


def _wait_until_ready(shop: LiveShop, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last_seen = {index: "no connection" for index in range(len(processes))}
    while last_seen and time.monotonic() < deadline:
        for index in sorted(last_seen):
            if processes[index].poll() is not None:
                pytest.fail(f"server {index} exited early:\n{shop.log_text()}")
            last_seen[index] = _probe(shop, index)
            if last_seen[index] == "200":
                del last_seen[index]
        time.sleep(0.1)
    if last_seen:
        pytest.fail(
            f"no answer on {READY_PATH} within {STARTUP_SECONDS:.0f} s from server(s) "
            f"{last_seen} (a granian worker that never starts serving hangs in its first "
            f"query):\n{shop.log_text()}"
        )


def _probe(shop: LiveShop, index: int) -> str:
    try:
        with shop.client(index) as client:
            return str(client.get(READY_PATH, timeout=2.0).status_code)
    except httpx2.TransportError as error:
        return type(error).__name__


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every group at once (granian stops its worker and waits for it), then
    SIGKILL to whatever is left of each group, a worker that outlived its parent too."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_SECONDS)


@contextlib.contextmanager
def running_shop(settings: Settings, processes: int = 2) -> Iterator[LiveShop]:
    """``processes`` servers of ``settings`` (its database migrated and seeded already),
    each answering on its own port; all stopped on leaving, whatever happened."""
    _prepare(settings)
    ports = tuple(free_port() for _ in range(processes))
    logs = tuple(settings.data_dir / f"serve-{index}.log" for index in range(processes))
    shop = LiveShop(settings.data_dir, ports, logs, settings.tls_dir / "ca.pem")
    started: list[subprocess.Popen[bytes]] = []
    try:
        for port, log in zip(ports, logs, strict=True):
            started.append(_start(settings, port, log))
        _wait_until_ready(shop, started)
        yield shop
    finally:
        _stop(started)
