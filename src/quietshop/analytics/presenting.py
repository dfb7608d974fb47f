"""A ``Report`` as JSON, as CSV tables and as text: the API, the back office and the
command line show the same numbers because they all go through here.

Where k-anonymity hid a count (None), JSON says null and ``"fewer_than": k`` is beside
it; CSV and text say "fewer than k".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from quietshop.analytics.reports import SLOWEST, Breakdown, Report, Row, Totals

# The tables a CSV export can be of: the trend, the heatmap, the funnel and each breakdown.
FIXED_TABLES = ("trend", "heatmap", "funnel")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def table_names(report: Report) -> tuple[str, ...]:
    return (*FIXED_TABLES, *report.breakdowns)


def _totals(found: Totals) -> dict[str, Any]:
    return {
        "pageviews": found.pageviews,
        "visitors": found.visitors,
        "visits": found.visits,
        "bounces": found.bounces,
        "views_per_visit": found.views_per_visit,
        "bounce_rate": found.bounce_rate,
        "mean_visit_seconds": found.mean_visit_seconds,
    }


def _row(row: Row, timed: bool) -> dict[str, Any]:
    return {
        "value": row.value,
        "visitors": row.visitors,
        "hits": row.hits,
        "visits": row.visits,
        "mean_ms": row.mean_ms if timed else None,  # only the routes are timed
    }


def _breakdown(found: Breakdown) -> dict[str, Any]:
    timed = found.dimension == SLOWEST
    return {
        "rows": [_row(row, timed) for row in found.rows],
        "other": _row(found.other, timed) if found.other else None,
        "values": found.values,
        "folded": found.folded,
    }


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return round((now - before) / before, 4)


def as_json(report: Report) -> dict[str, Any]:
    found: dict[str, Any] = {
        "from": report.period.first.isoformat(),
        "to": report.period.last.isoformat(),
        "fewer_than": report.min_visitors,
        "granularity": report.granularity,
        "totals": _totals(report.totals),
        "requests": report.requests,
        "trend": [
            {
                "start": point.start.isoformat(),
                "hidden": point.hidden,
                # Hidden: null, as every count k hides, not 0 (which reads as no traffic).
                **(dict.fromkeys(_totals(point.totals)) if point.hidden else _totals(point.totals)),
            }
            for point in report.trend
        ],
        "heatmap": [
            {
                "weekday": cell.weekday,
                "hour": cell.hour,
                "pageviews": cell.pageviews,
                "visitors": cell.visitors,
            }
            for cell in report.heatmap
        ],
        "funnel": [
            {
                "step": step.step,
                "visitors": step.visitors,
                "visits": step.visits,
                "of_previous": step.of_previous,
            }
            for step in report.funnel
        ],
        "breakdowns": {name: _breakdown(found) for name, found in report.breakdowns.items()},
    }
    if report.compared is not None:
        before = _totals(report.compared.totals)
        now = found["totals"]
        found["compared"] = {
            "from": report.compared.period.first.isoformat(),
            "to": report.compared.period.last.isoformat(),
            "totals": before,
            "change": {name: _change(now[name], before[name]) for name in now},
        }
    return found


def _shown(value: int | float | None, k: int) -> str:
    return f"fewer than {k}" if value is None else str(value)


def table_rows(report: Report, table: str) -> Iterator[list[str]]:
    """One table of the report as rows of text, its header first."""
    k = report.min_visitors
    if table == "trend":
        yield [
            "start",
            "pageviews",
            "visitors",
            "visits",
            "views_per_visit",
            "bounce_rate",
            "mean_visit_seconds",
        ]
        for point in report.trend:
            t = point.totals
            cells: list[int | float | None] = [
                t.pageviews,
                t.visitors,
                t.visits,
                t.views_per_visit,
                t.bounce_rate,
                t.mean_visit_seconds,
            ]
            shown = [
                _shown(None, k) if point.hidden else ("" if c is None else str(c)) for c in cells
            ]
            yield [point.start.isoformat(), *shown]
    elif table == "heatmap":
        yield ["weekday", "hour", "pageviews", "visitors"]
        for cell in report.heatmap:
            yield [
                WEEKDAYS[cell.weekday],
                str(cell.hour),
                _shown(cell.pageviews, k),
                _shown(cell.visitors, k),
            ]
    elif table == "funnel":
        yield ["step", "visitors", "visits", "of_previous"]
        for step in report.funnel:
            share = "" if step.of_previous is None else str(step.of_previous)
            yield [
                step.step,
                _shown(step.visitors, k),
                _shown(step.visits, k),
                share if step.visitors is not None else _shown(None, k),
            ]
    elif table in report.breakdowns:
        found = report.breakdowns[table]
        timed = table == SLOWEST
        yield ["value", "visitors", "hits", "visits", *(["mean_ms"] if timed else [])]
        for row in [*found.rows, *([found.other] if found.other else [])]:
            counted = [row.value, _shown(row.visitors, k), _shown(row.hits, k)]
            counted.append(_shown(row.visits, k))
            yield [*counted, _shown(row.mean_ms, k)] if timed else counted
    else:
        raise ValueError(f"no such table: {table!r} (one of {', '.join(table_names(report))})")


def as_csv(report: Report, table: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in table_rows(report, table):
        writer.writerow([_as_text(cell) for cell in row])
    return out.getvalue()


# What a spreadsheet may read as the start of a formula (OWASP's CSV injection list).
_FORMULA_STARTS = frozenset("=+-@\t\r")


def _as_text(cell: str) -> str:
    """A cell a spreadsheet reads as text, never a formula."""
    return "'" + cell if cell[:1] in _FORMULA_STARTS else cell


def print_text(report: Report, console: Console) -> None:
    t = report.totals
    console.print(
        f"[bold]Traffic {report.period.first} to {report.period.last}[/bold] "
        f"(UTC; values seen by fewer than {report.min_visitors} visitors are folded)"
    )
    console.print(
        f"pageviews {t.pageviews}  visitors {t.visitors}  visits {t.visits}  "
        f"views/visit {t.views_per_visit}  bounce rate {t.bounce_rate}  "
        f"mean visit {t.mean_visit_seconds} s  requests {report.requests}"
    )
    if report.compared is not None:
        before = report.compared.totals
        console.print(
            f"compared with {report.compared.period.first} to {report.compared.period.last}: "
            f"pageviews {before.pageviews}  visitors {before.visitors}  visits {before.visits}"
        )
    for name in table_names(report):
        if name == "heatmap":
            continue  # 168 rows: in the CSV and the back office, not on a terminal
        rows = list(table_rows(report, name))
        table = Table(title=name, title_justify="left")
        for header in rows[0]:
            table.add_column(header)
        for row in rows[1:]:
            table.add_row(*(Text(cell) for cell in row))  # a path is never markup
        console.print(table)
