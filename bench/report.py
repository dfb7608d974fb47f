"""The Markdown report of a serve_bench.py run: machine, method, tables and the goals.

Verdicts are computed from the rows as measured: a failed run (errors, timeouts, or a
server that stopped answering) never meets a goal, whatever its rate.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import sqlite3
from pathlib import Path
from urllib.parse import quote_plus

from catalog import SEARCH_QUERY
from fingerprint import changed_files
from measurements import WORKER_COUNTS, Row, Run
from search_latency import LATENCY_REQUESTS, LATENCY_WARMUP
from wrk import WRK_THREADS, wrk_version

OTHER_CPU_WARNING = 0.10  # cores used by unrelated processes during a timed run

# Goals (design brief) and the reference measured elsewhere.
GOAL_CACHED_SHARE = 0.60
GOAL_UNCACHED_PRODUCT_RPS = 2000.0
GOAL_UNCACHED_CATEGORY_RPS = 500.0
GOAL_SEARCH_P99_MS = 50.0
DJANGO_PRODUCT_RPS = 65.0
DJANGO_LISTING_RPS = 6.0


def machine() -> list[tuple[str, str]]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return [
        ("CPUs (nproc)", str(len(os.sched_getaffinity(0)))),
        ("CPU model", cpu),
        ("Kernel", platform.release()),
        ("Python", platform.python_version()),
        ("granian", _version("granian")),
        ("Starlette / FastAPI", f"{_version('starlette')} / {_version('fastapi')}"),
        ("SQLAlchemy / SQLite", f"{_version('sqlalchemy')} / {sqlite3.sqlite_version}"),
        ("wrk", wrk_version()),
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
    lines = [*_title(run), *_source_note(run), *_machine_table(), *_method(run)]
    for workers in WORKER_COUNTS:
        lines += _throughput_table(run, workers)
    lines += _stalls(run)
    lines += _latency_table(run)
    lines += _goals(run)
    lines += _extra_sections()
    return "\n".join(lines) + "\n"


EXTRA_RESULTS = (
    "results-mail.md",
    "results-accounts.md",
    "results-tokens.md",
    "results-orders.md",
    "results-catalog-scale.md",
)


def _extra_sections() -> list[str]:
    """The other benchmarks' latest figures, so results.md holds every number."""
    lines: list[str] = []
    for name in EXTRA_RESULTS:
        path = Path(__file__).resolve().parent / name
        if path.exists():
            body = path.read_text(encoding="utf-8").splitlines()
            title = body[0].lstrip("# ").strip() if body else name
            lines += ["", f"## {title} (`bench/{name}`)", *body[1:]]
    return lines


def _title(run: Run) -> list[str]:
    return [
        "# Serving benchmark: Quietshop under granian over TLS",
        "",
        f"Written by `bench/serve_bench.py` on {run.started:%Y-%m-%d %H:%M} UTC"
        + (" (**--quick run: short measurements, indicative only**)" if run.quick else "")
        + f"; the whole run took {run.elapsed_s / 60:.1f} minutes. "
        "Re-run with `.venv/bin/python bench/serve_bench.py` (`--quick`: 3 s per measurement).",
        "",
    ]


def _machine_table() -> list[str]:
    return [
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine()),
        "",
    ]


def _method(run: Run) -> list[str]:
    assert run.catalog is not None
    cat = run.catalog
    return [
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
    errors = r.error_summary() or "0"
    if row.failed:
        errors = f"**failed**: {r.error_summary() or 'no answer afterwards'}"
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
            f"{row.result.error_summary() or 'no wrk errors, but the server stopped answering'}."
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
        lines += _cached_share_goal(run, workers)
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
    lines += _search_goal(run)
    lines += ["", *_django_reference(run)]
    return lines


def _cached_share_goal(run: Run, workers: int) -> list[str]:
    bare = run.find(workers, "product", "bare app")
    cached = run.find(workers, "product", "cached")
    if bare is None or cached is None:
        return []
    share = cached.result.rps / bare.result.rps
    met = share >= GOAL_CACHED_SHARE and not cached.failed and not bare.failed
    plural = "s" if workers > 1 else ""
    return [
        f"| cached product page ≥ {GOAL_CACHED_SHARE:.0%} of the bare app's rate "
        f"({workers} worker{plural}) | {cached.result.rps:,.0f} / "
        f"{bare.result.rps:,.0f} req/s = {share:.0%} | {_verdict(met)} |"
    ]


def _search_goal(run: Run) -> list[str]:
    """Judged on the sequential latency; the rate under load is quoted, not judged."""
    if not run.latencies:
        return []
    worst = max(run.latencies, key=lambda row: row.p99_ms)
    products = run.catalog.product_count if run.catalog else 0
    loaded = run.find(1, "search", "uncached")
    under_load = ""
    if loaded is not None and not loaded.failed:
        under_load = (
            f"; under {loaded.connections} connections (wrk, with queueing) p99 was "
            f"{_ms(loaded.result.p99_ms)}"
        )
    return [
        f"| uncached search p99 < {GOAL_SEARCH_P99_MS:.0f} ms on 1,000 products "
        f"(here {products:,}; sequential, worst "
        f"of {len(run.latencies)} queries) | {_ms(worst.p99_ms)} (“{worst.query}”)"
        f"{under_load} | {_verdict(worst.p99_ms < GOAL_SEARCH_P99_MS)} |"
    ]


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
