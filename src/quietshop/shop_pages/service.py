"""The shop's own information pages (issue 11 item 5): contact, shipping and returns.

There are exactly three pages, named by ``SLUGS``. Until the owner writes one, the page
shows a default text made from the settings (shop name, postal address, the mail
address the shop writes from), in the plain tone of the privacy policy. A saved page is
one row of ``shop_pages``; its body is plain text: paragraphs separated by a blank line,
a line starting with "- " is a list item, a single line break stays a line break.
``body_html`` renders it escaped, so no text the owner types can become markup.

Saving is optimistic: the editor sends the ``updated_at`` it last read (None for a page
still showing its default); if the row changed since, the save is refused with
``StalePage`` (409) carrying the current text, and nothing is written. ``updated_at`` is
the clock's time, moved a microsecond past the previous value when the clock has not
advanced, so two saves never share a stamp and a stale one is always caught.

A save is one transaction with its ``change`` entry in the audit chain (naming the staff
member and role, ``PageEditor``) and a whole-site change in the catalog's change log, so
every process's page cache drops the page: the log keeps only product and listing tags,
and an owner edits these pages a few times a year, as with the privacy policy.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from markupsafe import Markup
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.catalog import service as catalog
from quietshop.errors import Conflict, InvalidInput, NotFound
from quietshop.settings import Settings
from quietshop.shop_pages.models import ShopPage

SLUGS: tuple[str, ...] = ("contact", "shipping", "returns")
MAX_TITLE = 200  # shop_pages.title
MAX_BODY = 20_000
CACHE_TAG_PREFIX = "shop-page:"
_ONE_TICK = timedelta(microseconds=1)

# Control characters, lone surrogates and the bidirectional overrides that make a text
# read other than it is (as the audit log refuses them). A body keeps its line breaks and
# tabs; a title keeps nothing of these.
_TRICKS = "\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff"
_HOSTILE_IN_TITLE = re.compile(f"[\x00-\x1f\x7f-\x9f{_TRICKS}]")
_HOSTILE_IN_BODY = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_TRICKS}]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class PageText:
    """One page as it is shown now: the owner's text, or the default (``updated_at`` None)."""

    slug: str
    title: str
    body: str
    updated_at: datetime | None

    @property
    def is_default(self) -> bool:
        return self.updated_at is None

    @property
    def path(self) -> str:
        return f"/{self.slug}"

    @property
    def cache_tag(self) -> str:
        return cache_tag(self.slug)


@dataclass(frozen=True)
class PageEditor:
    """Who saves a page, as the audit chain records them (the back office says)."""

    staff_id: int
    role: str
    origin: str


class StalePage(Conflict):
    """The page changed since the editor read it: nothing was saved. The answer carries
    the current text, so the screen can show it beside the editor's unsaved one."""

    status_code = 409
    code = "stale_page"

    def __init__(self, current: PageText) -> None:
        super().__init__(
            "Someone saved this page since you opened it: your text was not saved. "
            "Copy it, load the current version, and make your change again."
        )
        self.current = current

    def extra(self) -> dict[str, Any]:
        stamp = self.current.updated_at
        return {
            "current": {
                "slug": self.current.slug,
                "title": self.current.title,
                "body": self.current.body,
                # As the API's models write a UTC time, so a client compares it as sent.
                "updated_at": stamp.isoformat().replace("+00:00", "Z") if stamp else None,
            }
        }


def cache_tag(slug: str) -> str:
    """The tag the page cache keeps a shop page under (see the module's doc)."""
    return CACHE_TAG_PREFIX + slug


def checked_slug(slug: str) -> str:
    if slug not in SLUGS:
        raise NotFound("page")
    return slug


# ---------------------------------------------------------------- the default texts


def shop_email(settings: Settings) -> str:
    """The address customers may write to: the one the shop's own mail comes from."""
    return parseaddr(settings.mail_from)[1] or settings.mail_from


def default_page(settings: Settings, slug: str) -> PageText:
    """What a page says before the owner writes it, from the shop's settings."""
    name, address, email = settings.shop_name, settings.shop_postal_address, shop_email(settings)
    texts = {
        "contact": (
            "Contact us",
            f"We read every message ourselves and answer it, usually within one working "
            f"day.\n\n"
            f"Write to us at {email}. If it is about an order, please give your customer "
            f"number (it is on every page of your account and in every mail we send you) "
            f"and the order number. When you call us, we ask for your customer number and "
            f"the postcode of an address on file before we discuss your account.\n\n"
            f"By post:\n{name}\n{address}\n\n"
            f"We never ask for your password or your card number, by mail or on the phone. "
            f"What you tell us is used to answer you and for nothing else: it does not put "
            f"you on a mailing list, and it is not given to anyone else.",
        ),
        "shipping": (
            "Shipping",
            "We pack and ship every order ourselves.\n\n"
            "- The shipping cost for your country and the method you choose is shown at "
            "checkout, before you pay.\n"
            "- We mail you when your order is packed and when it is shipped. We send no "
            "other mail about it.\n"
            "- Your name and address are given to the carrier only to deliver your parcel.\n\n"
            f"If a parcel is late or arrives damaged, write to us at {email} with your "
            f"order number and we will put it right.",
        ),
        "returns": (
            "Returns",
            "If something you bought from us is not right, you may return it within 30 days "
            "of delivery for a refund.\n\n"
            f"- Write to us at {email} with your customer number and order number, and tell "
            "us what you are returning and why. We tell you where to send it.\n"
            "- Send the item back in its original packaging, with all its parts.\n"
            "- Once we have received and checked it, we refund the price to the card you "
            "paid with.\n\n"
            "A product that fails is covered by the warranty described on its product page.",
        ),
    }
    title, body = texts[checked_slug(slug)]
    return PageText(slug=slug, title=title, body=body, updated_at=None)


# ---------------------------------------------------------------- reading


def _row(session: Session, slug: str) -> ShopPage | None:
    return session.scalars(select(ShopPage).where(ShopPage.slug == slug)).one_or_none()


def _text(row: ShopPage) -> PageText:
    return PageText(slug=row.slug, title=row.title, body=row.body, updated_at=row.updated_at)


def read_page(session: Session, settings: Settings, slug: str) -> PageText:
    """The page as shown now; NotFound for a slug that is not one of ``SLUGS``."""
    row = _row(session, checked_slug(slug))
    return _text(row) if row is not None else default_page(settings, slug)


def all_pages(session: Session, settings: Settings) -> list[PageText]:
    """The three pages in ``SLUGS`` order, as the back office lists them."""
    rows = {row.slug: row for row in session.scalars(select(ShopPage))}
    return [_text(rows[slug]) if slug in rows else default_page(settings, slug) for slug in SLUGS]


# ---------------------------------------------------------------- rendering


def body_html(body: str) -> Markup:
    """The body as HTML: ``<p>`` per paragraph (a line break inside stays ``<br>``), a run
    of "- " lines as a ``<ul>``. Every piece of text is escaped first."""
    parts: list[str] = []
    for block in _PARAGRAPH_BREAK.split(body.replace("\r\n", "\n").strip()):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        run: list[str] = []
        items: list[str] = []
        for line in lines:
            if line.startswith("- "):
                if run:
                    parts.append("<p>" + "<br>\n".join(run) + "</p>")
                    run = []
                items.append(f"<li>{html.escape(line[2:].strip())}</li>")
            else:
                if items:
                    parts.append("<ul>" + "".join(items) + "</ul>")
                    items = []
                run.append(html.escape(line))
        if run:
            parts.append("<p>" + "<br>\n".join(run) + "</p>")
        if items:
            parts.append("<ul>" + "".join(items) + "</ul>")
    return Markup("\n".join(parts))  # noqa: S704 - every piece above is escaped


# ---------------------------------------------------------------- saving


def checked_title(title: str) -> str:
    text = title.strip() if isinstance(title, str) else ""
    if not text:
        raise InvalidInput("title", "write a title")
    if len(text) > MAX_TITLE:
        raise InvalidInput("title", f"at most {MAX_TITLE} characters")
    if _HOSTILE_IN_TITLE.search(text):
        raise InvalidInput("title", "one line, without control characters")
    return text


def checked_body(body: str) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(body, str) else ""
    if not text:
        raise InvalidInput("body", "write the page's text")
    if len(text) > MAX_BODY:
        raise InvalidInput("body", f"at most {MAX_BODY:,} characters")
    if _HOSTILE_IN_BODY.search(text):
        raise InvalidInput("body", "no control characters (line breaks and tabs are fine)")
    return text


def _stamp(now: datetime, previous: datetime | None) -> datetime:
    """``now``, or a microsecond past ``previous`` if the clock has not moved beyond it."""
    if previous is not None and now <= previous:
        return previous + _ONE_TICK
    return now


def _what_changed(before: PageText, title: str, body: str) -> str:
    said = [f"{before.slug} page"]
    if title != before.title:
        said.append("title changed")
    if body != before.body:
        said.append(f"body {len(before.body)} -> {len(body)} characters")
    if len(said) == 1:
        said.append("saved unchanged")
    if before.is_default:
        said.append("replacing the default text")
    return ", ".join(said)


def save_page(
    session: Session,
    settings: Settings,
    slug: str,
    title: str,
    body: str,
    seen_updated_at: datetime | None,
    editor: PageEditor,
    now: datetime,
) -> PageText:
    """Save the page's new text, in the caller's transaction (see the module's doc).

    ``seen_updated_at``: the stamp the editor read (None: they saw the default text).
    NotFound for an unknown slug, InvalidInput naming a bad field, StalePage when the
    page changed since the editor read it; each changes nothing."""
    slug = checked_slug(slug)
    title, body = checked_title(title), checked_body(body)
    row = _row(session, slug)
    before = _text(row) if row is not None else default_page(settings, slug)
    if before.updated_at != seen_updated_at:
        raise StalePage(before)
    stamp = _stamp(now, before.updated_at)
    if row is None:
        try:
            with session.begin_nested():
                session.execute(
                    insert(ShopPage).values(slug=slug, title=title, body=body, updated_at=stamp)
                )
        except IntegrityError:  # another editor's first save won meanwhile
            raise StalePage(read_page(session, settings, slug)) from None
    else:
        # Compare-and-set: a save committed between the read above and this update is
        # seen here (no row matches) and refused, whatever the database's isolation.
        changed = session.execute(
            update(ShopPage)
            .where(ShopPage.slug == slug, ShopPage.updated_at == seen_updated_at)
            .values(title=title, body=body, updated_at=stamp)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            session.expire_all()
            raise StalePage(read_page(session, settings, slug))
        session.expire(row)
    catalog.record_site_wide_change(session)
    audit.append(
        session,
        audit.AuditEvent(
            action="change",
            staff_id=editor.staff_id,
            role=editor.role,
            subject=f"shop_page:{slug}",
            customer_id=None,
            reason=_what_changed(before, title, body)[: audit.MAX_REASON],
            origin=editor.origin[: audit.MAX_ORIGIN],
        ),
        now,
    )
    return PageText(slug=slug, title=title, body=body, updated_at=stamp)
