"""Where one uncached product page request spends its time, inside the application.

    .venv/bin/python bench/profile_product.py [--requests 2000] [--path /products/SLUG]

Builds the real app in this process (``create_app`` with the page cache off and the
access log on, SQLite with the demo catalog made in bench/out/), then sends it
sequential ``GET`` requests straight through ASGI: no granian, no TLS, no network. It
prints

- the in-process rate (the ceiling for one Python process, before any server cost),
- the SQL statements one request runs,
- a cProfile of the requests in every thread (FastAPI runs sync routes and dependencies
  in a thread pool; each thread gets its own profiler, then the stats are merged), with
  own time grouped by library and the top functions.

cProfile slows small Python calls more than C calls, so read shares, not absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from quietshop.app import AssembledApp, create_app
from quietshop.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from catalog import OUT_DIR, prepare  # noqa: E402

IDLE_WAIT = "{method 'poll' of 'select.epoll' objects}"


async def get(app: AssembledApp, path: str) -> tuple[int, int]:
    """One GET through the ASGI app, as granian would send it over HTTP/1.1."""
    raw_path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"localhost:8443"), (b"user-agent", b"profile_product")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8443),
    }
    status = 0
    size = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))

    await app(scope, receive, send)  # type: ignore[arg-type]
    return status, size


async def drive(app: AssembledApp, path: str, count: int) -> None:
    for _ in range(count):
        status, _ = await get(app, path)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")


def timed(app: AssembledApp, path: str, count: int) -> float:
    start = time.perf_counter()
    asyncio.run(drive(app, path, count))
    return time.perf_counter() - start


def sql_of_one_request(app: AssembledApp, path: str) -> list[str]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        asyncio.run(drive(app, path, 1))
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return statements


def profile_all_threads(app: AssembledApp, path: str, count: int) -> pstats.Stats:
    """cProfile in the main thread and in every thread started while it runs."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_in_thread(_frame: FrameType, _event: str, _arg: Any) -> None:
        profile = cProfile.Profile()
        with lock:
            profiles.append(profile)
        profile.enable()  # replaces this hook for the thread

    main = cProfile.Profile()
    threading.setprofile(start_in_thread)
    main.enable()
    try:
        # A fresh event loop, so the thread pool's threads start now, with the hook.
        asyncio.run(drive(app, path, count))
    finally:
        main.disable()
        threading.setprofile(None)
    stats = pstats.Stats(main)
    for profile in profiles:
        stats.add(profile)
    return stats


def library(filename: str) -> str:
    if filename.startswith("~") or filename == "<built-in>":
        return "C builtins"
    if "/src/quietshop/" in filename:
        return "quietshop"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith("<template>") or "templates/" in filename:
        return "quietshop templates"
    return "stdlib"


def report(stats: pstats.Stats, count: int, top: int) -> None:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    idle = sum(v[2] for k, v in table.items() if k[2] == IDLE_WAIT)
    total = sum(v[2] for v in table.values()) - idle
    print(
        "\n(cProfile's own overhead inflates these times; compare shares, and the unprofiled"
        " rate above.)"
    )
    print(
        f"Profiled CPU time per request: {total / count * 1000:.2f} ms "
        f"(all threads; the event loop waiting for the thread pool left out: "
        f"{idle / count * 1000:.2f} ms)"
    )
    by_library: Counter[str] = Counter()
    for (filename, _line, name), value in table.items():
        if name != IDLE_WAIT:
            by_library[library(filename)] += value[2]
    print("\nOwn time by library:")
    for name, seconds in by_library.most_common(12):
        print(f"  {seconds / total:6.1%}  {name}")
    print(f"\nTop {top} functions by own time:")
    _print_rows(table, lambda v: v[2], top, count, total)
    print(f"\nTop {top} Quietshop functions and templates by cumulative time (own + callees):")
    _print_rows(table, lambda v: v[3], top, count, total, only=_is_quietshop)


def _is_quietshop(filename: str) -> bool:
    return "/src/quietshop/" in filename


def _print_rows(
    table: dict[Any, Any],
    key: Any,
    top: int,
    count: int,
    total: float,
    only: Any = lambda _filename: True,
) -> None:
    rows = sorted(
        ((k, v) for k, v in table.items() if k[2] != IDLE_WAIT and only(k[0])),
        key=lambda item: key(item[1]),
        reverse=True,
    )
    print(f"  {'share':>6} {'ms/req':>7} {'calls/req':>9}  function")
    for (filename, line, name), value in rows[:top]:
        where = _short(filename)
        label = f"{where}:{line} {name}" if where else name
        seconds = key(value)
        print(
            f"  {seconds / total:6.1%} {seconds / count * 1000:7.3f} "
            f"{value[1] / count:9.1f}  {label}"
        )


def _short(filename: str) -> str:
    if filename == "~":
        return ""
    for marker in ("/src/", "site-packages/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--path", help="default: the product page serve_bench.py measures")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--save", type=Path, help="also write the merged pstats data here")
    args = parser.parse_args()

    OUT_DIR.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="profile-", dir=OUT_DIR))
    try:
        catalog = prepare(data_dir)
        path = args.path or f"/products/{catalog.product_slug}"
        settings = Settings(
            data_dir=data_dir, page_cache_enabled=False, access_log_enabled=True, http_port=0
        )
        app = create_app(settings)
        print(f"Profiling GET {path} (page cache off, access log on, SQLite)")
        timed(app, path, 200)  # warm-up: templates compiled, SQL cached, pool filled
        seconds = timed(app, path, args.requests)
        print(
            f"In process, no server or TLS: {args.requests / seconds:,.0f} requests/s, "
            f"{seconds / args.requests * 1000:.2f} ms per request (sequential)"
        )
        statements = sql_of_one_request(app, path)
        print(f"\nSQL statements in one request: {len(statements)}")
        for statement in statements:
            print(f"  {statement[:160]}{'...' if len(statement) > 160 else ''}")
        stats = profile_all_threads(app, path, args.requests)
        report(stats, args.requests, args.top)
        if args.save:
            stats.dump_stats(args.save)
            print(f"\nSaved the profile to {args.save} (python -m pstats {args.save})")
        if app.access_log is not None:
            app.access_log.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
