"""The analytics tables."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, LargeBinary, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from quietshop.db import Base, UTCDateTime


class DailySalt(Base):
    """The key of one UTC day's visitor hashes. It exists only while its day is open:
    ``visitors.destroy_closed_salts`` deletes it after, and then no hash of that day can
    be recomputed from an address and a browser (SQLite overwrites the deleted cell,
    ``PRAGMA secure_delete``)."""

    __tablename__ = "analytics_salts"

    day: Mapped[date] = mapped_column(Date, primary_key=True, autoincrement=False)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The aggregates (issue 10): counts only, one row per node and day (or hour, or breakdown
# cell). No column can hold an address, a visitor hash, a customer, an order or a token:
# a page is a logged path (private routes by their template), a referrer a domain, and
# the rest are names of browsers, systems, countries and status codes.
# ``node`` is the machine whose log the row counts: each node replaces only its own rows.
NODE_CHARS = 64
VALUE_CHARS = 600


class TrafficDay(Base):
    """One day's totals. ``visitors``: distinct visitors with a pageview that day;
    ``request_visitors``: distinct (address, User-Agent) over every counted request, as
    GoAccess counts unique visitors; ``visit_seconds`` sums the visits' durations."""

    __tablename__ = "analytics_days"

    node: Mapped[str] = mapped_column(String(NODE_CHARS), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    pageviews: Mapped[int] = mapped_column(BigInteger)
    visitors: Mapped[int] = mapped_column(BigInteger)
    visits: Mapped[int] = mapped_column(BigInteger)
    bounces: Mapped[int] = mapped_column(BigInteger)
    visit_seconds: Mapped[int] = mapped_column(BigInteger)
    requests: Mapped[int] = mapped_column(BigInteger)
    request_visitors: Mapped[int] = mapped_column(BigInteger)


class TrafficHour(Base):
    """One UTC hour's totals; a visit counts in the hour it started."""

    __tablename__ = "analytics_hours"

    node: Mapped[str] = mapped_column(String(NODE_CHARS), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    pageviews: Mapped[int] = mapped_column(BigInteger)
    visitors: Mapped[int] = mapped_column(BigInteger)
    visits: Mapped[int] = mapped_column(BigInteger)
    bounces: Mapped[int] = mapped_column(BigInteger)
    visit_seconds: Mapped[int] = mapped_column(BigInteger)


class TrafficCell(Base):
    """One value of one breakdown on one day: visitors (distinct that day), hits
    (pageviews or requests, by dimension), visits, and ``total`` (milliseconds for the
    routes' durations; 0 elsewhere). The values past a dimension's cap of the day are one
    row whose value is ``OTHER`` (aggregates.py)."""

    __tablename__ = "analytics_cells"
    # Reports read one dimension over a range of days, of every node: the key leads with
    # them, and on SQLite the table is its key's b-tree (WITHOUT ROWID), so a breakdown
    # reads one range of it and an ingestion writes one b-tree, not three (migration 0017).
    __table_args__ = (
        PrimaryKeyConstraint("dimension", "day", "node", "value"),
        {"sqlite_with_rowid": False},
    )

    node: Mapped[str] = mapped_column(String(NODE_CHARS), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(VALUE_CHARS), primary_key=True)
    visitors: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(BigInteger)
    visits: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
