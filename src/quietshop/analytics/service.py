"""What other domains may use of analytics: the traffic report and its JSON and CSV forms
(the back office's Traffic screen, ``staff/analytics_api.py``)."""

from __future__ import annotations

from quietshop.analytics.aggregates import DIMENSIONS
from quietshop.analytics.presenting import FIXED_TABLES, as_csv, as_json
from quietshop.analytics.reports import (
    GRANULARITIES,
    TOP_ROWS,
    Granularity,
    Period,
    PeriodError,
    Report,
    period_of,
    report,
)

# Every table a CSV export can be of: the trend, the heatmap, the funnel, each breakdown.
TABLES: tuple[str, ...] = (*FIXED_TABLES, *(name for name in DIMENSIONS if name != "funnel"))

__all__ = [
    "GRANULARITIES",
    "TABLES",
    "TOP_ROWS",
    "Granularity",
    "Period",
    "PeriodError",
    "Report",
    "as_csv",
    "as_json",
    "period_of",
    "report",
]
