"""Mail throughput: queue 10,000 messages, then drain them into a local SMTP server with one
worker process and then two, side by side in one run. Writes bench/results-mail.md.

    .venv/bin/python bench/mail_bench.py [--messages 10000] [--postgres URL]

The SMTP server is aiosmtpd on 127.0.0.1 in this process, counting what it receives; each
worker is a separate process running quietshop's MailSender, as `quietshop worker` does.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import delete, text

from quietshop.db import make_engine, make_session_factory, upgrade_to_head
from quietshop.mail import service
from quietshop.mail.models import OutboxMessage
from quietshop.mail.sender import MailSender, SmtpTransport
from quietshop.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results-mail.md"


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.count += 1
        return "250 OK"


@dataclass(frozen=True)
class Row:
    database: str
    workers: int
    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


# Messages are stamped at a fixed moment in the past: every one is due at once.
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def queue(settings: Settings, count: int) -> float:
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    templates = service.templates_for(settings)
    start = time.perf_counter()
    with sessions() as session, session.begin():
        session.execute(delete(OutboxMessage))
        for i in range(count):
            service.queue_message(
                session, settings, "order_delivered",
                service.Recipient(f"customer{i}@example.org", f"Customer {i}", f"{100000000 + i}"),
                {"order_number": f"QS-{i:06d}"}, templates=templates, now=T0,
            )  # fmt: skip
    return time.perf_counter() - start


def worker_main(settings_json: str, name: str) -> None:
    settings = Settings.model_validate_json(settings_json)
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    sender = MailSender(sessions, settings, SmtpTransport(settings), name)

    async def drain() -> None:
        while (await sender.send_due(batch_size=100)).total:
            pass

    asyncio.run(drain())


def drain(settings: Settings, workers: int, handler: CountingHandler, expected: int) -> float:
    handler.count = 0
    context = multiprocessing.get_context("spawn")
    payload = settings.model_dump_json()
    start = time.perf_counter()
    processes = [
        context.Process(target=worker_main, args=(payload, f"bench-{i}")) for i in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - start
    if handler.count != expected:
        raise SystemExit(f"expected {expected} deliveries, the server counted {handler.count}")
    return elapsed


def measure(database: str, url: str, data_dir: Path, messages: int, port: int) -> list[Row]:
    settings = Settings(
        data_dir=data_dir, database_url=url, smtp_port=port, secret_key=SecretStr("b" * 40),
        mail_from="Quietshop Bench <shop@bench.test>",
    )  # fmt: skip
    upgrade_to_head(make_engine(url))
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    rows = []
    try:
        for workers in (1, 2):
            queued_in = queue(settings, messages)
            print(f"{database}: queued {messages} in {queued_in:.1f} s")
            seconds = drain(settings, workers, handler, messages)
            rows.append(Row(database, workers, messages, seconds))
            print(f"{database}: {workers} worker(s) drained {messages} in {seconds:.1f} s")
    finally:
        controller.stop()
    return rows


def report(rows: list[Row]) -> str:
    lines = [
        "# Mail throughput: draining the outbox into a local SMTP server",
        "",
        f"Written by `bench/mail_bench.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"(Python {platform.python_version()}, 2 cores). Each row queues the messages, then "
        "starts that many worker processes (quietshop's `MailSender`, batches of 100, one SMTP "
        "connection per batch, each message marked sent in its own commit) and times them "
        "until the outbox is empty; aiosmtpd on 127.0.0.1 in the benchmark's process counts "
        "the deliveries and must count every message exactly once.",
        "",
        "| database | workers | messages | seconds | messages/s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.database} | {r.workers} | {r.messages:,} | {r.seconds:.1f} | {r.rate:,.0f} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def postgres_available(url: str) -> bool:
    try:
        with make_engine(url, connect_args={"connect_timeout": 3}).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--port", type=int, default=2525)
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        sqlite_url = f"sqlite:///{data_dir / 'bench.db'}"
        rows += measure("SQLite", sqlite_url, data_dir, args.messages, args.port)
    if postgres_available(args.postgres):
        with make_engine(args.postgres).begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS mail_bench CASCADE"))
            connection.execute(text("CREATE SCHEMA mail_bench"))
        url = (
            args.postgres
            + ("&" if "?" in args.postgres else "?")
            + "options=-csearch_path%3Dmail_bench"
        )
        with tempfile.TemporaryDirectory() as folder:
            rows += measure("PostgreSQL", url, Path(folder), args.messages, args.port)
        with make_engine(args.postgres).begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS mail_bench CASCADE"))
    RESULTS.write_text(report(rows))
    print(report(rows))


if __name__ == "__main__":
    main()
