"""Server CPU per order, in-process: what placing one order costs the Python process, and
how many SQL statements and ORM flushes it takes.

    .venv/bin/python bench/order_cpu.py [--orders 200] [--database sqlite|postgresql|both]
                                        [--postgres URL] [--profile] [--top 25]

A migrated shop (SQLite in a temporary dir; PostgreSQL in a schema of its own in the
``test`` database, dropped afterwards) gets the demo's first 120 products, its rate
tables, a card keyring and 40 products stocked with 1,000,000 units per variant. Then,
one order at a time, after an untimed warm-up:

- ``api guest``: ``POST /api/v1/orders`` straight into the ASGI app (no server, no TLS),
  a new guest address and Idempotency-Key each time, as bench/orders.py sends them;
- ``api signed-in``: the same with a customer's bearer token and no guest;
- ``service guest``: ``orders.service.place_order`` in ``db.transaction``, no HTTP.

Each prints CPU ms per order (``time.process_time``: the process's own CPU, so robust to
other load on the machine, unlike wall time, which is shown beside it), statements per
order (``before_cursor_execute``; on PostgreSQL each is a round trip), ORM flushes per
order (``after_flush``) and commits per order. ``--profile`` adds a cProfile top list of
the api guest run (own time, per order). Compare runs side by side in one session: the
absolute numbers move with the machine; the statement and flush counts do not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orders import (
    ADDRESS,
    APPROVED_CARD,
    CART_SHAPES,
    UNITS_PER_VARIANT,
    Cart,
    asgi_call,
    draw_carts,
    routes_inline,
)
from quietshop.accounts import service as accounts
from quietshop.accounts import signin
from quietshop.app import AssembledApp, build_app
from quietshop.catalog import service as catalog_service
from quietshop.catalog.demo import load_demo_catalog
from quietshop.catalog.models import Product, ProductVariant
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from quietshop.keyring import Keyring
from quietshop.orders import service as orders
from quietshop.orders.demo import seed_demo_rates
from quietshop.payments.service import CardInput
from quietshop.settings import Settings

DEMO_PRODUCTS = 120  # the demo's first products: enough for 40 on sale, quick to load
ON_SALE = 40
WARM_UP = 20
SCHEMA = "order_cpu_bench"
POSTGRES_URL = os.environ.get(
    "QUIETSHOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "correct horse battery staple"
CARD: dict[str, Any] = {
    "number": APPROVED_CARD,
    "exp_month": 12,
    "exp_year": 2035,
    "name": "BENCH GUEST",
    "security_code": "737",
}


@dataclass
class Counts:
    """Statements, flushes and commits seen since the last reset (one thread at a time)."""

    statements: int = 0
    flushes: int = 0
    commits: int = 0
    texts: list[str] = field(default_factory=list)
    keep_texts: bool = False

    def reset(self) -> None:
        self.statements = self.flushes = self.commits = 0
        self.texts.clear()


def watch(engine: Engine, counts: Counts) -> None:
    def on_statement(*args: Any) -> None:
        counts.statements += 1
        if counts.keep_texts:
            counts.texts.append(" ".join(str(args[2]).split())[:110])

    def on_commit(*_: Any) -> None:
        counts.commits += 1

    def on_flush(*_: Any) -> None:
        counts.flushes += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    event.listen(Session, "after_flush", on_flush)


@dataclass
class Shop:
    database: str
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    app: AssembledApp
    carts: list[Cart]
    token: str


def make_shop(database: str, work: Path, postgres: str) -> Shop:
    url = "" if database == "sqlite" else _schema_url(postgres)
    settings = Settings(
        data_dir=work,
        database_url=url,
        access_log_enabled=False,
        send_mail_in_process=False,
        page_cache_enabled=False,
        demo=True,
        payment_processor="simulator",
    )
    engine = make_engine(settings.resolved_database_url)
    upgrade_to_head(engine)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        load_demo_catalog(session, work / "images", product_count=DEMO_PRODUCTS)
        seed_demo_rates(session, "USD", now)
    skus = _stock_products(sessions)
    Keyring.create(settings.keyring_path, now)
    token = _customer_token(sessions, settings, now)
    app = build_app(settings, sessions, page_cache=False)
    carts = _priced(sessions, settings, draw_carts(skus), now)
    return Shop(database, settings, engine, sessions, app, carts, token)


def _schema_url(base: str) -> str:
    admin = make_engine(base, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    finally:
        admin.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{SCHEMA}"


def drop_schema(base: str) -> None:
    admin = make_engine(base, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    finally:
        admin.dispose()


def _stock_products(sessions: sessionmaker[Session]) -> list[str]:
    with transaction(sessions) as session:
        products = session.execute(
            select(Product.sku).where(Product.active).order_by(Product.sku)
        ).scalars()
        chosen = list(products)[:: max(1, DEMO_PRODUCTS // ON_SALE)][:ON_SALE]
        variants = list(
            session.execute(
                select(ProductVariant.sku)
                .join(Product, Product.id == ProductVariant.product_id)
                .where(Product.sku.in_(chosen))
                .order_by(ProductVariant.sku)
            ).scalars()
        )
        for sku in variants:
            catalog_service.set_variant_stock(session, sku, UNITS_PER_VARIANT)
    return variants


def _customer_token(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> str:
    email = "bench-customer@example.org"
    with transaction(sessions) as session:
        registration = accounts.Registration("Bench Customer", email, PASSWORD)
        accounts.register(session, settings, registration, now)
    with transaction(sessions) as session:
        result = signin.sign_in(session, settings, email, PASSWORD, now)
    if result.token is None:
        raise RuntimeError(f"the bench customer could not sign in: {result.failure}")
    return result.token


def _priced(
    sessions: sessionmaker[Session], settings: Settings, carts: list[Cart], now: datetime
) -> list[Cart]:
    priced = []
    with sessions() as session:
        for cart in carts:
            lines = tuple(orders.WantedLine(sku, units) for sku, units in cart.lines)
            wanted = orders.QuoteRequest(lines, "US", "standard")
            view = orders.quote(session, settings, wanted, None, now)
            priced.append(Cart(cart.lines, view.quote.total_cents, view.quote.currency))
    return priced


# ---------------------------------------------------------------- the runs


class Bodies:
    """Order bodies in turn: each a new guest address (or none, signed in)."""

    def __init__(self, carts: list[Cart], tag: str, *, guest: bool) -> None:
        self._carts, self._tag, self._guest, self._n = carts, tag, guest, 0

    def next(self) -> tuple[str, bytes]:
        import json

        n, self._n = self._n, self._n + 1
        cart = self._carts[n % len(self._carts)]
        body: dict[str, Any] = {
            "lines": [{"sku": sku, "quantity": units} for sku, units in cart.lines],
            "shipping_address": ADDRESS,
            "billing_same_as_shipping": True,
            "shipping_method": "standard",
            "card": CARD,
            "expected_total": {"cents": cart.total_cents, "currency": cart.currency},
        }
        if self._guest:
            body["guest"] = {"name": "Bench Guest", "email": f"{self._tag}-{n}@example.org"}
        return f"cpu-{self._tag}-{n}", json.dumps(body).encode()


def api_orders(shop: Shop, tag: str, *, guest: bool) -> Callable[[int], None]:
    bodies = Bodies(shop.carts, tag, guest=guest)
    auth = [] if guest else [(b"authorization", f"Bearer {shop.token}".encode())]

    async def run(count: int) -> None:
        for _ in range(count):
            key, body = bodies.next()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"idempotency-key", key.encode()),
                *auth,
            ]
            status = await asgi_call(shop.app, "POST", "/api/v1/orders", body, headers)
            if status != 201:
                raise RuntimeError(f"an in-process order answered {status}")

    return lambda count: asyncio.run(run(count))


def service_orders(shop: Shop, tag: str) -> Callable[[int], None]:
    parts = shop.app.state.part(orders.Collaborators)
    numbers = iter(range(10**9))

    def request(n: int) -> orders.PlaceOrder:
        cart = shop.carts[n % len(shop.carts)]
        return orders.PlaceOrder(
            lines=tuple(orders.WantedLine(sku, units) for sku, units in cart.lines),
            shipping_address=accounts.AddressInput(kind="shipping", **ADDRESS),
            shipping_address_id=None,
            billing_address=None,
            billing_address_id=None,
            billing_same_as_shipping=True,
            shipping_method="standard",
            discount_code=None,
            card=CardInput(
                number=APPROVED_CARD,
                expiry_month=12,
                expiry_year=2035,
                name="BENCH GUEST",
                security_code="737",
            ),
            expected_total_cents=cart.total_cents,
            expected_currency=cart.currency,
            guest_name="Bench Guest",
            guest_email=f"svc-{tag}-{n}@example.org",
        )

    def run(count: int) -> None:
        for _ in range(count):
            wanted = request(next(numbers))
            with transaction(shop.sessions) as session:
                orders.place_order(session, shop.settings, parts, wanted, None, datetime.now(UTC))

    return run


@dataclass(frozen=True)
class Result:
    database: str
    label: str
    cpu_ms: float
    wall_ms: float
    statements: float
    flushes: float
    commits: float


def measure(
    shop: Shop, label: str, run: Callable[[int], None], count: int, counts: Counts
) -> Result:
    run(WARM_UP)  # statements compiled, templates loaded, keyring open
    counts.reset()
    cpu, wall = time.process_time(), time.perf_counter()
    run(count)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Result(
        shop.database,
        label,
        cpu * 1000 / count,
        wall * 1000 / count,
        counts.statements / count,
        counts.flushes / count,
        counts.commits / count,
    )


def statements_of_one(run: Callable[[int], None], counts: Counts) -> list[str]:
    counts.reset()
    counts.keep_texts = True
    try:
        run(1)
    finally:
        counts.keep_texts = False
    return list(counts.texts)


def profile(run: Callable[[int], None], count: int, top: int) -> str:
    profiler = cProfile.Profile()
    with routes_inline():
        profiler.enable()
        run(count)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats("src/quietshop", top)
    return out.getvalue() + own_time_by_package(stats, count)


def own_time_by_package(stats: pstats.Stats, count: int) -> str:
    """Own time per order summed by the package the function lives in: which layer to cut."""
    totals: dict[str, float] = {}
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        totals[package_of(filename, name)] = totals.get(package_of(filename, name), 0.0) + row[2]
    lines = ["| package | own ms per order (profiled) |", "|---|---:|"]
    for package, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        lines.append(f"| {package} | {seconds * 1000 / count:.2f} |")
    return "\n".join(lines) + "\n"


def package_of(filename: str, name: str) -> str:
    if filename == "~":
        return f"builtins ({name.split(' of ')[-1].strip('>')})" if " of " in name else "builtins"
    parts = Path(filename).parts
    for marker in ("site-packages", "src"):
        if marker in parts:
            return parts[parts.index(marker) + 1].removesuffix(".py")
    return "stdlib"


def bench(database: str, args: argparse.Namespace, work: Path) -> list[Result]:
    counts = Counts()
    shop = make_shop(database, work, args.postgres)
    watch(shop.engine, counts)
    tag = secrets.token_hex(3)
    runs = {
        "api guest": api_orders(shop, f"{tag}-g", guest=True),
        "api signed-in": api_orders(shop, f"{tag}-c", guest=False),
        "service guest": service_orders(shop, tag),
    }
    results = [measure(shop, label, run, args.orders, counts) for label, run in runs.items()]
    if args.statements:
        print(f"\n{database}: the statements of one api guest order")
        for line in statements_of_one(runs["api guest"], counts):
            print(f"  {line}")
    if args.profile:
        print(f"\n{database}: cProfile of {args.orders} api guest orders")
        print(profile(runs["api guest"], args.orders, args.top))
    shop.engine.dispose()
    return results


def table(results: Sequence[Result]) -> str:
    lines = [
        "| database | run | CPU ms/order | wall ms/order | statements | flushes | commits |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.database} | {r.label} | {r.cpu_ms:.2f} | {r.wall_ms:.2f} | "
        f"{r.statements:.1f} | {r.flushes:.1f} | {r.commits:.1f} |"
        for r in results
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="timed orders per run")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default=POSTGRES_URL)
    parser.add_argument("--profile", action="store_true", help="cProfile the api guest run")
    parser.add_argument("--statements", action="store_true", help="list one order's SQL")
    parser.add_argument("--top", type=int, default=25)
    return parser.parse_args(argv)


@contextlib.contextmanager
def work_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="order-cpu-") as name:
        yield Path(name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    assert CART_SHAPES > 0
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results: list[Result] = []
    for database in databases:
        with work_dir() as work:
            try:
                results += bench(database, args, work)
            finally:
                if database == "postgresql":
                    drop_schema(args.postgres)
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
