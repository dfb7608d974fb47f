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

The code is split by what it holds: servers.py (starting, stopping and probing the
servers), wrk.py (wrk and the CPU meter), catalog.py (the demo catalog and its URLs),
search_latency.py, measurements.py (the records), fingerprint.py (which src/ ran) and
report.py (the Markdown); this file parses the options and runs the measurements.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from catalog import OUT_DIR, prepare
from measurements import WORKER_COUNTS, Catalog, Page, Row, Run
from report import report
from search_latency import search_latencies
from servers import (
    BENCH_DIR,
    POOL_EVIDENCE_WAIT,
    POOL_TIMEOUT_TEXT,
    STALLED_STOP_GRACE,
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
    wait_for_line,
    wait_until_serving,
    wrk_missing,
)
from wrk import WRK_THREADS, CpuMeter, run_wrk


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
        url = server.url(page.path)
        # An untimed second first, at a concurrency the server survives: it fills every
        # worker's page cache, compiles templates and SQL, and opens each worker's database.
        run_wrk(url, 1, min(connections, self.args.safe_connections))
        meter = CpuMeter(server.process.pid)
        result = run_wrk(url, self.args.duration, connections)
        cpu = meter.stop()
        failed = result.non_2xx + result.socket_errors + result.timeouts > 0 or not responsive(
            server, self.data_dir, page.path
        )
        row = Row(
            server.workers, page.name, server.mode, connections, result, cpu, failed, server.source
        )
        self.run.rows.append(row)
        print(f"  {console_row(row)}", flush=True)
        return row

    def restart(self, server: Server) -> Server:
        if not self.waited_for_evidence:
            self.waited_for_evidence = True
            # Once per run, give the stuck requests time to hit the connection pool's
            # timeout, so the server log says why it stalled (the report quotes it).
            print("  waiting for the stalled server to log why (once per run)", flush=True)
            wait_for_line(server.log, POOL_TIMEOUT_TEXT, POOL_EVIDENCE_WAIT)
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

    def check_page(self, server: Server, page: Page) -> None:
        """The page must answer 200; note its size, and keep the product page's bytes."""
        # The first start creates the local CA; read it after starting.
        status, body = fetch(server.port, tls_context(self.data_dir), page.path)
        if status != 200:
            raise RuntimeError(f"{page.path} answered {status}, not 200")
        self.run.page_bytes[page.name] = len(body)
        if page.name == "product" and not self.body_file.exists():
            self.body_file.write_bytes(body)  # the bare app serves these very bytes

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
                self.check_page(server, page)
                server = self.measure_page(server, page)
            if workers == 1 and mode == "uncached":
                if server is not None:
                    self.servers.stop(server)
                server = self.start_quietshop(workers, mode)
                self.run.latencies = search_latencies(server.port, tls_context(self.data_dir))
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

    def everything(self) -> None:
        """The catalog, then every configuration: cached, uncached and bare, per worker count."""
        clock = time.monotonic()
        print(f"Preparing the demo catalog in {self.data_dir}", flush=True)
        self.run.catalog = prepare(self.data_dir)
        for workers in WORKER_COUNTS:
            self.quietshop(workers, "cached")
            self.quietshop(workers, "uncached")
            self.bare(workers)
        self.run.elapsed_s = time.monotonic() - clock


def console_row(row: Row) -> str:
    r = row.result
    errors = r.error_summary()
    flag = "  FAILED" + (f" ({errors})" if errors else " (no answer after)")
    return (
        f"{row.workers}w {row.mode:8} {row.page:12} c{row.connections:<3} {r.rps:8.0f} req/s  "
        f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  cpu srv {row.cpu.server:.2f} "
        f"wrk {row.cpu.client:.2f} other {row.cpu.other:.2f}" + (flag if row.failed else "")
    )


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
    if wrk_missing():
        return 2
    interrupt_on_termination()
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

    def work() -> bool:
        bench.everything()
        args.output.write_text(report(run), encoding="utf-8")
        print(f"Wrote {args.output}")
        return True

    return run_and_clean_up(servers, data_dir, args.keep, work)


if __name__ == "__main__":
    sys.exit(main())
