"""What one serve_bench.py run measured: plain records, shared by every bench module."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

WORKER_COUNTS = (1, 2)


@dataclass(frozen=True)
class Page:
    name: str
    path: str


@dataclass
class Catalog:
    category_slug: str
    category_products: int
    product_slug: str
    product_variants: int
    product_count: int
    pages: list[Page] = field(default_factory=list)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    timeouts: int

    def error_summary(self) -> str:
        """The errors wrk counted, in words; empty when there were none."""
        parts = []
        if self.timeouts:
            parts.append(f"{self.timeouts} timeouts")
        if self.non_2xx:
            parts.append(f"{self.non_2xx} non-2xx")
        if self.socket_errors:
            parts.append(f"{self.socket_errors} socket errors")
        return ", ".join(parts)


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
