"""The demo shop's rate tables: where it ships and for how much, the tax it charges, and
a few discount codes to try. A real shop's owner fills these tables (the back office will
edit them); until then checkout offers no country at all."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.orders.models import DiscountCode, ShippingRate, ShippingRegion, TaxRate

REGIONS = {
    "domestic": ("US",),
    "canada": ("CA",),
    "europe": ("AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PT", "SE"),
    "uk": ("GB",),
    "far": ("AU", "NZ"),
    "europe-other": ("CH", "NO"),
}
# region: (method, name, kind, base, per kg, free over, days min, days max)
RATES = [
    ("domestic", "standard", "Standard (USPS)", "weight", 495, 100, 7500, 3, 5),
    ("domestic", "express", "Express (2 days)", "flat", 1490, 0, None, 1, 2),
    ("canada", "standard", "Standard", "weight", 1290, 250, None, 5, 9),
    ("europe", "standard", "International standard", "weight", 1490, 300, None, 6, 12),
    ("europe", "express", "International express", "flat", 3990, 0, None, 3, 5),
    ("uk", "standard", "International standard", "weight", 1490, 300, None, 6, 12),
    ("far", "standard", "International standard", "weight", 1990, 500, None, 8, 16),
    ("europe-other", "standard", "International standard", "weight", 1690, 350, None, 6, 12),
]
# Sales tax and VAT, simplified to one standard rate per country for the demo.
TAX = {"US": 0, "CA": 500, "GB": 2000, "DE": 1900, "FR": 2000, "NL": 2100, "BE": 2100,
       "AT": 2000, "IE": 2300, "IT": 2200, "ES": 2100, "PT": 2300, "DK": 2500, "SE": 2500,
       "FI": 2550, "AU": 1000, "NZ": 1500, "CH": 810, "NO": 2500}  # fmt: skip


def seed_demo_rates(session: Session, currency: str, now: datetime) -> bool:
    """Fill empty rate tables (False, and nothing changed, when they hold anything)."""
    if session.execute(select(ShippingRate.id).limit(1)).first() is not None:
        return False
    for region, countries in REGIONS.items():
        session.add_all(ShippingRegion(country=c, region=region) for c in countries)
    for region, code, name, kind, base, per_kg, free_over, low, high in RATES:
        session.add(
            ShippingRate(
                region=region, method_code=code, name=name, kind=kind, base_cents=base,
                per_kg_cents=per_kg, free_over_cents=free_over, currency=currency,
                delivery_days_min=low, delivery_days_max=high, active=True,
            )
        )  # fmt: skip
    session.add_all(
        TaxRate(country=c, tax_class="standard", rate_basis_points=r, name="Tax")
        for c, r in TAX.items()
    )
    year = timedelta(days=365)
    session.add_all(
        [
            DiscountCode(code="WELCOME10", kind="percent", percent_basis_points=1000,
                         currency=currency, valid_from=now - timedelta(days=1),
                         valid_until=now + year, minimum_order_cents=2000,
                         max_uses_per_customer=1),
            DiscountCode(code="SAVE5", kind="amount", amount_cents=500, currency=currency,
                         valid_until=now + year, minimum_order_cents=1500, max_uses=100),
            DiscountCode(code="EXPIRED", kind="percent", percent_basis_points=5000,
                         currency=currency, valid_until=now - timedelta(days=1)),
        ]
    )  # fmt: skip
    session.flush()
    return True
