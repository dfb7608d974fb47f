"""Throughput and latency of the real server (granian over TLS), written to bench/results.md.

    .venv/bin/python bench/serve_bench.py [--duration 10] [--connections 32] [--quick]

What it does, in one run:

1. makes a data dir under bench/out/, runs ``quietshop migrate`` and ``quietshop demo
   --no-serve`` there (SQLite, the deterministic 1,200-product demo catalog) and picks
   real URLs from the database: the biggest top-level category, a typical product in it;
2. for 1 then 2 workers, starts ``quietshop serve`` twice (page cache on, then off; access
   log on, as in production; plain-HTTP port off) and measures home, category, product,
   search and ``/api/v1/products`` with ``wrk --latency`` over HTTPS;
3. starts bench/bare_app.py, a bare Starlette app serving the same product page bytes from
   memory under the same granian server and certificate, as the reference;
4. with 1 worker and the cache off, times sequential search requests for a few queries;
5. writes the tables and the goals, met or not, to bench/results.md.

Every server runs in its own process group and is killed on exit, error or Ctrl-C.
Load goes to 127.0.0.1 only; the wrk client shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
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
from types import FrameType
from urllib.parse import quote_plus

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
HOST = "127.0.0.1"
WRK_THREADS = 2
WORKER_COUNTS = (1, 2)
SEARCH_QUERY = "hdmi cable"
LATENCY_QUERIES = ("hdmi cable", "hdmi cabel", "usb c adapter", "cat6", "surge protector")
LATENCY_REQUESTS = 200
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

# Goals (docs and design brief) and the reference measured elsewhere.
GOAL_CACHED_SHARE = 0.60
GOAL_UNCACHED_PRODUCT_RPS = 2000.0
GOAL_UNCACHED_CATEGORY_RPS = 500.0
GOAL_SEARCH_P99_MS = 50.0
DJANGO_PRODUCT_RPS = 65.0
DJANGO_LISTING_RPS = 6.0


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Page:
    name: str
    path: str


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


@dataclass(frozen=True)
class Row:
    workers: int
    page: str
    mode: str  # "cached", "uncached" or "bare app"
    result: WrkResult


@dataclass(frozen=True)
class LatencyRow:
    query: str
    results: int
    corrected_to: str
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class Catalog:
    category_slug: str
    category_products: int
    product_slug: str
    product_variants: int
    product_count: int
    pages: list[Page] = field(default_factory=list)


@dataclass
class Run:
    duration: int
    connections: int
    quick: bool
    started: datetime
    catalog: Catalog | None = None
    rows: list[Row] = field(default_factory=list)
    latencies: list[LatencyRow] = field(default_factory=list)
    page_bytes: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def find(self, workers: int, page: str, mode: str) -> WrkResult | None:
        for row in self.rows:
            if (row.workers, row.page, row.mode) == (workers, page, mode):
                return row.result
        return None


# ---------------------------------------------------------------- processes


class Servers:
    """Every server this run started; each in its own process group, all killed at the end."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen[bytes]] = []

    @contextlib.contextmanager
    def run(self, argv: Sequence[str], env: dict[str, str], log: Path) -> Iterator[None]:
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
        self._running.append(process)
        try:
            yield
        finally:
            self.stop(process)

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        # Whatever is left of the group (a worker that outlived its parent) goes now.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in list(self._running):
            self.stop(process)


def _raise_interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


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


# ---------------------------------------------------------------- HTTP client


def tls_context(data_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(data_dir / "tls" / "ca.pem"))


def connect(port: int, context: ssl.SSLContext) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(HOST, port, context=context, timeout=10)


def fetch(port: int, context: ssl.SSLContext, path: str) -> tuple[int, bytes]:
    conn = connect(port, context)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until_serving(
    port: int, data_dir: Path, log: Path, path: str = "/api/v1/products"
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        try:
            # The CA exists once the server has generated it; read it on every try.
            status, _ = fetch(port, tls_context(data_dir), path)
            if status == 200:
                return
            last_error = f"HTTP {status}"
        except (OSError, ssl.SSLError, http.client.HTTPException) as error:
            last_error = repr(error)
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"server on port {port} did not answer ({last_error}); log:\n{tail}")


# ---------------------------------------------------------------- wrk


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> WrkResult:
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    latencies = {
        m.group(1): float(m.group(2)) * _UNITS_MS[m.group(3)] for m in _LATENCY.finditer(output)
    }
    if rps is None or total is None or set(latencies) != {"50", "99"}:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    sock = _SOCKET.search(output)
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sock.groups()) if sock else 0,
    )


def wrk(port: int, path: str, duration: int, connections: int) -> WrkResult:
    url = f"https://{HOST}:{port}{path}"
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True)
    return parse_wrk(done.stdout)


def measure(port: int, path: str, args: argparse.Namespace) -> WrkResult:
    # A short untimed run first: fills every worker's page cache, compiles templates and
    # SQL, and opens the database in every worker, so the timed run sees a steady state.
    wrk(port, path, 1, args.connections)
    return wrk(port, path, args.duration, args.connections)


# ---------------------------------------------------------------- the catalog


def prepare(data_dir: Path) -> Catalog:
    env = base_env(data_dir)
    command = quietshop_command()
    for step in (["migrate"], ["demo", "--no-serve"]):
        done = subprocess.run(
            [*command, *step], env=env, cwd=REPO_DIR, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            raise RuntimeError(f"quietshop {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
    return pick_urls(data_dir / "quietshop.db")


def pick_urls(db: Path) -> Catalog:
    """The top-level category with most products, and its median product by variant count."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        category_slug, category_products = conn.execute(
            """
            WITH RECURSIVE tree(root, id) AS (
                SELECT id, id FROM categories WHERE parent_id IS NULL
                UNION ALL
                SELECT tree.root, c.id FROM categories c JOIN tree ON c.parent_id = tree.id
            )
            SELECT r.slug, COUNT(p.id) AS n
            FROM tree JOIN categories r ON r.id = tree.root
            LEFT JOIN products p ON p.category_id = tree.id AND p.active
            GROUP BY r.id ORDER BY n DESC, r.slug LIMIT 1
            """
        ).fetchone()
        products = conn.execute(
            """
            WITH RECURSIVE tree(id) AS (
                SELECT id FROM categories WHERE slug = ?
                UNION ALL
                SELECT c.id FROM categories c JOIN tree ON c.parent_id = tree.id
            )
            SELECT p.slug, COUNT(v.id) AS variants
            FROM products p JOIN product_variants v ON v.product_id = p.id
            WHERE p.active AND p.category_id IN (SELECT id FROM tree)
            GROUP BY p.id ORDER BY variants, p.sku
            """,
            (category_slug,),
        ).fetchall()
        (product_count,) = conn.execute("SELECT COUNT(*) FROM products WHERE active").fetchone()
    product_slug, variants = products[len(products) // 2]
    catalog = Catalog(
        category_slug=category_slug,
        category_products=category_products,
        product_slug=product_slug,
        product_variants=variants,
        product_count=product_count,
    )
    catalog.pages = [
        Page("home", "/"),
        Page("category", f"/categories/{category_slug}"),
        Page("product", f"/products/{product_slug}"),
        Page("search", f"/search?q={quote_plus(SEARCH_QUERY)}"),
        Page("api products", "/api/v1/products"),
    ]
    return catalog


# ---------------------------------------------------------------- the measurements


def bench_quietshop(
    run: Run,
    servers: Servers,
    data_dir: Path,
    workers: int,
    *,
    cache: bool,
    args: argparse.Namespace,
    body_file: Path,
) -> None:
    assert run.catalog is not None
    mode = "cached" if cache else "uncached"
    port = free_port()
    log = data_dir / f"serve-w{workers}-{mode}.log"
    argv = [*quietshop_command(), "serve", "--workers", str(workers)]
    with servers.run(argv, quietshop_env(data_dir, port, cache=cache), log):
        wait_until_serving(port, data_dir, log)
        context = tls_context(data_dir)
        for page in run.catalog.pages:
            status, body = fetch(port, context, page.path)
            if status != 200:
                raise RuntimeError(f"{page.path} answered {status}, not 200")
            run.page_bytes[page.name] = len(body)
            if page.name == "product" and not body_file.exists():
                body_file.write_bytes(body)  # the bare app serves these very bytes
            result = measure(port, page.path, args)
            run.rows.append(Row(workers, page.name, mode, result))
            print(f"  {workers}w {mode:8} {page.name:13} {_rate(result)}", flush=True)
        if workers == 1 and not cache:
            run.latencies = search_latencies(port, context)


def bench_bare(
    run: Run,
    servers: Servers,
    data_dir: Path,
    workers: int,
    args: argparse.Namespace,
    body_file: Path,
) -> None:
    assert run.catalog is not None
    port = free_port()
    log = data_dir / f"bare-w{workers}.log"
    argv = [
        sys.executable,
        str(BENCH_DIR / "bare_app.py"),
        *("--data-dir", str(data_dir), "--port", str(port), "--workers", str(workers)),
        *("--body", str(body_file)),
    ]
    path = f"/products/{run.catalog.product_slug}"
    with servers.run(argv, base_env(data_dir), log):
        wait_until_serving(port, data_dir, log, path)
        status, body = fetch(port, tls_context(data_dir), path)
        if status != 200 or body != body_file.read_bytes():
            raise RuntimeError("the bare app does not serve the product page's bytes")
        result = measure(port, path, args)
        run.rows.append(Row(workers, "product", "bare app", result))
        print(f"  {workers}w bare app product       {_rate(result)}", flush=True)


def search_latencies(port: int, context: ssl.SSLContext) -> list[LatencyRow]:
    """Sequential search page requests on one keep-alive connection, per query."""
    rows = []
    conn = connect(port, context)
    try:
        for query in LATENCY_QUERIES:
            path = f"/search?q={quote_plus(query)}"
            for _ in range(10):  # warm-up, not counted
                _get(conn, path)
            times = []
            for _ in range(LATENCY_REQUESTS):
                start = time.perf_counter()
                _get(conn, path)
                times.append((time.perf_counter() - start) * 1000)
            results, corrected_to = _search_facts(conn, query)
            times.sort()
            rows.append(
                LatencyRow(
                    query=query,
                    results=results,
                    corrected_to=corrected_to,
                    p50_ms=statistics.median(times),
                    p99_ms=_percentile(times, 0.99),
                    max_ms=times[-1],
                )
            )
            print(
                f"  search {query!r:18} p50 {rows[-1].p50_ms:.1f} ms  p99 {rows[-1].p99_ms:.1f} ms"
            )
    finally:
        conn.close()
    return rows


def _get(conn: http.client.HTTPSConnection, path: str) -> bytes:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    return body


def _search_facts(conn: http.client.HTTPSConnection, query: str) -> tuple[int, str]:
    data = json.loads(_get(conn, f"/api/v1/search?q={quote_plus(query)}&page_size=1"))
    corrected = data["searched_for"] if data.get("corrected") else ""
    return int(data["total"]), str(corrected)


def _percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, -(-len(sorted_values) * share // 1))  # ceil
    return sorted_values[int(rank) - 1]


def _rate(result: WrkResult) -> str:
    errors = result.non_2xx + result.socket_errors
    extra = f"  ERRORS {errors}" if errors else ""
    return (
        f"{result.rps:9.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms{extra}"
    )


# ---------------------------------------------------------------- the report


def machine() -> list[tuple[str, str]]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return [
        ("CPUs (nproc)", str(len(os.sched_getaffinity(0)))),
        ("CPU model", cpu),
        ("Kernel", platform.release()),
        ("Python", platform.python_version()),
        ("granian", importlib.metadata.version("granian")),
        ("Starlette / FastAPI", f"{_version('starlette')} / {_version('fastapi')}"),
        ("SQLAlchemy / SQLite", f"{_version('sqlalchemy')} / {sqlite3.sqlite_version}"),
        ("wrk", wrk_version.split("[")[0].strip() or "unknown"),
    ]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def _goal(met: bool) -> str:
    return "**met**" if met else "**not met**"


def report(run: Run) -> str:
    assert run.catalog is not None
    cat = run.catalog
    lines = [
        "# Serving benchmark: Quietshop under granian over TLS",
        "",
        f"Written by `bench/serve_bench.py` on {run.started:%Y-%m-%d %H:%M} UTC"
        + (" (**--quick run: short measurements, indicative only**)" if run.quick else "")
        + f"; the whole run took {run.elapsed_s / 60:.1f} minutes.",
        "Re-run with `.venv/bin/python bench/serve_bench.py` (add `--quick` for a 3 s check).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine()),
        "",
        "## Method",
        "",
        f"- Load: `wrk -t{WRK_THREADS} -c{run.connections} -d{run.duration}s --latency "
        "https://127.0.0.1:PORT/path`, HTTP/1.1 keep-alive over TLS (granian with rustls, "
        "TLS 1.2 minimum, the generated local certificate). Each measurement follows an "
        "untimed 1 s wrk run on the same URL (fills the page cache of every worker, warms "
        "templates and SQL).",
        "- Server: `quietshop serve --workers N` as a subprocess, SQLite, access log **on** "
        "(as in production), plain-HTTP redirect port off. *Cached* = page cache on "
        "(repeat requests answered from memory); *uncached* = a separate start with "
        "`QUIETSHOP_PAGE_CACHE_ENABLED=false`, so every request renders the page with its "
        "database queries.",
        f"- Catalog: the deterministic demo catalog (`quietshop demo --no-serve`, seed 2004): "
        f"{cat.product_count:,} products.",
        f"- URLs: home `/`; category `/categories/{cat.category_slug}` (the biggest top-level "
        f"category, {cat.category_products} products, first page of the listing); product "
        f"`/products/{cat.product_slug}` (median product of that category, "
        f"{cat.product_variants} variants); search `/search?q={quote_plus(SEARCH_QUERY)}`; "
        "API `/api/v1/products` (first page, 24 items).",
        "- Response bodies: "
        + ", ".join(f"{name} {size:,} B" for name, size in run.page_bytes.items())
        + ".",
        "- Reference: `bench/bare_app.py`, a bare Starlette app that returns the same product "
        "page bytes from memory, served by the same granian configuration "
        "(`quietshop.web.serving.build_server`: same certificate, TLS 1.2 minimum, same "
        "worker count). It sends only a content-type header, where Quietshop adds its "
        "security headers (HSTS, CSP, ...) and an ETag.",
        "- Caveat: the machine has 2 cores and wrk runs on them too (its TLS work competes "
        "with the server's), so absolute rates are lower than with a separate client "
        "machine; the ratios between rows are measured side by side under the same "
        "conditions. p50/p99 are wrk's latency under "
        f"{run.connections} concurrent connections, so they include queueing.",
        "",
    ]
    for workers in WORKER_COUNTS:
        lines += _throughput_table(run, workers)
    lines += _latency_table(run)
    lines += _goals(run)
    return "\n".join(lines) + "\n"


def _throughput_table(run: Run, workers: int) -> list[str]:
    assert run.catalog is not None
    process = "process" if workers == 1 else "processes"
    lines = [
        f"## {workers} worker {process}",
        "",
        "| page | page cache | req/s | p50 | p99 | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for page in run.catalog.pages:
        for mode in ("cached", "uncached"):
            result = run.find(workers, page.name, mode)
            if result is not None:
                lines.append(_table_row(page.name, mode, result))
    bare = run.find(workers, "product", "bare app")
    cached = run.find(workers, "product", "cached")
    if bare is not None:
        lines.append(_table_row("product (bare Starlette reference)", "in memory", bare))
    lines.append("")
    if bare is not None and cached is not None:
        share = cached.rps / bare.rps
        lines.append(
            f"Cached product page: {cached.rps:,.0f} req/s = **{share:.0%}** of the bare "
            f"app's {bare.rps:,.0f} req/s."
        )
        lines.append("")
    return lines


def _table_row(page: str, mode: str, result: WrkResult) -> str:
    errors = result.non_2xx + result.socket_errors
    return (
        f"| {page} | {mode} | {result.rps:,.0f} | {_ms(result.p50_ms)} | "
        f"{_ms(result.p99_ms)} | {errors} |"
    )


def _latency_table(run: Run) -> list[str]:
    assert run.catalog is not None
    lines = [
        "## Search latency, sequential (1 worker, page cache off)",
        "",
        f"{LATENCY_REQUESTS} sequential `GET /search?q=...` on one keep-alive TLS connection "
        "per query (after 10 untimed), timed in the client (Python `http.client`), so the "
        f"numbers are one request's time without queueing. Catalog: "
        f"{run.catalog.product_count:,} products.",
        "",
        "| query | results | corrected to | p50 | p99 | max |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for row in run.latencies:
        lines.append(
            f"| {row.query} | {row.results} | {row.corrected_to or '-'} | "
            f"{_ms(row.p50_ms)} | {_ms(row.p99_ms)} | {_ms(row.max_ms)} |"
        )
    lines.append("")
    return lines


def _goals(run: Run) -> list[str]:
    lines = ["## Goals", "", "| goal | measured | verdict |", "|---|---|---|"]
    for workers in WORKER_COUNTS:
        bare = run.find(workers, "product", "bare app")
        cached = run.find(workers, "product", "cached")
        if bare is not None and cached is not None:
            share = cached.rps / bare.rps
            lines.append(
                f"| cached product page ≥ {GOAL_CACHED_SHARE:.0%} of the bare app's rate "
                f"({workers} worker{'s' if workers > 1 else ''}) | {cached.rps:,.0f} / "
                f"{bare.rps:,.0f} req/s = {share:.0%} | {_goal(share >= GOAL_CACHED_SHARE)} |"
            )
    product = run.find(1, "product", "uncached")
    if product is not None:
        lines.append(
            f"| uncached product page ≥ {GOAL_UNCACHED_PRODUCT_RPS:,.0f} req/s, 1 process | "
            f"{product.rps:,.0f} req/s | {_goal(product.rps >= GOAL_UNCACHED_PRODUCT_RPS)} |"
        )
    category = run.find(1, "category", "uncached")
    if category is not None:
        lines.append(
            f"| uncached category listing ≥ {GOAL_UNCACHED_CATEGORY_RPS:,.0f} req/s, 1 process "
            f"| {category.rps:,.0f} req/s | "
            f"{_goal(category.rps >= GOAL_UNCACHED_CATEGORY_RPS)} |"
        )
    if run.latencies:
        worst = max(run.latencies, key=lambda row: row.p99_ms)
        loaded = run.find(1, "search", "uncached")
        under_load = (
            f"; under {run.connections} connections (wrk) p99 was {_ms(loaded.p99_ms)}"
            if loaded is not None
            else ""
        )
        lines.append(
            f"| uncached search p99 < {GOAL_SEARCH_P99_MS:.0f} ms on ~1,000 products "
            f"(sequential, worst of {len(run.latencies)} queries) | {_ms(worst.p99_ms)} "
            f'("{worst.query}"){under_load} | {_goal(worst.p99_ms < GOAL_SEARCH_P99_MS)} |'
        )
    lines += ["", *_django_reference(run)]
    return lines


def _django_reference(run: Run) -> list[str]:
    product = run.find(1, "product", "uncached")
    category = run.find(1, "category", "uncached")
    lines = [
        "Reference measured elsewhere, not by this run (different machine and setup, so "
        "not a side-by-side comparison): *a Django shop (django-oscar 4.2, one sync "
        f"worker) served its product page at about {DJANGO_PRODUCT_RPS:.0f} requests/s and "
        f"its catalogue listing at about {DJANGO_LISTING_RPS:.0f}.*",
    ]
    if product is not None and category is not None:
        lines.append(
            f"Quietshop here, 1 process, page cache off: product page {product.rps:,.0f} "
            f"req/s (~{product.rps / DJANGO_PRODUCT_RPS:,.0f}x that figure), category "
            f"listing {category.rps:,.0f} req/s (~{category.rps / DJANGO_LISTING_RPS:,.0f}x)."
        )
    return lines


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "results.md", help="Markdown report"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 3
    if args.duration < 1 or args.connections < WRK_THREADS:
        parser.error("--duration must be ≥ 1 and --connections ≥ the wrk thread count")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    run = Run(args.duration, args.connections, args.quick, datetime.now(UTC))
    measurements = len(WORKER_COUNTS) * 11
    print(
        f"{measurements} measurements of {args.duration} s (+1 s warm-up each), about "
        f"{measurements * (args.duration + 3) / 60:.0f} minutes in all",
        flush=True,
    )
    OUT_DIR.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="serve-bench-", dir=OUT_DIR))
    servers = Servers()
    ok = False
    clock = time.monotonic()
    try:
        print(f"Preparing the demo catalog in {data_dir}", flush=True)
        run.catalog = prepare(data_dir)
        body_file = data_dir / "product-page.html"
        for workers in WORKER_COUNTS:
            for cache in (True, False):
                bench_quietshop(
                    run, servers, data_dir, workers, cache=cache, args=args, body_file=body_file
                )
            bench_bare(run, servers, data_dir, workers, args, body_file)
        run.elapsed_s = time.monotonic() - clock
        args.output.write_text(report(run), encoding="utf-8")
        print(f"Wrote {args.output}")
        ok = True
    except KeyboardInterrupt:
        print("Interrupted; stopping the servers.", file=sys.stderr)
        return 130
    finally:
        servers.stop_all()
        if ok and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"Data dir and server logs kept in {data_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
