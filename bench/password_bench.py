"""Password hashing cost: one argon2id hash and one verify at Quietshop's parameters (P8).

    .venv/bin/python bench/password_bench.py [--runs 20] [--parallel-verifies 200]

Times each operation --runs times and reports the median, then has one thread per core verify
at once to see whether the rate scales with cores (argon2-cffi releases the GIL while hashing).
The inverse of the verify time is the most sign-ins one core can check per second: what a
password-guessing flood costs us, and what an attacker pays per guess on the same kind of CPU.
Writes bench/results-accounts.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from quietshop.accounts.passwords import (
    ARGON2_MEMORY_COST_KIB,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    DUMMY_HASH,
    hash_password,
    verify_password,
)

RESULTS = Path(__file__).resolve().parent / "results-accounts.md"
PASSWORD = "violet tangerine orbit 42"
PARAMETERS = (
    f"argon2id m={ARGON2_MEMORY_COST_KIB} KiB, t={ARGON2_TIME_COST}, p={ARGON2_PARALLELISM}"
)


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def fastest_ms(self) -> float:
        return min(self.seconds) * 1000

    @property
    def slowest_ms(self) -> float:
        return max(self.seconds) * 1000


def time_each(name: str, operation: Callable[[], object], runs: int) -> Timing:
    operation()  # warm-up: first-call allocations are not what a busy server pays
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        operation()
        seconds.append(time.perf_counter() - start)
    return Timing(name, seconds)


def measure_single(runs: int) -> list[Timing]:
    stored = hash_password(PASSWORD)
    return [
        time_each("hash", lambda: hash_password(PASSWORD), runs),
        time_each("verify, right password", lambda: verify_password(stored, PASSWORD), runs),
        time_each("verify, wrong password", lambda: verify_password(stored, "wrong"), runs),
        # Unknown emails are checked against DUMMY_HASH: it must cost what a real check costs.
        time_each("verify against DUMMY_HASH", lambda: verify_password(DUMMY_HASH, PASSWORD), runs),
    ]


def parallel_rate(threads: int, verifies: int) -> float:
    """Verifies per second with ``threads`` threads sharing ``verifies`` checks."""
    stored = hash_password(PASSWORD)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.perf_counter()
        results = list(pool.map(lambda _: verify_password(stored, PASSWORD), range(verifies)))
        elapsed = time.perf_counter() - start
    if not all(results):
        raise SystemExit("a verify failed during the parallel run")
    return verifies / elapsed


def report(timings: list[Timing], rates: dict[int, float], runs: int, load: float) -> str:
    hashing, verifying = timings[0], timings[1]
    cores = os.cpu_count() or 1
    lines = [
        "# Password hashing cost: argon2id at Quietshop's parameters",
        "",
        f"Written by `bench/password_bench.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"(Python {platform.python_version()}, argon2-cffi {version('argon2-cffi')}, "
        f"{cores} cores, 1-minute load average {load:.2f} before the run: other work on the "
        f"machine slows the threaded rows first). Each figure is the median of {runs} runs "
        "after one warm-up. "
        "Verifies/s on one core is 1000 / (ms per verify): the most sign-ins one core can "
        "check, and what a guess costs an attacker on the same kind of CPU.",
        "",
        "| date | Python | parameters | ms per hash | ms per verify | verifies/s on one core |",
        "|---|---|---|---:|---:|---:|",
        f"| {datetime.now(UTC):%Y-%m-%d} | {platform.python_version()} | {PARAMETERS} "
        f"| {hashing.median_ms:.1f} | {verifying.median_ms:.1f} "
        f"| {1000 / verifying.median_ms:,.0f} |",
        "",
        "Every check costs the same, so sign-in time does not tell whether an email has an "
        "account:",
        "",
        "| operation | median ms | fastest ms | slowest ms |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {t.name} | {t.median_ms:.1f} | {t.fastest_ms:.1f} | {t.slowest_ms:.1f} |"
        for t in timings
    ]
    lines += [
        "",
        "Threads verifying at once (argon2-cffi releases the GIL, so threads use every core; "
        f"each check in flight holds {ARGON2_MEMORY_COST_KIB // 1024} MiB):",
        "",
        "| threads | verifies/s |",
        "|---:|---:|",
    ]
    lines += [f"| {threads} | {rate:,.0f} |" for threads, rate in rates.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--parallel-verifies", type=int, default=200)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    timings = measure_single(args.runs)
    for timing in timings:
        print(f"{timing.name}: median {timing.median_ms:.1f} ms")
    cores = os.cpu_count() or 1
    rates = {n: parallel_rate(n, args.parallel_verifies) for n in sorted({1, cores})}
    for threads, rate in rates.items():
        print(f"{threads} thread(s): {rate:,.0f} verifies/s")
    text = report(timings, rates, args.runs, load)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
