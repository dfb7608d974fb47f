"""The accounts domain's share of a customer's data, for export and erasure (privacy/).

The customer row stays (its number is permanent; orders refer to it) with every personal
column scrubbed; addresses, sign-ins and mailed links are deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement

from quietshop.accounts.models import Address, Customer, CustomerToken, OneTimeLink
from quietshop.privacy.personal_data import DataSubject, SubjectRows


def _of_customer(column: Any) -> Callable[[DataSubject], ColumnElement[bool]]:
    return lambda subject: column == subject.customer_id


ROWS = (
    SubjectRows(Customer.__table__, _of_customer(Customer.id), "scrub", "account"),  # type: ignore[arg-type]
    SubjectRows(Address.__table__, _of_customer(Address.customer_id), "delete", "addresses"),  # type: ignore[arg-type]
    SubjectRows(
        CustomerToken.__table__,  # type: ignore[arg-type]
        _of_customer(CustomerToken.customer_id),
        "delete",
        "sign_ins",
    ),
    SubjectRows(
        OneTimeLink.__table__,  # type: ignore[arg-type]
        _of_customer(OneTimeLink.customer_id),
        "delete",
        "mailed_links",
    ),
)
