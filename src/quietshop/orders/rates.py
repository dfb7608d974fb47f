"""The owner's rate tables (issue 8 item 3, issue 9 item 7): where the shop ships and for
how much, the tax it charges, and its discount codes, as the back office edits them.

A row is stored only if the rules ``pricing.py`` applies when a quote reads it would take
it (its dataclasses are built from the input, so a negative price, a percentage above
100 % or a code that ends before it starts is refused here with the same message), and
only if it fits what the tables know together: a region's countries are ones the address
book can check (``accounts.shipping_countries``) and lie in no other region; a region
lists each method once, a country each tax class once, and a code exists once. Any
refusal is an ``InvalidInput`` naming the field, or a ``Conflict``, and changes nothing.

Each change is one ``change`` entry in the audit chain, in the edit's transaction, naming
the staff member and role (``RateEditor``), the row, and what changed; no customer is
touched. Quotes read these tables afresh (``checkout.shipping_rates``, ``tax_rates``), so
the next quote after an edit prices with it. Rates and codes are made in the shop's
currency; an edit keeps a row's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quietshop.accounts import service as accounts
from quietshop.audit import service as audit
from quietshop.catalog import service as catalog
from quietshop.db import MAX_ROW_ID
from quietshop.errors import Conflict, InvalidInput, NotFound
from quietshop.orders import pricing
from quietshop.orders.models import (
    DiscountCode,
    DiscountRedemption,
    ShippingRate,
    ShippingRegion,
    TaxRate,
)

# pricing's rule for method and region codes, and the columns' own lengths.
_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")
MAX_RATE_NAME = 120  # shipping_rates.name
MAX_TAX_NAME = 60  # tax_rates.name

Editable = TypeVar("Editable", ShippingRate, TaxRate, DiscountCode)


@dataclass(frozen=True)
class RateEditor:
    """Who makes a change, as the audit chain records them (the back office says)."""

    staff_id: int
    role: str
    origin: str


def _record(session: Session, editor: RateEditor, subject: str, what: str, now: datetime) -> None:
    event = audit.AuditEvent(
        action="change",
        staff_id=editor.staff_id,
        role=editor.role,
        subject=subject,
        customer_id=None,
        reason=what[: audit.MAX_REASON],
        origin=editor.origin[: audit.MAX_ORIGIN],
    )
    audit.append(session, event, now)


def _shipping_changed(session: Session) -> None:
    """Product pages quote shipping for the country a shopper picks (and the /shipping
    page may too): a region or shipping rate edit must drop those cached pages on every
    process. Whole-site, like a new policy: rates change a few times a year, and the
    change log has no tag for "pages that quote shipping"."""
    catalog.record_site_wide_change(session)


def _shown(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list | frozenset):
        return " ".join(str(item) for item in value) or "none"
    return "none" if value is None else str(value)


def _described(values: Mapping[str, Any]) -> str:
    """``region europe, base_cents 1490, ...``: a new row, for the audit entry."""
    return ", ".join(f"{name} {_shown(value)}" for name, value in values.items())


def _differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """``base_cents 495 -> 595, active True -> False``; "nothing" when nothing differs."""
    changed = [
        f"{name} {_shown(before[name])} -> {_shown(value)}"
        for name, value in after.items()
        if before.get(name) != value
    ]
    return ", ".join(changed) or "nothing"


def _printable(value: object, field: str, limit: int) -> str:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not text or len(text) > limit or not text.isprintable():
        raise InvalidInput(field, f"{field} must be 1 to {limit} printable characters")
    return text


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(field, f"{field} must be true or false")
    return value


def _flush_unique(session: Session, message: str) -> None:
    """Flush; a unique constraint another writer won meanwhile is the same Conflict the
    checks before it give (the transaction is rolled back by the caller's context)."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(message) from None


def _country(value: object, field: str = "country") -> str:
    try:
        code = pricing.normalize_country(value)
    except InvalidInput:
        raise InvalidInput(field, "give two-letter ISO 3166 country codes, such as DE") from None
    known = accounts.shipping_countries()
    if code not in known:
        raise InvalidInput(
            field,
            f"{code}: the address book has no rules for this country (it knows "
            f"{', '.join(sorted(known))})",
        )
    return code


# ---------------------------------------------------------------- shipping regions


@dataclass(frozen=True)
class Region:
    code: str
    countries: tuple[str, ...]
    rate_count: int  # shipping rates priced for it


def _region_code(value: object) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise InvalidInput("region", "a region code is 1 to 40 letters, digits, - or _")
    return value


def _countries_of(session: Session, code: str) -> set[str]:
    rows = session.execute(select(ShippingRegion.country).where(ShippingRegion.region == code))
    return set(rows.scalars())


def _rate_count(session: Session, code: str) -> int:
    statement = select(func.count()).select_from(ShippingRate).where(ShippingRate.region == code)
    return int(session.execute(statement).scalar_one())


def list_regions(session: Session) -> list[Region]:
    """Every region, by code: those that only a rate names too (with no country, so that
    rate is offered nowhere until the region gets one)."""
    countries: dict[str, list[str]] = {}
    for region, country in session.execute(select(ShippingRegion.region, ShippingRegion.country)):
        countries.setdefault(region, []).append(country)
    counted = select(ShippingRate.region, func.count()).group_by(ShippingRate.region)
    counts = {region: int(count) for region, count in session.execute(counted)}
    return [
        Region(code, tuple(sorted(countries.get(code, ()))), counts.get(code, 0))
        for code in sorted(set(countries) | set(counts))
    ]


def _wanted_countries(values: Iterable[object]) -> set[str]:
    if isinstance(values, str) or not isinstance(values, list | tuple | set | frozenset):
        raise InvalidInput("countries", "countries must be a list of two-letter codes")
    wanted = {_country(value, "countries") for value in values}
    if not wanted:
        raise InvalidInput(
            "countries", "a region needs at least one country: delete the region instead"
        )
    return wanted


def save_region(
    session: Session,
    code: str,
    countries: Iterable[str],
    editor: RateEditor,
    now: datetime,
) -> Region:
    """Make region ``code`` ship to exactly ``countries`` (creating it if new). A country
    in another region is refused (Conflict): checkout would not know which rates apply."""
    code, wanted = _region_code(code), _wanted_countries(countries)
    elsewhere = session.execute(
        select(ShippingRegion.country, ShippingRegion.region)
        .where(ShippingRegion.country.in_(sorted(wanted)), ShippingRegion.region != code)
        .order_by(ShippingRegion.country)
    ).first()
    if elsewhere is not None:
        raise Conflict(
            f"{elsewhere.country} is in the region {elsewhere.region} already: take it out "
            "there first"
        )
    before = _countries_of(session, code)
    if wanted != before:
        gone, added = sorted(before - wanted), sorted(wanted - before)
        if gone:
            session.execute(
                delete(ShippingRegion).where(
                    ShippingRegion.region == code, ShippingRegion.country.in_(gone)
                )
            )
        session.add_all(ShippingRegion(country=country, region=code) for country in added)
        _flush_unique(session, "one of these countries was just put in another region")
        what = (
            f"countries {_shown(tuple(added))}"
            if not before
            else f"countries added {_shown(tuple(added))}; removed {_shown(tuple(gone))}"
        )
        _record(session, editor, f"shipping_region:{code}", f"saved: {what}", now)
        _shipping_changed(session)
    return Region(code, tuple(sorted(wanted)), _rate_count(session, code))


def delete_region(session: Session, code: str, editor: RateEditor, now: datetime) -> None:
    """Remove a region; refused while a shipping rate is priced for it."""
    code = _region_code(code)
    used = _rate_count(session, code)
    if used:
        raise Conflict(f"{used} shipping rate(s) use the region {code}: delete them first")
    before = sorted(_countries_of(session, code))
    if not before:
        raise NotFound("shipping region")
    session.execute(delete(ShippingRegion).where(ShippingRegion.region == code))
    what = f"deleted (countries {_shown(tuple(before))})"
    _record(session, editor, f"shipping_region:{code}", what, now)
    _shipping_changed(session)


# ---------------------------------------------------------------- shipping rates


@dataclass(frozen=True)
class ShippingRateInput:
    region: str
    method_code: str
    name: str
    kind: str  # "flat" or "weight"
    base_cents: int
    per_kg_cents: int = 0
    free_over_cents: int | None = None
    delivery_days_min: int = 1
    delivery_days_max: int = 5
    active: bool = True


@dataclass(frozen=True)
class ShippingRateRow:
    id: int
    currency: str
    rate: ShippingRateInput


def _shipping_input(row: ShippingRate) -> ShippingRateInput:
    return ShippingRateInput(
        region=row.region, method_code=row.method_code, name=row.name, kind=row.kind,
        base_cents=row.base_cents, per_kg_cents=row.per_kg_cents,
        free_over_cents=row.free_over_cents, delivery_days_min=row.delivery_days_min,
        delivery_days_max=row.delivery_days_max, active=row.active,
    )  # fmt: skip


def list_shipping_rates(session: Session) -> list[ShippingRateRow]:
    rows = session.execute(
        select(ShippingRate).order_by(ShippingRate.region, ShippingRate.method_code)
    ).scalars()
    return [ShippingRateRow(row.id, row.currency, _shipping_input(row)) for row in rows]


def _checked_shipping(
    session: Session, data: ShippingRateInput, currency: str
) -> ShippingRateInput:
    """``data`` cleaned, if a quote would take it (pricing.ShippingRate's rules)."""
    region = _region_code(data.region)
    countries = _countries_of(session, region)
    if not countries:
        raise InvalidInput("region", f"there is no region {region}: add it with its countries")
    if data.kind not in ("flat", "weight"):
        raise InvalidInput("kind", "kind must be 'flat' or 'weight'")
    kind: Literal["flat", "weight"] = "weight" if data.kind == "weight" else "flat"
    name = _printable(data.name, "name", MAX_RATE_NAME)
    pricing.ShippingRate(
        method_code=data.method_code, name=name, region_code=region,
        countries=frozenset(countries), currency=currency, kind=kind,
        base_cents=data.base_cents, per_kg_cents=data.per_kg_cents,
        free_over_cents=data.free_over_cents, delivery_days_min=data.delivery_days_min,
        delivery_days_max=data.delivery_days_max,
    )  # fmt: skip
    active = _flag(data.active, "active")
    return ShippingRateInput(**{**asdict(data), "region": region, "name": name, "active": active})


def _method_taken(session: Session, data: ShippingRateInput, rate_id: int | None) -> None:
    taken = session.execute(
        select(ShippingRate.id).where(
            ShippingRate.region == data.region,
            ShippingRate.method_code == data.method_code,
            ShippingRate.id != (rate_id or 0),
        )
    ).first()
    if taken is not None:
        raise Conflict(f"the region {data.region} has a {data.method_code} rate already")


def save_shipping_rate(
    session: Session,
    currency: str,
    rate_id: int | None,
    data: ShippingRateInput,
    editor: RateEditor,
    now: datetime,
) -> ShippingRateRow:
    """Add a rate (``rate_id`` None, in ``currency``) or replace rate ``rate_id``'s fields."""
    row = _row(session, ShippingRate, rate_id, "shipping rate")
    checked = _checked_shipping(session, data, row.currency if row else currency)
    _method_taken(session, checked, rate_id)
    before = asdict(_shipping_input(row)) if row else None
    if row is None:
        row = ShippingRate(currency=currency, **asdict(checked))
        session.add(row)
    else:
        for name, value in asdict(checked).items():
            setattr(row, name, value)
    _flush_unique(session, f"the region {checked.region} has a {checked.method_code} rate already")
    _saved(session, editor, f"shipping_rate:{row.id}", before, asdict(checked), now)
    if before != asdict(checked):
        _shipping_changed(session)
    return ShippingRateRow(row.id, row.currency, checked)


def _saved(
    session: Session,
    editor: RateEditor,
    subject: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    now: datetime,
) -> None:
    """The audit entry of a save: the whole new row, or what changed (nothing: no entry)."""
    if before is None:
        _record(session, editor, subject, f"created: {_described(after)}", now)
    elif before != dict(after):
        _record(session, editor, subject, f"changed: {_differences(before, after)}", now)


def _row(session: Session, model: type[Editable], row_id: int | None, what: str) -> Editable | None:
    """The row to replace (None when adding); NotFound for an id that is not there."""
    if row_id is None:
        return None
    row = session.get(model, row_id) if 0 < row_id <= MAX_ROW_ID else None
    if row is None:
        raise NotFound(what)
    return row


def delete_shipping_rate(session: Session, rate_id: int, editor: RateEditor, now: datetime) -> None:
    """Remove a rate. Orders placed with it keep their method's name and price."""
    row = _row(session, ShippingRate, rate_id, "shipping rate")
    assert row is not None
    what = f"deleted: {_described(asdict(_shipping_input(row)))}"
    session.delete(row)
    _record(session, editor, f"shipping_rate:{rate_id}", what, now)
    _shipping_changed(session)


# ---------------------------------------------------------------- tax rates


@dataclass(frozen=True)
class TaxRateInput:
    country: str
    tax_class: str
    rate_basis_points: int  # 1900 = 19 %
    name: str = "VAT"


@dataclass(frozen=True)
class TaxRateRow:
    id: int
    rate: TaxRateInput


def _tax_input(row: TaxRate) -> TaxRateInput:
    return TaxRateInput(row.country, row.tax_class, row.rate_basis_points, row.name)


def list_tax_rates(session: Session) -> list[TaxRateRow]:
    rows = session.execute(select(TaxRate).order_by(TaxRate.country, TaxRate.tax_class))
    return [TaxRateRow(row.id, _tax_input(row)) for row in rows.scalars()]


def _checked_tax(data: TaxRateInput) -> TaxRateInput:
    country = _country(data.country)
    pricing.TaxRate(
        country=country, tax_class=data.tax_class, rate_basis_points=data.rate_basis_points
    )
    name = _printable(data.name, "name", MAX_TAX_NAME)
    return TaxRateInput(country, data.tax_class, data.rate_basis_points, name)


def save_tax_rate(
    session: Session, rate_id: int | None, data: TaxRateInput, editor: RateEditor, now: datetime
) -> TaxRateRow:
    """Add a tax rate (``rate_id`` None) or replace one; one per country and tax class."""
    row = _row(session, TaxRate, rate_id, "tax rate")
    checked = _checked_tax(data)
    taken = session.execute(
        select(TaxRate.id).where(
            TaxRate.country == checked.country,
            TaxRate.tax_class == checked.tax_class,
            TaxRate.id != (rate_id or 0),
        )
    ).first()
    clash = f"{checked.country} has a {checked.tax_class} tax rate already"
    if taken is not None:
        raise Conflict(clash)
    before = asdict(_tax_input(row)) if row else None
    if row is None:
        row = TaxRate(**asdict(checked))
        session.add(row)
    else:
        for name, value in asdict(checked).items():
            setattr(row, name, value)
    _flush_unique(session, clash)
    _saved(session, editor, f"tax_rate:{row.id}", before, asdict(checked), now)
    return TaxRateRow(row.id, checked)


def delete_tax_rate(session: Session, rate_id: int, editor: RateEditor, now: datetime) -> None:
    """Remove a tax rate: that country and class are then taxed at 0 % (pricing.py)."""
    row = _row(session, TaxRate, rate_id, "tax rate")
    assert row is not None
    what = f"deleted: {_described(asdict(_tax_input(row)))}"
    session.delete(row)
    _record(session, editor, f"tax_rate:{rate_id}", what, now)


# ---------------------------------------------------------------- discount codes


@dataclass(frozen=True)
class DiscountCodeInput:
    code: str
    kind: str  # "percent" or "amount"
    percent_basis_points: int | None = None  # 1000 = 10 %
    amount_cents: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None  # exclusive
    minimum_order_cents: int = 0
    max_uses: int | None = None
    max_uses_per_customer: int | None = None
    active: bool = True


@dataclass(frozen=True)
class DiscountCodeRow:
    id: int
    currency: str
    uses: int
    code: DiscountCodeInput


def _discount_input(row: DiscountCode) -> DiscountCodeInput:
    percent = row.kind == "percent"
    return DiscountCodeInput(
        code=row.code, kind=row.kind,
        percent_basis_points=row.percent_basis_points if percent else None,
        amount_cents=None if percent else row.amount_cents, valid_from=row.valid_from,
        valid_until=row.valid_until, minimum_order_cents=row.minimum_order_cents,
        max_uses=row.max_uses, max_uses_per_customer=row.max_uses_per_customer,
        active=row.active,
    )  # fmt: skip


def list_discount_codes(session: Session) -> list[DiscountCodeRow]:
    rows = session.execute(select(DiscountCode).order_by(DiscountCode.code)).scalars()
    return [DiscountCodeRow(row.id, row.currency, row.uses, _discount_input(row)) for row in rows]


def _checked_discount(data: DiscountCodeInput, currency: str) -> DiscountCodeInput:
    """``data`` with its code in the stored form, if checkout would take it."""
    try:
        code = pricing.normalize_discount_code(data.code)
    except InvalidInput as error:
        raise InvalidInput("code", error.message) from None
    if data.kind not in ("percent", "amount"):
        raise InvalidInput("kind", "kind must be 'percent' or 'amount'")
    kind: Literal["percent", "amount"] = "percent" if data.kind == "percent" else "amount"
    checked = DiscountCodeInput(**{**asdict(data), "code": code})
    fields = {name: value for name, value in asdict(checked).items() if name != "kind"}
    pricing.DiscountCode(kind=kind, currency=currency, **fields)
    return checked


def _used(session: Session, row: DiscountCode) -> int:
    """Uses counted on the code, or recorded on orders (a released one included)."""
    recorded = session.execute(
        select(func.count())
        .select_from(DiscountRedemption)
        .where(DiscountRedemption.discount_code_id == row.id)
    ).scalar_one()
    return max(row.uses, int(recorded))


def save_discount_code(
    session: Session,
    currency: str,
    code_id: int | None,
    data: DiscountCodeInput,
    editor: RateEditor,
    now: datetime,
) -> DiscountCodeRow:
    """Add a code (``code_id`` None, in ``currency``) or replace one's terms. A code already
    used keeps its letters (orders name it): make a new code instead."""
    row = _row(session, DiscountCode, code_id, "discount code")
    checked = _checked_discount(data, row.currency if row else currency)
    clash = f"the code {checked.code} exists already"
    taken = session.execute(
        select(DiscountCode.id).where(
            DiscountCode.code == checked.code, DiscountCode.id != (code_id or 0)
        )
    ).first()
    if taken is not None:
        raise Conflict(clash)
    if row is not None and row.code != checked.code and _used(session, row):
        raise Conflict(f"{row.code} has been used: it keeps its code (add a new code instead)")
    before = asdict(_discount_input(row)) if row else None
    stored = {
        **asdict(checked),
        "percent_basis_points": checked.percent_basis_points or 0,
        "amount_cents": checked.amount_cents or 0,
    }
    if row is None:
        row = DiscountCode(currency=currency, uses=0, **stored)
        session.add(row)
    else:
        for name, value in stored.items():
            setattr(row, name, value)
    _flush_unique(session, clash)
    _saved(session, editor, f"discount_code:{row.id}", before, asdict(checked), now)
    return DiscountCodeRow(row.id, row.currency, row.uses, checked)


def delete_discount_code(session: Session, code_id: int, editor: RateEditor, now: datetime) -> None:
    """Remove a code never used; a used one is refused (its uses belong to orders, and
    the per-customer limit counts them): set it inactive instead."""
    row = _row(session, DiscountCode, code_id, "discount code")
    assert row is not None
    if _used(session, row):
        raise Conflict(f"{row.code} has been used: set it inactive instead of deleting it")
    what = f"deleted: {_described(asdict(_discount_input(row)))}"
    session.delete(row)
    _record(session, editor, f"discount_code:{code_id}", what, now)
