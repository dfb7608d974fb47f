"""The back office at scale (issue 9 item 9): with 100,000 orders and 1,000,000 audit
entries, the order queue (filtered and sorted) and the customer lookup answer p99 < 50 ms.
Prints a markdown section for bench/results.md (this file writes no results file itself).

    .venv/bin/python bench/staff_desk.py [--orders 100000] [--audit-entries 1000000]
                                         [--requests 300] [--quick] [--postgres URL]
                                         [--sqlite-only] [--explain]

For each database (SQLite in a temporary file; PostgreSQL in a schema of its own in the
``test`` database, dropped afterwards):

1. *fill*: a migrated database filled in bulk (executemany on SQLite, COPY on
   PostgreSQL; never the real ``place_order``, which costs ~20 ms an order) from a seeded
   generator: ``--orders`` orders spread over the year before the bench's clock, in every
   status of ``orders/lifecycle.py`` (young orders still in the shop's hands, old ones
   delivered, refunded, returned; a few stuck), each with its lines, status history,
   payment and masked card; ~0.4 customers an order (a third guests, the rest accounts
   with one to three addresses, 1 % closed), with names drawn from frequency-weighted
   first and last names, so a common fragment ("son") matches thousands and a rare one a
   handful; and ``--audit-entries`` audit entries about those customers and orders (the
   rows ``audit.append`` writes), chained by the shop's own sealer (``audit.seal``) and
   verified with ``audit.verify``. Build time per part is reported.
2. *serve*: the real app (``build_app``, access log on) in this process through
   Starlette's TestClient, a customer-service member enrolled, signed in and with the
   policies acknowledged, as tests/staff/test_orders_api.py does. The clock is fixed, so
   the session never idles out.
3. *time*: each route ``--requests`` times after a warm-up of a tenth as many; a route
   with a changing part (an order number, a customer) cycles through a seeded sample.
   Every staff read appends audit entries (one per customer shown), so the log grows from
   its 1,000,000 during the run: the real condition. Latency is the whole request as the
   client sees it (routing, access road, need-to-know cut, audit append, commit, JSON).

``--explain`` prints the query plans of the queue and lookup statements. ``--quick``:
10,000 orders, 100,000 entries, 100 requests a route. Times on a shared machine are
disturbed by whatever else runs: compare the databases side by side in one run.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import ClauseElement, Executable

from quietshop.accounts import staff_desk
from quietshop.accounts.numbers import format_customer_number, new_customer_number
from quietshop.accounts.signin import email_key
from quietshop.app import AssembledApp, build_app
from quietshop.audit import service as audit
from quietshop.audit.chain import json_array
from quietshop.check_digits import damm_check_digit
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from quietshop.keyring import Keyring
from quietshop.models import metadata
from quietshop.orders import lifecycle
from quietshop.orders import service as orders
from quietshop.orders.models import Order
from quietshop.orders.numbers import format_order_number
from quietshop.settings import Settings
from quietshop.staff import policies, service
from quietshop.staff.models import StaffMember
from quietshop.staff.roles import Role
from quietshop.staff.second_factor import code_at

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
GOAL_P99_MS = 50.0
SEED = 9  # generated test data, not a secret
BATCH = 10_000
CUSTOMERS_PER_ORDER = 0.4
GUEST_SHARE = 0.33
CLOSED_SHARE = 0.01
STAFF_PASSWORD = "bench desk 2026 ledger"
SCHEMA = "staff_desk_bench"
COMMON_FRAGMENT = "son"  # Johnson, Wilson, Anderson, ...: thousands of customers
RARE_FRAGMENT = "therst"  # Featherstonehaugh: a handful

# (name, weight): roughly as frequent as in the US census lists, a rare one kept in.
FIRST_NAMES = (
    ("James", 33), ("Mary", 30), ("Robert", 31), ("Patricia", 15), ("John", 32),
    ("Jennifer", 14), ("Michael", 30), ("Linda", 14), ("David", 29), ("Elizabeth", 14),
    ("William", 28), ("Barbara", 13), ("Richard", 27), ("Susan", 13), ("Joseph", 17),
    ("Jessica", 12), ("Thomas", 16), ("Sarah", 12), ("Charles", 16), ("Karen", 11),
    ("Christopher", 15), ("Lisa", 11), ("Daniel", 15), ("Nancy", 10), ("Matthew", 12),
    ("Sofia", 6), ("Amara", 2), ("Kenji", 2), ("Ngozi", 1), ("Søren", 1), ("Zoë", 1),
    ("José", 4), ("Aisha", 3), ("Wei", 3), ("Priya", 3), ("Oluwaseun", 1), ("Anaïs", 1),
)  # fmt: skip
LAST_NAMES = (
    ("Smith", 24), ("Johnson", 19), ("Williams", 16), ("Brown", 14), ("Jones", 14),
    ("Garcia", 11), ("Miller", 11), ("Davis", 10), ("Rodriguez", 10), ("Martinez", 9),
    ("Hernandez", 9), ("Lopez", 8), ("Gonzalez", 8), ("Wilson", 8), ("Anderson", 8),
    ("Thomas", 7), ("Taylor", 7), ("Moore", 7), ("Jackson", 7), ("Martin", 7),
    ("Lee", 7), ("Thompson", 6), ("White", 6), ("Harris", 6), ("Clark", 5),
    ("Nguyen", 5), ("Müller", 2), ("O'Brien", 2), ("Okafor", 1), ("Tanaka", 2),
    ("Kowalski", 1), ("Dubois", 1), ("Featherstonehaugh", 0.02), ("Østergaard", 0.5),
)  # fmt: skip
STREETS = ("Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Elm Street", "Park Road")
CITIES = (
    ("Springfield", "IL", "627"), ("Portland", "OR", "972"), ("Austin", "TX", "787"),
    ("Madison", "WI", "537"), ("Boulder", "CO", "803"), ("Burlington", "VT", "054"),
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
PRODUCTS = (
    ("CAB-USB-C-1M", "Braided USB-C cable, 1 m", 1299, 40),
    ("CAB-HDMI-2M", "HDMI 2.1 cable, 2 m", 1899, 120),
    ("ADP-USB-C-HDMI", "USB-C to HDMI adapter", 2499, 60),
    ("SPK-MINI-BT", "Mini Bluetooth speaker", 4999, 350),
    ("CHG-65W-GAN", "65 W GaN charger", 3999, 150),
    ("HUB-7PORT", "7-port USB hub", 3499, 220),
)  # fmt: skip
SHIPPING = (("standard", "Standard (3-5 days)", 499), ("express", "Express (1-2 days)", 1299))
BRANDS = ("visa", "mastercard", "amex", "discover")
# Each status's path through the order graph from "placed" (its history of events).
PATHS: dict[str, tuple[str, ...]] = {
    "placed": ("placed",),
    "payment_verified": ("placed", "payment_verified"),
    "packed": ("placed", "payment_verified", "packed"),
    "shipped": ("placed", "payment_verified", "packed", "shipped"),
    "delivered": ("placed", "payment_verified", "packed", "shipped", "delivered"),
    "payment_problem": ("placed", "payment_problem"),
    "availability_problem": ("placed", "availability_problem"),
    "cancelled": ("placed", "cancelled"),
    "refunded": ("placed", "payment_verified", "packed", "shipped", "delivered", "refunded"),
    "partially_refunded": (
        "placed", "payment_verified", "packed", "shipped", "delivered", "partially_refunded",
    ),
    "return_requested": (
        "placed", "payment_verified", "packed", "shipped", "delivered", "return_requested",
    ),
    "return_received": (
        "placed", "payment_verified", "packed", "shipped", "delivered", "return_requested",
        "return_received",
    ),
}  # fmt: skip
# Which statuses an order of an age is in, by weight: young orders are still in the
# shop's hands, old ones done with; a few are stuck (the queue's "older than" filter).
BY_AGE: tuple[tuple[timedelta, tuple[tuple[str, float], ...]], ...] = (
    (timedelta(days=2), (
        ("placed", 30), ("payment_verified", 25), ("packed", 15), ("payment_problem", 8),
        ("availability_problem", 8), ("cancelled", 8), ("shipped", 6),
    )),
    (timedelta(days=14), (
        ("shipped", 35), ("delivered", 45), ("cancelled", 8), ("return_requested", 5),
        ("payment_problem", 2), ("placed", 1), ("availability_problem", 2),
        ("return_received", 2),
    )),
    (YEAR * 2, (
        ("delivered", 80), ("cancelled", 6), ("refunded", 5), ("partially_refunded", 4),
        ("return_received", 3), ("return_requested", 1), ("placed", 0.3),
        ("payment_problem", 0.4), ("availability_problem", 0.3),
    )),
)  # fmt: skip
PAYMENT_FOR: dict[str, str] = {
    "placed": "pending_manual", "payment_problem": "declined", "cancelled": "voided",
    "payment_verified": "authorized", "packed": "authorized", "availability_problem": "authorized",
    "refunded": "refunded", "partially_refunded": "partially_refunded",
}  # fmt: skip
FILLED_WITH_IDS = (
    "customers", "customer_addresses", "orders", "order_lines", "order_events", "payments",
    "payment_cards", "audit_entries",
)  # fmt: skip
ACTORS = ("customer", "system", "processor", "billing", "fulfilment", "customer_service")


# ---------------------------------------------------------------- generated rows


@dataclass(frozen=True)
class Sizes:
    orders: int
    audit_entries: int

    @property
    def customers(self) -> int:
        return max(10, int(self.orders * CUSTOMERS_PER_ORDER))


@dataclass
class Person:
    id: int
    number: str
    name: str
    email: str
    guest: bool
    closed: bool
    postcode: str
    city: tuple[str, str, str]


@dataclass
class Generated:
    """What the timed routes need to know of the rows written."""

    people: list[Person] = field(default_factory=list)
    order_numbers: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> Callable[[], str]:
    names = [name for name, _ in pairs]
    cumulative = list(itertools.accumulate(weight for _, weight in pairs))
    return lambda: rng.choices(names, cum_weights=cumulative)[0]


def people(rng: random.Random, count: int) -> list[Person]:
    first, last = _weighted(rng, FIRST_NAMES), _weighted(rng, LAST_NAMES)
    numbers: set[str] = set()
    found = []
    for n in range(1, count + 1):
        number = new_customer_number(rng)
        while number in numbers:
            number = new_customer_number(rng)
        numbers.add(number)
        given, family = first(), last()
        local = f"{given}.{family}".lower().replace("'", "").replace(" ", "")
        city = rng.choice(CITIES)
        found.append(
            Person(
                n, number, f"{given} {family}", f"{local}.{n}@{rng.choice(DOMAINS)}",
                guest=rng.random() < GUEST_SHARE, closed=rng.random() < CLOSED_SHARE,
                postcode=f"{city[2]}{rng.randint(0, 99):02d}", city=city,
            )
        )  # fmt: skip
    return found


def customer_row(person: Person, rng: random.Random) -> dict[str, Any]:
    created = NOW - YEAR * 1.5 * rng.random()
    closed = person.closed
    key = email_key(person.email)
    return {
        "id": person.id, "customer_number": person.number,
        "name": "" if closed else person.name,
        "email": f"closed-{person.id}@invalid" if closed else person.email,
        "email_key": None if person.guest or closed else key,
        "guest_key": key if person.guest and not closed else None,
        "phone": "" if closed or rng.random() < 0.5 else f"+1 555 01{rng.randint(0, 99):02d}",
        # An argon2id-shaped string: nobody signs in as a bench customer.
        "password_hash": None if person.guest else "$argon2id$v=19$m=19456,t=2,p=1$bench$bench",
        "email_verified_at": None if person.guest else created + timedelta(minutes=5),
        "failed_sign_ins": 0, "locked_until": None, "password_changed_at": created,
        "created_at": created, "closed_at": NOW - timedelta(days=3) if closed else None,
    }  # fmt: skip


def address_rows(
    person: Person, rng: random.Random, ids: Iterator[int]
) -> Iterator[dict[str, Any]]:
    if person.guest or person.closed:
        return  # a guest's addresses are on their orders only
    for kind in ("shipping", "billing", "shipping")[: rng.randint(1, 3)]:
        city, region, _ = person.city if kind == "billing" else rng.choice(CITIES)
        yield {
            "id": next(ids), "customer_id": person.id, "kind": kind, "name": person.name,
            "line1": f"{rng.randint(1, 999)} {rng.choice(STREETS)}", "line2": "",
            "city": city, "region": region, "postcode": person.postcode, "country": "US",
            "created_at": NOW - YEAR * rng.random(),
        }  # fmt: skip


def status_for(age: timedelta, rng: random.Random) -> str:
    for limit, weights in BY_AGE:
        if age < limit:
            names = [name for name, _ in weights]
            return rng.choices(names, weights=[weight for _, weight in weights])[0]
    return "delivered"


def order_number(rng: random.Random, taken: set[str]) -> str:
    while True:
        body = str(rng.randrange(10**7, 10**8))
        number = f"QS{body}{damm_check_digit(body)}"
        if number not in taken:
            taken.add(number)
            return number


@dataclass
class OrderRows:
    order: dict[str, Any]
    lines: list[dict[str, Any]]
    events: list[dict[str, Any]]
    payment: dict[str, Any]
    card: dict[str, Any]


class OrderMaker:
    """Orders one after another, oldest first, with everything that hangs off them."""

    def __init__(self, rng: random.Random, buyers: list[Person], count: int) -> None:
        self.rng, self.buyers, self.count = rng, buyers, count
        self.taken: set[str] = set()
        self.line_ids, self.event_ids = itertools.count(1), itertools.count(1)

    def buyer(self) -> Person:
        # Skewed: a few customers order often, most once or twice.
        return self.buyers[int(len(self.buyers) * self.rng.random() ** 2)]

    def make(self, n: int) -> OrderRows:
        rng = self.rng
        placed = NOW - YEAR * (1 - n / self.count) - timedelta(seconds=rng.randint(1, 600))
        status = status_for(NOW - placed, rng)
        person = self.buyer()
        lines = self._lines(n, rng)
        subtotal = sum(line["line_total_cents"] for line in lines)
        method, method_name, shipping = rng.choice(SHIPPING)
        total = subtotal + shipping
        order = self._order(n, person, status, placed, subtotal, shipping, total)
        order.update(shipping_method=method, shipping_method_name=method_name)
        return OrderRows(
            order, lines, self._events(n, status, placed),
            self._payment(n, status, total, placed), self._card(n, person, placed),
        )  # fmt: skip

    def _order(
        self, n: int, person: Person, status: str, placed: datetime, subtotal: int,
        shipping: int, total: int,
    ) -> dict[str, Any]:  # fmt: skip
        gone = person.closed  # detached and pseudonymised when the account closed
        city, region, _ = person.city
        refunded = {"refunded": total, "partially_refunded": total // 3}.get(status, 0)
        return {
            "id": n, "order_number": order_number(self.rng, self.taken),
            "customer_id": None if gone else person.id,
            "customer_number": None if gone else person.number,
            "email": "" if gone else person.email, "customer_name": "" if gone else person.name,
            "status": status, "currency": "USD", "subtotal_cents": subtotal,
            "discount_cents": 0, "shipping_cents": shipping, "tax_cents": total * 19 // 119,
            "total_cents": total, "refunded_cents": refunded, "prices_include_tax": True,
            "discount_code": None, "ship_name": "" if gone else person.name,
            "ship_line1": "" if gone else f"{self.rng.randint(1, 999)} {self.rng.choice(STREETS)}",
            "ship_line2": "", "ship_city": "" if gone else city,
            "ship_region": "" if gone else region, "ship_postcode": "" if gone else person.postcode,
            "ship_country": "US", "bill_name": person.name, "bill_line1": "1 Billing Way",
            "bill_line2": "", "bill_city": city, "bill_region": region,
            "bill_postcode": person.postcode, "bill_country": "US",
            "carrier": "UPS" if status in PATHS["shipped"] or "shipped" in PATHS[status] else None,
            "tracking_number": f"1Z{n:016d}" if "shipped" in PATHS[status] else None,
            "placed_at": placed, "updated_at": placed + timedelta(hours=len(PATHS[status])),
            "pseudonymised_at": NOW - timedelta(days=3) if gone else None,
        }  # fmt: skip

    def _lines(self, n: int, rng: random.Random) -> list[dict[str, Any]]:
        lines = []
        for sku, name, price, grams in rng.sample(PRODUCTS, rng.randint(1, 3)):
            quantity = rng.choice((1, 1, 1, 2, 3))
            lines.append({
                "id": next(self.line_ids), "order_id": n, "sku": sku, "product_name": name,
                "label": "", "unit_price_cents": price, "quantity": quantity,
                "line_total_cents": price * quantity, "discount_cents": 0,
                "tax_cents": price * quantity * 19 // 119, "weight_grams": grams,
                "returned_quantity": 0,
            })  # fmt: skip
        return lines

    def _events(self, n: int, status: str, placed: datetime) -> list[dict[str, Any]]:
        path = PATHS[status]
        return [
            {
                "id": next(self.event_ids), "order_id": n,
                "from_status": path[step - 1] if step else None, "to_status": to_status,
                "actor": ACTORS[(n + step) % len(ACTORS)] if step else "customer",
                "note": "", "created_at": placed + timedelta(hours=step),
            }
            for step, to_status in enumerate(path)
        ]  # fmt: skip

    def _payment(self, n: int, status: str, total: int, placed: datetime) -> dict[str, Any]:
        paid = PAYMENT_FOR.get(status, "captured")
        captured = total if paid in ("captured", "refunded", "partially_refunded") else 0
        refunded = {"refunded": total, "partially_refunded": total // 3}.get(paid, 0)
        return {
            "id": n, "order_id": n, "processor": "manual", "status": paid,
            "amount_cents": total, "currency": "USD", "captured_cents": captured,
            "refunded_cents": refunded, "authorization_code": None if paid == "pending_manual"
            else f"A{n:07d}", "decline_reason": "do_not_honor" if paid == "declined" else None,
            "processor_reference": f"bench-{n}", "idempotency_key": f"bench-payment-{n}",
            "created_at": placed, "updated_at": placed + timedelta(hours=1),
        }  # fmt: skip

    def _card(self, n: int, person: Person, placed: datetime) -> dict[str, Any]:
        return {
            "id": n, "order_id": n, "brand": BRANDS[n % len(BRANDS)],
            "last4": f"{n % 10_000:04d}", "exp_month": 1 + n % 12, "exp_year": 2028,
            "name_on_card": person.name, "key_id": None, "ciphertext": None,
            "purged_at": placed + timedelta(hours=2), "created_at": placed,
        }  # fmt: skip


def audit_rows(count: int, customers: int, orders_made: int) -> Iterator[dict[str, Any]]:
    """``count`` entries spread over the year before NOW, as ``audit.append`` stores them:
    staff reads of customers and orders with a few sign-ins between. The sealer chains
    them afterwards, as it chains the shop's own."""
    rng = random.Random(SEED + 1)
    step = YEAR / max(1, count)
    for n in range(1, count + 1):
        customer_id = 1 + int(customers * rng.random() ** 2)
        kind = n % 10
        action, subject = (
            ("sign_in", "") if kind == 0
            else ("read", f"customer:{customer_id}") if kind < 5
            else ("read", f"order:{1 + rng.randrange(orders_made)}")
        )  # fmt: skip
        read = action == "read"
        yield {
            "id": n, "at": NOW - YEAR + step * n - timedelta(hours=2), "action": action,
            "staff_id": 1 + n % 12, "role": "customer_service" if n % 3 else "billing",
            "subject": subject, "customer_id": customer_id if read else None,
            "data_kinds": json_array(("contact",) if read else ()),
            "fields": json_array(("customers.name", "customers.email") if read else ()),
            "reason": "customer service looked up a customer by name" if read else "",
            "origin": f"10.1.{n % 200}.{n % 250}",
        }  # fmt: skip


# ---------------------------------------------------------------- bulk writing


class BulkWriter:
    """Rows straight to the driver in batches: executemany on SQLite (values through the
    column types' own bind processors, so they are stored as SQLAlchemy stores them),
    COPY on PostgreSQL. One transaction for everything."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.raw = engine.raw_connection()
        self.cursor: Any = self.raw.cursor()
        if engine.dialect.name == "sqlite":  # autocommit driver mode (db.py)
            self.cursor.execute("BEGIN")

    def write(self, name: str, rows: Iterable[dict[str, Any]]) -> int:
        table = metadata.tables[name]
        names = [column.name for column in table.columns]
        processors = [self._processor(column) for column in table.columns]
        written, batch = 0, []
        for row in rows:
            batch.append(tuple(p(row[name]) for p, name in zip(processors, names, strict=True)))
            if len(batch) == BATCH:
                written += self._flush(table.name, names, batch)
                batch = []
        return written + (self._flush(table.name, names, batch) if batch else 0)

    def _processor(self, column: Any) -> Callable[[Any], Any]:
        dialect = self.engine.dialect
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        if dialect.name == "postgresql" or processor is None:
            return lambda value: value  # psycopg's COPY adapts Python values itself
        return lambda value: None if value is None else processor(value)

    def _flush(self, name: str, names: list[str], batch: list[tuple[Any, ...]]) -> int:
        columns = ", ".join(names)
        if self.engine.dialect.name == "postgresql":
            with self.cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for values in batch:
                    copy.write_row(values)
        else:
            marks = ", ".join("?" for _ in names)
            self.cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", batch)
        return len(batch)

    def finish(self) -> None:
        self.raw.commit()
        self.raw.close()


def _timed(generated: Generated, part: str, action: Callable[[], int]) -> None:
    began = time.perf_counter()
    generated.rows[part] = action()
    generated.seconds[part] = time.perf_counter() - began
    print(f"  {part}: {generated.rows[part]:,} rows in {generated.seconds[part]:.1f} s", flush=True)


def fill(engine: Engine, sizes: Sizes) -> Generated:
    rng = random.Random(SEED)
    generated = Generated(people=people(rng, sizes.customers))
    writer = BulkWriter(engine)
    address_ids = itertools.count(1)
    _timed(generated, "customers", lambda: writer.write(
        "customers", (customer_row(p, rng) for p in generated.people)))  # fmt: skip
    _timed(generated, "customer_addresses", lambda: writer.write(
        "customer_addresses",
        (row for p in generated.people for row in address_rows(p, rng, address_ids)),
    ))  # fmt: skip
    _timed(generated, "orders and their rows", lambda: _write_orders(writer, rng, sizes, generated))
    _timed(
        generated,
        "audit_entries",
        lambda: writer.write(
            "audit_entries", audit_rows(sizes.audit_entries, sizes.customers, sizes.orders)
        ),
    )
    writer.finish()
    _after_fill(engine)
    sessions = make_session_factory(engine)
    _timed(generated, "audit_seals", lambda: audit.seal(sessions, NOW).sealed)
    return generated


def _write_orders(writer: BulkWriter, rng: random.Random, sizes: Sizes, gen: Generated) -> int:
    maker = OrderMaker(rng, gen.people, sizes.orders)
    written = 0
    for start in range(1, sizes.orders + 1, BATCH):
        made = [maker.make(n) for n in range(start, min(sizes.orders + 1, start + BATCH))]
        gen.order_numbers += [rows.order["order_number"] for rows in made]
        written += writer.write("orders", (rows.order for rows in made))
        written += writer.write("order_lines", (line for r in made for line in r.lines))
        written += writer.write("order_events", (event for r in made for event in r.events))
        written += writer.write("payments", (rows.payment for rows in made))
        written += writer.write("payment_cards", (rows.card for rows in made))
    return written


def _after_fill(engine: Engine) -> None:
    """Sequences past the ids written (PostgreSQL), and fresh planner statistics."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in FILLED_WITH_IDS:
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                ))  # fmt: skip
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))


# ---------------------------------------------------------------- the desk and its routes


@dataclass(frozen=True)
class Route:
    name: str
    targets: list[str]  # cycled through, request after request


@dataclass(frozen=True)
class Timing:
    name: str
    ms: list[float]
    statuses: set[int]
    cpu_ms: float  # this process's CPU time per request, all threads (not the server's)

    def share(self, q: float) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    @property
    def met(self) -> bool:
        return self.share(0.99) < GOAL_P99_MS and self.statuses == {200}


def sign_in_clerk(
    api: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> dict[str, str]:
    """A customer-service member enrolled ten minutes before NOW, policies acknowledged,
    signed in through the API at NOW: the bearer header."""
    enrolled = NOW - timedelta(minutes=10)
    keyring = Keyring.create(settings.keyring_path, enrolled)
    email = "desk.bench@shop.example"
    with transaction(sessions) as session:
        roles = frozenset({Role.CUSTOMER_SERVICE})
        link = service.add_staff(session, settings, "Desk Bench", email, roles, enrolled)
        token = link.url.split("#token=", 1)[1]
        started = service.start_enrolment(session, settings, lambda: keyring, token, enrolled)
        code = code_at(started.secret, enrolled)
        service.finish_enrolment(session, lambda: keyring, token, STAFF_PASSWORD, code, enrolled)
    with transaction(sessions) as session:
        member = session.execute(select(StaffMember.id).where(StaffMember.email == email))
        staff_id = member.scalar_one()
        for policy in policies.current_policies(session):
            policies.acknowledge(session, staff_id, policy.id, enrolled)
    answer = api.post(
        "/api/v1/staff/sign-in",
        json={"email": email, "password": STAFF_PASSWORD, "code": code_at(started.secret, NOW)},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _cursor_at(session: Session, statuses: Sequence[str], depth: int) -> str:
    """The queue's cursor ``depth`` orders into the newest-first range of ``statuses``."""
    placed_at, order_id = session.execute(
        select(Order.placed_at, Order.id)
        .where(Order.status.in_(statuses))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .offset(depth)
        .limit(1)
    ).one()
    return orders.queue_cursor(placed_at, order_id)


def routes(sessions: sessionmaker[Session], generated: Generated, sample: int) -> list[Route]:
    rng = random.Random(SEED + 2)
    q = "/api/v1/staff/orders"
    c = "/api/v1/staff/customers"
    every = list(lifecycle.LABELS)
    with sessions() as session:
        deep_all = _cursor_at(session, every, len(generated.order_numbers) // 2)
        delivered = session.execute(
            select(func.count()).where(Order.status == "delivered")
        ).scalar_one()
        deep_delivered = _cursor_at(session, ["delivered"], delivered // 2)
    open_people = [p for p in generated.people if not p.closed]
    chosen = rng.sample(open_people, min(sample, len(open_people)))
    numbers = [format_customer_number(p.number) for p in chosen]
    picked_orders = rng.sample(generated.order_numbers, min(sample, len(generated.order_numbers)))
    return [
        Route("queue: every status, newest first", [q]),
        Route("queue: every status, oldest first", [f"{q}?sort=placed_at"]),
        Route("queue: placed", [f"{q}?status=placed"]),
        Route("queue: placed, payment_verified, packed", [
            f"{q}?status=placed&status=payment_verified&status=packed"]),
        Route("queue: placed older than 48 h (stuck)", [f"{q}?status=placed&older_than_hours=48"]),
        Route("queue: every status, newer than 24 h", [f"{q}?newer_than_hours=24"]),
        Route("queue: delivered, 100 a page", [f"{q}?status=delivered&limit=100"]),
        Route("queue: delivered, deep cursor", [f"{q}?status=delivered&cursor={deep_delivered}"]),
        Route("queue: every status, deep cursor", [f"{q}?cursor={deep_all}"]),
        Route("queue: returns, oldest first, older than 7 days", [
            f"{q}?status=return_requested,return_received&sort=placed_at&older_than_hours=168"]),
        Route("order detail", [f"{q}/{format_order_number(n)}" for n in picked_orders]),
        Route("lookup: customer number", [f"{c}?q={n}" for n in numbers]),
        Route("lookup: email", [f"{c}?q={p.email.upper()}" for p in chosen]),
        Route(f"lookup: name, common ({COMMON_FRAGMENT!r})", [f"{c}?q={COMMON_FRAGMENT}"]),
        Route(f"lookup: name, rare ({RARE_FRAGMENT!r})", [f"{c}?q={RARE_FRAGMENT}"]),
        Route("lookup: name, full", [f"{c}?q={p.name}" for p in chosen]),
        Route("customer record", [f"{c}/{n}" for n in numbers]),
    ]  # fmt: skip


def time_route(api: TestClient, headers: dict[str, str], route: Route, requests: int) -> Timing:
    targets = itertools.cycle(route.targets)
    for _ in range(max(5, requests // 10)):  # warm-up: caches, plans, pages of the file
        api.get(next(targets), headers=headers)
    ms, statuses = [], set()
    cpu_began = time.process_time()
    for _ in range(requests):
        target = next(targets)
        began = time.perf_counter()
        answer = api.get(target, headers=headers)
        ms.append((time.perf_counter() - began) * 1000)
        statuses.add(answer.status_code)
    return Timing(route.name, ms, statuses, (time.process_time() - cpu_began) * 1000 / requests)


# ---------------------------------------------------------------- one database


@dataclass(frozen=True)
class Measured:
    database: str
    sizes: Sizes
    generated: Generated
    verify_seconds: float
    intact: bool
    timings: list[Timing]
    entries_after: int


def bench_settings(folder: Path) -> Settings:
    return Settings(
        data_dir=folder / "var", strict_privacy_guard=True, catalog_version_check_interval=0,
        shop_name="Quietshop Bench", secret_key=SecretStr("bench-secret-key-0123456789-abcdefgh"),
        public_base_url="https://shop.test",
    )  # fmt: skip


def measure(
    name: str, engine: Engine, folder: Path, sizes: Sizes, requests: int, explain: bool
) -> Measured:
    print(f"{name}: migrating and filling", flush=True)
    upgrade_to_head(engine)
    generated = fill(engine, sizes)
    sessions = make_session_factory(engine)
    with sessions() as session:
        verified = audit.verify(session)
    print(f"  verify: {verified.count:,} entries in {verified.seconds:.1f} s", flush=True)
    if explain:
        print_plans(engine)
    settings = bench_settings(folder)
    app: AssembledApp = build_app(settings, sessions, clock=lambda: NOW)
    timings = []
    with TestClient(app, base_url="https://testserver") as api:
        headers = sign_in_clerk(api, sessions, settings)
        for route in routes(sessions, generated, max(50, requests)):
            timing = time_route(api, headers, route, requests)
            print(f"  {_line(timing)}", flush=True)
            timings.append(timing)
    if app.access_log is not None:
        app.access_log.close()
    with sessions() as session:
        after = audit.entry_count(session)
    intact = verified.intact and verified.count == sizes.audit_entries
    return Measured(name, sizes, generated, verified.seconds, intact, timings, after)


def _line(t: Timing) -> str:
    return (
        f"{t.name}: p50 {statistics.median(t.ms):.1f} ms, p99 {t.share(0.99):.1f} ms, "
        f"max {max(t.ms):.1f} ms, CPU {t.cpu_ms:.1f} ms a request, answers {sorted(t.statuses)}"
    )


# ---------------------------------------------------------------- plans


class Explain(Executable, ClauseElement):
    """``EXPLAIN ...`` of a statement, its parameters bound as usual (SQLAlchemy's recipe)."""

    inherit_cache = False

    def __init__(self, statement: Any, prefix: str) -> None:
        self.statement, self.prefix = statement, prefix


@compiles(Explain)
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return element.prefix + str(compiler.process(element.statement, **kw))


def print_plans(engine: Engine) -> None:
    """The plans of the statements behind the timed routes, as the services build them."""
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    queues = {
        "queue, placed older than 48 h": {"status": ["placed"], "older_than_hours": ["48"]},
        "queue, delivered": {"status": ["delivered"]},
        "queue, every status": {},
        "queue, three statuses, deep cursor": {
            "status": ["placed,payment_verified,packed"],
            "cursor": [orders.queue_cursor(NOW - timedelta(days=1), 2**30)],
        },
    }
    statements: dict[str, tuple[Any, dict[str, Any]]] = {
        what: (orders.queue_statement(query), orders.queue_values(query, NOW))
        for what, query in ((w, orders.queue_query(p)) for w, p in queues.items())
    }
    statements.update({
        "lookup, common name": (staff_desk.lookup_statement(COMMON_FRAGMENT, 21)[1], {}),
        "lookup, rare name": (staff_desk.lookup_statement(RARE_FRAGMENT, 21)[1], {}),
        "lookup, email": (staff_desk.lookup_statement("ann.smith.7@example.org", 21)[1], {}),
        "customer's orders": (select(Order.id).where(Order.customer_id == 1)
                              .order_by(Order.placed_at.desc(), Order.id.desc()).limit(51), {}),
    })  # fmt: skip
    with engine.connect() as connection:
        for what, (statement, values) in statements.items():
            print(f"  plan, {what}:")
            for row in connection.execute(Explain(statement, prefix), values):
                print("    " + " | ".join(str(cell) for cell in row))


# ---------------------------------------------------------------- report


def report(results: list[Measured], quick: bool) -> str:
    sizes = results[0].sizes
    lines = [
        "## Back office at scale: the order queue and the customer lookup",
        "",
        f"Written by `bench/staff_desk.py{' --quick' if quick else ''}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC (Python {platform.python_version()}, "
        f"{platform.machine()}; the real app in-process through Starlette's TestClient, one "
        f"customer-service member). {sizes.orders:,} orders, {sizes.customers:,} customers, "
        f"{sizes.audit_entries:,} audit entries at the start (each read appends more). "
        f"Goal (issue 9): p99 < {GOAL_P99_MS:g} ms.",
        "",
        "| route | "
        + " | ".join(f"{r.database} p50 / p99 / max (CPU)" for r in results)
        + " | goal |",
        "|---|" + "---:|" * len(results) + "---|",
    ]
    for index, timing in enumerate(results[0].timings):
        cells = [_cell(r.timings[index]) for r in results]
        met = all(r.timings[index].met for r in results)
        lines.append(
            f"| {timing.name} | " + " | ".join(cells) + f" | {'met' if met else 'missed'} |"
        )
    parts = list(results[0].generated.seconds)
    lines += [
        "",
        "| database | " + " | ".join(parts) + " | verify | chain | entries after |",
        "|---|" + "---:|" * (len(parts) + 3),
    ]
    for r in results:
        built = [f"{r.generated.rows[p]:,} in {s:.1f} s" for p, s in r.generated.seconds.items()]
        lines.append(
            f"| {r.database} | "
            + " | ".join(built)
            + f" | {r.verify_seconds:.1f} s | {'intact' if r.intact else 'BROKEN'} "
            f"| {r.entries_after:,} |"
        )
    return "\n".join(lines) + "\n"


def _cell(t: Timing) -> str:
    bad = "" if t.statuses == {200} else f" (answers {sorted(t.statuses)})"
    p50, p99 = statistics.median(t.ms), t.share(0.99)
    return f"{p50:.1f} / {p99:.1f} / {max(t.ms):.1f} ms (CPU {t.cpu_ms:.1f}){bad}"


# ---------------------------------------------------------------- main


def _postgres(url: str) -> Engine | None:
    try:
        admin = make_engine(url, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    except Exception:
        print("PostgreSQL not reachable; SQLite only")
        return None
    return admin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, help="orders (100,000)")
    parser.add_argument("--audit-entries", type=int, help="audit entries (1,000,000)")
    parser.add_argument("--requests", type=int, help="timed requests a route (300)")
    parser.add_argument("--quick", action="store_true", help="10,000 orders, 100,000 entries")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the statements' plans")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    sizes = Sizes(
        args.orders or (10_000 if args.quick else 100_000),
        args.audit_entries or (100_000 if args.quick else 1_000_000),
    )
    requests: int = args.requests or (100 if args.quick else 300)
    results: list[Measured] = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(
            f"sqlite:///{Path(folder) / 'desk.db'}", connect_args={"check_same_thread": False}
        )
        results.append(measure("SQLite", engine, Path(folder) / "sqlite", sizes, requests,
                               args.explain))  # fmt: skip
        engine.dispose()
        admin = None if args.sqlite_only else _postgres(args.postgres)
        if admin is not None:
            engine = make_engine(args.postgres, connect_args={"options": f"-csearch_path={SCHEMA}"})
            try:
                results.append(measure("PostgreSQL", engine, Path(folder) / "postgres", sizes,
                                       requests, args.explain))  # fmt: skip
            finally:
                engine.dispose()
                with admin.begin() as connection:
                    connection.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
                admin.dispose()
    print()
    print(report(results, args.quick))


if __name__ == "__main__":
    main()
