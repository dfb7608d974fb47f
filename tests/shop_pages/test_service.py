"""The owner's pages, without HTTP (issue 11 item 5): the default texts made from the
settings, saving, the checks a save must pass (empty, too long, control characters, an
unknown page), the stale-save refusal, the audit entry, and the body rendered escaped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.catalog import discovery
from quietshop.catalog import service as catalog
from quietshop.errors import InvalidInput, NotFound
from quietshop.settings import Settings
from quietshop.shop_pages import service
from quietshop.shop_pages.models import ShopPage
from tests.clock import T0
from tests.staff.factories import audit_entries

EDITOR = service.PageEditor(staff_id=7, role="owner", origin="203.0.113.5")


def save(
    db: Session, settings: Settings, slug: str = "returns", title: str = "Returns",
    body: str = "Within 14 days.", seen: object = None, now: object = T0,
) -> service.PageText:  # fmt: skip
    return service.save_page(db, settings, slug, title, body, seen, EDITOR, now)  # type: ignore[arg-type]


def test_every_page_has_a_default_text_from_the_settings(db: Session, settings: Settings) -> None:
    pages = service.all_pages(db, settings)
    assert [page.slug for page in pages] == list(service.SLUGS)
    assert all(page.is_default and page.updated_at is None for page in pages)
    contact = service.read_page(db, settings, "contact")
    assert "shop@localhost" in contact.body  # from mail_from, without the display name
    assert settings.shop_name in contact.body and settings.shop_postal_address in contact.body
    for page in pages:
        assert service.checked_body(page.body) == page.body  # a default passes its own checks
        assert service.checked_title(page.title) == page.title


def test_the_sitemap_lists_the_same_pages(db: Session) -> None:
    assert tuple(f"/{slug}" for slug in service.SLUGS) == discovery.SHOP_PAGE_PATHS


def test_a_saved_page_replaces_its_default_and_is_audited(db: Session, settings: Settings) -> None:
    version = catalog.catalog_version(db)
    saved = save(db, settings, body="Within 14 days.\r\n\r\n- Unused\r\n- Boxed")
    assert saved.updated_at == T0 and not saved.is_default
    assert saved.body == "Within 14 days.\n\n- Unused\n- Boxed"  # line ends folded
    again = service.read_page(db, settings, "returns")
    assert (again.title, again.body, again.updated_at) == ("Returns", saved.body, T0)
    # A whole-site change drops the cached page in every process.
    assert catalog.catalog_version(db) == version + 1
    (entry,) = audit_entries(db, subject="shop_page:returns")
    assert (entry.action, entry.staff_id, entry.role) == ("change", 7, "owner")
    assert "replacing the default text" in entry.reason


def test_a_second_save_needs_the_stamp_it_read(db: Session, settings: Settings) -> None:
    first = save(db, settings)
    second = save(db, settings, body="Within 30 days.", seen=first.updated_at, now=T0)
    # The clock has not moved: the stamp still moves, so the first one is now stale.
    assert second.updated_at == T0 + timedelta(microseconds=1)
    with pytest.raises(service.StalePage) as refused:
        save(db, settings, body="Lost?", seen=first.updated_at)
    assert refused.value.current.body == "Within 30 days."
    assert refused.value.extra()["current"]["body"] == "Within 30 days."
    # Saved from the default, while a save exists: stale too.
    with pytest.raises(service.StalePage):
        save(db, settings, body="Lost?", seen=None)
    assert service.read_page(db, settings, "returns").body == "Within 30 days."
    assert len(audit_entries(db, subject="shop_page:returns")) == 2
    later = save(db, settings, body="Later.", seen=second.updated_at, now=T0 + timedelta(hours=1))
    assert later.updated_at == T0 + timedelta(hours=1)


def test_a_stamp_from_the_future_or_for_a_default_page_is_stale(
    db: Session, settings: Settings
) -> None:
    with pytest.raises(service.StalePage):
        save(db, settings, seen=T0)  # nobody saved it: the editor cannot have read T0
    assert db.scalar(select(func.count()).select_from(ShopPage)) == 0


@pytest.mark.parametrize(
    ("title", "body", "field"),
    [
        ("", "text", "title"),
        ("   ", "text", "title"),
        ("x" * 201, "text", "title"),
        ("Two\nlines", "text", "title"),
        ("Tab\there", "text", "title"),
        ("Bidi \u202e trick", "text", "title"),
        ("Returns", "", "body"),
        ("Returns", " \n\n \t ", "body"),
        ("Returns", "x" * 20_001, "body"),
        ("Returns", "bell \x07", "body"),
        ("Returns", "nul \x00 byte", "body"),
        ("Returns", "escape \x1b[31m red", "body"),
        ("Returns", "line\u2028separator", "body"),
        ("Returns", "lone \ud800 surrogate", "body"),
    ],
)
def test_a_bad_title_or_body_is_refused_and_changes_nothing(
    db: Session, settings: Settings, title: str, body: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        save(db, settings, title=title, body=body)
    assert refused.value.field == field
    assert db.scalar(select(func.count()).select_from(ShopPage)) == 0
    assert audit_entries(db, subject="shop_page:returns") == []


def test_the_limits_themselves_are_taken(db: Session, settings: Settings) -> None:
    saved = save(db, settings, title="T" * 200, body="é" * 20_000)
    assert len(saved.title) == 200 and len(saved.body) == 20_000
    assert service.read_page(db, settings, "returns").body == "é" * 20_000
    tabs = save(db, settings, body="a\tb", seen=saved.updated_at)
    assert tabs.body == "a\tb"


@pytest.mark.parametrize("slug", ["about", "", "CONTACT", "../contact", "contact/"])
def test_an_unknown_page_is_not_found(db: Session, settings: Settings, slug: str) -> None:
    with pytest.raises(NotFound):
        service.read_page(db, settings, slug)
    with pytest.raises(NotFound):
        save(db, settings, slug=slug)


def test_the_body_is_rendered_escaped_with_paragraphs_and_lists() -> None:
    html = service.body_html(
        "Hello <b>world</b> & co.\nSecond line\n\n- one <script>alert(1)</script>\n- two"
        '\nAfter "the" list\n\n\n<img src=x onerror=alert(1)>'
    )
    assert html == (
        "<p>Hello &lt;b&gt;world&lt;/b&gt; &amp; co.<br>\nSecond line</p>\n"
        "<ul><li>one &lt;script&gt;alert(1)&lt;/script&gt;</li><li>two</li></ul>\n"
        "<p>After &quot;the&quot; list</p>\n"
        "<p>&lt;img src=x onerror=alert(1)&gt;</p>"
    )
    assert service.body_html("") == ""
