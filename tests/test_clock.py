"""Defect 2: time comes from one injectable clock, so a suite green today is green next year.

Nothing in the package reads the wall clock but ``quietshop/clock.py``, and no test reads
it at all: services take ``now``, the app, the sender and the log take a ``Clock``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "quietshop"
THE_CLOCK = PACKAGE / "clock.py"
# Calls that read the wall clock. time.monotonic() and perf_counter() measure intervals,
# which no date can break, so they are fine.
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
              ("date", "today"), ("time", "time"), ("time", "time_ns")}  # fmt: skip


def wall_clock_reads(source: str) -> list[int]:
    """Line numbers of calls like ``datetime.now(...)`` or ``dt.datetime.now(...)``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = (
                owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            )
            if (owner_name, node.func.attr) in WALL_CLOCK:
                lines.append(node.lineno)
    return lines


def _offenders(files: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}"
        for path in files
        for line in wall_clock_reads(path.read_text())
    ]


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if p != THE_CLOCK]
    assert _offenders(files) == []
    assert wall_clock_reads(THE_CLOCK.read_text())  # and it does


def test_no_test_reads_the_wall_clock() -> None:
    files = sorted((ROOT / "tests").rglob("*.py"))
    assert _offenders([p for p in files if p != Path(__file__)]) == []


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.now()",
        "import datetime as dt\nx = dt.datetime.now(dt.UTC)",
        "import time\nx = time.time()",
        "from datetime import date\nx = date.today()",
    ],
)
def test_the_scan_catches_every_spelling(source: str) -> None:
    assert wall_clock_reads(source) == [2]
