"""Run the shop: granian over TLS 1.2/1.3, plus the plain-HTTP redirect port (promise P3)."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from granian.constants import HTTPModes, Interfaces, SSLProtocols
from granian.server import Server
from granian.server.common import AbstractServer
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from quietshop.errors import EnvironmentProblem
from quietshop.settings import Settings
from quietshop.web.redirect import run_redirect_server
from quietshop.web.tls import CertificatePaths, ensure_certificate, trust_instructions

ENV_PREFIX = "QUIETSHOP_"


class PortUnavailableError(EnvironmentProblem):
    """A port we were told to listen on is taken or not ours to use."""


def serve(settings: Settings, workers: int, target: str) -> None:
    """Serve ``target`` (an ASGI app factory, "module:function") until interrupted; blocks.
    The factory builds its own settings from the environment this exports."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    paths = ensure_certificate(settings)
    _check_port_free(settings.bind_host, settings.https_port)
    redirect_sock = (
        _bind(settings.bind_host, settings.http_port, "QUIETSHOP_HTTP_PORT")
        if settings.http_port
        else None
    )
    # Workers build their own Settings from the environment, so hand them ours.
    export_settings(settings)
    if redirect_sock is not None:
        start_redirect_thread(settings, redirect_sock)
    _announce(Console(), settings, paths)
    # Workers start as fresh interpreters, not forks: `serve` runs threads that use the
    # database (housekeeping, the mail sender, the redirect port); a worker forked while one
    # of them is inside SQLite or holds a lock inherits it locked and hangs, or answers
    # "database is locked" (found by tests/orders/test_overselling.py: 7 of 22 workers).
    multiprocessing.set_start_method("spawn", force=True)
    build_server(settings, workers, target, paths).serve()


def build_server(
    settings: Settings, workers: int, target: str, paths: CertificatePaths
) -> AbstractServer[Any]:
    # ``Server`` is granian's pick of process or thread workers for this Python build.
    server: AbstractServer[Any] = Server(
        target,
        address=settings.bind_host,
        port=settings.https_port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=workers,
        http=HTTPModes.auto,
        websockets=False,
        ssl_cert=paths.cert,
        ssl_key=paths.key,
        # granian's default is TLS 1.3 only; Mozilla "intermediate" wants 1.2 as well,
        # for the older clients it lists. rustls offers only AEAD suites either way.
        ssl_protocol_min=SSLProtocols.tls12,
        # The app writes its own access log, with private paths reduced to templates (P5).
        log_access=False,
    )
    return server


def export_settings(settings: Settings, environ: MutableMapping[str, str] | None = None) -> None:
    """Write every setting to ``QUIETSHOP_*`` variables so that a fresh Settings() equals it.

    Secrets are handed over as they are: pydantic's JSON dump masks a ``SecretStr`` as
    ``**********``, which would leave every worker with a wrong key and SMTP password."""
    env = os.environ if environ is None else environ
    for name, value in settings.model_dump(mode="json").items():
        key = f"{ENV_PREFIX}{name.upper()}"
        raw = getattr(settings, name)
        if value is None:
            env.pop(key, None)  # an inherited variable must not bring back a setting we unset
        elif isinstance(raw, SecretStr):
            env[key] = raw.get_secret_value()
        else:
            env[key] = _env_value(raw, value)


def _env_value(raw: object, dumped: object) -> str:
    if isinstance(raw, Path):
        # Absolute, so a worker started in another directory finds the same files.
        return str(raw.resolve())
    if isinstance(dumped, bool):
        return "true" if dumped else "false"
    if isinstance(dumped, dict | list):
        return json.dumps(dumped)  # pydantic-settings reads complex values as JSON
    return str(dumped)


def start_redirect_thread(settings: Settings, sock: socket.socket) -> threading.Thread:
    """Answer on the already bound HTTP socket from a daemon thread of this process."""
    # granian forks its workers from this process; without this each worker would hold a
    # copy of the listening socket it never serves, keeping the port busy after we exit.
    os.register_at_fork(after_in_child=sock.close)
    thread = threading.Thread(
        target=run_redirect_server,
        args=(settings.bind_host, settings.http_port, settings.https_port, settings.base_url),
        kwargs={"sock": sock},
        name="quietshop-http-redirect",
        daemon=True,
    )
    thread.start()
    return thread


def _check_port_free(host: str, port: int) -> None:
    """Fail now if the HTTPS port is taken.

    granian's workers bind with SO_REUSEPORT, so a second server on the same port would
    start without complaint and the kernel would split connections between the two.
    A plain bind (without SO_REUSEPORT) is refused while anyone listens there.
    """
    _bind(host, port, "QUIETSHOP_HTTPS_PORT").close()


def _bind(host: str, port: int, setting: str) -> socket.socket:
    """A listening socket; binding here, in the main thread, makes a busy port fail loudly."""
    try:
        if host == "::" and socket.has_dualstack_ipv6():
            return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family)
    except OSError as error:
        raise PortUnavailableError(
            f"cannot listen on {host} port {port} ({error.strerror}): is another Quietshop "
            f"running? Stop it, or choose another port with {setting}"
        ) from error


def _display_host(bind_host: str) -> str:
    if bind_host in ("", "0.0.0.0", "::", "127.0.0.1"):  # noqa: S104 - names, not a bind
        return "localhost"
    return f"[{bind_host}]" if ":" in bind_host else bind_host


def _announce(console: Console, settings: Settings, paths: CertificatePaths) -> None:
    console.print(f"Quietshop is serving at [bold]{escape(settings.base_url)}/[/bold]")
    if settings.http_port:
        http_url = f"http://{_display_host(settings.bind_host)}:{settings.http_port}/"
        console.print(f"Plain HTTP at {escape(http_url)} only redirects to HTTPS.")
    if paths.ca_cert is not None:
        title = "New local certificate authority" if paths.ca_created else "Local certificate"
        console.rule(title)
        # soft_wrap: long commands stay one line when copied, however narrow the terminal.
        console.print(
            Text(trust_instructions(paths.ca_cert, base_url=settings.base_url)), soft_wrap=True
        )
        console.rule()
