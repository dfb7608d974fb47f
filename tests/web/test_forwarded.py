"""X-Forwarded-For is believed only from a configured proxy (web/forwarded.py), and
whatever it holds, the address that comes out is one parsed address or "unknown"."""

from __future__ import annotations

import ipaddress
import re

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from quietshop.settings import Settings
from quietshop.web.access_log import LogPolicy
from quietshop.web.forwarded import UNKNOWN, client_address, parse_address, trusted_networks
from quietshop.web.privacy import PrivacyMiddleware
from tests.clock import T0

PROXY = ("10.0.0.0/8", "fd00::/8")


@pytest.mark.parametrize(
    ("peer", "header", "proxies", "expected"),
    [
        # No proxy configured: the header is anyone's to send, so it is ignored.
        ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),
        # A peer that is not a proxy of ours: ignored too (a client forging it).
        ("203.0.113.7", "198.51.100.1", PROXY, "203.0.113.7"),
        # From our proxy: the address it appended.
        ("10.0.0.5", "198.51.100.1", PROXY, "198.51.100.1"),
        # A client that sends its own header through our proxy cannot choose its address:
        # the proxy appends what it saw, and that rightmost untrusted one is read.
        ("10.0.0.5", "1.2.3.4, 198.51.100.1", PROXY, "198.51.100.1"),
        # Two proxies of ours in a row: read past both.
        ("10.0.0.5", "198.51.100.1, 10.1.2.3", PROXY, "198.51.100.1"),
        # IPv6, bracketed with a port, and IPv4 with a port, as some proxies write them.
        ("fd00::1", "[2001:db8::7]:443", PROXY, "2001:db8::7"),
        ("10.0.0.5", "198.51.100.1:5100", PROXY, "198.51.100.1"),
        ("10.0.0.5", "2001:DB8:0::7", PROXY, "2001:db8::7"),
        # Malformed or hostile: the last trusted hop is all that can be said.
        ("10.0.0.5", 'evil" injected', PROXY, "10.0.0.5"),
        ("10.0.0.5", "198.51.100.1, unknown", PROXY, "10.0.0.5"),
        ("10.0.0.5", "", PROXY, "10.0.0.5"),
        ("10.0.0.5", " , ", PROXY, "10.0.0.5"),
        # A dual-stack socket's IPv4 peer is that IPv4 address, a proxy of ours included.
        ("::ffff:10.0.0.5", "198.51.100.1", PROXY, "198.51.100.1"),
        ("::ffff:203.0.113.7", "", (), "203.0.113.7"),
        # Every hop ours: the first of them.
        ("10.0.0.5", "10.9.9.9", PROXY, "10.9.9.9"),
        # No peer at all (a test client, a Unix socket).
        (None, "198.51.100.1", PROXY, UNKNOWN),
        ("not-an-address", "198.51.100.1", PROXY, UNKNOWN),
    ],
)
def test_who_the_request_came_from(
    peer: str | None, header: str, proxies: tuple[str, ...], expected: str
) -> None:
    assert client_address(peer, header, proxies) == expected


def test_a_huge_header_is_read_only_at_its_end() -> None:
    header = ", ".join(["1.1.1.1"] * 100_000 + ["198.51.100.1"])
    assert client_address("10.0.0.5", header, PROXY) == "198.51.100.1"
    only_proxies = ", ".join(["10.0.0.1"] * 100_000)
    assert client_address("10.0.0.5", only_proxies, PROXY) == "10.0.0.1"


def test_a_proxy_setting_that_is_not_an_address_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.300'")):
        trusted_networks(("10.0.0.0/8", "10.0.0.300"))


@pytest.mark.parametrize("text", ["", "[::1", "1.2.3", "::g", "1.2.3.4:5:6", "localhost"])
def test_what_is_not_an_address_is_none(text: str) -> None:
    assert parse_address(text) is None


@given(peer=st.one_of(st.none(), st.text(max_size=60), st.ip_addresses().map(str)),
       header=st.text(max_size=300))  # fmt: skip
def test_whatever_comes_in_the_answer_is_an_address_or_unknown(
    peer: str | None, header: str
) -> None:
    answer = client_address(peer, header, PROXY)
    assert answer == UNKNOWN or str(ipaddress.ip_address(answer)) == answer


# ---------------------------------------------------------------- in the middleware


def _shop_behind(proxies: tuple[str, ...], peer: str) -> tuple[TestClient, list[str]]:
    """A bare app that answers with the client address its routes see, under the privacy
    middleware, as a request from ``peer`` would reach it."""

    async def who(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.client.host if request.client else "none")

    lines: list[str] = []
    app = PrivacyMiddleware(
        Starlette(routes=[Route("/", who)]),
        strict=True,
        write_log=lines.append,
        log_policy=LogPolicy(),
        clock=lambda: T0,
        trusted_proxies=proxies,
    )
    return TestClient(app, client=(peer, 50123)), lines


def test_behind_a_trusted_proxy_the_routes_and_the_log_see_the_client() -> None:
    client, lines = _shop_behind(PROXY, "10.0.0.5")
    answer = client.get("/", headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.1"})
    assert answer.text == "198.51.100.1"  # what a limit keyed by address counts
    assert lines[-1].startswith("198.51.100.1 - - [")


def test_from_anyone_else_the_header_changes_nothing() -> None:
    for proxies, peer in ((PROXY, "203.0.113.7"), ((), "10.0.0.5")):
        client, lines = _shop_behind(proxies, peer)
        answer = client.get("/", headers={"X-Forwarded-For": "198.51.100.1"})
        assert answer.text == peer and lines[-1].startswith(f"{peer} - - [")


def test_a_forged_header_cannot_write_into_the_log_line() -> None:
    client, lines = _shop_behind(PROXY, "10.0.0.5")
    client.get("/", headers={"X-Forwarded-For": '6.6.6.6 - - [01/Jan/2000:00:00:00 +0000] "GET'})
    assert lines[-1].startswith("10.0.0.5 - - [") and "2000" not in lines[-1]


def test_the_setting_lists_addresses_and_networks_and_refuses_anything_else(
    settings: Settings,
) -> None:
    def with_proxies(value: str) -> Settings:
        return settings.model_validate({**settings.model_dump(), "trusted_proxies": value})

    listed = with_proxies(" 10.0.0.0/8,, fd00::1 ")
    assert listed.trusted_proxy_list == ("10.0.0.0/8", "fd00::1")
    assert settings.trusted_proxy_list == ()  # the default: no proxy, the header ignored
    with pytest.raises(ValidationError, match=re.escape("network: 'proxy.local'")):
        with_proxies("proxy.local")
