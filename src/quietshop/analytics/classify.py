"""What a log line is and says, for the aggregates (issue 10): a bot's or a person's, a
page, an asset, a health check; which browser, system, device class and country.

Each is asked once per distinct User-Agent or address of an ingestion (there are a few
thousand of them in a million lines), never once per line: the answers go into small
DuckDB tables that the aggregation joins.

- Bots and crawlers: ``crawlerdetect`` (the PHP CrawlerDetect's maintained patterns),
  plus an empty User-Agent, which no browser sends.
- Browsers, systems, devices: ``ua-parser`` with its Rust accelerator; a device is
  ``mobile``, ``tablet``, ``desktop`` or ``other``.
- Countries: ``iptocc``, an offline table in the package (no network, no account); a
  visitor hash, ``-`` or a private address has no country (``unknown``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import iptocc
from crawlerdetect import CrawlerDetect
from starlette.routing import compile_path
from ua_parser import parse as parse_user_agent

UNKNOWN = "unknown"
USER_AGENT_CACHE = 50_000

# Served by the shop's static mounts (app.py) or asked by browsers on their own: never a page.
STATIC_PREFIXES = ("/static/", "/images/", "/.well-known/")
STATIC_FILES = ("/favicon.ico", "/robots.txt", "/apple-touch-icon.png", "/sitemap.xml")
STATIC_EXTENSIONS = (
    *("css", "js", "mjs", "map", "json", "xml", "txt"),
    *("png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico"),
    *("woff", "woff2", "ttf", "otf", "eot"),
)
# Load balancers' and monitors' conventional paths: the shop itself has none of them.
HEALTH_PATHS = ("/health", "/healthz", "/livez", "/readyz", "/ping", "/status")

# A path segment that is an identifier: a run of digits, or 16+ hex digits and dashes.
_IDENTIFIER = re.compile(r"^(?:\d+|[0-9a-fA-F-]{16,})$")

_TABLET = re.compile(r"iPad|Tablet|Kindle|Silk|PlayBook|Android(?!.*Mobile)", re.IGNORECASE)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|Opera Mini", re.IGNORECASE)


def static_sql(path: str) -> str:
    """A DuckDB boolean expression over the column ``path``: is it an asset?"""
    prefixes = " OR ".join(f"starts_with({path}, '{prefix}')" for prefix in STATIC_PREFIXES)
    files = ", ".join(f"'{name}'" for name in STATIC_FILES)
    extensions = "|".join(STATIC_EXTENSIONS)
    return (
        f"({prefixes} OR {path} IN ({files}) "
        f"OR regexp_matches(lower({path}), '\\.(?:{extensions})$'))"
    )


def health_sql(path: str) -> str:
    names = ", ".join(f"'{name}'" for name in HEALTH_PATHS)
    return f"({path} IN ({names}))"


def route_of(path: str) -> str:
    """A path with its identifiers as ``{id}``: ``/api/v1/orders/123`` is a route's
    traffic, not one order's (the log writes private routes by template already)."""
    segments = path.split("/")
    return "/".join("{id}" if _IDENTIFIER.match(segment) else segment for segment in segments)


class RouteNames:
    """A logged path's route: the first of the shop's route templates that matches it, as
    the app matches them (``/products/{slug}``); a path none matches (an asset, a proxy's
    other site, a scanner's guess) is named by ``route_of``. A private route's line holds
    its template already, which its own pattern matches."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._patterns = [(compile_path(template)[0], template) for template in templates]
        self._known: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        known = self._known.get(path)
        if known is None:
            known = next(
                (template for pattern, template in self._patterns if pattern.match(path)),
                None,
            ) or route_of(path)
            if len(self._known) < USER_AGENT_CACHE:
                self._known[path] = known
        return known


@dataclass(frozen=True)
class Agent:
    bot: bool
    browser: str
    os: str
    device: str


_CRAWLERS = CrawlerDetect()


def _device_class(user_agent: str, device_family: str) -> str:
    if device_family == "Spider":
        return "other"
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop" if "Mozilla/" in user_agent else "other"


@lru_cache(maxsize=USER_AGENT_CACHE)
def agent(user_agent: str) -> Agent:
    """What a User-Agent is; an empty one is a bot (scripts send none, browsers always do)."""
    if not user_agent.strip() or _CRAWLERS.isCrawler(user_agent):
        return Agent(True, UNKNOWN, UNKNOWN, "other")
    parsed = parse_user_agent(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else "Other"
    os = parsed.os.family if parsed.os else "Other"
    device = parsed.device.family if parsed.device else "Other"
    if device == "Spider":
        return Agent(True, browser, os, "other")
    return Agent(False, browser, os, _device_class(user_agent, device))


def countries(hosts: Iterable[str]) -> list[str]:
    """The country code of each host, in order; ``unknown`` for a hash, ``-`` or an
    address no table places (private, reserved)."""
    hosts = list(hosts)
    addresses = [host if ":" in host or host[:1].isdigit() else "" for host in hosts]
    found: list[str | None] = iptocc.country_code(addresses) if addresses else []
    return [code or UNKNOWN for code in found]
