"""The cart page and the cart in the browser (issue 8, item 2).

The page is one HTML shell, the same for everyone and cached; it says plainly, without
JavaScript, that the cart needs it. The cart itself is ``orders/static/cart.js`` over
localStorage: its rules (SKUs and quantities only, hostile content cleaned, limits held,
changes announced in this tab and from others) run here under Node with a stand-in
``window``, and in a real browser in tests/e2e/test_cart_browser.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from quietshop.app import AssembledApp, log_policy
from quietshop.catalog import variants
from quietshop.orders import cart_pages

STATIC = Path(cart_pages.__file__).parent / "static"
CART_JS = STATIC / "cart.js"
SCRIPTS = ("cart.js", "cart-add.js", "cart-page.js", "cart-money.js", "cart-prices.js")
KEY = "quietshop.cart.v1"


# ---------------------------------------------------------------- the page


def test_the_cart_page_is_one_public_shell(client: TestClient, assembled: AssembledApp) -> None:
    page = client.get("/cart")
    assert page.status_code == 200
    assert page.headers["cache-control"].startswith("public, max-age=")
    assert "set-cookie" not in page.headers
    # A no-JS "Add to cart" arrives with ?add=&qty=: the same page (only the script reads them).
    assert client.get("/cart", params={"add": "QS-1-BK", "qty": "3"}).text == page.text
    assert client.get("/cart", headers={"authorization": "Bearer someone"}).text == page.text
    assert assembled.page_cache is not None and "/cart" in assembled.page_cache


def test_without_javascript_the_page_says_the_cart_needs_it(client: TestClient) -> None:
    text = client.get("/cart").text
    notice = re.search(r'<div class="notice-box needs-js" data-needs-js>(.*?)</div>', text, re.S)
    assert notice is not None  # shown as it is: only the script hides it
    assert "Your cart needs JavaScript." in notice.group(1)
    assert "Nothing was added to a cart." in notice.group(1)
    assert "<noscript" not in text
    assert "<div data-cart hidden>" in text  # the cart's own part waits for the script
    assert '<script type="module" src="/static/orders/cart-page.js"></script>' in text


def test_the_page_holds_no_cart_and_no_inline_code(client: TestClient) -> None:
    text = client.get("/cart").text
    assert re.findall(r"<script(?![^>]*\bsrc=)", text) == []
    assert " style=" not in text and " onclick=" not in text and " onchange=" not in text
    # The header's badge is empty in the HTML: the count comes from the browser.
    assert '<span class="cart-count" data-cart-count hidden></span>' in text
    assert '<a class="button" href="/checkout" data-checkout>Checkout</a>' in text


@pytest.mark.parametrize("path", ["/", "/privacy", "/account", "/cart"])
def test_every_page_has_the_cart_link_with_an_empty_badge(client: TestClient, path: str) -> None:
    text = client.get(path).text
    assert '<a class="cart-link" href="/cart" data-cart-link>Cart<span class="cart-count"' in text
    assert '<script type="module" src="/static/js/header.js"></script>' in text


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_cart_scripts_are_served_from_our_origin(client: TestClient, name: str) -> None:
    script = client.get(f"/static/orders/{name}")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"].startswith("public")
    imports = re.findall(r'from "([^"]+)"', script.text)
    assert all(path.startswith("/static/") for path in imports), imports


def test_the_access_log_keeps_nothing_of_a_cart() -> None:
    policy = log_policy()
    assert policy.target("/cart", "add=QS-1-BK&qty=3", "/cart") == "/cart"
    assert policy.target("/api/v1/variants", "sku=QS-1-BK&sku=QS-2", None) == "/api/v1/variants"


def test_the_scripts_and_the_server_agree_on_the_limits() -> None:
    source = CART_JS.read_text()
    assert f"export const MAX_LINES = {cart_pages.MAX_LINES};" in source
    assert f"export const MAX_QUANTITY = {cart_pages.MAX_QUANTITY};" in source
    assert cart_pages.MAX_QUANTITY == variants.MAX_QUANTITY
    assert f'export const STORAGE_KEY = "{KEY}";' in source
    prices = (STATIC / "cart-prices.js").read_text()
    assert f"export const LOOKUP_BATCH = {variants.MAX_LOOKUP_SKUS};" in prices
    # The same SKU rule as the lookup API: 1 to 40 visible ASCII characters.
    assert "const SKU_PATTERN = /^[!-~]{1,40}$/;" in source
    assert variants.SKU_PATTERN == "^[!-~]+$" and variants.MAX_SKU_CHARS == 40


def test_the_lookup_sends_skus_only() -> None:
    prices = (STATIC / "cart-prices.js").read_text()
    assert 'call("GET", `/api/v1/variants?${query}`, { auth: false })' in prices
    page = (STATIC / "cart-page.js").read_text()
    assert "fetch(" not in page and "sessionStorage" not in page and "token" not in page


# ---------------------------------------------------------------- cart.js under Node

NODE = shutil.which("node")
HARNESS = """
const KEY = __KEY__;
const store = new Map();
const events = new EventTarget();
globalThis.window = {
  localStorage: {
    getItem: (key) => (store.has(key) ? store.get(key) : null),
    setItem: (key, value) => store.set(key, String(value)),
    removeItem: (key) => store.delete(key),
  },
  addEventListener: (...args) => events.addEventListener(...args),
};
const raw = (value) => store.set(KEY, value);
const stored = () => (store.has(KEY) ? JSON.parse(store.get(KEY)) : null);
// Another tab changed the cart: the browser fires `storage` in this one.
const otherTab = (value) => {
  store.set(KEY, value);
  const event = new Event("storage");
  event.key = KEY;
  events.dispatchEvent(event);
};
const refused = (change) => {
  try {
    change();
    return null;
  } catch (error) {
    return `${error.constructor.name}: ${error.message}`;
  }
};
const cart = await import(__CART_URL__);
const result = await (async () => {
__BODY__
})();
console.log(JSON.stringify(result));
"""


def run_cart(body: str, tmp_path: Path) -> Any:
    """Run ``body`` (JavaScript returning a JSON-able value) with ``cart`` imported."""
    if NODE is None:
        pytest.skip("node is missing; cart.js is still exercised by the browser tests")
    script = tmp_path / "cart-test.mjs"
    script.write_text(
        HARNESS.replace("__CART_URL__", json.dumps(CART_JS.as_uri()))
        .replace("__KEY__", json.dumps(KEY))
        .replace("__BODY__", body)
    )
    done = subprocess.run(
        [NODE, str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_lines_hold_skus_and_quantities_only(tmp_path: Path) -> None:
    result = run_cart(
        """
        cart.add("QS-1-BK", 2);
        cart.add("QS-2", 1);
        cart.add("QS-1-BK", 3);
        return { lines: cart.lines(), count: cart.count(), stored: stored() };
        """,
        tmp_path,
    )
    expected = [{"sku": "QS-1-BK", "qty": 5}, {"sku": "QS-2", "qty": 1}]
    assert result == {"lines": expected, "count": 6, "stored": expected}


def test_set_quantity_remove_and_clear(tmp_path: Path) -> None:
    result = run_cart(
        """
        cart.add("A", 2);
        cart.add("B", 1);
        const set = cart.setQuantity("A", 7);
        const added = cart.setQuantity("C", 4);
        const zero = cart.setQuantity("B", 0);
        const afterSet = cart.lines();
        const removed = [cart.remove("A"), cart.remove("NOT-THERE")];
        const afterRemove = cart.lines();
        cart.clear();
        return { set, added, zero, afterSet, removed, afterRemove, end: cart.lines(),
                 stored: stored(), count: cart.count() };
        """,
        tmp_path,
    )
    assert result == {
        "set": {"sku": "A", "qty": 7},
        "added": {"sku": "C", "qty": 4},
        "zero": None,
        "afterSet": [{"sku": "A", "qty": 7}, {"sku": "C", "qty": 4}],
        "removed": [True, False],
        "afterRemove": [{"sku": "C", "qty": 4}],
        "end": [],
        "stored": None,  # an empty cart leaves nothing behind
        "count": 0,
    }


def test_quantities_are_whole_and_within_1_to_999(tmp_path: Path) -> None:
    result = run_cart(
        """
        cart.add("A", 998);
        const capped = cart.add("A", 5);
        const fraction = cart.add("B", 2.9);
        const huge = cart.setQuantity("C", 1e12);
        return {
          capped, fraction, huge,
          bad: [0, -1, NaN, Infinity, "3", null, undefined, 0.5, true].map(
            (qty) => refused(() => cart.add("D", qty === undefined ? "x" : qty))),
          badSet: [-1, NaN, "2", 0.2].map((qty) => refused(() => cart.setQuantity("A", qty))),
          lines: cart.lines(),
        };
        """,
        tmp_path,
    )
    assert result["capped"] == {"sku": "A", "qty": 999}
    assert result["fraction"] == {"sku": "B", "qty": 2}
    assert result["huge"] == {"sku": "C", "qty": 999}
    message = "CartError: A quantity is a whole number from 1 to 999."
    assert result["bad"] == [message] * 9
    assert result["badSet"] == [message] * 4
    assert result["lines"] == [
        {"sku": "A", "qty": 999},
        {"sku": "B", "qty": 2},
        {"sku": "C", "qty": 999},
    ]


def test_a_sku_must_look_like_one(tmp_path: Path) -> None:
    result = run_cart(
        """
        const skus = ["", " ", "A B", "x".repeat(41), "\\u0000", "CAFÉ", 42, null, {}, ["A"]];
        return { refused: skus.map((sku) => refused(() => cart.add(sku, 1))),
                 ok: refused(() => cart.add("x".repeat(40), 1)), lines: cart.lines().length };
        """,
        tmp_path,
    )
    assert result["refused"] == ["CartError: That is not a product code we use."] * 10
    assert result["ok"] is None and result["lines"] == 1


def test_at_most_100_distinct_lines(tmp_path: Path) -> None:
    result = run_cart(
        """
        for (let i = 0; i < cart.MAX_LINES; i += 1) cart.add(`S-${i}`, 1);
        return {
          full: refused(() => cart.add("ONE-MORE", 1)),
          fullSet: refused(() => cart.setQuantity("ONE-MORE", 1)),
          again: refused(() => cart.add("S-0", 1)),  // more of a line already there is fine
          lines: cart.lines().length,
          count: cart.count(),
          limits: [cart.MAX_LINES, cart.MAX_QUANTITY, cart.STORAGE_KEY],
        };
        """,
        tmp_path,
    )
    assert result == {
        "full": "CartError: A cart holds at most 100 different products.",
        "fullSet": "CartError: A cart holds at most 100 different products.",
        "again": None,
        "lines": 100,
        "count": 101,
        "limits": [100, 999, KEY],
    }


@pytest.mark.parametrize(
    ("stored", "lines"),
    [
        ("not json", []),
        ("", []),
        ("null", []),
        ('{"sku": "A", "qty": 1}', []),  # an object, not a list
        ('"A"', []),
        ('[1, null, true, [], "A"]', []),
        ('[{"sku": "A"}, {"qty": 2}, {"sku": 7, "qty": 1}, {"sku": "", "qty": 1}]', []),
        ('[{"sku": "A", "qty": -3}, {"sku": "B", "qty": 0}, {"sku": "C", "qty": "2"}]', []),
        ('[{"sku": "A", "qty": 0.5}, {"sku": "B", "qty": 1e400}]', []),  # 1e400 is Infinity
        ('[{"sku": "A", "qty": 2.7}, {"sku": "B", "qty": 1e9}]', [("A", 2), ("B", 999)]),
        ('[{"sku": "A", "qty": 2}, {"sku": "A", "qty": 998}]', [("A", 999)]),  # merged
        (
            '[{"sku": "A", "qty": 1, "price": 1, "name": "Ann", "__proto__": {"x": 1}}]',
            [("A", 1)],  # nothing but sku and qty comes out
        ),
        ('[{"sku": "<img src=x onerror=alert(1)>", "qty": 1}]', []),
    ],
)
def test_hostile_storage_is_cleaned_on_reading(
    tmp_path: Path, stored: str, lines: list[tuple[str, int]]
) -> None:
    result = run_cart(f"raw({json.dumps(stored)}); return cart.lines();", tmp_path)
    assert result == [{"sku": sku, "qty": qty} for sku, qty in lines]


def test_more_than_100_stored_lines_keep_the_first_100(tmp_path: Path) -> None:
    result = run_cart(
        """
        raw(JSON.stringify(Array.from({ length: 10000 }, (_, i) => ({ sku: `S-${i}`, qty: 1 }))));
        const read = cart.lines();
        cart.add("S-0", 1);  // the next change writes the clean cart
        return { read: read.length, last: read[99].sku, stored: stored().length };
        """,
        tmp_path,
    )
    assert result == {"read": 100, "last": "S-99", "stored": 100}


def test_reading_never_writes(tmp_path: Path) -> None:
    result = run_cart(
        """
        raw("garbage");
        cart.lines(); cart.count();
        return window.localStorage.getItem(KEY);
        """,
        tmp_path,
    )
    assert result == "garbage"


def test_changes_are_announced_here_and_from_other_tabs(tmp_path: Path) -> None:
    result = run_cart(
        """
        const seen = [];
        const stop = cart.onChange((lines) => seen.push(lines));
        cart.onChange(() => { throw new Error("a broken listener"); });
        console.error = () => {};  // the broken one is reported, and the others still run
        cart.add("A", 1);
        otherTab(JSON.stringify([{ sku: "A", qty: 1 }, { sku: "B", qty: 4 }]));
        cart.setQuantity("A", 1);  // no change: no announcement
        stop();
        cart.remove("A");
        return { seen, now: cart.lines() };
        """,
        tmp_path,
    )
    assert result == {
        "seen": [
            [{"sku": "A", "qty": 1}],
            [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 4}],
        ],
        "now": [{"sku": "B", "qty": 4}],
    }


def test_blocked_storage_is_an_empty_cart_that_refuses_changes(tmp_path: Path) -> None:
    result = run_cart(
        """
        Object.defineProperty(globalThis.window, "localStorage", {
          get() { throw new Error("SecurityError"); },
        });
        return { lines: cart.lines(), count: cart.count(), add: refused(() => cart.add("A", 1)),
                 clear: refused(() => cart.clear()) };
        """,
        tmp_path,
    )
    assert result == {
        "lines": [],
        "count": 0,
        "add": "CartError: This browser does not let the shop keep a cart.",
        "clear": None,
    }


def test_a_full_storage_is_said_plainly(tmp_path: Path) -> None:
    result = run_cart(
        """
        window.localStorage.setItem = () => { throw new Error("QuotaExceededError"); };
        return { add: refused(() => cart.add("A", 1)), lines: cart.lines() };
        """,
        tmp_path,
    )
    assert result == {
        "add": "CartError: This browser has no room left to keep the cart.",
        "lines": [],
    }


def test_money_reads_as_the_pages_show_it(tmp_path: Path) -> None:
    money = (STATIC / "cart-money.js").as_uri()
    result = run_cart(
        f"""
        const {{ formatMoney }} = await import({json.dumps(money)});
        return [formatMoney(0, "USD"), formatMoney(5, "EUR"), formatMoney(123456789, "GBP"),
                formatMoney(100000, "SEK"), formatMoney(99999, "CAD")];
        """,
        tmp_path,
    )
    assert result == ["$0.00", "€0.05", "£1,234,567.89", "1,000.00 SEK", "CA$999.99"]
