"""The first stage of issue 10's ingestion bench: parsing an access log, side by side with
GoAccess on the same file in the same run (lines per second, peak memory).

    .venv/bin/python bench/analytics_parse.py [--lines 1000000] [--log FILE] [--runs 3]

The log is ``bench/make_access_log.py``'s (nginx style: every line with its address, as a
proxy in front writes it, the format GoAccess reads as COMBINED), made in a temporary
folder unless ``--log`` names one. Each contender runs in a child process of its own, so
its peak resident memory is its own (``os.wait4``'s rusage): GoAccess as
``goaccess FILE --log-format=COMBINED -o report.json`` (Debian: ``apt-get install goaccess``;
left out when it is not installed), and ``analytics/clf.py``'s
``parse_log`` read slice by slice as the ingestion will read it (each slice's rows counted
with SQL, then dropped). Best of ``--runs``. Goal (issue 10, for the whole ingestion, which
comes later): at least 3x GoAccess's lines per second, peak memory under 300 MB. This
measures the parse only; prints a markdown section and writes no file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
GOAL_SPEED_RATIO = 3.0
GOAL_PEAK_MB = 300.0
# The child that parses: the whole file, slice by slice, as ingestion will.
PARSE_CHILD = """
import sys
from datetime import UTC, datetime
from pathlib import Path
import duckdb
from quietshop.analytics import clf
connection = duckdb.connect()
path, position, rows, rejected = Path(sys.argv[1]), clf.LogPosition(), 0, 0
now = datetime(2100, 1, 1, tzinfo=UTC)  # no line of the generated log is "in the future"
while True:
    parsed = clf.parse_log(connection, path, now=now, start=position)
    rows += connection.execute("SELECT count(*) FROM clf_rows").fetchone()[0]
    rejected += sum(reason.count for reason in parsed.rejected.values())
    if parsed.end == position:
        break
    position = parsed.end
print(rows, rejected)
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    output: str


def run_child(command: list[str]) -> Run:
    """One child process, timed, with its own peak resident memory."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    output = child.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {child.returncode}")
    return Run(seconds, usage.ru_maxrss / 1024, output.strip())  # ru_maxrss: KiB on Linux


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda run: run.seconds)


def make_log(folder: Path, lines: int) -> Path:
    path = folder / "access.log"
    subprocess.run(
        [sys.executable, str(BENCH / "make_access_log.py"), str(path), "--lines", str(lines),
         "--days", "30", "--end", "2026-11-30", "--seed", "7", "--style", "nginx"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return path


def line_count(path: Path) -> int:
    with path.open("rb") as log:
        return sum(block.count(b"\n") for block in iter(lambda: log.read(1 << 20), b""))


def report(lines: int, ours: Run, goaccess: Run | None, runs: int) -> str:
    rows = [
        "## Analytics: parsing an access log, beside GoAccess (`bench/analytics_parse.py`)",
        "",
        f"{lines:,} lines of `bench/make_access_log.py` (nginx style), best of {runs}; each "
        "contender a child process of its own (its own peak memory). Goal, for the whole "
        f"ingestion: ≥ {GOAL_SPEED_RATIO:g}x GoAccess's lines/s, peak < {GOAL_PEAK_MB:g} MB.",
        "",
        "| contender | seconds | lines/s | peak memory | goal |",
        "|---|---:|---:|---:|---|",
    ]
    ratio = None
    if goaccess is not None:
        rows.append(
            f"| GoAccess (`--log-format=COMBINED`, JSON report) | {goaccess.seconds:.2f} | "
            f"{lines / goaccess.seconds:,.0f} | {goaccess.peak_mb:.0f} MB | reference |"
        )
        ratio = goaccess.seconds / ours.seconds
    speed = f"{ratio:.1f}x GoAccess" if ratio is not None else "GoAccess not installed"
    met = ratio is not None and ratio >= GOAL_SPEED_RATIO and ours.peak_mb < GOAL_PEAK_MB
    rows.append(
        f"| `analytics/clf.py` parse_log, slice by slice | {ours.seconds:.2f} | "
        f"{lines / ours.seconds:,.0f} | {ours.peak_mb:.0f} MB | {speed}; "
        f"{'met' if met else 'not met'} for the parse alone |"
    )
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--log", type=Path, help="an existing log to read instead")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    goaccess = shutil.which("goaccess")
    with tempfile.TemporaryDirectory() as folder:
        path = args.log or make_log(Path(folder), args.lines)
        lines = line_count(path)
        ours = best([run_child([sys.executable, "-c", PARSE_CHILD, str(path)])
                     for _ in range(args.runs)])  # fmt: skip
        theirs = None
        if goaccess is not None:
            report_path = str(Path(folder) / "report.json")
            command = [goaccess, str(path), "--log-format=COMBINED", "-o", report_path]
            theirs = best([run_child(command) for _ in range(args.runs)])
    print(f"parse_log: {ours.output} (rows, rejected)")
    print(report(lines, ours, theirs, args.runs))


if __name__ == "__main__":
    main()
