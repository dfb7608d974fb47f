"""Search page latency without queueing: sequential requests on one keep-alive connection."""

from __future__ import annotations

import http.client
import json
import ssl
import statistics
import time
from collections.abc import Sequence
from urllib.parse import quote_plus

from measurements import LatencyRow
from servers import connect

LATENCY_QUERIES = ("hdmi cable", "hdmi cabel", "usb c adapter", "cat6", "surge protector")
LATENCY_REQUESTS = 200
LATENCY_WARMUP = 10


def search_latencies(port: int, context: ssl.SSLContext) -> list[LatencyRow]:
    """Sequential search page requests on one keep-alive connection, per query."""
    rows = []
    conn = connect(port, context)
    try:
        for query in LATENCY_QUERIES:
            row = _query_latency(conn, query)
            rows.append(row)
            print(f"  search {query!r:18} p50 {row.p50_ms:.1f} ms  p99 {row.p99_ms:.1f} ms")
    finally:
        conn.close()
    return rows


def _query_latency(conn: http.client.HTTPSConnection, query: str) -> LatencyRow:
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
    return LatencyRow(
        query=query,
        results=results,
        corrected_to=corrected_to,
        p50_ms=statistics.median(times),
        p99_ms=_percentile(times, 0.99),
        max_ms=times[-1],
    )


def _get(conn: http.client.HTTPSConnection, path: str) -> bytes:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    return body


def _search_facts(conn: http.client.HTTPSConnection, query: str) -> tuple[int, str]:
    """How many results the query has, and what it was corrected to (empty if not)."""
    data = json.loads(_get(conn, f"/api/v1/search?q={quote_plus(query)}&page_size=1"))
    corrected = data["searched_for"] if data.get("corrected") else ""
    return int(data["total"]), str(corrected)


def _percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, -(-len(sorted_values) * share // 1))  # ceil
    return sorted_values[int(rank) - 1]
