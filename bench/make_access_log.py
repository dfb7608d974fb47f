"""A generated access log for the analytics bench and the GoAccess cross-check (issue 10, 7).

    .venv/bin/python bench/make_access_log.py OUT --lines 1000000 --days 30 --end 2026-11-30 \
        --seed 7 [--style ours|nginx] [--garbage 0] [--gzip]

Combined Log Format exactly as ``web/access_log.py``'s ``format_line`` writes it, over the
``--days`` UTC days that end with ``--end`` (that day included). ``--style ours`` writes
what the shop itself logs (P5): a private route's line carries the day's visitor hash in
place of the address and its route template in place of its path, queries and referrers
as ``LogPolicy`` keeps them (the shop's own ``log_policy()`` decides, so the two cannot
drift apart). ``--style nginx`` is a proxy's log in front: every line with its address,
its raw target and its raw referrer.

The traffic: a population of browser clients (about a fifth on IPv6), each with one
User-Agent, making visits (runs of pageviews with gaps under 30 minutes) along the
shop's real routes, with the funnel product -> cart -> checkout -> order placed thinning
at each step, and a daily and weekly rhythm; beside them crawlers, an uptime monitor,
scanners and command-line clients with their real User-Agents, about 12 % of the lines.
``--garbage N`` mixes in N lines a strict reader must reject.

Deterministic: the same options give the same bytes. Nothing reads the wall clock, every
draw comes from one ``random.Random(seed)``, no set is iterated, and the draws do not
depend on ``--style``, so the two styles of one seed describe the same requests line for
line. The day's salt is derived from the seed (``daily_salt``), so a test can recompute
a hash; the shop's real salts are random and destroyed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import ipaddress
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from urllib.parse import urlencode

import quietshop
from quietshop.analytics.visitors import visitor_hash
from quietshop.app import log_policy
from quietshop.catalog.demo_data import CATALOG, Leaf
from quietshop.check_digits import damm_check_digit
from quietshop.web.access_log import LogPolicy

DAY_SECONDS = 86_400
SHOP = "https://quietshop.example"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# "HH:MM:SS" of every second of a day, built once: a line's time is a day's prefix and this.
CLOCK = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY_SECONDS))
PACKAGE = Path(quietshop.__file__).parent

# ---------------------------------------------------------------- User-Agents

# (template, relative share); {c} is a Chrome version, {f} Firefox's, {s} Safari's.
BROWSERS: tuple[tuple[str, int], ...] = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{c}.0.0.0 Safari/537.36",
        22,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{c}.0.0.0 Safari/537.36",
        6,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{c}.0.0.0 Safari/537.36",
        3,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{c}.0.0.0 Mobile Safari/537.36",
        20,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/{c}.0.6778.73 Mobile/15E148 Safari/604.1",
        2,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", 5),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", 1),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", 2),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", 1),
    ("Mozilla/5.0 (Android 14; Mobile; rv:{f}.0) Gecko/{f}.0 Firefox/{f}.0", 1),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/{s} Safari/605.1.15",
        7,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/{s} Mobile/15E148 Safari/604.1",
        16,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/{s} Mobile/15E148 Safari/604.1",
        2,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{c}.0.0.0 Safari/537.36 Edg/{c}.0.0.0",
        9,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{c}.0.0.0 Safari/537.36 Edg/{c}.0.0.0",
        1,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 "
        "(KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        2,
    ),
)
CHROME_VERSIONS = ("129", "130", "131", "131", "131")
FIREFOX_VERSIONS = ("132", "133", "133")
SAFARI_VERSIONS = ("17.6", "18.1", "18.1.1")

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_PHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
AHREFSBOT = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
UPTIME_ROBOT = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
OTHER_CRAWLERS = (
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
)
SCANNER_AGENTS = ("python-requests/2.32.3", "python-requests/2.31.0", "Go-http-client/1.1")
CURL_AGENTS = ("curl/8.5.0", "curl/7.81.0", "curl/8.11.0")

# ---------------------------------------------------------------- addresses

# First octets of address blocks that ISPs hand to homes and phones (no private, shared,
# loopback, link-local, documentation or multicast block among them).
# fmt: off
HOME_V4_FIRST = (2, 5, 24, 31, 37, 46, 50, 62, 67, 68, 70, 71, 73, 75, 76, 77, 78, 79, 80, 81,
                 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 108,
                 109, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217)
# fmt: on
# Real ISPs' IPv6 prefixes (Free, Deutsche Telekom, Vodafone, Comcast, AT&T, BT, Orange).
HOME_V6_PREFIXES = ("2a01:e0a", "2003:e6", "2a02:8108", "2601:646", "2600:1700", "2a00:23c8")

# (first three octets, or an IPv6 prefix of four groups) of each bot's published ranges.
GOOGLEBOT_NETS = ("66.249.66", "66.249.64", "66.249.79", "2001:4860:4801:10")
BINGBOT_NETS = ("40.77.167", "157.55.39", "207.46.13")
AHREFS_NETS = ("54.36.148", "54.36.149", "51.222.253")
OTHER_CRAWLER_NETS = ("5.255.231", "17.241.219", "20.171.207", "185.191.171", "69.63.176")
UPTIME_ADDRESSES = ("216.144.250.150", "69.162.124.235", "2607:ff68:107::33")
SCANNER_NETS = ("45.148.10", "193.32.162", "185.224.128", "80.94.95", "2a06:4880:1000:0")

# ---------------------------------------------------------------- the shop's pages

# (path, bytes) of the HTML pages, about what the shop answers.
PAGE_BYTES = {
    "home": 21_000,
    "category": 34_000,
    "product": 17_500,
    "search": 26_000,
    "cart": 6_800,
    "checkout": 14_200,
    "done": 5_900,
    "account": 7_400,
    "sign-in": 5_600,
    "orders": 6_100,
    "order": 6_300,
    "privacy": 12_800,
    "ask": 6_900,
}
NOT_FOUND_BYTES = 3_400
ERROR_BYTES = 1_100
# Scripts every page loads (base.html and the modules header.js imports).
BASE_ASSETS = (
    "/static/style.css",
    "/static/favicon.svg",
    "/static/js/header.js",
    "/static/js/api.js",
    "/static/orders/cart.js",
)
PAGE_ASSETS: dict[str, tuple[str, ...]] = {
    "home": ("/static/orders/cart-add.js",),
    "category": ("/static/orders/cart-add.js",),
    "product": ("/static/orders/cart-add.js",),
    "search": ("/static/orders/cart-add.js",),
    "cart": (
        "/static/orders/cart-page.js",
        "/static/orders/cart-prices.js",
        "/static/orders/cart-money.js",
    ),
    "checkout": (
        "/static/orders/checkout.js",
        "/static/orders/checkout-address.js",
        "/static/orders/checkout-api.js",
        "/static/orders/checkout-card.js",
        "/static/orders/checkout-money.js",
        "/static/orders/checkout-place.js",
        "/static/orders/checkout-shipping.js",
    ),
    "done": ("/static/orders/checkout-done.js",),
    "account": ("/static/account/account.js", "/static/js/forms.js"),
    "sign-in": ("/static/account/sign-in.js", "/static/js/forms.js"),
    "orders": ("/static/orders/orders-account.js",),
    "order": ("/static/orders/orders-account.js",),
    "ask": ("/static/orders/ask.js", "/static/js/forms.js"),
}
# Where each /static/ prefix is served from, to log each file's real size.
STATIC_DIRS = {
    "/static/orders/": PACKAGE / "orders" / "static",
    "/static/account/": PACKAGE / "accounts" / "static",
    "/static/": PACKAGE / "web" / "static",
}
# Pages a visitor guesses at or an old link names; the shop has none of them.
MISSING_PAGES = ("/contact", "/about-us", "/shop", "/index.html", "/apple-touch-icon.png")
SORTS = ("price_asc", "price_desc", "newest", "name")
# What scanners probe for; the shop has none of it.
PROBES = (
    "/wp-login.php",
    "/wp-admin/",
    "/xmlrpc.php",
    "/.env",
    "/.git/config",
    "/phpmyadmin/index.php",
    "/admin",
    "/config.json",
    "/server-status",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/.aws/credentials",
    "/backup.zip",
)
SEARCH_ENGINES = (
    ("https://www.google.com/", 70),
    ("https://www.bing.com/", 10),
    ("https://duckduckgo.com/", 8),
    ("https://www.ecosia.org/", 3),
    ("https://www.google.de/", 5),
    ("https://search.brave.com/", 4),
)
SOCIAL_SITES = (
    ("https://t.co/", 3),
    ("https://l.facebook.com/", 4),
    ("https://www.reddit.com/r/hometheater/comments/1gk2x9p/", 3),
    ("https://www.instagram.com/", 2),
    ("https://news.ycombinator.com/", 1),
)
OTHER_SITES = (
    ("https://www.avforums.com/threads/cheap-hdmi-cables.2402199/", 2),
    ("https://forum.level1techs.com/t/usb-c-hubs/211004", 1),
    ("https://www.pricerunner.com/", 3),
)
# The shop's pages send Referrer-Policy: no-referrer, which a current browser obeys, so
# most visits carry no referrer within the shop. A share still does (older browsers,
# extensions), and an ingester must cope with the shop's own host as a referrer.
OWN_REFERRER_SHARE = 0.3
IPV6_SHARE = 0.2
# Shares of all lines the other clients make; browsers make the rest (about 87 %).
BOT_SHARES = {
    "googlebot": 0.040,
    "bingbot": 0.025,
    "ahrefsbot": 0.020,
    "crawlers": 0.012,
    "monitor": 0.015,
    "scanners": 0.010,
    "curl": 0.004,
}
# Visits start by hour of day (UTC): more in the evening, fewest around 4 a.m., and a
# weekend that starts later and keeps a flatter afternoon.
# fmt: off
WEEKDAY_HOURS = (12, 8, 5, 4, 3, 4, 8, 16, 26, 32, 36, 38,
                 40, 38, 36, 36, 40, 48, 60, 72, 80, 74, 52, 28)
WEEKEND_HOURS = (18, 12, 8, 5, 4, 4, 6, 10, 18, 28, 38, 46,
                 50, 52, 50, 48, 48, 50, 56, 62, 64, 58, 44, 28)
# fmt: on
MAX_GAP_SECONDS = 29 * 60  # a visit's pageviews are under 30 minutes apart


def daily_salt(seed: int, day: date) -> bytes:
    """The generated log's salt of one day: derived from the seed, so a test can check a
    hash (the shop's are random and destroyed with their day)."""
    return hashlib.sha256(f"make_access_log:{seed}:{day.isoformat()}".encode()).digest()


def asset_size(path: str) -> int:
    for prefix, folder in STATIC_DIRS.items():
        if path.startswith(prefix):
            return (folder / path[len(prefix) :]).stat().st_size
    raise ValueError(f"no static folder serves {path}")


def _slugify(text: str) -> str:
    """As the demo catalog makes a product's slug (catalog/demo.py)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:120].rstrip("-")


@dataclass(frozen=True, slots=True)
class Client:
    ip: str
    agent: str
    browser: bool


@dataclass(frozen=True, slots=True)
class Product:
    path: str
    image: str
    sku: str


@dataclass
class Catalog:
    """The shop's categories, products and search words, made from the demo recipe."""

    categories: list[str] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    by_path: dict[str, Product] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)  # products no longer sold: 404
    searches: list[str] = field(default_factory=list)

    @classmethod
    def made(cls, rng: random.Random, count: int) -> Catalog:
        catalog = cls()
        leaves: list[Leaf] = []
        for top in CATALOG:
            catalog.categories.append(f"/categories/{top.slug}")
            for leaf in top.leaves:
                catalog.categories.append(f"/categories/{leaf.slug}")
                leaves.extend([leaf] * leaf.share)
                catalog.searches.extend(noun.lower() for noun in leaf.nouns)
        for number in range(10_001, 10_001 + count):
            leaf = rng.choice(leaves)
            name = f"{rng.choice(leaf.adjectives)} {rng.choice(leaf.nouns)}"
            specs = [pick for group in leaf.specs if (pick := rng.choice(group))]
            path = f"/products/{_slugify(', '.join([name, *specs]))}-{number}"
            if rng.random() < 0.04:
                catalog.gone.append(path)
                continue
            product = Product(path, f"/images/qs-{number}.svg", f"QS-{number}")
            catalog.products.append(product)
            catalog.by_path[path] = product
        return catalog


class LogWriter:
    """Formats each request as the chosen style logs it and files it under its day."""

    def __init__(self, style: str, seed: int, first_day: date, days: int) -> None:
        self.style = style
        self.seed = seed
        self.first_day = first_day
        self.period = days * DAY_SECONDS
        self.policy: LogPolicy = log_policy()
        self.by_day: list[list[tuple[int, str]]] = [[] for _ in range(days)]
        self.stamps = []
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            self.stamps.append(f"{day.day:02d}/{MONTHS[day.month - 1]}/{day.year}:")
        self.salts = [daily_salt(seed, first_day + timedelta(days=d)) for d in range(days)]
        self.count = 0
        self.limit = 0
        self._private: dict[str, bool] = {}
        self._targets: dict[tuple[str, str, str | None], str] = {}
        self._referrers: dict[str, str] = {}
        self._hashes: dict[tuple[int, str, str], str] = {}

    @property
    def full(self) -> bool:
        return self.count >= self.limit

    def emit(
        self,
        second: int,
        client: Client,
        method: str,
        path: str,
        status: int,
        size: int,
        referrer: str = "",
        query: str = "",
        template: str | None = None,
    ) -> bool:
        """Log one request ``second`` seconds into the period; False once the phase's
        limit is reached or the moment falls outside the period (nothing logged)."""
        if self.count >= self.limit or not 0 <= second < self.period:
            return False
        day = second // DAY_SECONDS
        if self.style == "ours":
            if template is None and status != 404:
                template = path  # a matched route without parameters: its path
            private = self._private.get(path)
            if private is None:
                private = self._private[path] = self.policy.private_prefix(path) is not None
            host = self._visitor(day, client) if private else client.ip
            target = self._target(path, query, template)
            logged_referrer = self._referrer(referrer)
            version = "1.1"
        else:
            host = client.ip
            target = f"{path}?{query}" if query else path
            logged_referrer = referrer or "-"
            version = "2.0" if client.browser else "1.1"
        self.by_day[day].append(
            (
                second,
                f"{host} - - [{self.stamps[day]}{CLOCK[second % DAY_SECONDS]} +0000] "
                f'"{method} {target} HTTP/{version}" {status} {size if size else "-"} '
                f'"{logged_referrer}" "{client.agent}"\n',
            )
        )
        self.count += 1
        return True

    def _visitor(self, day: int, client: Client) -> str:
        key = (day, client.ip, client.agent)
        found = self._hashes.get(key)
        if found is None:
            found = self._hashes[key] = visitor_hash(self.salts[day], client.ip, client.agent)
        return found

    def _target(self, path: str, query: str, template: str | None) -> str:
        key = (path, query, template)
        found = self._targets.get(key)
        if found is None:
            found = self._targets[key] = self.policy.target(path, query, template)
        return found

    def _referrer(self, referrer: str) -> str:
        found = self._referrers.get(referrer)
        if found is None:
            found = self._referrers[referrer] = self.policy.referrer(referrer)
        return found

    def sorted_days(self) -> list[list[str]]:
        """Each day's lines in time order; a second's lines keep the order they were made
        in. The writer is emptied, so a day's lines are held once."""
        days: list[list[str]] = []
        for day in self.by_day:
            day.sort(key=_first)
            days.append([line for _, line in day])
            day.clear()
        return days


def _first(item: tuple[int, str]) -> int:
    return item[0]


def _weighted(choices: Sequence[tuple[str, int]]) -> tuple[list[str], list[int]]:
    return [value for value, _ in choices], list(accumulate(weight for _, weight in choices))


class Traffic:
    """Draws visits and bot sessions and hands their requests to a LogWriter."""

    def __init__(self, rng: random.Random, writer: LogWriter, lines: int) -> None:
        self.rng = rng
        self.out = writer
        self.days = writer.period // DAY_SECONDS
        self.catalog = Catalog.made(rng, 480)
        self.asset_bytes = {
            path: asset_size(path)
            for path in (*BASE_ASSETS, *(a for group in PAGE_ASSETS.values() for a in group))
        }
        # Popular products get most views (a Zipf-like tail).
        self.product_weights = list(
            accumulate(1 / (rank + 8) for rank in range(len(self.catalog.products)))
        )
        self.browser_agents = _weighted(BROWSERS)
        self.clients = [self._browser_client() for _ in range(max(40, lines // 40))]
        self.client_weights = list(
            accumulate(1 / (rank + 20) ** 0.7 for rank in range(len(self.clients)))
        )
        self.engines = _weighted(SEARCH_ENGINES)
        self.socials = _weighted(SOCIAL_SITES)
        self.others = _weighted(OTHER_SITES)
        self.slots = list(range(self.days * 24))
        self.slot_weights = list(accumulate(self._slot_weight(slot) for slot in self.slots))

    # ------------------------------------------------------------ clients and times

    def _ipv4(self, first: int | None = None) -> str:
        rng = self.rng
        head = first if first is not None else rng.choice(HOME_V4_FIRST)
        return f"{head}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def _ipv6(self, prefix: str) -> str:
        groups = 8 - prefix.count(":") - 1
        tail = ":".join(f"{self.rng.randrange(65536):x}" for _ in range(groups))
        return ipaddress.IPv6Address(f"{prefix}:{tail}").compressed

    def _in_net(self, net: str) -> str:
        if ":" in net:
            return self._ipv6(net)
        return f"{net}.{self.rng.randrange(1, 255)}"

    def _browser_client(self) -> Client:
        rng = self.rng
        v6 = rng.random() < IPV6_SHARE
        ip = self._ipv6(rng.choice(HOME_V6_PREFIXES)) if v6 else self._ipv4()
        templates, weights = self.browser_agents
        agent = rng.choices(templates, cum_weights=weights)[0].format(
            c=rng.choice(CHROME_VERSIONS),
            f=rng.choice(FIREFOX_VERSIONS),
            s=rng.choice(SAFARI_VERSIONS),
        )
        return Client(ip, agent, browser=True)

    def _slot_weight(self, slot: int) -> float:
        day, hour = divmod(slot, 24)
        weekday = (self.out.first_day + timedelta(days=day)).weekday()
        profile = WEEKEND_HOURS if weekday >= 5 else WEEKDAY_HOURS
        return profile[hour] * (1 + 0.004 * day)  # the shop grows a little over the month

    def _visit_starts(self, count: int) -> list[int]:
        rng = self.rng
        slots = rng.choices(self.slots, cum_weights=self.slot_weights, k=count)
        return [slot * 3600 + rng.randrange(3600) for slot in slots]

    # ------------------------------------------------------------ browsers

    def browse(self) -> None:
        """Visits until the writer's limit is reached."""
        rng = self.rng
        while not self.out.full:
            starts = self._visit_starts(512)
            clients = rng.choices(self.clients, cum_weights=self.client_weights, k=512)
            for start, client in zip(starts, clients, strict=True):
                if self.out.full:
                    return
                Visit(self, client, start).walk()

    def product(self) -> Product:
        return self.rng.choices(self.catalog.products, cum_weights=self.product_weights)[0]

    def external_referrer(self) -> tuple[str, str]:
        """(where the visitor came from, what that kind of source is)."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return "", "direct"
        if roll < 0.82:
            return rng.choices(self.engines[0], cum_weights=self.engines[1])[0], "search"
        if roll < 0.92:
            return rng.choices(self.socials[0], cum_weights=self.socials[1])[0], "social"
        return rng.choices(self.others[0], cum_weights=self.others[1])[0], "other"

    # ------------------------------------------------------------ the other clients

    def bots(self, lines: int) -> None:
        """Each kind of bot makes its share of ``lines``."""
        runs: dict[str, Callable[[], None]] = {
            "googlebot": lambda: self._crawl((GOOGLEBOT, GOOGLEBOT_PHONE), GOOGLEBOT_NETS, 0.15),
            "bingbot": lambda: self._crawl((BINGBOT,), BINGBOT_NETS, 0.0),
            "ahrefsbot": lambda: self._crawl((AHREFSBOT,), AHREFS_NETS, 0.0),
            "crawlers": lambda: self._crawl(OTHER_CRAWLERS, OTHER_CRAWLER_NETS, 0.0),
            "monitor": self._monitor,
            "scanners": self._scan,
            "curl": self._curl,
        }
        for name, share in BOT_SHARES.items():
            self.out.limit = self.out.count + int(lines * share)
            guard = 0
            while not self.out.full and guard < 100_000:
                runs[name]()
                guard += 1

    def _crawl(self, agents: tuple[str, ...], nets: tuple[str, ...], images: float) -> None:
        """A crawler's session: robots.txt first, then pages a few seconds apart."""
        rng = self.rng
        client = Client(self._in_net(rng.choice(nets)), rng.choice(agents), browser=False)
        second = rng.randrange(self.out.period)
        out = self.out
        if rng.random() < 0.4:
            out.emit(second, client, "GET", "/robots.txt", 404, NOT_FOUND_BYTES)
        for _ in range(rng.randint(3, 40)):
            second += rng.randint(1, 45)
            roll = rng.random()
            if roll < images:
                out.emit(second, client, "GET", self.product().image, 200, rng.randint(2400, 4600))
                continue
            if roll < 0.55:
                product = self.product()
                status = 304 if rng.random() < 0.08 else 200
                out.emit(second, client, "GET", product.path, status, _page(rng, "product", status))
            elif roll < 0.82:
                query = f"page={rng.randint(2, 6)}" if rng.random() < 0.4 else ""
                path = rng.choice(self.catalog.categories)
                out.emit(second, client, "GET", path, 200, _page(rng, "category"), query=query)
            elif roll < 0.88:
                out.emit(second, client, "GET", "/", 200, _page(rng, "home"))
            elif roll < 0.93:
                out.emit(second, client, "GET", "/privacy", 200, _page(rng, "privacy"))
            elif roll < 0.97:
                path = rng.choice(self.catalog.gone)
                out.emit(second, client, "GET", path, 404, NOT_FOUND_BYTES)
            else:
                out.emit(second, client, "GET", "/sitemap.xml", 404, NOT_FOUND_BYTES)

    def _monitor(self) -> None:
        """An uptime monitor's HEAD / at a steady pace, sized to its share of lines."""
        out = self.out
        wanted = max(1, out.limit - out.count)
        interval = max(30, out.period // wanted)
        second = self.rng.randrange(interval)
        while second < out.period and not out.full:
            ip = UPTIME_ADDRESSES[second // interval % len(UPTIME_ADDRESSES)]
            out.emit(second, Client(ip, UPTIME_ROBOT, browser=False), "HEAD", "/", 200, 0)
            second += interval

    def _scan(self) -> None:
        """A scanner probing for well-known holes, or guessing passwords at the sign-in
        API until the shop says too many."""
        rng = self.rng
        client = Client(self._in_net(rng.choice(SCANNER_NETS)), rng.choice(SCANNER_AGENTS), False)
        second = rng.randrange(self.out.period)
        if rng.random() < 0.25:
            for attempt in range(rng.randint(4, 12)):
                status = 401 if attempt < 5 else 429
                self.out.emit(
                    second + attempt * 2, client, "POST", "/api/v1/auth/sign-in", status, 96
                )
            return
        for probe in rng.sample(PROBES, rng.randint(3, len(PROBES))):
            second += rng.randint(0, 2)
            self.out.emit(second, client, "GET", probe, 404, NOT_FOUND_BYTES)
        if rng.random() < 0.3:  # and a scrape of the catalog API
            for page in range(1, rng.randint(2, 8)):
                second += 1
                query = f"page={page}"
                self.out.emit(second, client, "GET", "/api/v1/products", 200, 9_800, query=query)

    def _curl(self) -> None:
        rng = self.rng
        client = Client(self._ipv4(), rng.choice(CURL_AGENTS), browser=False)
        path, size = rng.choice(
            (("/", 21_000), ("/api/v1/products", 9_800), ("/api/v1/categories", 4_100))
        )
        self.out.emit(rng.randrange(self.out.period), client, "GET", path, 200, size)


def _page(rng: random.Random, kind: str, status: int = 200) -> int:
    """The bytes of a page's answer: its size give or take a tenth, none for a 304."""
    if status == 304:
        return 0
    base = PAGE_BYTES[kind]
    return base + rng.randint(-base // 10, base // 10)


class Visit:
    """One browser's run of pageviews: the page, its scripts and images, its API calls."""

    def __init__(self, traffic: Traffic, client: Client, start: int) -> None:
        self.traffic = traffic
        self.rng = traffic.rng
        self.out = traffic.out
        self.client = client
        self.second = start
        self.loaded: set[str] = set()  # what this visit's browser holds (asked once each)
        self.own_referrer = self.rng.random() < OWN_REFERRER_SHARE
        self.cart: list[Product] = []
        self.signed_in = False

    def walk(self) -> None:
        rng = self.rng
        referrer, source = self.traffic.external_referrer()
        kind, path, query = self._entry(source)
        for views in range(40):
            kind_next = self.view(kind, path, query, referrer)
            if kind_next is None or rng.random() < 0.04 * views:
                return
            referrer = (SHOP + path + (f"?{query}" if query else "")) if self.own_referrer else ""
            # Most readers move on within a minute or two; a few take their time.
            gap = min(MAX_GAP_SECONDS, int(rng.expovariate(1 / 55)) + 3)
            self.second += gap
            kind, path, query = kind_next

    def _entry(self, source: str) -> tuple[str, str, str]:
        rng = self.rng
        roll = rng.random()
        if source == "direct":
            if roll < 0.55:
                return "home", "/", ""
            if roll < 0.75:
                return "product", self.traffic.product().path, ""
            if roll < 0.88:
                return "category", rng.choice(self.traffic.catalog.categories), ""
            if roll < 0.96:
                return "sign-in", "/account/sign-in", ""
            return "orders", "/account/orders", ""
        if source == "search" and roll < 0.03:
            return "gone", rng.choice(self.traffic.catalog.gone), ""
        if roll < (0.6 if source != "social" else 0.8):
            return "product", self.traffic.product().path, ""
        if roll < 0.9:
            return "category", rng.choice(self.traffic.catalog.categories), ""
        return "home", "/", ""

    # ------------------------------------------------------------ one pageview

    def view(self, kind: str, path: str, query: str, referrer: str) -> tuple[str, str, str] | None:
        """Log a pageview and what the page then asks for; the next page, or None to leave."""
        rng = self.rng
        out = self.out
        client = self.client
        if kind == "placed":
            return self._place_order(referrer)
        if kind == "gone" or rng.random() < 0.003:  # an old link, or a page guessed at
            missing = path if kind == "gone" else rng.choice(MISSING_PAGES)
            out.emit(self.second, client, "GET", missing, 404, NOT_FOUND_BYTES, referrer)
            return ("home", "/", "") if rng.random() < 0.4 else None
        if rng.random() < 0.001:  # the shop fails now and then
            out.emit(self.second, client, "GET", path, 500, ERROR_BYTES, referrer, query)
            return None
        template = ORDER_TEMPLATE if kind == "order" else None
        page_kind = "checkout" if kind == "checkout" else kind
        out.emit(
            self.second, client, "GET", path, 200, _page(rng, page_kind), referrer, query, template
        )
        self._assets(kind, path, query)
        self._api_calls(kind)
        return self._next(kind, path)

    def _assets(self, kind: str, path: str, query: str) -> None:
        rng = self.rng
        page = SHOP + path + (f"?{query}" if query else "") if self.own_referrer else ""
        wanted: list[str] = [*BASE_ASSETS, *PAGE_ASSETS.get(kind, ())]
        if kind == "product":
            wanted.append(self.traffic.catalog.by_path[path].image)
        elif kind in ("home", "category", "search"):
            wanted.extend(self.traffic.product().image for _ in range(6))
        # A returning browser holds a fresh copy (no request) or revalidates it (304).
        cached = rng.random() < 0.5
        for asset in wanted:
            if asset in self.loaded:
                continue
            self.loaded.add(asset)
            if cached and rng.random() < 0.6:
                continue
            second = self.second + (1 if rng.random() < 0.3 else 0)
            if cached:
                self.out.emit(second, self.client, "GET", asset, 304, 0, page)
            else:
                size = self.traffic.asset_bytes.get(asset) or rng.randint(2400, 4600)
                self.out.emit(second, self.client, "GET", asset, 200, size, page)

    def _api_calls(self, kind: str) -> None:
        rng = self.rng
        out = self.out
        second = self.second + 1
        if kind == "cart" and self.cart:
            query = urlencode({"sku": ",".join(p.sku for p in self.cart)})
            out.emit(second, self.client, "GET", "/api/v1/variants", 200, 420, query=query)
        elif kind == "checkout":
            out.emit(second, self.client, "GET", "/api/v1/checkout/countries", 200, 2_900)
            for _ in range(rng.randint(1, 3)):
                second += rng.randint(5, 60)
                out.emit(second, self.client, "POST", "/api/v1/checkout/quote", 200, 860)
            self.second = second
        elif kind in ("account", "orders") and self.signed_in:
            out.emit(second, self.client, "GET", "/api/v1/account", 200, 610)
            if kind == "orders":
                out.emit(second, self.client, "GET", "/api/v1/orders", 200, 1_700)
        elif kind == "order":
            number = _order_number(rng)
            out.emit(
                second,
                self.client,
                "GET",
                f"/api/v1/orders/{number}",
                200,
                2_300,
                template="/api/v1/orders/{number}",
            )

    def _next(self, kind: str, path: str) -> tuple[str, str, str] | None:
        rng = self.rng
        traffic = self.traffic
        roll = rng.random()
        if kind in ("home", "category", "search", "privacy", "ask"):
            if roll < 0.5:
                return "product", traffic.product().path, ""
            if roll < 0.68:
                query = ""
                if rng.random() < 0.3:
                    query = urlencode({"page": rng.randint(2, 5), "sort": rng.choice(SORTS)})
                return "category", rng.choice(traffic.catalog.categories), query
            if roll < 0.8:
                words = {"q": rng.choice(traffic.catalog.searches)}
                if rng.random() < 0.15:
                    words["page"] = "2"
                return "search", "/search", urlencode(words)
            if roll < 0.82:
                return "privacy", "/privacy", ""
            if roll < 0.85 and self.cart:
                return "cart", "/cart", ""
            return None
        if kind == "product":
            if roll < 0.16:
                self.cart.append(traffic.catalog.by_path[path])
                return "cart", "/cart", ""
            if roll < 0.48:
                return "product", traffic.product().path, ""
            if roll < 0.62:
                return "category", rng.choice(traffic.catalog.categories), ""
            if roll < 0.66:
                return "home", "/", ""
            if roll < 0.67:
                return "ask", "/ask", ""
            return None
        if kind == "cart":
            if not self.cart:
                return ("home", "/", "") if roll < 0.4 else None
            if roll < 0.42:
                return "checkout", "/checkout", ""
            if roll < 0.62:
                return "product", traffic.product().path, ""
            return None
        if kind == "checkout":
            if roll < 0.55:
                return "placed", "/api/v1/orders", ""
            if roll < 0.65:
                return "cart", "/cart", ""
            return None
        if kind == "sign-in":
            self.signed_in = self._sign_in()
            if self.signed_in:
                return (
                    ("orders", "/account/orders", "") if roll < 0.5 else ("account", "/account", "")
                )
            return ("home", "/", "") if roll < 0.5 else None
        if kind in ("account", "orders", "done"):
            if kind == "orders" and self.signed_in and roll < 0.5:
                return "order", f"/account/orders/{_order_number(rng)}", ""
            if roll < 0.3:
                return "home", "/", ""
            return None
        return None

    def _sign_in(self) -> bool:
        ok = self.rng.random() < 0.85
        status = 200 if ok else 401
        self.second += self.rng.randint(8, 40)
        self.out.emit(
            self.second, self.client, "POST", "/api/v1/auth/sign-in", status, 480 if ok else 96
        )
        return ok

    def _place_order(self, referrer: str) -> tuple[str, str, str] | None:
        """POST /api/v1/orders: placed (201), or the card or the stock says no."""
        rng = self.rng
        roll = rng.random()
        status = 201 if roll < 0.9 else (402 if roll < 0.97 else 409)
        self.out.emit(
            self.second,
            self.client,
            "POST",
            "/api/v1/orders",
            status,
            1_450 if status == 201 else 230,
            referrer,
        )
        if status != 201:
            return ("checkout", "/checkout", "") if rng.random() < 0.5 else None
        self.cart.clear()
        return "done", "/checkout/done", ""


ORDER_TEMPLATE = "/account/orders/{number}"


def _order_number(rng: random.Random) -> str:
    """An order number as the shop shows it in a link (orders/numbers.py)."""
    body = str(rng.randrange(10**7, 10**8))
    digits = body + damm_check_digit(body)
    return f"QS-{digits[:4]}-{digits[4:]}"


# ---------------------------------------------------------------- bad input

ABSURD_STAMPS = (
    "31/Feb/2026:10:00:00 +0000",
    "15/Nov/2026:25:61:07 +0000",
    "00/Jan/0000:00:00:00 +0000",
    "04/Nov/9999:12:00:00 +0000",
    "01/Jan/1970:00:00:00 +0000",
)
GARBAGE_KINDS = ("truncated", "other format", "invalid utf-8", "absurd date")


def _other_format(rng: random.Random, day: date) -> str:
    """A line of some other log format, as a misconfigured ingest would meet it."""
    stamp = f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:07Z"
    clf = f"{day.day:02d}/{MONTHS[day.month - 1]}/{day.year}:12:00:00 +0000"
    return rng.choice(
        (
            f'{{"time":"{stamp}","remote_addr":"203.0.113.9","request":"GET / HTTP/1.1",'
            '"status":200,"body_bytes_sent":20911}',
            f"{day.year}/{day.month:02d}/{day.day:02d} 12:00:01 [error] 1234#0: *56 open() "
            '"/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory)',
            f'198.51.100.23 - - [{clf}] "GET /privacy HTTP/1.1" 200 12811',  # Common, not Combined
            f"{day.isoformat()} 12:00:01 192.0.2.10 GET /products - 443 - 198.51.100.7 "
            "Mozilla/5.0 - 200 0 0 31",  # IIS W3C
        )
    )


def garbage_line(rng: random.Random, kind: str, good: str, day: date) -> bytes:
    """One line a strict reader rejects, made from a good line ``good`` where it can be."""
    line = good.rstrip("\n")
    if kind == "truncated":
        return line[: rng.randint(10, len(line) - 2)].encode() + b"\n"
    if kind == "other format":
        return _other_format(rng, day).encode() + b"\n"
    if kind == "invalid utf-8":
        head = line[: line.rindex(' "')].encode()
        return head + b' "Mozilla/5.0 (\xff\xfe Windows \xc3\x28 NT 10.0)"\n'
    start, end = line.index("[") + 1, line.index("]")
    return f"{line[:start]}{rng.choice(ABSURD_STAMPS)}{line[end:]}\n".encode()


def _mixed(rng: random.Random, writer: LogWriter, garbage: int) -> Iterator[bytes]:
    """The good lines a day at a time, with ``garbage`` bad ones at random places (the
    kinds in turn, each made from a good line of its day)."""
    days = writer.sorted_days()
    places = sorted(rng.randrange(writer.count + 1) for _ in range(garbage))
    fallback = [
        f'192.0.2.1 - - [{writer.stamps[0]}00:00:00 +0000] "GET / HTTP/1.1" 200 - "-" "-"\n'
    ]
    at = 0  # how many good lines came before this day
    made = 0
    for number, lines in enumerate(days):
        day = writer.first_day + timedelta(days=number)
        done = 0
        # A place at the very end (after every good line) falls on the last day.
        room = len(lines) + (1 if number == len(days) - 1 else 0)
        while made < len(places) and places[made] - at < room:
            place = places[made] - at
            yield "".join(lines[done:place]).encode()
            done = place
            source = lines or fallback
            good = source[rng.randrange(len(source))]
            kind = GARBAGE_KINDS[made % len(GARBAGE_KINDS)]
            yield garbage_line(rng, kind, good, day)
            made += 1
        yield "".join(lines[done:]).encode()
        at += len(lines)


# ---------------------------------------------------------------- the whole log


@dataclass(frozen=True)
class Options:
    lines: int = 1_000_000
    days: int = 30
    end: date = date(2026, 11, 30)  # the last day logged, included
    seed: int = 7
    style: str = "ours"  # or "nginx"
    garbage: int = 0

    @property
    def first_day(self) -> date:
        return self.end - timedelta(days=self.days - 1)


def generate(options: Options) -> Iterator[bytes]:
    """The log's bytes in pieces: ``options.lines`` good lines in time order, and the
    garbage."""
    if options.style not in ("ours", "nginx"):
        raise ValueError(f"style is ours or nginx, not {options.style!r}")
    rng = random.Random(options.seed)
    writer = LogWriter(options.style, options.seed, options.first_day, options.days)
    traffic = Traffic(rng, writer, options.lines)
    traffic.bots(options.lines)
    writer.limit = options.lines
    traffic.browse()
    return _mixed(rng, writer, options.garbage)


def write_log(out: Path, options: Options, compress: bool) -> Path:
    """Write the log to ``out`` (``.gz`` added when compressing and missing); its path."""
    pieces = generate(options)
    if not compress:
        with out.open("wb") as plain:
            plain.writelines(pieces)
        return out
    if not out.name.endswith(".gz"):
        out = out.with_name(out.name + ".gz")
    # mtime=0 and no file name in the header: the same options give the same bytes.
    with out.open("wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as z:
        z.writelines(pieces)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000, help="good lines to write")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--end", type=date.fromisoformat, default=date(2026, 11, 30), help="last day, included"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--style", choices=("ours", "nginx"), default="ours")
    parser.add_argument("--garbage", type=int, default=0, help="bad lines to mix in")
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args(argv)
    if args.lines < 0 or args.days < 1 or args.garbage < 0:
        parser.error("--lines and --garbage are 0 or more, --days 1 or more")
    options = Options(args.lines, args.days, args.end, args.seed, args.style, args.garbage)
    started = time.perf_counter()
    written = write_log(args.out, options, args.gzip)
    seconds = time.perf_counter() - started
    total = options.lines + options.garbage
    print(f"{total} lines ({options.garbage} garbage) written to {written} in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
