"""The storefront at catalog scale (issue 11, item 8): what each public page costs at
1,200, 10,000 and 100,000 products, on SQLite and on PostgreSQL, uncached, one worker.

    .venv/bin/python bench/catalog_scale.py [--sizes 1200,10000,100000]
        [--databases sqlite,postgresql] [--duration 5] [--connections 32] [--quick]
        [--out bench/results-catalog-scale.md]

What it does:

1. per database and size, a demo shop (``quietshop migrate`` and ``quietshop demo
   --no-serve --products N``, the deterministic seed-2004 catalog) in
   bench/out/catalog-scale-<database>-<N>/, made once and reused when its product count is
   right; on PostgreSQL the catalog lives in database ``qs_scale_<N>`` on 127.0.0.1 (made
   by ``createdb`` when absent; never the tests' database ``test``) and the data dir holds
   the certificates and images;
2. ``quietshop serve`` with one worker, page cache **off**, access log on, TLS on
   127.0.0.1; for each page (search for a common word, a rare word and a typo; the first,
   deepest, name-sorted and filtered pages of the biggest top-level category; a product;
   home): the median of ``--requests`` sequential requests on one keep-alive connection
   (after a few untimed ones), then ``wrk`` at ``--connections`` for ``--duration`` seconds
   (after an untimed second);
3. at the smallest and the largest size of each database, another start with the page
   cache **on**: every URL of a sample of ``--cache-pages`` distinct pages is requested once
   (the cache holds at most 4,096), then the resident memory of the worker is read;
4. prints the table, with each page's growth from the smallest to the largest size (goal
   at 100,000 / 1,200: at most 2x) and PostgreSQL against SQLite at the same size (goal: at
   most 1.5x), and writes it with the machine and the method to ``--out``.

Load goes to 127.0.0.1 only, bounded in time (wrk's ``-d``) and count (``--requests``,
``--cache-pages``). Each server runs in its own process group and is killed on exit, error
or Ctrl-C; a server that stops answering after a load test is restarted, and the row says
so. wrk and the server share the machine's cores, as in serve_bench.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

from sqlalchemy import text
from sqlalchemy.engine import Engine

from catalog import BIGGEST_CATEGORY_SQL, OUT_DIR
from measurements import Run, WrkResult
from quietshop.db import make_engine
from quietshop.web.page_cache import MAX_ENTRIES
from report import machine
from servers import (
    BENCH_DIR,
    HOST,
    POOL_EVIDENCE_WAIT,
    POOL_TIMEOUT_TEXT,
    REPO_DIR,
    Server,
    Servers,
    base_env,
    connect,
    free_port,
    interrupt_on_termination,
    lines_with,
    quietshop_command,
    quietshop_env,
    responsive,
    run_and_clean_up,
    tls_context,
    wait_for_line,
    wait_until_serving,
    wrk_missing,
)
from wrk import CLK_TCK, WRK_THREADS, CpuMeter, parse_wrk

DATABASES = ("sqlite", "postgresql")
DEFAULT_SIZES = (1_200, 10_000, 100_000)
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
POSTGRES_USER = "postgres"
POSTGRES_PREFIX = "qs_scale_"  # the bench's databases: qs_scale_<products>
FORBIDDEN_DATABASES = frozenset({"test", "postgres", "template0", "template1"})
PAGE_SIZE = 24  # the storefront's listing page size (service.ListingQuery)
MAX_PAGE = 10_000  # the routes refuse higher page numbers
COMMON_WORD = "cable"
RARE_WORD = "condenser"  # a microphone: 1 product of 1,200, 35 of 10,000
TYPO = "cabel"
# A price range inside most cables' prices, so the filter keeps a good share of the category.
FILTER = "in_stock=true&price_min=5&price_max=20"
# For the estimate printed first: a page's warm-up, single requests and probes beside its
# wrk run; a shop's migrate check, two server starts and the page cache fill.
SECONDS_PER_PAGE = 4
SECONDS_PER_SHOP = 60
GOAL_GROWTH = 2.0
GOAL_POSTGRES = 1.5
WARM_REQUESTS = 3
LOAD_TIMEOUT = 3600  # seconds for one `quietshop demo` load
SINGLE_TIMEOUT = 120.0  # seconds for one uncached request at the largest size
WRK_LATENCY_TIMEOUT = "10s"  # wrk's default 2 s would count slow answers as errors
# Is the server up and answering? A cheap page that renders no template: a broken page
# under test must not stop the others from being measured.
PROBE_PATH = "/api/v1/products?page_size=1"
RECHECK_AFTER = 5.0  # seconds before a server that did not answer is asked again


@dataclass(frozen=True)
class Shop:
    database: str
    size: int
    data_dir: Path
    database_url: str  # empty: SQLite in data_dir
    category_slug: str
    category_products: int
    product_slug: str
    product_count: int

    @property
    def label(self) -> str:
        return f"{'PostgreSQL' if self.database == 'postgresql' else 'SQLite'} {self.size:,}"


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    path: str


@dataclass(frozen=True)
class Cell:
    single_ms: float | None  # the median
    fastest_ms: float | None
    load: WrkResult | None
    single_note: str = ""  # why there is no single-request time
    load_note: str = ""  # wrk's errors, a restart: said in the table
    other_cores: float = 0.0  # CPU other processes used during the wrk run
    database_cores: float = 0.0  # of which PostgreSQL's processes (our queries, mostly)
    stalled: bool = False  # the server stopped answering after the wrk run


@dataclass(frozen=True)
class Memory:
    pages: int  # distinct pages requested
    cached: int  # of those, answered 200
    fresh_mib: float  # the worker after one request
    worker_mib: float
    group_mib: float


@dataclass
class Results:
    started: datetime
    args: argparse.Namespace
    shops: dict[tuple[str, int], Shop] = field(default_factory=dict)
    cells: dict[tuple[str, int, str], Cell] = field(default_factory=dict)
    memory: dict[tuple[str, int], Memory] = field(default_factory=dict)
    matches: dict[tuple[str, int, str], str] = field(default_factory=dict)  # search totals
    postgres_version: str = ""
    skipped: list[str] = field(default_factory=list)  # shops that could not be measured
    elapsed_s: float = 0.0


# ---------------------------------------------------------------- the shops


def shop_dir(database: str, size: int) -> Path:
    return OUT_DIR / f"catalog-scale-{database}-{size}"


def postgres_name(size: int) -> str:
    name = f"{POSTGRES_PREFIX}{size}"
    if name in FORBIDDEN_DATABASES:  # cannot happen; the guard says what must never be used
        raise RuntimeError(f"refusing to use database {name}")
    return name


def engine_for(database_url: str, data_dir: Path) -> Engine:
    return make_engine(database_url or f"sqlite:///{data_dir / 'quietshop.db'}")


def ensure_postgres_database(name: str) -> None:
    """CREATE DATABASE ``name`` on the local server unless it exists (createdb, else psycopg)."""
    engine = make_engine(f"{POSTGRES_SERVER}/postgres")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
    finally:
        engine.dispose()
    if exists:
        return
    if shutil.which("createdb"):
        subprocess.run(
            ["createdb", "-h", HOST, "-U", POSTGRES_USER, name], check=True, timeout=60
        )  # fmt: skip
        return
    engine = make_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))  # name is ours: qs_scale_<int>
    finally:
        engine.dispose()


def product_count(engine: Engine) -> int:
    """Products in the catalog; 0 when the schema is not there yet."""
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM products")).scalar_one())
    except Exception:  # no table yet: a new database
        return 0


def shop_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = base_env(data_dir)
    if database_url:
        env["QUIETSHOP_DATABASE_URL"] = database_url
    return env


def prepare(database: str, size: int) -> Shop:
    """The demo shop of ``size`` products on ``database``, made once and reused."""
    data_dir = shop_dir(database, size)
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = ""
    if database == "postgresql":
        name = postgres_name(size)
        ensure_postgres_database(name)
        database_url = f"{POSTGRES_SERVER}/{name}"
    engine = engine_for(database_url, data_dir)
    try:
        existing = product_count(engine)
        if existing not in (0, size):
            where = database_url or data_dir / "quietshop.db"
            raise RuntimeError(f"{where} holds {existing:,} products, not {size:,}; remove it")
        if existing == size:
            print(f"Reusing the {size:,}-product {database} shop in {data_dir}", flush=True)
            # A shop made by older code gets the migrations added since (search vectors...).
            run_steps(data_dir, database_url, [["migrate"]])
        else:
            print(f"Loading {size:,} demo products ({database}) for {data_dir}", flush=True)
            clock = time.monotonic()
            steps = [["migrate"], ["demo", "--no-serve", "--products", str(size)]]
            run_steps(data_dir, database_url, steps)
            print(f"  loaded in {time.monotonic() - clock:.0f} s", flush=True)
        return pick_shop(engine, database, size, data_dir, database_url)
    finally:
        engine.dispose()


def run_steps(data_dir: Path, database_url: str, steps: list[list[str]]) -> None:
    """``quietshop <step>`` for each step, against the shop's data dir and database."""
    env = shop_env(data_dir, database_url)
    for step in steps:
        done = subprocess.run(
            [*quietshop_command(), *step],
            env=env,
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            timeout=LOAD_TIMEOUT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"quietshop {' '.join(step)} failed:\n{done.stdout}{done.stderr}")


_BIGGEST_CATEGORY = text(BIGGEST_CATEGORY_SQL)
_PRODUCTS_BY_VARIANTS = text(
    """
    WITH RECURSIVE tree(id) AS (
        SELECT id FROM categories WHERE slug = :slug
        UNION ALL
        SELECT c.id FROM categories c JOIN tree ON c.parent_id = tree.id
    )
    SELECT p.slug, COUNT(v.id) AS variants
    FROM products p JOIN product_variants v ON v.product_id = p.id
    WHERE p.active AND p.category_id IN (SELECT id FROM tree)
    GROUP BY p.id, p.slug ORDER BY variants, p.id
    """
)  # ties by id, not by SKU: the databases' collations may order text differently


def pick_shop(engine: Engine, database: str, size: int, data_dir: Path, url: str) -> Shop:
    """The biggest top-level category and its median product by variant count, as
    catalog.pick_urls picks them (here through SQLAlchemy, for either database)."""
    with engine.connect() as conn:
        slug, products = conn.execute(_BIGGEST_CATEGORY).one()
        ranked = conn.execute(_PRODUCTS_BY_VARIANTS, {"slug": slug}).all()
        active = conn.execute(text("SELECT COUNT(*) FROM products WHERE active")).scalar_one()
    return Shop(
        database=database,
        size=size,
        data_dir=data_dir,
        database_url=url,
        category_slug=str(slug),
        category_products=int(products),
        product_slug=str(ranked[len(ranked) // 2][0]),
        product_count=int(active),
    )


def pages(shop: Shop) -> list[PageSpec]:
    category = f"/categories/{shop.category_slug}"
    deepest = min(MAX_PAGE, max(1, math.ceil(shop.category_products / PAGE_SIZE)))
    return [
        PageSpec("search", f'search "{COMMON_WORD}"', f"/search?q={quote_plus(COMMON_WORD)}"),
        PageSpec("rare", f'search rare word "{RARE_WORD}"', f"/search?q={quote_plus(RARE_WORD)}"),
        PageSpec("typo", f'search typo "{TYPO}"', f"/search?q={quote_plus(TYPO)}"),
        PageSpec("first", "first category page", category),
        PageSpec("deepest", "deepest category page", f"{category}?page={deepest}"),
        PageSpec("name", "category sorted by name", f"{category}?sort=name"),
        PageSpec("filtered", "category filtered (in stock, $5-20)", f"{category}?{FILTER}"),
        PageSpec("product", "product page", f"/products/{shop.product_slug}"),
        PageSpec("home", "home page", "/"),
    ]


def sample_paths(engine: Engine, shop: Shop, count: int) -> list[str]:
    """``count`` distinct public URLs: every category's first page under each sort, a few
    searches, and products (evenly spread by SKU) for the rest."""
    with engine.connect() as conn:
        categories = [
            str(s) for (s,) in conn.execute(text("SELECT slug FROM categories ORDER BY id"))
        ]
        products = [
            str(s)
            for (s,) in conn.execute(text("SELECT slug FROM products WHERE active ORDER BY id"))
        ]
    paths = [f"/categories/{c}?sort={s}" for c in categories for s in SORTS]
    paths += [f"/search?q={quote_plus(w)}" for w in SAMPLE_SEARCHES]
    paths = paths[: max(0, count - 1)]
    wanted = max(0, count - len(paths))
    step = max(1, len(products) // max(1, wanted))
    paths += [f"/products/{p}" for p in products[::step][:wanted]]
    return paths[:count]


SORTS = ("price_asc", "price_desc", "newest", "name")
SAMPLE_SEARCHES = ("cable", "hdmi cable", "usb c", "adapter", "charger", "cabel", "mouse", "hub")


# ---------------------------------------------------------------- measuring


def get(conn: http.client.HTTPSConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def single_ms(port: int, context: ssl.SSLContext, path: str, requests: int) -> tuple[float, float]:
    """The median and the fastest time of ``requests`` sequential requests on one
    keep-alive connection (the fastest is the least disturbed by a busy machine)."""
    conn = connect(port, context, timeout=SINGLE_TIMEOUT)
    try:
        for _ in range(WARM_REQUESTS):
            status, _ = get(conn, path)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}, not 200")
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            status, _ = get(conn, path)
            times.append((time.perf_counter() - start) * 1000)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}, not 200")
        return statistics.median(times), min(times)
    finally:
        conn.close()


def wrk(url: str, duration: int, connections: int) -> WrkResult:
    argv = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        WRK_LATENCY_TIMEOUT,
        "--latency",
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True)
    return parse_wrk(done.stdout)


def search_total(port: int, context: ssl.SSLContext, word: str) -> str:
    """How many products the search API says match ``word`` (as it says it)."""
    conn = connect(port, context, timeout=SINGLE_TIMEOUT)
    try:
        status, body = get(conn, f"/api/v1/search?q={quote_plus(word)}&page_size=1")
        data = json.loads(body) if status == 200 else {}
    except (OSError, ValueError, http.client.HTTPException) as error:
        return f"not known ({type(error).__name__})"
    finally:
        conn.close()
    if status != 200 or not isinstance(data, dict):
        return f"HTTP {status}"
    total = data.get("total")
    shown = f"{total:,}" if isinstance(total, int) else str(total)
    if data.get("corrected"):
        shown += f" (as {data.get('searched_for')!r})"
    return shown


def postgres_ticks() -> int:
    """CPU time (user and system, clock ticks) of the PostgreSQL backends serving this
    bench's databases, found by the process title PostgreSQL gives them ("postgres: ...
    postgres qs_scale_N 127.0.0.1(port) idle"); other databases' backends stay "other"."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            line = stat.read_text()
            if line[line.index("(") + 1 : line.rindex(")")] != "postgres":
                continue
            title = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # gone meanwhile
        if f" {POSTGRES_PREFIX}".encode() in title:
            fields = line[line.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
    return total


def group_rss_mib(pgid: int) -> tuple[float, float]:
    """(the worker, the whole group) resident memory in MiB. granian's worker is a
    multiprocessing child of ``quietshop serve`` (which only supervises, beside a small
    resource tracker); without one, the biggest process that is not the leader."""
    worker_kib = biggest_kib = total_kib = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        pid = int(status.parent.name)
        try:
            if os.getpgid(pid) != pgid:
                continue
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
            command = (status.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # gone meanwhile
        kib = int(fields.get("VmRSS", "0 kB").split()[0])
        total_kib += kib
        if pid != pgid:
            biggest_kib = max(biggest_kib, kib)
        if b"spawn_main" in command:
            worker_kib = max(worker_kib, kib)
    return (worker_kib or biggest_kib) / 1024, total_kib / 1024


@dataclass
class Bench:
    args: argparse.Namespace
    servers: Servers
    results: Results
    work_dir: Path
    starts: int = 0
    waited_for_evidence: bool = False

    def start(self, shop: Shop, *, cache: bool) -> Server:
        self.starts += 1
        port = free_port()
        log = self.work_dir / f"serve-{shop.database}-{shop.size}-{self.starts}.log"
        env = quietshop_env(shop.data_dir, port, cache=cache)
        if shop.database_url:
            env["QUIETSHOP_DATABASE_URL"] = shop.database_url
        argv = [*quietshop_command(), "serve", "--workers", "1"]
        mode = "cached" if cache else "uncached"
        server = self.servers.start(argv, env, log, port, 1, mode)
        wait_until_serving(server, shop.data_dir, PROBE_PATH)
        return server

    def column(self, shop: Shop) -> None:
        """Every page of one shop, uncached: a single request's time and wrk's rate."""
        server = self.start(shop, cache=False)
        context = tls_context(shop.data_dir)
        try:
            for word in (COMMON_WORD, RARE_WORD, TYPO):
                key = (shop.database, shop.size, word)
                self.results.matches[key] = search_total(server.port, context, word)
            for page in pages(shop):
                cell, server = self.measure(shop, server, page)
                self.results.cells[(shop.database, shop.size, page.key)] = cell
        finally:
            self.servers.stop(server)

    def measure(self, shop: Shop, server: Server, page: PageSpec) -> tuple[Cell, Server]:
        context = tls_context(shop.data_dir)
        single_note = ""
        single: float | None
        fastest: float | None
        try:
            single, fastest = single_ms(server.port, context, page.path, self.args.requests)
        except (OSError, RuntimeError, http.client.HTTPException) as error:
            single = fastest = None
            single_note = str(error)
        notes = []
        load: WrkResult | None = None
        other = database = 0.0
        try:
            url = server.url(page.path)
            wrk(url, 1, min(self.args.connections, 8))
            meter = CpuMeter(server.process.pid)
            database_before, clock = postgres_ticks(), time.monotonic()
            load = wrk(url, self.args.duration, self.args.connections)
            used = meter.stop()
            elapsed = time.monotonic() - clock
            # A backend that ended meanwhile takes its ticks along: never below zero.
            database = max(0, postgres_ticks() - database_before) / CLK_TCK / elapsed
            other = max(0.0, used.other - database)
            if load.error_summary():
                notes.append(f"{page.title}: {load.error_summary()}")
        except (RuntimeError, subprocess.SubprocessError) as error:
            notes.append(f"{page.title}: wrk: {str(error).splitlines()[0]}")
        stalled = not self.answering(server, shop)
        if stalled:
            if not self.waited_for_evidence:
                # Once per run, give stuck requests time to reach the connection pool's
                # timeout, so the log (and the note) can say why the server stalled.
                self.waited_for_evidence = True
                wait_for_line(server.log, POOL_TIMEOUT_TEXT, POOL_EVIDENCE_WAIT)
            self.servers.stop(server)  # its log is complete once it is stopped
            timeouts = len(lines_with(server.log, POOL_TIMEOUT_TEXT))
            pool = f", {timeouts} connection-pool timeouts in its log" if timeouts else ""
            notes.append(f"the server stopped answering{pool}; restarted")
            server = self.start(shop, cache=False)
        cell = Cell(single, fastest, load, single_note, "; ".join(notes), other, database, stalled)
        print(f"  {shop.label:18} {page.title:38} {console_cell(cell)}", flush=True)
        return cell, server

    def answering(self, server: Server, shop: Shop) -> bool:
        """Does the server still answer after a load test? Asked twice, a few seconds
        apart: on a busy shared machine one slow probe is not a stall."""
        if responsive(server, shop.data_dir, PROBE_PATH):
            return True
        time.sleep(RECHECK_AFTER)
        return responsive(server, shop.data_dir, PROBE_PATH)

    def memory(self, shop: Shop) -> None:
        """The worker's resident memory once the page cache holds a sample of pages."""
        engine = engine_for(shop.database_url, shop.data_dir)
        try:
            paths = sample_paths(engine, shop, self.args.cache_pages)
        finally:
            engine.dispose()
        server = self.start(shop, cache=True)
        try:
            fresh, _ = group_rss_mib(server.process.pid)
            cached = 0
            conn = connect(server.port, tls_context(shop.data_dir), timeout=SINGLE_TIMEOUT)
            try:
                for path in paths:
                    try:
                        status, _ = get(conn, path)
                    except (OSError, http.client.HTTPException):
                        conn.close()  # counted as not cached; the next request reconnects
                        continue
                    cached += status == 200
            finally:
                conn.close()
            worker, group = group_rss_mib(server.process.pid)
            memory = Memory(len(paths), cached, fresh, worker, group)
            self.results.memory[(shop.database, shop.size)] = memory
            print(
                f"  {shop.label:18} page cache full ({cached:,} of {len(paths):,} pages): "
                f"worker {fresh:.0f} -> {worker:.0f} MiB, all processes {group:.0f} MiB",
                flush=True,
            )
        finally:
            self.servers.stop(server)

    def everything(self) -> None:
        clock = time.monotonic()
        sizes: list[int] = self.args.sizes
        for database in self.args.databases:
            for size in sizes:
                self.results.shops[(database, size)] = prepare(database, size)
        if "postgresql" in self.args.databases:
            self.results.postgres_version = postgres_version()
        for database in self.args.databases:
            for size in sizes:
                shop = self.results.shops[(database, size)]
                try:
                    self.column(shop)
                    if size in (min(sizes), max(sizes)):
                        self.memory(shop)
                except (RuntimeError, OSError) as error:
                    # A server that does not start: the other shops are still measured, and
                    # the report shows this one's cells as missing.
                    print(f"  {shop.label}: {error}", file=sys.stderr, flush=True)
                    self.results.skipped.append(f"{shop.label}: {str(error).splitlines()[0]}")
        self.results.elapsed_s = time.monotonic() - clock


def postgres_version() -> str:
    engine = make_engine(f"{POSTGRES_SERVER}/postgres")
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the report


def console_cell(cell: Cell) -> str:
    single = "       - ms"
    if cell.single_ms is not None and cell.fastest_ms is not None:
        single = f"{cell.single_ms:8.1f} ms (fastest {cell.fastest_ms:.1f})"
    rate = f"{cell.load.rps:8.1f} req/s" if cell.load is not None else "       - req/s"
    p99 = f"  p99 {cell.load.p99_ms:.0f} ms" if cell.load is not None else ""
    notes = "; ".join(n for n in (cell.single_note, cell.load_note) if n)
    other = ""
    if cell.load is not None:
        other = f"  cores: PostgreSQL {cell.database_cores:.2f}, other {cell.other_cores:.2f}"
    return f"{single} {rate}{p99}{other}" + (f"  [{notes}]" if notes else "")


def _ms(value: float) -> str:
    if value < 10:
        return f"{value:.2f} ms"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _rate(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def _cost(cell: Cell | None, metric: str) -> float | None:
    """What one request costs in the row's metric: ms, or seconds per request from the rate;
    None when not measured (or nothing was answered)."""
    if cell is None:
        return None
    if metric == "single":
        return cell.single_ms
    if metric == "fastest":
        return cell.fastest_ms
    load = cell.load
    # A rate of error pages (or of timeouts, or one that left the server stalled) is no
    # page's cost: no ratio, no verdict.
    if load is None or load.rps <= 0 or load.non_2xx or load.timeouts or load.socket_errors:
        return None
    if cell.stalled:
        return None
    return 1.0 / load.rps


def _value(cell: Cell | None, metric: str, marks: list[str]) -> str:
    if cell is None:
        return "-"
    if metric in ("single", "fastest"):
        value = cell.single_ms if metric == "single" else cell.fastest_ms
        shown = _ms(value) if value is not None else "failed"
    else:
        shown = _rate(cell.load.rps) if cell.load is not None else "failed"
    note = {"single": cell.single_note, "rate": cell.load_note}.get(metric, "")
    if note:
        marks.append(note)
        shown += f" ({len(marks)})"
    return shown


def _ratio(big: float | None, small: float | None, goal: float) -> str:
    if big is None or small is None or small <= 0:
        return "-"
    ratio = big / small
    return f"{ratio:.1f}x {'met' if ratio <= goal else '**not met**'}"


def rows(results: Results) -> Iterator[tuple[str, str, str]]:
    """(page key, metric, row title) in the table's order."""
    for page in pages(next(iter(results.shops.values()))):
        yield page.key, "single", f"{page.title}, single request"
        if results.args.fastest:
            yield page.key, "fastest", f"{page.title}, fastest single request"
        yield page.key, "rate", f"{page.title}, req/s at {results.args.connections} connections"


def table(results: Results) -> list[str]:
    sizes: list[int] = results.args.sizes
    databases: list[str] = results.args.databases
    small, big = min(sizes), max(sizes)
    heads = [
        f"{size:,} products" if db == "sqlite" else f"PostgreSQL {size:,}"
        for db in databases
        for size in sizes
    ]
    growth = [f"{db_name(db)} {big:,} / {small:,}" for db in databases] if big > small else []
    versus = f"PostgreSQL / SQLite at {big:,}" if len(databases) == 2 else ""
    extra = [*growth, *([versus] if versus else [])]
    lines = [
        "| uncached, one worker | " + " | ".join(heads + extra) + " |",
        "|---|" + "---:|" * len(heads) + "---|" * len(extra),
    ]
    marks: list[str] = []
    for key, metric, title in rows(results):
        cells = [results.cells.get((db, size, key)) for db in databases for size in sizes]
        values = [_value(cell, metric, marks) for cell in cells]
        ratios = []
        if big > small:
            for db in databases:
                ratios.append(
                    _ratio(
                        _cost(results.cells.get((db, big, key)), metric),
                        _cost(results.cells.get((db, small, key)), metric),
                        GOAL_GROWTH,
                    )
                )
        if versus:
            ratios.append(
                _ratio(
                    _cost(results.cells.get(("postgresql", big, key)), metric),
                    _cost(results.cells.get(("sqlite", big, key)), metric),
                    GOAL_POSTGRES,
                )
            )
        lines.append(f"| {title} | " + " | ".join(values + ratios) + " |")
    lines.append("")
    if marks:
        lines += [f"({n}) {mark}" for n, mark in enumerate(marks, 1)] + [""]
    return lines


def ordered(results: Results) -> list[tuple[str, int]]:
    """(database, size) of every shop, in the order of the options: SQLite first."""
    return [(db, size) for db in results.args.databases for size in results.args.sizes]


def db_name(database: str) -> str:
    return "PostgreSQL" if database == "postgresql" else "SQLite"


def versus_sizes(results: Results) -> list[str]:
    """PostgreSQL / SQLite at every size measured on both, row by row: worst ratio."""
    lines = []
    sizes: list[int] = results.args.sizes
    for size in sizes:
        worst: tuple[float, str] | None = None
        for key, metric, title in rows(results):
            pg = _cost(results.cells.get(("postgresql", size, key)), metric)
            lite = _cost(results.cells.get(("sqlite", size, key)), metric)
            if pg is not None and lite is not None and lite > 0:
                ratio = pg / lite
                if worst is None or ratio > worst[0]:
                    worst = (ratio, title)
        if worst is not None:
            verdict = "met" if worst[0] <= GOAL_POSTGRES else "**not met**"
            lines.append(
                f"- at {size:,} products, PostgreSQL's worst row is {worst[1]}: "
                f"{worst[0]:.1f}x SQLite's cost ({verdict})"
            )
    return lines


def disturbance(results: Results) -> list[str]:
    """How busy the rest of the machine was during the wrk runs (a shared machine)."""
    loads = [cell for cell in results.cells.values() if cell.load is not None]
    if not loads:
        return []
    others = sorted(cell.other_cores for cell in loads)
    lines = [
        "CPU used during the wrk runs by processes other than the server, wrk and this "
        f"bench's PostgreSQL backends: median {statistics.median(others):.2f} cores, at most "
        f"{others[-1]:.2f} (of {len(os.sched_getaffinity(0))}).",
    ]
    database = sorted(
        cell.database_cores
        for (db, _, _), cell in results.cells.items()
        if db == "postgresql" and cell.load is not None
    )
    if database:
        lines.append(
            f"PostgreSQL's backends for the measured shop used a median of "
            f"{statistics.median(database):.2f} cores during the PostgreSQL rows' wrk runs, "
            f"at most {database[-1]:.2f}."
        )
    return [*lines, ""]


def memory_table(results: Results) -> list[str]:
    if not results.memory:
        return []
    lines = [
        "## Memory with the page cache full",
        "",
        "| database, products | pages requested (answered 200) | worker RSS after one "
        "request | worker RSS, cache full | all server processes, cache full |",
        "|---|---:|---:|---:|---:|",
    ]
    for database, size in ordered(results):
        mem = results.memory.get((database, size))
        if mem is None:
            continue
        lines.append(
            f"| {db_name(database)}, {size:,} | {mem.pages:,} ({mem.cached:,}) | "
            f"{mem.fresh_mib:.0f} MiB | {mem.worker_mib:.0f} MiB | {mem.group_mib:.0f} MiB |"
        )
    return [*lines, ""]


def report(results: Results) -> str:
    args = results.args
    any_shop = next(iter(results.shops.values()))
    quick = " (**--quick run: short measurements, indicative only**)" if args.quick else ""
    lines = [
        "# The storefront at catalog scale",
        "",
        f"Written by `bench/catalog_scale.py` on {results.started:%Y-%m-%d %H:%M} UTC{quick}; "
        f"the measurements took {results.elapsed_s / 60:.1f} minutes. Re-run with "
        "`.venv/bin/python bench/catalog_scale.py` (issue 11, item 8).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine()),
    ]
    if results.postgres_version:
        lines.append(f"| PostgreSQL server | {results.postgres_version} (127.0.0.1) |")
    lines += [
        "",
        "## Method",
        "",
        "- Catalog: the deterministic demo catalog (`quietshop demo --no-serve --products N`, "
        "seed 2004), the same products on both databases; SQLite in the data dir, PostgreSQL "
        "in database `qs_scale_N` on the same machine.",
        "- Server: `quietshop serve --workers 1` over TLS on 127.0.0.1, page cache **off** "
        "(`QUIETSHOP_PAGE_CACHE_ENABLED=false`: every request renders the page with its "
        "database queries), access log on, one server start per shop.",
        f"- *Single request*: the median of {args.requests} sequential requests on one "
        f"keep-alive connection, after {WARM_REQUESTS} untimed ones"
        + ("; *fastest*: the fastest of them" if args.fastest else "")
        + ". *req/s*: `wrk "
        f"-t{WRK_THREADS} -c{args.connections} -d{args.duration}s --timeout "
        f"{WRK_LATENCY_TIMEOUT}`, after an untimed 1 s run at 8 connections.",
        f"- Pages: search `/search?q={COMMON_WORD}`, a rare word `{RARE_WORD}` and a typo "
        f"`{TYPO}`; the biggest top-level category `/categories/{any_shop.category_slug}`: "
        f"its first page, its deepest page (page = products / {PAGE_SIZE}, at most "
        f"{MAX_PAGE:,}), `?sort=name` and `?{FILTER}`; the median product of that category "
        "by variant count; home `/`.",
        "- Ratios compare the cost of one request (ms, or 1 / req/s): growth is the largest "
        f"size's cost over the smallest's (goal at 100,000 / 1,200: at most {GOAL_GROWTH:g}x); "
        f"PostgreSQL / SQLite at the same size (goal: at most {GOAL_POSTGRES:g}x).",
        f"- Memory: the page cache **on**, {args.cache_pages:,} distinct URLs requested once "
        f"each (every category under each sort, {len(SAMPLE_SEARCHES)} searches, products "
        f"spread over the catalog; the cache keeps at most {MAX_ENTRIES:,} pages), then "
        "VmRSS of the worker process (and of all the server's processes).",
        "- A rate of errors, or one after which the server stalled, gets no ratio. After "
        "each wrk run the server must "
        f"answer `{PROBE_PATH}` (asked again {RECHECK_AFTER:g} s later); if it does not, it "
        "is restarted and the row's note says so, with the connection-pool timeouts its log "
        "holds. PostgreSQL's CPU for the measured shop is counted apart from *other*.",
        "- Caveat: 2 shared cores; wrk's TLS work competes with the server's, and other "
        "people's jobs disturb a row. Compare rows measured in one run.",
        "",
        "## Uncached pages",
        "",
        *table(results),
    ]
    versus = versus_sizes(results)
    if versus:
        lines += ["PostgreSQL against SQLite, at each size:", "", *versus, ""]
    matches = [
        f"- {db_name(db)} {size:,}: "
        + ", ".join(
            f'"{word}" {results.matches.get((db, size, word), "-")}'
            for word in (COMMON_WORD, RARE_WORD, TYPO)
        )
        for (db, size) in ordered(results)
    ]
    lines += ["Matches the search API reports:", "", *matches, ""]
    if results.skipped:
        lines += ["Not measured (the cells show -):", "", *(f"- {s}" for s in results.skipped), ""]
    lines += [*disturbance(results), "Shops:", ""]
    for db, size in ordered(results):
        shop = results.shops[(db, size)]
        lines.append(
            f"- {db_name(db)} {size:,}: {shop.product_count:,} active products; "
            f"`{shop.category_slug}` {shop.category_products:,} products; product "
            f"`{shop.product_slug}`"
        )
    lines.append("")
    lines += memory_table(results)
    return "\n".join(lines)


# ---------------------------------------------------------------- the command


def _list(kind: type[int] | type[str], value: str) -> list[int] | list[str]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if kind is int:
        return [int(p.replace("_", "")) for p in parts]
    return parts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--requests", type=int, default=20, help="sequential requests per page")
    parser.add_argument(
        "--cache-pages", type=int, default=MAX_ENTRIES, help="distinct pages for the memory row"
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 s wrk runs, 7 requests, 1,000 cached pages"
    )
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR / "results-catalog-scale.md", help="Markdown"
    )
    parser.add_argument(
        "--fastest", action="store_true", help="also the fastest single request of each page"
    )
    parser.add_argument("--keep", action="store_true", help="keep the server logs")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted(set(_list(int, args.sizes)))
    except ValueError:
        parser.error("--sizes takes numbers, e.g. 1200,10000,100000")
    wanted = set(_list(str, args.databases))
    args.databases = [d for d in DATABASES if d in wanted]  # SQLite first: the reference
    if not args.databases or wanted - set(DATABASES):
        parser.error(f"--databases takes {','.join(DATABASES)}")
    if not args.sizes or not all(1 <= s <= 100_000 for s in args.sizes):
        parser.error("--sizes must be between 1 and 100,000 (what `quietshop demo` takes)")
    if args.quick:
        args.duration, args.requests, args.cache_pages = 2, 7, 1_000
    if args.duration < 1 or args.duration > 600 or args.connections < WRK_THREADS:
        parser.error("--duration between 1 and 600, --connections ≥ the wrk thread count")
    if not 1 <= args.requests <= 1_000 or not 1 <= args.cache_pages <= 20_000:
        parser.error("--requests between 1 and 1,000, --cache-pages between 1 and 20,000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if wrk_missing():
        return 2
    interrupt_on_termination()
    OUT_DIR.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    results = Results(started, args)
    columns = len(args.sizes) * len(args.databases)
    print(
        f"{columns} shops x 9 pages, {args.duration} s wrk each: about "
        f"{columns * (9 * (args.duration + SECONDS_PER_PAGE) + SECONDS_PER_SHOP) / 60:.0f} "
        "minutes once the catalogs exist (more on a busy machine)",
        flush=True,
    )
    run = Run(args.duration, args.connections, args.connections, args.quick, started)
    servers = Servers(run)
    work_dir = Path(tempfile.mkdtemp(prefix="catalog-scale-run-", dir=OUT_DIR))

    def work() -> bool:
        Bench(args, servers, results, work_dir).everything()
        text_out = report(results)
        print()
        print(text_out)
        args.out.write_text(text_out, encoding="utf-8")
        print(f"Wrote {args.out}")
        return True

    return run_and_clean_up(servers, work_dir, args.keep, work)


if __name__ == "__main__":
    sys.exit(main())
