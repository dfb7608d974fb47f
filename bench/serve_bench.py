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

A measurement that ends with timeouts or errors is kept as measured and marked failed;
the server is then restarted (a stalled server stays stalled) and, if the failure was at
``--connections``, the page is measured again at ``--safe-connections``.

For every timed run it also records CPU time: the server's process group, wrk, and the
rest of the machine ("other": other people's jobs on a shared machine disturb a row).

Every server runs in its own process group and is killed on exit, error or Ctrl-C.
Load goes to 127.0.0.1 only; the wrk client shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import importlib.metadata
import json
import os
import platform
import re
import resource
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
from collections.abc import Sequence
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
LATENCY_WARMUP = 10
START_TIMEOUT = 60.0
STOP_GRACE = 10.0
STALLED_STOP_GRACE = 2.0  # a stalled server's graceful stop would wait for stuck requests
PROBE_TIMEOUT = 5.0
PROBES_PER_WORKER = 4
POOL_EVIDENCE_WAIT = 45.0  # SQLAlchemy's pool timeout is 30 s
OTHER_CPU_WARNING = 0.10  # cores used by unrelated processes during a timed run
POOL_TIMEOUT_TEXT = "QueuePool limit of size"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Goals (design brief) and the reference measured elsewhere.
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
    timeouts: int


@dataclass(frozen=True)
class Cpu:
    """Average cores busy during a timed run."""

    server: float
    client: float
    other: float


@dataclass(frozen=True)
class Row:
    workers: int
    page: str
    mode: str  # "cached", "uncached" or "bare app"
    connections: int
    result: WrkResult
    cpu: Cpu
    failed: bool  # errors or timeouts, or the server stopped answering afterwards
    source: str  # fingerprint of src/ when the server started


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
    safe_connections: int
    quick: bool
    started: datetime
    catalog: Catalog | None = None
    rows: list[Row] = field(default_factory=list)
    latencies: list[LatencyRow] = field(default_factory=list)
    page_bytes: dict[str, int] = field(default_factory=dict)
    # (workers, mode) -> pool-timeout errors found in the logs of that configuration's servers
    pool_timeouts: dict[tuple[int, str], int] = field(default_factory=dict)
    pool_message: str = ""
    sources: list[str] = field(default_factory=list)  # src/ fingerprints, in order seen
    latency_source: str = ""
    # the Quietshop frames of each pool-timeout traceback (innermost last) -> how many
    stuck_at: dict[tuple[str, ...], int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def find(
        self, workers: int, page: str, mode: str, connections: int | None = None
    ) -> Row | None:
        wanted = self.connections if connections is None else connections
        for row in self.rows:
            if (row.workers, row.page, row.mode, row.connections) == (
                workers,
                page,
                mode,
                wanted,
            ):
                return row
        return None

    def fallback(self, workers: int, page: str, mode: str) -> Row | None:
        """The row at --safe-connections, measured only when the first one failed."""
        if self.safe_connections >= self.connections:
            return None
        return self.find(workers, page, mode, self.safe_connections)


# ---------------------------------------------------------------- processes


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    workers: int
    mode: str
    source: str


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
        process = server.process
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        # Whatever is left of the group (a worker that outlived its parent) goes now.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE)
        if server in self._running:
            self._running.remove(server)
        key = (server.workers, server.mode)
        lines = _lines_with(server.log, POOL_TIMEOUT_TEXT)
        self._run.pool_timeouts[key] = self._run.pool_timeouts.get(key, 0) + len(lines)
        if lines and not self._run.pool_message:
            self._run.pool_message = lines[0].strip()
        for chain in pool_timeout_chains(server.log):
            self._run.stuck_at[chain] = self._run.stuck_at.get(chain, 0) + 1

    def stop_all(self) -> None:
        for server in list(self._running):
            self.stop(server, grace=STALLED_STOP_GRACE)


def _lines_with(path: Path, text: str) -> list[str]:
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


SOURCE_FILES: dict[str, dict[str, str]] = {}  # fingerprint -> {path: sha256 of the file}


def source_fingerprint() -> str:
    """What code a server runs: others edit src/ while we measure, so every start notes it."""
    files = {}
    for path in sorted((REPO_DIR / "src").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            with contextlib.suppress(OSError):
                files[path.relative_to(REPO_DIR).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    fingerprint = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
    SOURCE_FILES.setdefault(fingerprint, files)
    return fingerprint


def changed_files(before: str, after: str) -> list[str]:
    old, new = SOURCE_FILES.get(before, {}), SOURCE_FILES.get(after, {})
    return sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path))


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


# ---------------------------------------------------------------- CPU accounting


def _busy_ticks() -> int:
    """All CPUs' non-idle time (user, nice, system, irq, softirq) from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return user + nice + system + irq + softirq


def _group_ticks(pgid: int) -> int:
    """CPU time of every live process in a process group (all threads included)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total


def _own_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """Cores used by the server, by wrk (our reaped children) and by everything else."""

    def __init__(self, server_pgid: int) -> None:
        self._pgid = server_pgid
        self._wall = time.monotonic()
        self._busy = _busy_ticks()
        self._server = _group_ticks(server_pgid)
        self._children = _own_seconds(resource.RUSAGE_CHILDREN)
        self._self = _own_seconds(resource.RUSAGE_SELF)

    def stop(self) -> Cpu:
        wall = time.monotonic() - self._wall
        busy = (_busy_ticks() - self._busy) / CLK_TCK
        server = (_group_ticks(self._pgid) - self._server) / CLK_TCK
        client = _own_seconds(resource.RUSAGE_CHILDREN) - self._children
        own = _own_seconds(resource.RUSAGE_SELF) - self._self
        other = max(0.0, busy - server - client - own)
        return Cpu(server=server / wall, client=client / wall, other=other / wall)


# ---------------------------------------------------------------- HTTP client


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


def _wait_for_line(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not _lines_with(path, text):
        time.sleep(1.0)


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
    connect_, read, write, timeout = (int(n) for n in sock.groups()) if sock else (0, 0, 0, 0)
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=connect_ + read + write,
        timeouts=timeout,
    )


def wrk(port: int, path: str, duration: int, connections: int) -> WrkResult:
    url = f"https://{HOST}:{port}{path}"
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True)
    return parse_wrk(done.stdout)


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


@dataclass
class Bench:
    args: argparse.Namespace
    run: Run
    servers: Servers
    data_dir: Path
    starts: int = 0
    waited_for_evidence: bool = False

    @property
    def body_file(self) -> Path:
        return self.data_dir / "product-page.html"

    @property
    def catalog(self) -> Catalog:
        assert self.run.catalog is not None
        return self.run.catalog

    def start_quietshop(self, workers: int, mode: str) -> Server:
        self.starts += 1
        port = free_port()
        log = self.data_dir / f"serve-w{workers}-{mode}-{self.starts}.log"
        argv = [*quietshop_command(), "serve", "--workers", str(workers)]
        env = quietshop_env(self.data_dir, port, cache=mode == "cached")
        server = self.servers.start(argv, env, log, port, workers, mode)
        wait_until_serving(server, self.data_dir, "/api/v1/products")
        return server

    def start_bare(self, workers: int) -> Server:
        self.starts += 1
        port = free_port()
        log = self.data_dir / f"bare-w{workers}-{self.starts}.log"
        argv = [
            sys.executable,
            str(BENCH_DIR / "bare_app.py"),
            *("--data-dir", str(self.data_dir), "--port", str(port)),
            *("--workers", str(workers), "--body", str(self.body_file)),
        ]
        server = self.servers.start(argv, base_env(self.data_dir), log, port, workers, "bare app")
        wait_until_serving(server, self.data_dir, f"/products/{self.catalog.product_slug}")
        return server

    def measure(self, server: Server, page: Page, connections: int) -> Row:
        # An untimed second first, at a concurrency the server survives: it fills every
        # worker's page cache, compiles templates and SQL, and opens each worker's database.
        wrk(server.port, page.path, 1, min(connections, self.args.safe_connections))
        meter = CpuMeter(server.process.pid)
        result = wrk(server.port, page.path, self.args.duration, connections)
        cpu = meter.stop()
        failed = result.non_2xx + result.socket_errors + result.timeouts > 0 or not responsive(
            server, self.data_dir, page.path
        )
        row = Row(
            server.workers, page.name, server.mode, connections, result, cpu, failed, server.source
        )
        self.run.rows.append(row)
        print(f"  {_console_row(row)}", flush=True)
        return row

    def restart(self, server: Server) -> Server:
        if not self.waited_for_evidence:
            self.waited_for_evidence = True
            # Once per run, give the stuck requests time to hit the connection pool's
            # timeout, so the server log says why it stalled (the report quotes it).
            print("  waiting for the stalled server to log why (once per run)", flush=True)
            _wait_for_line(server.log, POOL_TIMEOUT_TEXT, POOL_EVIDENCE_WAIT)
        print(f"  restarting the stalled {server.mode} server", flush=True)
        self.servers.stop(server, grace=STALLED_STOP_GRACE)
        if server.mode == "bare app":
            return self.start_bare(server.workers)
        return self.start_quietshop(server.workers, server.mode)

    def measure_page(self, server: Server, page: Page) -> Server:
        """Measure at --connections; after a failure restart, and retry at the safe level."""
        row = self.measure(server, page, self.args.connections)
        if not row.failed:
            return server
        server = self.restart(server)
        if self.args.safe_connections < self.args.connections:
            retry = self.measure(server, page, self.args.safe_connections)
            if retry.failed:
                server = self.restart(server)
        return server

    def quietshop(self, workers: int, mode: str) -> None:
        # Uncached, every page gets a fresh server: a stall one page caused (found or not)
        # must not lower the next page's numbers. Cached servers are shared by all pages.
        fresh = mode == "uncached"
        server: Server | None = None
        try:
            for page in self.catalog.pages:
                if server is None or fresh:
                    if server is not None:
                        self.servers.stop(server)
                    server = self.start_quietshop(workers, mode)
                # The first start creates the local CA; read it after starting.
                context = tls_context(self.data_dir)
                status, body = fetch(server.port, context, page.path)
                if status != 200:
                    raise RuntimeError(f"{page.path} answered {status}, not 200")
                self.run.page_bytes[page.name] = len(body)
                if page.name == "product" and not self.body_file.exists():
                    self.body_file.write_bytes(body)  # the bare app serves these very bytes
                server = self.measure_page(server, page)
            if workers == 1 and mode == "uncached":
                if server is not None:
                    self.servers.stop(server)
                server = self.start_quietshop(workers, mode)
                self.run.latencies = search_latencies(server.port, context)
                self.run.latency_source = server.source
        finally:
            if server is not None:
                self.servers.stop(server)

    def bare(self, workers: int) -> None:
        server = self.start_bare(workers)
        try:
            page = Page("product", f"/products/{self.catalog.product_slug}")
            status, body = fetch(server.port, tls_context(self.data_dir), page.path)
            if status != 200 or body != self.body_file.read_bytes():
                raise RuntimeError("the bare app does not serve the product page's bytes")
            server = self.measure_page(server, page)
        finally:
            self.servers.stop(server)


def search_latencies(port: int, context: ssl.SSLContext) -> list[LatencyRow]:
    """Sequential search page requests on one keep-alive connection, per query."""
    rows = []
    conn = connect(port, context)
    try:
        for query in LATENCY_QUERIES:
            path = f"/search?q={quote_plus(query)}"
            for _ in range(LATENCY_WARMUP):
                _get(conn, path)
            times = []
            for _ in range(LATENCY_REQUESTS):
                start = time.perf_counter()
                _get(conn, path)
                times.append((time.perf_counter() - start) * 1000)
            results, corrected_to = _search_facts(conn, query)
            times.sort()
            row = LatencyRow(
                query=query,
                results=results,
                corrected_to=corrected_to,
                p50_ms=statistics.median(times),
                p99_ms=_percentile(times, 0.99),
                max_ms=times[-1],
            )
            rows.append(row)
            print(f"  search {query!r:18} p50 {row.p50_ms:.1f} ms  p99 {row.p99_ms:.1f} ms")
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


def _errors(result: WrkResult) -> str:
    parts = []
    if result.timeouts:
        parts.append(f"{result.timeouts} timeouts")
    if result.non_2xx:
        parts.append(f"{result.non_2xx} non-2xx")
    if result.socket_errors:
        parts.append(f"{result.socket_errors} socket errors")
    return ", ".join(parts)


def _console_row(row: Row) -> str:
    r = row.result
    flag = "  FAILED" + (f" ({_errors(r)})" if _errors(r) else " (no answer after)")
    return (
        f"{row.workers}w {row.mode:8} {row.page:12} c{row.connections:<3} {r.rps:8.0f} req/s  "
        f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  cpu srv {row.cpu.server:.2f} "
        f"wrk {row.cpu.client:.2f} other {row.cpu.other:.2f}" + (flag if row.failed else "")
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
        ("granian", _version("granian")),
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


def _verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def report(run: Run) -> str:
    assert run.catalog is not None
    cat = run.catalog
    lines = [
        "# Serving benchmark: Quietshop under granian over TLS",
        "",
        f"Written by `bench/serve_bench.py` on {run.started:%Y-%m-%d %H:%M} UTC"
        + (" (**--quick run: short measurements, indicative only**)" if run.quick else "")
        + f"; the whole run took {run.elapsed_s / 60:.1f} minutes. "
        "Re-run with `.venv/bin/python bench/serve_bench.py` (`--quick`: 3 s per measurement).",
        "",
        *_source_note(run),
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine()),
        "",
        "## Method",
        "",
        f"- Load: `wrk -t{WRK_THREADS} -c{run.connections} -d{run.duration}s --latency "
        "https://127.0.0.1:PORT/path`: HTTP/1.1 keep-alive over TLS (granian with rustls, "
        "TLS 1.2 minimum, the generated local certificate). Each timed run follows an "
        f"untimed 1 s wrk run on the same URL at {min(run.connections, run.safe_connections)} "
        "connections (fills every worker's page cache, warms templates and SQL).",
        "- Server: `quietshop serve --workers N` as a subprocess, SQLite, access log **on** "
        "(as in production), plain-HTTP redirect port off. *Cached* = page cache on "
        "(repeat requests answered from memory); *uncached* = a separate start with "
        "`QUIETSHOP_PAGE_CACHE_ENABLED=false`, so every request renders the page with its "
        "database queries.",
        f"- Catalog: the deterministic demo catalog (`quietshop demo --no-serve`, seed 2004), "
        f"{cat.product_count:,} products.",
        f"- URLs: home `/`; category `/categories/{cat.category_slug}` (the biggest top-level "
        f"category, {cat.category_products} products; first page of the listing); product "
        f"`/products/{cat.product_slug}` (the median product of that category, "
        f"{cat.product_variants} variants); search `/search?q={quote_plus(SEARCH_QUERY)}`; "
        "API `/api/v1/products` (first page, 24 items).",
        "- Response bodies: "
        + ", ".join(f"{name} {size:,} B" for name, size in run.page_bytes.items())
        + ".",
        "- Reference: `bench/bare_app.py`, a bare Starlette app returning the same product "
        "page bytes from memory, served by the same granian configuration "
        "(`quietshop.web.serving.build_server`: same certificate, TLS 1.2 minimum, same "
        "worker count). It sends only a content-type header, where Quietshop adds its "
        "security headers (HSTS, CSP, ...) and an ETag (about 1 KB).",
        "- A run with timeouts, errors, or a server that no longer answers afterwards is "
        "marked **failed** and kept as measured; the server is then restarted and the page "
        f"measured again at {run.safe_connections} connections.",
        "- CPU columns: average cores used during the timed run by the server's processes, "
        "by wrk, and by everything else on the machine (*other*: other jobs on this shared "
        f"machine; above {OTHER_CPU_WARNING:.2f} the row was disturbed).",
        "- Caveat: the machine has 2 cores and wrk runs on them too (its TLS work competes "
        "with the server's), so absolute rates are lower than with a separate client "
        "machine; rows are measured side by side under the same conditions. p50/p99 are "
        "wrk's latencies under concurrent connections, so they include queueing.",
        "",
    ]
    for workers in WORKER_COUNTS:
        lines += _throughput_table(run, workers)
    lines += _stalls(run)
    lines += _latency_table(run)
    lines += _goals(run)
    return "\n".join(lines) + "\n"


def _throughput_table(run: Run, workers: int) -> list[str]:
    assert run.catalog is not None
    process = "process" if workers == 1 else "processes"
    lines = [
        f"## {workers} worker {process}",
        "",
        "| page | page cache | conns | req/s | p50 | p99 | errors | CPU server / wrk / other |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for page in run.catalog.pages:
        for mode in ("cached", "uncached"):
            for row in run.rows:
                if (row.workers, row.page, row.mode) == (workers, page.name, mode):
                    lines.append(_table_row(page.name + _src(run, row), mode, row))
    for row in run.rows:
        if row.workers == workers and row.mode == "bare app":
            label = "product: bare Starlette reference" + _src(run, row)
            lines.append(_table_row(label, "in memory", row))
    lines.append("")
    bare = run.find(workers, "product", "bare app")
    cached = run.find(workers, "product", "cached")
    if bare is not None and cached is not None:
        share = cached.result.rps / bare.result.rps
        lines += [
            f"Cached product page: {cached.result.rps:,.0f} req/s = **{share:.0%}** of the "
            f"bare app's {bare.result.rps:,.0f} req/s.",
            "",
        ]
    return lines


def _source_note(run: Run) -> list[str]:
    if len(run.sources) <= 1:
        code = run.sources[0] if run.sources else "?"
        return [
            f"Code measured: the working tree's `src/`, fingerprint `{code}` (sha256 of its "
            "files; the same at every server start of this run).",
            "",
        ]
    versions = ", ".join(f"v{i + 1} = `{code}`" for i, code in enumerate(run.sources))
    lines = [
        f"> **Warning: `src/` changed during this run** ({versions}): other people edited "
        "the application while it was measured, so rows marked with different versions "
        "measured different code and are not comparable. Re-run on a quiet tree.",
        ">",
    ]
    for i in range(1, len(run.sources)):
        files = changed_files(run.sources[i - 1], run.sources[i])
        shown = ", ".join(f"`{f}`" for f in files[:8]) + (" ..." if len(files) > 8 else "")
        lines.append(f"> - changed from v{i} to v{i + 1}: {shown}")
    return [*lines, ""]


def _src(run: Run, row: Row) -> str:
    if len(run.sources) <= 1:
        return ""
    return f" (src v{run.sources.index(row.source) + 1})"


def _table_row(page: str, mode: str, row: Row) -> str:
    r = row.result
    errors = _errors(r) or "0"
    if row.failed:
        errors = f"**failed**: {_errors(r) or 'no answer afterwards'}"
    other = f"{row.cpu.other:.2f}" + (" ⚠" if row.cpu.other > OTHER_CPU_WARNING else "")
    return (
        f"| {page} | {mode} | {row.connections} | {r.rps:,.0f} | {_ms(r.p50_ms)} | "
        f"{_ms(r.p99_ms)} | {errors} | {row.cpu.server:.2f} / {row.cpu.client:.2f} / "
        f"{other} |"
    )


def _stalls(run: Run) -> list[str]:
    failed = [row for row in run.rows if row.failed]
    if not failed:
        return []
    lines = ["## Failed runs", ""]
    for row in failed:
        lines.append(
            f"- {row.workers} worker(s), {row.mode}, {row.page}, {row.connections} "
            f"connections: {row.result.requests:,} requests in {run.duration} s, "
            f"{_errors(row.result) or 'no wrk errors, but the server stopped answering'}."
        )
    for (workers, mode), count in sorted(run.pool_timeouts.items()):
        if count:
            lines.append(
                f"- Server logs ({workers} worker(s), {mode}): {count} times "
                f"`{run.pool_message}` (the database connection pool ran dry)."
            )
    if run.stuck_at:
        lines += [
            "",
            "Where those requests were when the pool timed out (Quietshop frames of each "
            "traceback in the server logs, outermost first; middleware frames left out):",
            "",
        ]
        for chain, count in sorted(run.stuck_at.items(), key=lambda item: -item[1]):
            inner = [f for f in chain if f.rsplit(" ", 1)[-1] not in _PLUMBING]
            lines.append(f"- {count} times: " + " → ".join(f"`{f}`" for f in inner))
    lines.append("")
    return lines


_PLUMBING = frozenset({"__call__", "_fill", "buffer"})  # middleware frames


def _latency_table(run: Run) -> list[str]:
    assert run.catalog is not None
    lines = [
        "## Search latency, sequential (1 worker, page cache off)",
        "",
        f"{LATENCY_REQUESTS} sequential `GET /search?q=...` per query on one keep-alive TLS "
        f"connection (after {LATENCY_WARMUP} untimed), timed in the client (Python "
        "`http.client`): one request's time, no queueing. Catalog: "
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


def _rate_goal(run: Run, page: str, goal: float) -> tuple[str, bool]:
    """Measured text and verdict for an uncached 1-process rate goal."""
    main = run.find(1, page, "uncached")
    if main is None:
        return "not measured", False
    text = f"{main.result.rps:,.0f} req/s at {main.connections} connections"
    if not main.failed:
        return text, main.result.rps >= goal
    text += " (**failed**: the server stalled)"
    retry = run.fallback(1, page, "uncached")
    if retry is not None:
        text += f"; {retry.result.rps:,.0f} req/s at {retry.connections} connections"
        if retry.failed:
            text += " (failed too)"
    return text, False


def _goals(run: Run) -> list[str]:
    lines = ["## Goals", "", "| goal | measured | verdict |", "|---|---|---|"]
    for workers in WORKER_COUNTS:
        bare = run.find(workers, "product", "bare app")
        cached = run.find(workers, "product", "cached")
        if bare is not None and cached is not None:
            share = cached.result.rps / bare.result.rps
            met = share >= GOAL_CACHED_SHARE and not cached.failed and not bare.failed
            plural = "s" if workers > 1 else ""
            lines.append(
                f"| cached product page ≥ {GOAL_CACHED_SHARE:.0%} of the bare app's rate "
                f"({workers} worker{plural}) | {cached.result.rps:,.0f} / "
                f"{bare.result.rps:,.0f} req/s = {share:.0%} | {_verdict(met)} |"
            )
    text, met = _rate_goal(run, "product", GOAL_UNCACHED_PRODUCT_RPS)
    lines.append(
        f"| uncached product page ≥ {GOAL_UNCACHED_PRODUCT_RPS:,.0f} req/s, 1 process "
        f"| {text} | {_verdict(met)} |"
    )
    text, met = _rate_goal(run, "category", GOAL_UNCACHED_CATEGORY_RPS)
    lines.append(
        f"| uncached category listing ≥ {GOAL_UNCACHED_CATEGORY_RPS:,.0f} req/s, 1 process "
        f"| {text} | {_verdict(met)} |"
    )
    if run.latencies:
        worst = max(run.latencies, key=lambda row: row.p99_ms)
        products = run.catalog.product_count if run.catalog else 0
        loaded = run.find(1, "search", "uncached")
        under_load = ""
        if loaded is not None and not loaded.failed:
            under_load = (
                f"; under {loaded.connections} connections (wrk, with queueing) p99 was "
                f"{_ms(loaded.result.p99_ms)}"
            )
        lines.append(
            f"| uncached search p99 < {GOAL_SEARCH_P99_MS:.0f} ms on 1,000 products "
            f"(here {products:,}; sequential, worst "
            f"of {len(run.latencies)} queries) | {_ms(worst.p99_ms)} (“{worst.query}”)"
            f"{under_load} | {_verdict(worst.p99_ms < GOAL_SEARCH_P99_MS)} |"
        )
    lines += ["", *_django_reference(run)]
    return lines


def _usable_rate(run: Run, page: str) -> Row | None:
    main = run.find(1, page, "uncached")
    if main is not None and not main.failed:
        return main
    retry = run.fallback(1, page, "uncached")
    return retry if retry is not None and not retry.failed else None


def _django_reference(run: Run) -> list[str]:
    lines = [
        "Reference measured elsewhere, not by this run (another machine and setup, so not "
        "a side-by-side comparison): *a Django shop (django-oscar 4.2, one sync worker) "
        f"served its product page at about {DJANGO_PRODUCT_RPS:.0f} requests/s and its "
        f"catalogue listing at about {DJANGO_LISTING_RPS:.0f}.*",
    ]
    product = _usable_rate(run, "product")
    category = _usable_rate(run, "category")
    if product is not None and category is not None:
        lines += [
            "",
            f"Quietshop in this run, 1 process, page cache off: product page "
            f"{product.result.rps:,.0f} req/s ({product.connections} connections), "
            f"category listing {category.result.rps:,.0f} req/s ({category.connections} "
            "connections).",
        ]
    return lines


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--safe-connections",
        type=int,
        default=8,
        help="connections for the warm-up, and for the retry after a failed run",
    )
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "results.md", help="Markdown report"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 3
    if args.duration < 1 or min(args.connections, args.safe_connections) < WRK_THREADS:
        parser.error("--duration must be ≥ 1 and connections ≥ the wrk thread count")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    run = Run(args.duration, args.connections, args.safe_connections, args.quick, datetime.now(UTC))
    planned = len(WORKER_COUNTS) * 11
    print(
        f"{planned} measurements of {args.duration} s (+1 s warm-up each), about "
        f"{planned * (args.duration + 3) / 60:.0f} minutes, more if a server stalls",
        flush=True,
    )
    OUT_DIR.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="serve-bench-", dir=OUT_DIR))
    servers = Servers(run)
    bench = Bench(args, run, servers, data_dir)
    ok = False
    clock = time.monotonic()
    try:
        print(f"Preparing the demo catalog in {data_dir}", flush=True)
        run.catalog = prepare(data_dir)
        for workers in WORKER_COUNTS:
            bench.quietshop(workers, "cached")
            bench.quietshop(workers, "uncached")
            bench.bare(workers)
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
