"""Nothing stalls the rest (issue 11, item 6): the cached product page's rate and p99 on
one worker, quiet, then beside other load, as ratios to the quiet run.

    .venv/bin/python bench/storefront_stall.py [--products 100000] [--duration 10]
        [--connections 32] [--hammer-connections 2] [--hammer-rate 8] [--renames]

What it does:

1. a demo shop of ``--products`` products (SQLite) in bench/out/storefront-stall-N/,
   made once by ``quietshop migrate`` and ``quietshop demo --no-serve --products N`` and
   reused by later runs; the biggest top-level category and its median product are picked
   as serve_bench.py picks them (catalog.py);
2. ``quietshop serve`` with one worker, page cache and access log on, TLS on 127.0.0.1;
3. wrk on the cached product page, ``--duration`` seconds each (after a 1 s warm-up):
   - *quiet*: nothing else;
   - *hammered*: while a second wrk (``--hammer-connections``, ``--hammer-rate`` requests
     a second in all; 0 = as fast as it can) asks for deep pages of that category under
     random sorts and price filters, and searches for common words, rare words and typos,
     at random pages: URLs that are almost never in the page cache;
   - *edited*: while this process changes one variant's price once a second through the
     catalog service (another product's: a sale drops the listings, not this page);
   - with ``--renames``, *renamed*: while a product is renamed once a second (a
     whole-catalog change: the page cache empties and the search vocabulary is rebuilt in
     the background) and the hammer asks for searches only, so each rebuild is wanted;
4. quiet once more before the renames (how far the shared machine drifted), and prints
   each run's rate and p99 beside the faster quiet run's, as ratios; goal: rate ≥ 0.8 of
   quiet and p99 < 20 ms. The console lines during the run compare with the first.

The server runs in its own process group and is killed on exit, error or Ctrl-C. wrk and
the server share the machine's cores, as in serve_bench.py.
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from catalog import OUT_DIR, pick_urls
from measurements import Catalog, Run, WrkResult
from quietshop.catalog import admin
from quietshop.catalog.admin import ProductChanges, VariantChanges
from quietshop.db import make_engine, make_session_factory, transaction
from servers import (
    REPO_DIR,
    Server,
    Servers,
    base_env,
    fetch,
    free_port,
    interrupt_on_termination,
    quietshop_command,
    quietshop_env,
    responsive,
    run_and_clean_up,
    tls_context,
    wait_until_serving,
    wrk_missing,
)
from wrk import WRK_THREADS, parse_wrk, run_wrk

PAGE_SIZE = 24
MAX_PAGE = 10_000  # the routes refuse higher page numbers
GOAL_RATIO = 0.8
GOAL_P99_MS = 20.0
SEARCH_WORDS = ("cable", "hdmi cable", "adapter", "usb", "charger", "cabel", "adaptr", "zq")
EDITS_PER_SECOND = 1.0
SEED = 11  # a reproducible choice of edited products, not a secret


@dataclass(frozen=True)
class Measured:
    scenario: str
    result: WrkResult
    hammer: WrkResult | None = None
    edits: int = 0
    edit_errors: int = 0


# ---------------------------------------------------------------- the shop


def prepare(products: int) -> tuple[Path, Catalog]:
    """The demo shop of ``products`` products, made once under bench/out/ and reused."""
    data_dir = OUT_DIR / f"storefront-stall-{products}"
    db = data_dir / "quietshop.db"
    if db.exists():
        catalog = pick_urls(db)
        if catalog.product_count == products:
            print(f"Reusing the {products:,}-product shop in {data_dir}", flush=True)
            return data_dir, catalog
        raise RuntimeError(f"{db} holds {catalog.product_count} products; remove it first")
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"Loading {products:,} demo products into {data_dir}", flush=True)
    env = base_env(data_dir)
    for step in (["migrate"], ["demo", "--no-serve", "--products", str(products)]):
        done = subprocess.run(
            [*quietshop_command(), *step],
            env=env,
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"quietshop {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
    return data_dir, pick_urls(db)


def edit_targets(db: Path, catalog: Catalog) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """(SKU, price) of variants to reprice and (SKU, name) of products to rename: never the
    measured product, so its page is dropped only by whole-catalog changes."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        variants = conn.execute(
            "SELECT v.sku, v.price_cents FROM product_variants v JOIN products p "
            "ON p.id = v.product_id WHERE p.active AND p.slug != ? AND v.price_cents > 1 "
            "ORDER BY v.sku",
            (catalog.product_slug,),
        ).fetchall()
        products = conn.execute(
            "SELECT sku, name FROM products WHERE active AND slug != ? ORDER BY sku",
            (catalog.product_slug,),
        ).fetchall()
    rng = random.Random(SEED)
    skus = [(str(sku), int(cents)) for sku, cents in rng.sample(variants, min(50, len(variants)))]
    names = [(str(sku), str(name)) for sku, name in rng.sample(products, min(50, len(products)))]
    return skus, names


class Editor:
    """Changes the catalog once a second through the service, from this process, as the
    back office would: a price (a sale) or a product's name (a whole-catalog change)."""

    def __init__(
        self, db: Path, skus: list[tuple[str, int]], names: list[tuple[str, str]], rename: bool
    ) -> None:
        self._sessions = make_session_factory(make_engine(f"sqlite:///{db}"))
        self._skus = skus
        self._names = names
        self._rename = rename
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="editor", daemon=True)
        self.edits = 0
        self.errors = 0

    def __enter__(self) -> Editor:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += 1.0 / EDITS_PER_SECOND
            try:
                with transaction(self._sessions) as session:
                    self._edit_once(session)
                self.edits += 1
            except Exception as error:  # counted and shown: a failed edit is a finding
                self.errors += 1
                print(f"  edit failed: {type(error).__name__}: {error}", flush=True)

    def _edit_once(self, session: Session) -> None:
        turn = self.edits
        if self._rename:
            sku, name = self._names[turn % len(self._names)]
            edited = name if (turn // len(self._names)) % 2 else f"{name} (renamed)"
            admin.update_product(session, sku, ProductChanges(name=edited[:200]))
        else:
            # A cent off, then back: each edit changes the price, and stays below any
            # was-price the variant has.
            sku, cents = self._skus[turn % len(self._skus)]
            lowered = (turn // len(self._skus)) % 2 == 0
            changes = VariantChanges(price_cents=cents - 1 if lowered else cents)
            admin.update_variant(session, sku, changes)


# ---------------------------------------------------------------- the other client


def hammer_script(
    catalog: Catalog, connections: int, rate: float, searches_only: bool, path: Path
) -> Path:
    """A wrk Lua script: deep category pages and searches at random, at ``rate`` a second."""
    pages = max(1, math.ceil(catalog.category_products / PAGE_SIZE))
    deep_hi = min(pages, MAX_PAGE)
    deep_lo = max(1, min(deep_hi, pages // 2))
    delay_ms = 0 if rate <= 0 else int(connections * 1000 / rate)
    words = ", ".join(f'"{w.replace(" ", "+")}"' for w in SEARCH_WORDS)
    share = 0.0 if searches_only else 0.5
    path.write_text(
        f"""
local slug = "{catalog.category_slug}"
local sorts = {{"price_asc", "price_desc", "newest", "name"}}
local words = {{{words}}}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  math.randomseed({SEED} * 1000 + id)
end
function request()
  local path
  if math.random() < {share} then
    path = "/categories/" .. slug .. "?page=" .. math.random({deep_lo}, {deep_hi})
      .. "&sort=" .. sorts[math.random(#sorts)] .. "&price_min=0.0" .. math.random(0, 9)
  else
    path = "/search?q=" .. words[math.random(#words)] .. "&page=" .. math.random(1, 40)
  end
  return wrk.format("GET", path)
end
function delay()
  return {delay_ms}
end
""",
        encoding="utf-8",
    )
    return path


def start_hammer(url: str, script: Path, connections: int, duration: int) -> subprocess.Popen[str]:
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_hammer(process: subprocess.Popen[str], duration: int) -> WrkResult:
    out, err = process.communicate(timeout=duration + 90)
    if process.returncode != 0:
        raise RuntimeError(f"the hammering wrk failed:\n{out}{err}")
    return parse_wrk(out)


# ---------------------------------------------------------------- the runs


@dataclass
class Bench:
    args: argparse.Namespace
    servers: Servers
    data_dir: Path
    catalog: Catalog
    work_dir: Path

    @property
    def product_url_path(self) -> str:
        return f"/products/{self.catalog.product_slug}"

    def start(self) -> Server:
        port = free_port()
        log = self.work_dir / f"serve-{port}.log"
        env = quietshop_env(self.data_dir, port, cache=True)
        argv = [*quietshop_command(), "serve", "--workers", "1"]
        server = self.servers.start(argv, env, log, port, 1, "cached")
        wait_until_serving(server, self.data_dir, self.product_url_path)
        return server

    def measure(self, server: Server, warm_up: int = 1) -> WrkResult:
        url = server.url(self.product_url_path)
        run_wrk(url, warm_up, min(self.args.connections, 8))  # the page is cached by then
        return run_wrk(url, self.args.duration, self.args.connections)

    def hammered(self, server: Server, searches_only: bool) -> tuple[WrkResult, WrkResult]:
        script = hammer_script(
            self.catalog,
            self.args.hammer_connections,
            self.args.hammer_rate,
            searches_only,
            self.work_dir / ("searches.lua" if searches_only else "hammer.lua"),
        )
        # Its run spans the measurement: started first, it ends after the warm-up and
        # the timed run are over.
        span = self.args.duration + 4
        process = start_hammer(server.url("/"), script, self.args.hammer_connections, span)
        try:
            time.sleep(1.0)  # the hammer's requests are in flight before the warm-up
            result = self.measure(server)
        finally:
            hammer = finish_hammer(process, span)
        return result, hammer

    def check(self, server: Server) -> None:
        context = tls_context(self.data_dir)
        deep = max(1, math.ceil(self.catalog.category_products / PAGE_SIZE))
        for path in (
            self.product_url_path,
            f"/categories/{self.catalog.category_slug}?page={min(deep, MAX_PAGE)}&sort=name",
            "/search?q=cabel&page=2",
        ):
            status, _ = fetch(server.port, context, path, timeout=120)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}, not 200")

    def everything(self) -> list[Measured]:
        db = self.data_dir / "quietshop.db"
        skus, names = edit_targets(db, self.catalog)
        server = self.start()
        rows: list[Measured] = []
        try:
            self.check(server)
            # A fresh worker is slower for a few seconds (first requests, allocator).
            rows.append(Measured("quiet", self.measure(server, warm_up=5)))
            print(f"  {console(rows[-1], rows[0])}", flush=True)
            result, hammer = self.hammered(server, searches_only=False)
            rows.append(Measured("hammered", result, hammer))
            print(f"  {console(rows[-1], rows[0])}", flush=True)
            with Editor(db, skus, names, rename=False) as editor:
                result = self.measure(server)
            rows.append(Measured("edited 1/s", result, None, editor.edits, editor.errors))
            print(f"  {console(rows[-1], rows[0])}", flush=True)
            # Quiet again (before the renames, whose last rebuild would outlast them): how far
            # the shared machine drifted during the run.
            rows.append(Measured("quiet again", self.measure(server)))
            print(f"  {console(rows[-1], rows[0])}", flush=True)
            if self.args.renames:
                with Editor(db, skus, names, rename=True) as editor:
                    result, hammer = self.hammered(server, searches_only=True)
                rows.append(
                    Measured("renamed 1/s", result, hammer, editor.edits, editor.errors)
                )  # fmt: skip
                print(f"  {console(rows[-1], rows[0])}", flush=True)
            if not responsive(server, self.data_dir, self.product_url_path):
                raise RuntimeError("the server stopped answering")
        finally:
            self.servers.stop(server)
        return rows


# ---------------------------------------------------------------- the report


def baseline(rows: list[Measured]) -> Measured:
    """The quiet run the others are held to: the faster of the two (the harder bar)."""
    quiet = [row for row in rows if row.scenario.startswith("quiet")]
    return max(quiet, key=lambda row: row.result.rps)


def met(row: Measured, quiet: Measured) -> bool:
    ratio = row.result.rps / quiet.result.rps if quiet.result.rps else 0.0
    errors = row.result.non_2xx + row.result.socket_errors + row.result.timeouts
    return ratio >= GOAL_RATIO and row.result.p99_ms < GOAL_P99_MS and errors == 0


def console(row: Measured, quiet: Measured) -> str:
    r = row.result
    text = f"{row.scenario:12} {r.rps:8.0f} req/s  p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms"
    if row is not quiet:
        text += (
            f"  ({r.rps / quiet.result.rps:.2f}x rate, {r.p99_ms / quiet.result.p99_ms:.2f}x p99)"
        )
    if r.error_summary():
        text += f"  errors: {r.error_summary()}"
    return text


def table(rows: list[Measured], catalog: Catalog, args: argparse.Namespace) -> str:
    quiet = baseline(rows)
    rate = "as fast as it can" if args.hammer_rate <= 0 else f"{args.hammer_rate:g}/s"
    lines = [
        f"Cached product page, 1 worker, {catalog.product_count:,} products, wrk "
        f"-t{WRK_THREADS} -c{args.connections} -d{args.duration}s; hammer "
        f"{args.hammer_connections} connections at {rate}",
        "",
        "| scenario | req/s | p50 ms | p99 ms | rate vs quiet | p99 vs quiet | "
        "other load | goal (>= 0.8, p99 < 20 ms) |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        r = row.result
        other = []
        if row.hammer is not None:
            h = row.hammer
            other.append(
                f"hammer {h.rps:.1f} req/s, p99 {h.p99_ms:.0f} ms"
                + (f", {h.error_summary()}" if h.error_summary() else "")
            )
        if row.edits or row.edit_errors:
            other.append(
                f"{row.edits} edits" + (f", {row.edit_errors} failed" if row.edit_errors else "")
            )
        ratio = r.rps / quiet.result.rps
        p99_ratio = r.p99_ms / quiet.result.p99_ms
        goal = "-" if row.scenario.startswith("quiet") else "met" if met(row, quiet) else "NOT met"
        lines.append(
            f"| {row.scenario} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {ratio:.2f} | "
            f"{p99_ratio:.2f} | {'; '.join(other) or '-'} | {goal} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=100_000, help="demo catalog size")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--hammer-connections", type=int, default=2)
    parser.add_argument(
        "--hammer-rate", type=float, default=8.0, help="hammer requests/s in all (0: no limit)"
    )
    parser.add_argument("--renames", action="store_true", help="also rename once a second")
    parser.add_argument("--keep", action="store_true", help="keep the server logs")
    args = parser.parse_args(argv)
    if not 1 <= args.products <= 100_000:
        parser.error("--products must be between 1 and 100,000 (what `quietshop demo` takes)")
    if args.duration < 1 or args.connections < WRK_THREADS or args.hammer_connections < 1:
        parser.error("--duration ≥ 1, --connections ≥ the wrk thread count, a hammer ≥ 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if wrk_missing():
        return 2
    interrupt_on_termination()
    OUT_DIR.mkdir(exist_ok=True)
    run = Run(args.duration, args.connections, args.connections, False, datetime.now(UTC))
    servers = Servers(run)
    work_dir = Path(tempfile.mkdtemp(prefix="storefront-stall-run-", dir=OUT_DIR))

    def work() -> bool:
        data_dir, catalog = prepare(args.products)
        bench = Bench(args, servers, data_dir, catalog, work_dir)
        rows = bench.everything()
        print()
        print(table(rows, catalog, args))
        return True

    return run_and_clean_up(servers, work_dir, args.keep, work)


if __name__ == "__main__":
    sys.exit(main())
