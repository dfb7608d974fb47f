"""The public contact, shipping and returns pages (issue 11 item 5): each answers 200 with
its default text, is kept by the page cache under its tag, shows the owner's text escaped
(no markup gets through), and an edit is visible at the next request; the footer links
them and no other path answers as one."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.orders import rates
from quietshop.orders import service as orders
from quietshop.orders.demo import seed_demo_rates
from quietshop.settings import Settings
from quietshop.shop_pages import service
from quietshop.web.templating import format_money
from tests.clock import T0

EDITOR = service.PageEditor(staff_id=1, role="owner", origin="203.0.113.5")


@pytest.mark.parametrize(
    ("path", "heading"),
    [("/contact", "Contact us"), ("/shipping", "Shipping"), ("/returns", "Returns")],
)
def test_each_page_answers_with_its_default_text_and_is_cacheable(
    client: TestClient, assembled: AssembledApp, settings: Settings, path: str, heading: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"].startswith("public")
    assert "set-cookie" not in answer.headers and "x-cache-tags" not in answer.headers
    assert f"<h1>{heading}</h1>" in answer.text
    assert f'<link rel="canonical" href="https://shop.test{path}">' in answer.text
    assert "shop@localhost" in answer.text
    # Kept by the page cache, under the page's own tag.
    assert assembled.page_cache is not None
    assert assembled.page_cache.tags_of(path) == {f"shop-page:{path[1:]}"}
    again = client.get(path, headers={"if-none-match": answer.headers["etag"]})
    assert again.status_code == 304


def test_the_footer_links_the_three_pages(client: TestClient) -> None:
    page = client.get("/contact").text
    for path in ("/contact", "/shipping", "/returns"):
        assert f'<a href="{path}">' in page


def test_an_edit_shows_at_once_and_its_text_is_escaped(
    client: TestClient, assembled: AssembledApp, db: Session, settings: Settings
) -> None:
    before = client.get("/returns")
    assert "Returns" in before.text and assembled.page_cache is not None
    assert "/returns" in assembled.page_cache
    hostile = (
        '<script>alert("x")</script>\n\n- <img src=x onerror=alert(1)>\n'
        "- Unused & boxed\n\n</article><a href=//evil.example>"
    )
    service.save_page(db, settings, "returns", "Returns <em>policy</em>", hostile, None, EDITOR, T0)
    db.commit()
    after = client.get("/returns")
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    body = after.text
    assert "<script>alert" not in body and "<img src=x" not in body and "<em>" not in body
    assert "<a href=//evil.example>" not in body
    assert "<h1>Returns &lt;em&gt;policy&lt;/em&gt;</h1>" in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body or (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    )
    assert "<li>&lt;img src=x onerror=alert(1)&gt;</li><li>Unused &amp; boxed</li>" in body
    # The other pages were dropped too (a whole-site change), and still show their defaults.
    assert "<h1>Shipping</h1>" in client.get("/shipping").text


@pytest.mark.parametrize(
    "path", ["/about", "/contact/", "/contact/x", "/Contact", "/returns%00", "/shipping.html"]
)
def test_no_other_path_answers_as_a_page(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code in (404, 307), answer.status_code
    assert "Traceback" not in answer.text


def test_a_post_is_not_taken(client: TestClient) -> None:
    answer = client.post("/contact", data={"title": "x"})
    assert answer.status_code == 405


def test_the_shipping_page_lists_the_active_rates_and_follows_an_edit(
    client: TestClient, assembled: AssembledApp, db: Session
) -> None:
    """The rates under the owner's text are checkout's own: a rate edit shows at the next
    request (a whole-site change drops the cached page), an inactive rate is not listed,
    and a region's countries are named."""
    seed_demo_rates(db, "USD", T0)
    db.commit()
    page = client.get("/shipping").text
    assert '<h2 id="rates">Shipping rates</h2>' in page
    listed = orders.published_shipping_rates(db)
    assert listed and all(rate.region_countries for rate in listed)
    standard = next(r for r in rates.list_shipping_rates(db) if r.rate.method_code == "standard")
    shown = format_money(standard.rate.base_cents, standard.currency)
    assert shown in page and "United States" in page
    assert assembled.page_cache is not None and "/shipping" in assembled.page_cache  # kept
    editor = rates.RateEditor(staff_id=1, role="owner", origin="203.0.113.5")
    raised = replace(standard.rate, base_cents=standard.rate.base_cents + 1234)
    rates.save_shipping_rate(db, standard.currency, standard.id, raised, editor, T0)
    off = replace(raised, active=False)
    db.commit()
    again = client.get("/shipping").text
    assert format_money(raised.base_cents, standard.currency) in again
    rates.save_shipping_rate(db, standard.currency, standard.id, off, editor, T0)
    db.commit()
    assert format_money(raised.base_cents, standard.currency) not in client.get("/shipping").text


def test_the_other_pages_list_no_rates(client: TestClient, db: Session) -> None:
    seed_demo_rates(db, "USD", T0)
    db.commit()
    for path in ("/contact", "/returns"):
        assert 'id="rates"' not in client.get(path).text
