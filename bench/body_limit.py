"""What a 200 MB anonymous POST costs the server now (issue 7, defect 7).

Starts the real server (`quietshop serve` over TLS, one worker, on a demo data dir in a
temporary folder), then sends, one after the other: a small registration (the reference),
a 200 MB body with its Content-Length declared, and a 200 MB body sent chunked without a
length. For each it prints the answer, the time until the answer, how many bytes the
client got to send before the answer came, and the server processes' resident memory
before and after.

Run: .venv/bin/python bench/body_limit.py   (about 20 s; 127.0.0.1 only)
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

MB = 1024 * 1024
BODY_MB = 200
CHUNK = 64 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_rss_mb(leader: int) -> float:
    """Resident memory of the server and its worker processes (its process group, Linux)."""
    total_kb = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if os.getpgid(int(status.parent.name)) != leader:
                continue
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue  # gone meanwhile
        total_kb += int(fields.get("VmRSS", "0 kB").split()[0])
    return total_kb / 1024


def wait_for(port: int, ca: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            context = ssl.create_default_context(cafile=str(ca))
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                context.wrap_socket(raw, server_hostname="localhost").close()
                return
        except (OSError, ssl.SSLError):
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def post(port: int, ca: Path, body: Iterator[bytes] | bytes, length: int | None) -> str:
    context = ssl.create_default_context(cafile=str(ca))
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=60)
    sent = 0
    start = time.perf_counter()
    headers = {"content-type": "application/json"}
    if length is not None:
        headers["content-length"] = str(length)
    else:
        headers["transfer-encoding"] = "chunked"
    connection.putrequest("POST", "/api/v1/auth/register")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    try:
        for chunk in [body] if isinstance(body, bytes) else body:
            data = chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            connection.send(data)
            sent += len(chunk)
        if length is None:
            connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # the server answered and closed: the rest was never sent
    response = connection.getresponse()
    status = response.status
    response.read()
    elapsed = time.perf_counter() - start
    connection.close()
    return f"{status}  {elapsed * 1000:7.0f} ms  client sent {sent / MB:7.1f} MB"


def chunks(total_mb: int) -> Iterator[bytes]:
    block = b"x" * CHUNK
    for _ in range(total_mb * MB // CHUNK):
        yield block


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "var"
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("QUIETSHOP_")},
            "QUIETSHOP_DATA_DIR": str(data_dir),
            "QUIETSHOP_HTTPS_PORT": str(port),
            "QUIETSHOP_HTTP_PORT": "0",
            "QUIETSHOP_SEND_MAIL_IN_PROCESS": "false",
        }
        cli = [sys.executable, "-m", "quietshop.cli"]
        subprocess.run([*cli, "demo", "--no-serve", "--products", "10"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        server = subprocess.Popen([*cli, "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        ca = data_dir / "tls" / "ca.pem"
        try:
            wait_for(port, ca, time.monotonic() + 60)
            time.sleep(1)
            small = b'{"name": "Ann", "email": "a@example.org", "password": "x"}'
            print(f"server RSS at start: {group_rss_mb(server.pid):.0f} MB")
            for label, body, length in (
                ("reference: 60-byte registration", small, len(small)),
                (f"{BODY_MB} MB, Content-Length declared", chunks(BODY_MB), BODY_MB * MB),
                (f"{BODY_MB} MB, chunked, no length", chunks(BODY_MB), None),
            ):
                before = group_rss_mb(server.pid)
                outcome = post(port, ca, body, length)
                after = group_rss_mb(server.pid)
                print(f"{label:38}  {outcome}  RSS {before:.0f} -> {after:.0f} MB")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
