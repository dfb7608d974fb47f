"""The accounts domain's share of a customer's data, for export and erasure (privacy/).

The customer row stays (its number is permanent; orders refer to it) with every personal
column scrubbed; addresses, sign-ins and mailed links are deleted.
"""

from __future__ import annotations

from quietshop.accounts.models import Address, Customer, CustomerToken, OneTimeLink
from quietshop.privacy.personal_data import SubjectRows

ROWS = (
    SubjectRows(
        table=Customer.__table__,  # type: ignore[arg-type]
        where=lambda subject: Customer.id == subject.customer_id,
        on_erase="scrub",
        export_as="account",
    ),
    SubjectRows(
        table=Address.__table__,  # type: ignore[arg-type]
        where=lambda subject: Address.customer_id == subject.customer_id,
        on_erase="delete",
        export_as="addresses",
    ),
    SubjectRows(
        table=CustomerToken.__table__,  # type: ignore[arg-type]
        where=lambda subject: CustomerToken.customer_id == subject.customer_id,
        on_erase="delete",
        export_as="sign_ins",
    ),
    SubjectRows(
        table=OneTimeLink.__table__,  # type: ignore[arg-type]
        where=lambda subject: OneTimeLink.customer_id == subject.customer_id,
        on_erase="delete",
        export_as="mailed_links",
    ),
)
