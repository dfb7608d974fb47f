"""The plain-HTTP port: every request is answered with a redirect to HTTPS (promise P3).

No framework and no application code run here, on purpose: nothing personal can be
served, logged or set (no cookies, P1) over an unencrypted connection. The request is
read only far enough to learn the host and the path to send the browser back to.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 8 * 1024
CLIENT_TIMEOUT = 10.0
# After answering, read and drop what the client still sends (a POST body) for a moment:
# closing with unread data makes the kernel send a reset that can destroy our answer.
LINGER_SECONDS = 1.0
LINGER_MAX_BYTES = 64 * 1024

_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/\d\.\d")
# Letters, digits, dots and hyphens, or a bracketed IPv6 literal, and an optional port.
# Anything else (slashes, @, CR/LF, spaces) could steer the Location header elsewhere.
_HOST = re.compile(r"(?P<name>[A-Za-z0-9.-]{1,253}|\[(?P<ipv6>[0-9A-Fa-f:.]{2,45})\])(?::\d{1,5})?")

_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _OversizedError(Exception):
    """The request head is larger than MAX_HEAD_BYTES."""


@dataclass(frozen=True)
class _RedirectConfig:
    https_port: int
    fallback_base_url: str


@dataclass
class _Head:
    target: str | None = None  # None: the request line itself was unusable
    host: str | None = None
    host_count: int = 0
    oversized: bool = False


def run_redirect_server(
    host: str,
    port: int,
    https_port: int,
    fallback_base_url: str,
    *,
    sock: socket.socket | None = None,
) -> None:
    """Serve redirects until the process ends; meant for a daemon thread or a process."""

    async def forever() -> None:
        server = await start_redirect_server(host, port, https_port, fallback_base_url, sock=sock)
        async with server:
            await server.serve_forever()

    asyncio.run(forever())


async def start_redirect_server(
    host: str,
    port: int,
    https_port: int,
    fallback_base_url: str,
    *,
    sock: socket.socket | None = None,
) -> asyncio.Server:
    """Start answering on ``host:port`` (or on an already bound ``sock``); return the server."""
    config = _RedirectConfig(https_port, fallback_base_url.rstrip("/"))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _handle_connection(reader, writer, config)

    # The stream limit bounds a single line, so a giant header cannot make us buffer it.
    if sock is not None:
        return await asyncio.start_server(handle, sock=sock, limit=MAX_HEAD_BYTES + 1)
    return await asyncio.start_server(handle, host, port, limit=MAX_HEAD_BYTES + 1)


async def _handle_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, config: _RedirectConfig
) -> None:
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            head = await _read_head(reader)
            writer.write(_response(head, config))
            await writer.drain()
            await _linger(reader, writer)
    except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        pass  # a slow or vanished client gets nothing more
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> _Head:
    """Read the request line and headers, keeping only the target and the Host."""
    budget = MAX_HEAD_BYTES
    head = _Head()
    try:
        line, size = await _read_line(reader, budget)
        head.target = _parse_request_line(line)
        if head.target is None:
            return head  # answered with 400 at once; no point waiting for more
        while True:
            budget -= size
            line, size = await _read_line(reader, budget)
            if not line:
                return head
            _note_header(head, line)
    except _OversizedError:
        head.oversized = True
    return head


async def _read_line(reader: asyncio.StreamReader, budget: int) -> tuple[str, int]:
    """One line without its line ending (empty at the end of the head), and its raw size."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as error:
        raise _OversizedError from error
    if len(raw) > budget:
        raise _OversizedError
    # latin-1 maps every byte to one character, so nothing fails to decode here;
    # the checks that follow refuse what is not printable ASCII.
    return raw.decode("latin-1").rstrip("\r\n"), len(raw)


def _parse_request_line(line: str) -> str | None:
    """The request target if the line is ``METHOD SP target SP HTTP/x.y``, else None."""
    parts = line.split(" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if not (_METHOD.fullmatch(method) and _VERSION.fullmatch(version)):
        return None
    if not target or any(not "\x21" <= char <= "\x7e" for char in target):
        return None
    return target


def _note_header(head: _Head, line: str) -> None:
    name, sep, value = line.partition(":")
    if sep and name.strip().lower() == "host":
        head.host_count += 1
        head.host = value.strip(" \t")


def _response(head: _Head, config: _RedirectConfig) -> bytes:
    if head.target is None:
        # Also when the request line alone is over the limit: no path to keep.
        return _BAD_REQUEST
    path = _path_and_query(head.target)
    host = None if head.oversized or head.host_count != 1 else _valid_host(head.host)
    if host is None:
        location = f"{config.fallback_base_url}{path}"
    else:
        port = "" if config.https_port == 443 else f":{config.https_port}"
        location = f"https://{host}{port}{path}"
    return (
        "HTTP/1.1 301 Moved Permanently\r\n"
        f"Location: {location}\r\n"
        "Content-Length: 0\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")


def _path_and_query(target: str) -> str:
    """The origin-form path and query; absolute-form keeps its path, ``*`` and others go to /."""
    if target.startswith("/"):
        return target
    if target.lower().startswith(("http://", "https://")):
        parts = urlsplit(target)
        path = parts.path if parts.path.startswith("/") else "/"
        return f"{path}?{parts.query}" if parts.query else path
    return "/"


def _valid_host(raw: str | None) -> str | None:
    """The host name without its port, or None when the header is not a plain host."""
    if raw is None:
        return None
    match = _HOST.fullmatch(raw)
    if match is None:
        return None
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            return None
    return match["name"]


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            drained = 0
            while drained < LINGER_MAX_BYTES and (chunk := await reader.read(4096)):
                drained += len(chunk)
