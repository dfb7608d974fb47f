"""P5: the access log keeps what trends need and nothing that points at a person."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp, log_policy
from quietshop.orders.numbers import format_order_number, new_order_number
from quietshop.settings import Settings
from quietshop.web.access_log import LogPolicy, format_line, redact_path
from tests.catalog.factories import small_catalog

# What the assembled shop's domains declared: the policy every access-log line follows.
POLICY = log_policy()

# Combined Log Format: host ident authuser [date] "request" status bytes "referer" "agent"
COMBINED = re.compile(
    r"^(?P<ip>\S+) - - \[(?P<when>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "
    r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/(?P<version>[\d.]+)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+|-) "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"'
    r"(?: (?P<seconds>\d+\.\d{3}))?$"
)


def log_lines(settings: Settings) -> list[str]:
    return settings.access_log_path.read_text().splitlines()


def test_lines_are_combined_log_format(db: Session, client: TestClient, settings: Settings) -> None:
    small_catalog(db)
    client.get("/categories/cables?page=1&sort=name", headers={"User-Agent": "Firefox/140"})
    match = COMBINED.match(log_lines(settings)[-1])
    assert match is not None
    assert match["method"] == "GET" and match["status"] == "200"
    assert match["target"] == "/categories/cables?page=1&sort=name"
    assert match["agent"] == "Firefox/140" and int(match["bytes"]) > 1000
    assert float(match["seconds"]) >= 0  # the time it took, after the User-Agent


def test_search_text_never_reaches_the_log(
    db: Session, client: TestClient, settings: Settings
) -> None:
    small_catalog(db)
    client.get("/search", params={"q": "jane.doe@example.com hdmi", "page": 2})
    client.get("/api/v1/search", params={"q": "secret words"})
    text = "\n".join(log_lines(settings))
    assert "jane" not in text and "example.com" not in text and "secret" not in text
    assert "/search?page=2" in text


def test_private_routes_are_logged_by_template(
    assembled: AssembledApp, client: TestClient, settings: Settings
) -> None:
    number = format_order_number(new_order_number())  # the order screen's real route
    client.get(f"/account/orders/{number}?token=abcdef")
    client.get("/account/does-not-exist/jane@example.com")
    lines = log_lines(settings)
    assert '"GET /account/orders/{number} HTTP/1.1" 200' in lines[-2]
    assert '"GET /account/{unmatched} HTTP/1.1" 404' in lines[-1]
    assert number[-5:] not in "\n".join(lines) and "abcdef" not in "\n".join(lines)


def test_no_authorization_or_user_field_is_logged(client: TestClient, settings: Settings) -> None:
    client.get("/privacy", headers={"Authorization": "Bearer s3cr3t-token-value"})
    line = log_lines(settings)[-1]
    assert "s3cr3t" not in line
    assert COMBINED.match(line) is not None  # remote-user is always "-"


def test_referrer_keeps_no_query(db: Session, client: TestClient, settings: Settings) -> None:
    client.get("/privacy", headers={"Referer": "https://search.example/find?q=my+name"})
    assert '"https://search.example/find"' in log_lines(settings)[-1]


def test_hostile_header_values_cannot_break_a_line(client: TestClient, settings: Settings) -> None:
    client.get("/privacy", headers={"User-Agent": 'evil" 200 "x\\', "Referer": "javascript:x"})
    line = log_lines(settings)[-1]
    match = COMBINED.match(line)
    assert match is not None and match["status"] == "200"
    assert match["agent"] == 'evil\\" 200 \\"x\\\\'  # quotes and backslashes escaped
    assert match["referrer"] == "-"  # a non-web referrer is dropped


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/products/hdmi-cable-10423", "/products/hdmi-cable-10423"),
        (
            "/products/certified-premium-high-speed-hdmi-cable-1080p-120hz-10-2gbps-26awg-10452",
            "/products/certified-premium-high-speed-hdmi-cable-1080p-120hz-10-2gbps-26awg-10452",
        ),
        ("/x/jane@example.com", "/x/{redacted}"),
        ("/x/jane%40example.com", "/x/{redacted}"),
        ("/x/4111111111111111", "/x/{redacted}"),
        ("/x/Zm9vYmFyYmF6cXV4cXV1eHh4eA", "/x/{redacted}"),
    ],
)
def test_revealing_segments_are_redacted(path: str, expected: str) -> None:
    assert redact_path(path) == expected


def test_only_allowed_parameters_survive() -> None:
    assert POLICY.query("q=hello&page=2&sort=name&category=cables&email=a@b") == (
        "page=2&sort=name&category=cables"
    )
    assert POLICY.target("/search", "q=anything", None) == "/search"
    assert POLICY.target("/account/customers/42", "", None) == "/account/{unmatched}"
    assert POLICY.target("/api/v1/auth/x/y", "token=abc", None) == "/api/v1/auth/{unmatched}"
    assert POLICY.referrer("not a url") == "-"
    assert POLICY.referrer("https://shop.example/account/orders/77") == (
        "https://shop.example/account"
    )


@pytest.mark.parametrize(
    "query",
    [
        "category=ada@example.org",
        "category=Ada%20Lovelace",
        "category=4821093756",
        "page=ada@example.org",
        "page=4821093756",
        "page=-1",
        "page=%EF%BC%91",  # a full-width digit: not an ASCII page number
        "sort=4821093756",
        "sort=price_asc%00",
        "sort=" + "x" * 500,
    ],
)
def test_a_declared_parameter_is_kept_only_when_its_value_validates(query: str) -> None:
    """Defect 9: a value someone typed into a known parameter is not logged as sent."""
    assert POLICY.query(query) == ""
    assert POLICY.target("/categories/cables", query, None) == "/categories/cables"


def test_well_formed_listing_parameters_are_kept() -> None:
    assert POLICY.query("category=hdmi-cables&page=12&sort=price_desc") == (
        "category=hdmi-cables&page=12&sort=price_desc"
    )


def test_a_hostile_value_never_reaches_a_real_log_line(
    db: Session, client: TestClient, settings: Settings
) -> None:
    small_catalog(db)
    client.get("/categories/cables", params={"page": "ada@example.org", "sort": "4821093756"})
    client.get("/api/v1/products", params={"category": "ada@example.org"})
    text = "\n".join(log_lines(settings))
    assert "ada" not in text and "4821093756" not in text
    assert '"GET /categories/cables HTTP/1.1" 400' in text


def test_web_names_no_private_route_of_its_own() -> None:
    """Seam 2: the private prefixes come from the domains; an empty policy keeps nothing."""
    empty = LogPolicy()
    assert empty.target("/account/orders/7", "page=2", None) == "/account/orders/7"
    assert empty.query("page=2") == ""
    assert {"/account", "/api/v1/account", "/api/v1/auth", "/unsubscribe"} <= set(
        POLICY.private_prefixes
    )


def test_format_line_is_utc_and_quoted() -> None:
    line = format_line(
        client_ip="203.0.113.9",
        when=datetime(2026, 11, 25, 9, 0, 1, tzinfo=UTC),
        method="GET",
        target="/",
        http_version="2",
        status=304,
        sent_bytes=0,
        referrer="-",
        user_agent="a\x00b",
    )
    assert line == '203.0.113.9 - - [25/Nov/2026:09:00:01 +0000] "GET / HTTP/2" 304 - "-" "a?b"\n'
