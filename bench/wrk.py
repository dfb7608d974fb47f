"""Load from wrk, its output read into numbers, and the CPU time spent while it ran.

The CPU meter splits the cores used during a timed run between the server's process
group, wrk (this process's reaped children) and everything else on the machine: on a
shared machine other people's jobs disturb a row, and the report says when.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import time
from pathlib import Path

from measurements import Cpu, WrkResult

WRK_THREADS = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def run_wrk(url: str, duration: int, connections: int) -> WrkResult:
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True)
    return parse_wrk(done.stdout)


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


def wrk_version() -> str:
    output = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return output.split("[")[0].strip() or "unknown"


# ---------------------------------------------------------------- CPU accounting


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
