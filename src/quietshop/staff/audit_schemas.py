"""Request and response bodies of the audit log and legal-disclosure APIs
(staff/audit_api.py, staff/disclosure_api.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from quietshop.staff import disclosures


class Part(BaseModel):
    """A row as the role may see it: a field not granted is absent, never null."""

    model_config = ConfigDict(extra="forbid")


class AuditEntryOut(Part):
    id: int | None = None
    at: datetime | None = None
    action: str | None = None
    staff_id: int | None = None
    staff_name: str | None = Field(default=None, description="Who the staff id is")
    role: str | None = None
    subject: str | None = Field(default=None, description="customer:12, order:34, staff:5")
    customer_id: int | None = None
    data_kinds: list[str] | None = None
    fields: list[str] | None = Field(default=None, description='"orders.ship_name" style')
    reason: str | None = None
    origin: str | None = Field(default=None, description="The staff session's address")
    prev_hash: str | None = Field(default=None, description='The seal\'s; "" until sealed')
    hash: str | None = Field(default=None, description='The seal\'s; "" until sealed')
    seq: int | None = Field(default=None, description="Its place in the chain; null until sealed")


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as ?before= for the next page; null: last")


class ChainHeadOut(BaseModel):
    entries: int = Field(description="Entries in the log, this read's own included")
    head_id: int | None = Field(description="The last seal's place (seq); null: none yet")
    head_hash: str | None
    head_at: datetime | None


class VerifyOut(BaseModel):
    intact: bool = Field(description="The sealed chain is unbroken")
    passed: bool = Field(description="Intact, and no entry waited too long for its seal")
    entries_checked: int = Field(description="Intact seals walked (all when intact)")
    first_broken_id: int | None = Field(description="The entry where it breaks; null: intact")
    problem: str = Field(description="Why that entry is broken; empty when intact")
    head_id: int | None = Field(description="The last intact seal's place (seq)")
    head_hash: str | None
    unsealed: int = Field(description="Committed entries the sealer has not chained yet")
    seconds: float


class LegalBasisIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    authority: str = Field(
        min_length=1,
        max_length=disclosures.MAX_AUTHORITY,
        description='Who requires it by law, e.g. "District Court of Springfield"',
    )
    reference: str = Field(
        min_length=1,
        max_length=disclosures.MAX_REFERENCE,
        description='Their reference, e.g. "Court order 2026/123"; never the customer\'s name',
    )


class DisclosureOut(Part):
    id: int | None = None
    disclosed_at: datetime | None = None
    staff_id: int | None = None
    staff_name: str | None = None
    customer_id: int | None = Field(default=None, description="null once the account closed")
    customer_number: str | None = Field(default=None, description="blank once it closed")
    authority: str | None = None
    reference: str | None = None
    kinds: list[str] | None = Field(default=None, description="Kinds of data handed over")


class DisclosedOut(BaseModel):
    disclosure: DisclosureOut
    data: dict[str, Any] = Field(
        description="What is handed over: the customer's own data export, exactly as their "
        '"download my data" builds it'
    )


class DisclosuresOut(BaseModel):
    disclosures: list[DisclosureOut] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as ?before= for the next page; null: last")
