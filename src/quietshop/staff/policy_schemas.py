"""Request and response bodies of the staff policy API (staff/policy_api.py).

Strict like the rest of the staff API: unknown fields and wrong JSON types are refused
with a 400 naming the field. The bounds are the service's (privacy.service), so a huge
body is refused before it is looked at; the body limit of /api/v1/staff/policies is
raised for a 100,000-character text (policy_routes.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from quietshop.privacy.service import MAX_POLICY_BODY, MAX_POLICY_TITLE
from quietshop.staff.policies import MAX_SUMMARY
from quietshop.staff.roles import Role


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: str = Field(
        min_length=1, max_length=40, description="privacy, security, or a new kind: a-z 0-9 - _"
    )
    title: str = Field(min_length=1, max_length=MAX_POLICY_TITLE)
    body: str = Field(
        min_length=1,
        max_length=MAX_POLICY_BODY,
        description="The text: paragraphs split by blank lines, headings start with ##",
    )
    summary: str = Field(
        default="",
        max_length=MAX_SUMMARY,
        description="What changed, in a sentence; required for privacy (customers read it)",
    )


class PolicyOut(BaseModel):
    id: int
    kind: str
    version: int
    title: str
    body: str
    published_at: datetime


class PolicyHeaderOut(BaseModel):
    id: int
    kind: str
    version: int
    title: str
    published_at: datetime


class PolicyKindOut(BaseModel):
    kind: str
    current: PolicyOut
    history: list[PolicyHeaderOut] = Field(description="Every version, newest first")


class PoliciesOut(BaseModel):
    policies: list[PolicyKindOut]


class PendingOut(BaseModel):
    pending: list[PolicyOut] = Field(description="What to read and acknowledge, by kind")
    quarter: str
    lapses_at: datetime = Field(description="When this quarter's acknowledgements lapse")


class AcknowledgementOut(BaseModel):
    policy_id: int
    kind: str
    version: int
    acknowledged_at: datetime
    lapses_at: datetime


class PublicationOut(BaseModel):
    policy: PolicyOut
    staff_reminded: int
    customers_to_notify: bool = Field(
        description="A privacy version: every customer's notice is being queued"
    )


class KindStatusOut(BaseModel):
    kind: str
    current_version: int
    acknowledged_version: int | None
    acknowledged_at: datetime | None
    valid: bool = Field(description="The current version, acknowledged this quarter")


class StaffComplianceOut(BaseModel):
    staff_id: int
    name: str
    roles: list[Role]
    compliant: bool
    policies: list[KindStatusOut]


class ComplianceOut(BaseModel):
    quarter: str
    quarter_started_at: datetime
    staff: list[StaffComplianceOut]
