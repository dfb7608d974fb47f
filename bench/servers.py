"""Starting and stopping the servers serve_bench.py measures, and talking to them over TLS.

Quietshop (``quietshop serve``) and bench/bare_app.py each run as a subprocess in their
own process group, on a free port of 127.0.0.1, and are killed group-wise at the end.
Their logs are read for the evidence of a stall (the database connection pool's timeout).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from fingerprint import source_fingerprint
from measurements import Run

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_GRACE = 10.0
STALLED_STOP_GRACE = 2.0  # a stalled server's graceful stop would wait for stuck requests
PROBE_TIMEOUT = 5.0
PROBES_PER_WORKER = 4
POOL_EVIDENCE_WAIT = 45.0  # SQLAlchemy's pool timeout is 30 s
POOL_TIMEOUT_TEXT = "QueuePool limit of size"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    workers: int
    mode: str
    source: str

    def url(self, path: str) -> str:
        return f"https://{HOST}:{self.port}{path}"


class Servers:
    """Every server this run started; each in its own process group, all killed at the end."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._running: list[Server] = []

    def start(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        log: Path,
        port: int,
        workers: int,
        mode: str,
    ) -> Server:
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                list(argv),
                env=env,
                cwd=REPO_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: granian's workers too
            )
        source = source_fingerprint()
        if source not in self._run.sources:
            self._run.sources.append(source)
        server = Server(process, port, log, workers, mode, source)
        self._running.append(server)
        return server

    def stop(self, server: Server, grace: float = STOP_GRACE) -> None:
        _end_process_group(server.process, grace)
        if server in self._running:
            self._running.remove(server)
        self._record_pool_timeouts(server)

    def stop_all(self) -> None:
        for server in list(self._running):
            self.stop(server, grace=STALLED_STOP_GRACE)

    def _record_pool_timeouts(self, server: Server) -> None:
        """Count the server log's pool timeouts and where the stuck requests were."""
        key = (server.workers, server.mode)
        lines = lines_with(server.log, POOL_TIMEOUT_TEXT)
        self._run.pool_timeouts[key] = self._run.pool_timeouts.get(key, 0) + len(lines)
        if lines and not self._run.pool_message:
            self._run.pool_message = lines[0].strip()
        for chain in pool_timeout_chains(server.log):
            self._run.stuck_at[chain] = self._run.stuck_at.get(chain, 0) + 1


def _end_process_group(process: subprocess.Popen[bytes], grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Whatever is left of the group (a worker that outlived its parent) goes now.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE)


def lines_with(path: Path, text: str) -> list[str]:
    try:
        return [line for line in path.read_text(errors="replace").splitlines() if text in line]
    except OSError:
        return []


_FRAME = re.compile(r'File "[^"]*/src/quietshop/([^"]+)", line (\d+), in (\S+)')


def pool_timeout_chains(log: Path) -> list[tuple[str, ...]]:
    """For each traceback in ``log`` that ends in a pool timeout, its Quietshop frames."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    chains = []
    for chunk in text.split("Traceback (most recent call last):")[1:]:
        if POOL_TIMEOUT_TEXT in chunk:
            frames = [f"{path}:{line} {func}" for path, line, func in _FRAME.findall(chunk)]
            chains.append(tuple(frames))
    return chains


def wait_for_line(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not lines_with(path, text):
        time.sleep(1.0)


# ---------------------------------------------------------------- how to start them


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def quietshop_command() -> list[str]:
    script = Path(sys.executable).parent / "quietshop"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from quietshop.cli import main; main()"]


def base_env(data_dir: Path) -> dict[str, str]:
    # Inherited QUIETSHOP_* variables must not change what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETSHOP_")}
    env["QUIETSHOP_DATA_DIR"] = str(data_dir)
    return env


def quietshop_env(data_dir: Path, port: int, *, cache: bool) -> dict[str, str]:
    env = base_env(data_dir)
    env.update(
        QUIETSHOP_HTTPS_PORT=str(port),
        QUIETSHOP_HTTP_PORT="0",
        QUIETSHOP_PAGE_CACHE_ENABLED="true" if cache else "false",
        QUIETSHOP_ACCESS_LOG_ENABLED="true",
    )
    return env


# ---------------------------------------------------------------- talking to them


def tls_context(data_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(data_dir / "tls" / "ca.pem"))


def connect(
    port: int, context: ssl.SSLContext, timeout: float = 10.0
) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(HOST, port, context=context, timeout=timeout)


def fetch(
    port: int, context: ssl.SSLContext, path: str, timeout: float = 10.0
) -> tuple[int, bytes]:
    conn = connect(port, context, timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def answers(port: int, data_dir: Path, path: str, timeout: float = PROBE_TIMEOUT) -> bool:
    try:
        status, _ = fetch(port, tls_context(data_dir), path, timeout)
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return False
    return status == 200


def responsive(server: Server, data_dir: Path, path: str) -> bool:
    """Does every worker still answer? New connections land on any worker, so ask a few."""
    probes = PROBES_PER_WORKER * server.workers
    return all(answers(server.port, data_dir, path) for _ in range(probes))


def wait_until_serving(server: Server, data_dir: Path, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        # The CA file appears once the server has generated it; answers() reads it each time.
        if server.process.poll() is None and answers(server.port, data_dir, path):
            return
        if server.process.poll() is not None:
            break
        time.sleep(0.2)
    tail = server.log.read_text(errors="replace")[-3000:] if server.log.exists() else ""
    raise RuntimeError(f"server on port {server.port} did not answer {path}; log:\n{tail}")


def run_and_clean_up(servers: Servers, work_dir: Path, keep: bool, work: Callable[[], bool]) -> int:
    """A bench's main body: run ``work`` (it says whether the run was clean), stop every
    server whatever happens, and remove ``work_dir`` after a clean run unless ``keep``
    (else say where its data and logs are). 130 after Ctrl-C (or SIGTERM/SIGHUP turned
    into KeyboardInterrupt), 0 otherwise."""
    clean = False
    try:
        clean = work()
    except KeyboardInterrupt:
        print("Interrupted; stopping the servers.", file=sys.stderr)
        return 130
    finally:
        servers.stop_all()
        if clean and not keep:
            shutil.rmtree(work_dir, ignore_errors=True)
        else:
            print(f"Data and server logs kept in {work_dir}", file=sys.stderr)
    return 0


def _raise_interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP end a bench as Ctrl-C does, so run_and_clean_up still stops
    its servers (a killed bench must not leave a server holding the port)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)


def wrk_missing() -> bool:
    """Whether wrk is absent (and said so): the load benches need it."""
    if shutil.which("wrk") is not None:
        return False
    print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
    return True
