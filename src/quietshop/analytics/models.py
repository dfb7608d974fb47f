"""The analytics tables."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, LargeBinary
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
