"""A real shop for browser tests: `quietshop demo --no-serve` then `quietshop serve` over TLS,
driven by Debian's Chromium through playwright."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def running_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("QUIETSHOP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing (QUIETSHOP_REQUIRE_BROWSER=1)")
        pytest.skip(f"{CHROMIUM} is missing; browser tests skipped (apt-get install chromium)")
    data_dir = tmp_path_factory.mktemp("shop") / "var"
    port = _free_port()
    env = {
        **os.environ,
        "QUIETSHOP_DATA_DIR": str(data_dir),
        "QUIETSHOP_HTTPS_PORT": str(port),
        "QUIETSHOP_HTTP_PORT": "0",
    }
    env.pop("QUIETSHOP_DATABASE_URL", None)
    cli = [sys.executable, "-m", "quietshop.cli"]
    subprocess.run(
        [*cli, "demo", "--no-serve", "--products", "80"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = subprocess.Popen(
        [*cli, "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_tls(port, data_dir / "tls" / "ca.pem", time.monotonic() + 30)
        yield RunningShop(base_url=f"https://localhost:{port}", data_dir=data_dir)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
