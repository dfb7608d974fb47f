"""bench/make_access_log.py: the generated log is the shop's own Combined Log Format, the
same for the same seed, private routes hashed in "ours" style and addressed in "nginx"
style, with the traffic the analytics must count (a thinning funnel, bots, IPv6)."""

from __future__ import annotations

import gzip
import importlib.util
import ipaddress
import re
import sys
from collections import Counter
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from quietshop.analytics.visitors import visitor_hash
from quietshop.app import log_policy
from quietshop.web.access_log import format_line
from tests.web.test_access_log import COMBINED

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "make_access_log.py"
LINES, DAYS, END, SEED, GARBAGE = 4000, 7, date(2026, 11, 30), 7, 24
FIRST = datetime(2026, 11, 24, tzinfo=UTC)
AFTER = datetime(2026, 12, 1, tzinfo=UTC)
HASH = re.compile(r"v-[0-9a-f]{16}")
POLICY = log_policy()


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_access_log", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def log_bytes(style: str, seed: int = SEED, garbage: int = GARBAGE) -> bytes:
    options = generator().Options(LINES, DAYS, END, seed, style, garbage)
    return b"".join(generator().generate(options))


def parsed(raw: bytes) -> re.Match[str] | None:
    """A line a strict reader keeps: UTF-8, Combined Log Format, a real time in the days."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = COMBINED.match(text)
    if match is None:
        return None
    try:
        when = datetime.strptime(match["when"], "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None
    return match if FIRST <= when < AFTER else None


def good_lines(style: str) -> list[re.Match[str]]:
    matches = [parsed(raw) for raw in log_bytes(style).splitlines()]
    return [match for match in matches if match is not None]


def test_lines_are_the_shops_format_and_the_garbage_is_rejected() -> None:
    raw_lines = log_bytes("ours").splitlines()
    assert len(raw_lines) == LINES + GARBAGE
    good = [match for match in map(parsed, raw_lines) if match is not None]
    assert len(good) == LINES  # every garbage line, and only those, fails
    for match in good[:: LINES // 400]:  # format_line rebuilds each line byte for byte
        rebuilt = format_line(
            client_ip=match["ip"],
            when=datetime.strptime(match["when"], "%d/%b/%Y:%H:%M:%S %z"),
            method=match["method"],
            target=match["target"],
            http_version=match["version"],
            status=int(match["status"]),
            sent_bytes=0 if match["bytes"] == "-" else int(match["bytes"]),
            referrer=match["referrer"],
            user_agent=match["agent"],
        )
        assert rebuilt == match.string + "\n"


def test_garbage_covers_each_kind() -> None:
    bad = [raw for raw in log_bytes("ours").splitlines() if parsed(raw) is None]
    not_utf8 = [raw for raw in bad if b"\xff" in raw]
    other = [raw for raw in bad if raw.startswith((b"{", b"2026"))]
    # An absurd date still has the format's shape: only its time is impossible or far off.
    absurd = [raw for raw in bad if b"\xff" not in raw and COMBINED.match(raw.decode())]
    assert len(not_utf8) == len(absurd) == GARBAGE // 4
    assert other and len(bad) == GARBAGE


def test_times_are_in_order_within_the_days_asked() -> None:
    stamps = [
        datetime.strptime(match["when"], "%d/%b/%Y:%H:%M:%S %z") for match in good_lines("nginx")
    ]
    assert stamps == sorted(stamps)
    assert stamps[0] >= FIRST and stamps[-1] < AFTER
    assert {stamp.date() for stamp in stamps} == {date(2026, 11, d) for d in range(24, 31)}


def test_the_same_seed_gives_the_same_bytes() -> None:
    options = generator().Options(LINES, DAYS, END, SEED, "ours", GARBAGE)
    assert b"".join(generator().generate(options)) == log_bytes("ours")
    assert log_bytes("ours", seed=SEED + 1) != log_bytes("ours")


def test_private_routes_carry_the_days_hash_in_ours_and_the_address_in_nginx() -> None:
    ours, nginx = good_lines("ours"), good_lines("nginx")
    assert len(ours) == len(nginx)  # the two styles describe the same requests
    private = 0
    for mine, proxy in zip(ours, nginx, strict=True):
        ipaddress.ip_address(proxy["ip"])  # nginx: always the address
        assert mine["agent"] == proxy["agent"] and mine["when"] == proxy["when"]
        raw_path = proxy["target"].split("?")[0]
        if POLICY.private_prefix(raw_path) is None:
            assert mine["ip"] == proxy["ip"]
            continue
        private += 1
        day = datetime.strptime(mine["when"], "%d/%b/%Y:%H:%M:%S %z").date()
        salt = generator().daily_salt(SEED, day)
        assert HASH.fullmatch(mine["ip"])
        assert mine["ip"] == visitor_hash(salt, proxy["ip"], proxy["agent"])
        assert POLICY.private_prefix(mine["target"]) is not None
    assert private >= 20
    templates = {match["target"] for match in ours if "{" in match["target"]}
    assert "/account/orders/{number}" in templates or "/api/v1/orders/{number}" in templates


def test_the_funnel_thins_at_each_step() -> None:
    steps: Counter[str] = Counter()
    for match in good_lines("ours"):
        target, method = match["target"], match["method"]
        if "bot" in match["agent"].lower():
            continue
        if method == "GET" and target.startswith("/products/") and match["status"] == "200":
            steps["product"] += 1
        elif method == "GET" and target == "/cart":
            steps["cart"] += 1
        elif method == "GET" and target == "/checkout":
            steps["checkout"] += 1
        elif method == "POST" and target == "/api/v1/orders" and match["status"] == "201":
            steps["placed"] += 1
    assert steps["product"] > steps["cart"] > steps["checkout"] > steps["placed"] > 0


def test_bots_ipv6_statuses_and_rhythm_are_present() -> None:
    lines = good_lines("nginx")
    agents = " ".join({match["agent"] for match in lines})
    for bot in ("Googlebot", "bingbot", "AhrefsBot", "curl/", "python-requests/", "UptimeRobot"):
        assert bot in agents
    bots = sum(
        1
        for m in lines
        if re.search(r"bot|curl|python-|Go-http|facebookexternal", m["agent"], re.I)
    )
    assert 0.08 < bots / len(lines) < 0.18
    hosts = {match["ip"] for match in lines}
    ipv6 = {host for host in hosts if ":" in host}
    assert 0.1 < len(ipv6) / len(hosts) < 0.35
    statuses = Counter(match["status"] for match in lines)
    assert statuses["200"] > len(lines) / 2 and statuses["304"] > 0 and statuses["404"] > 0
    hours = Counter(int(match["when"][12:14]) for match in lines)
    assert hours[19] + hours[20] + hours[21] > 3 * (hours[3] + hours[4] + hours[5])


def test_the_command_writes_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--lines", "300", "--days", "2", "--end", "2026-11-30", "--seed", "3", "--gzip"]
    assert generator().main([str(tmp_path / "access.log"), *args]) == 0
    written = tmp_path / "access.log.gz"
    text = gzip.decompress(written.read_bytes()).decode()
    assert len(text.splitlines()) == 300
    assert all(COMBINED.match(line) for line in text.splitlines())
    assert "300 lines (0 garbage) written to" in capsys.readouterr().out
