"""Versioned policy texts. A new version is a new row; old versions are kept for the record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quietshop.db import Base, UTCDateTime


class Policy(Base):
    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_policies_kind_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
