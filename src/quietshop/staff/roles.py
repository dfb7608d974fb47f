"""The staff roles (design.md P6, issue 9). A person may hold several; each request acts in
the union of what their roles grant, and the audit chain records which role a read used.

The closed set lives here, apart from the need-to-know table (``need_to_know.py``) and the
staff accounts (``models.py``), so both name the same roles and neither imports the other.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"  # staff, roles, policies, settings
    BILLING = "billing"  # billing name and address, masked card; reveals a card awaiting payment
    CUSTOMER_SERVICE = "customer_service"  # contact data, addresses, orders; no payment data
    FULFILMENT = "fulfilment"  # shipping name and address, items; no email, phone or payment
    CATALOG = "catalog"  # products, prices, stock, images; no personal data
    MARKETING = "marketing"  # mailings; no addresses, no personal data
    ANALYST = "analyst"  # aggregates only
    PRIVACY_OFFICER = "privacy_officer"  # legal disclosures, reading the audit chain


ROLES: frozenset[Role] = frozenset(Role)

# How a role is named to a customer who looks at who read their data (never a person).
ROLE_LABELS: dict[Role, str] = {
    Role.OWNER: "The shop's owner",
    Role.BILLING: "Billing",
    Role.CUSTOMER_SERVICE: "Customer service",
    Role.FULFILMENT: "Packing and shipping",
    Role.CATALOG: "Catalog",
    Role.MARKETING: "Marketing",
    Role.ANALYST: "Analysis",
    Role.PRIVACY_OFFICER: "The privacy officer",
}


def parse_roles(names: list[str] | tuple[str, ...]) -> frozenset[Role]:
    """Role names as typed (``--role billing``); unknown names raise ValueError naming them."""
    unknown = sorted(set(names) - {role.value for role in Role})
    if unknown:
        known = ", ".join(role.value for role in Role)
        raise ValueError(f"unknown role {', '.join(unknown)} (roles: {known})")
    return frozenset(Role(name) for name in names)
