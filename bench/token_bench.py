"""Cost of checking a sign-in token on each request, and sign-ins per second, measured
in-process on SQLite and PostgreSQL. Writes bench/results-tokens.md.

    .venv/bin/python bench/token_bench.py [--postgres URL]

The token check is what every signed-in request pays (`tokens.authenticate`: a digest, one
indexed lookup joined to the customer, a write of last use at most once a minute). Shown
beside it, in the same run, the bare primary-key lookup of a customer as the reference.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine, select, text

from quietshop.accounts import service, signin, tokens
from quietshop.accounts.models import Customer
from quietshop.db import make_engine, make_session_factory, upgrade_to_head
from quietshop.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results-tokens.md"
METHOD = " ".join(
    [
        "*Token",
        "check*:",
        "`tokens.authenticate`,",
        "first",
        "inside",
        "a",
        "session",
        "already",
        "open",
        "(what",
        "the",
        "check",
        "adds",
        "to",
        "a",
        "signed-in",
        "request,",
        "which",
        "opens",
        "its",
        "session",
        "anyway;",
        "goal:",
        "under",
        "0.2",
        "ms),",
        "then",
        "with",
        "a",
        "session",
        "of",
        "its",
        "own.",
        "*Reference*:",
        "fetching",
        "the",
        "same",
        "customer",
        "by",
        "primary",
        "key",
        "in",
        "its",
        "own",
        "session,",
        "same",
        "run.",
        "*Sign-in*:",
        "`signin.sign_in`",
        "with",
        "the",
        "right",
        "password",
        "(argon2id",
        "verify,",
        "a",
        "new",
        "token,",
        "commit);",
        "sign-ins/s",
        "on",
        "one",
        "core.",
    ]
)
T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


def per_call_us(call: Callable[[], object], rounds: int = 5, calls: int = 2000) -> float:
    """Median over rounds of the mean time of one call, in microseconds."""
    for _ in range(200):
        call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def measure(name: str, engine: Engine, data_dir: Path) -> list[str]:
    upgrade_to_head(engine)
    settings = Settings(data_dir=data_dir, secret_key=SecretStr("t" * 40))
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        service.register(
            session, settings, service.Registration("Bench", "bench@example.org", PASSWORD), T0
        )
        account = session.execute(
            select(Customer).where(Customer.email == "bench@example.org")
        ).scalar_one()
        customer_id = account.id
        token = tokens.issue(session, account, settings, T0)
    moment = T0 + timedelta(seconds=30)  # inside the touch interval: a read-only check

    def check() -> object:
        with sessions() as session:
            return tokens.authenticate(session, token, settings, moment)

    def primary_key() -> object:
        with sessions() as session:
            return session.get(Customer, customer_id)

    def sign_in() -> object:
        with sessions() as session, session.begin():
            return signin.sign_in(session, settings, "bench@example.org", PASSWORD, moment)

    with sessions() as open_session:
        # What a request pays for the check itself: it opens its session for its own data.
        in_session_us = per_call_us(
            lambda: tokens.authenticate(open_session, token, settings, moment)
        )
    check_us, reference_us = per_call_us(check), per_call_us(primary_key)
    sign_in_ms = per_call_us(sign_in, rounds=3, calls=40) / 1000
    print(f"{name}: check {in_session_us:.0f} us in a session, {check_us:.0f} us with one")
    cells = [
        name,
        f"{in_session_us:.0f} µs",
        f"{check_us:.0f} µs",
        f"{reference_us:.0f} µs",
        f"{sign_in_ms:.1f} ms",
        f"{1000 / sign_in_ms:.0f}",
    ]
    return ["| " + " | ".join(cells) + " |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        rows += measure("SQLite", engine, Path(folder))
        engine.dispose()
    try:
        admin = make_engine(args.postgres, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS token_bench CASCADE"))
            connection.execute(text("CREATE SCHEMA token_bench"))
    except Exception:
        print("PostgreSQL not reachable; SQLite only")
    else:
        engine = make_engine(args.postgres, connect_args={"options": "-csearch_path=token_bench"})
        with tempfile.TemporaryDirectory() as folder:
            rows += measure("PostgreSQL", engine, Path(folder))
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text("DROP SCHEMA token_bench CASCADE"))
    RESULTS.write_text(report(rows), encoding="utf-8")
    print(report(rows))


def report(rows: list[str]) -> str:
    return "\n".join(
        [
            "# Sign-in tokens and sign-ins",
            "",
            f"Written by `bench/token_bench.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
            f"(Python {platform.python_version()}, in-process, one thread). {METHOD}",
            "",
            "| database | token check in the request's session | token check with its own session "
            "| reference: primary-key fetch with its own session | one sign-in | sign-ins/s |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )


if __name__ == "__main__":
    main()
