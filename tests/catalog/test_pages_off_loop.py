"""Nothing stalls the rest (issue 11, item 6): a storefront route's database work runs off
the event loop, so a cached page is answered while an uncached page's queries are held;
and a search during a vocabulary rebuild is answered with the previous vocabulary, and
not kept by the page cache.

The app here runs on a database of its own with real commits (``committing_engine``), so
the route's worker thread, the event loop and the rebuild each use their own connection.
A held query waits on a ``threading.Event`` the test sets; ``BOUND`` only limits how long
a broken build would hang (the test then fails instead).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Message

from quietshop.app import AssembledApp, build_app
from quietshop.catalog import memo as memo_module
from quietshop.catalog import service
from quietshop.catalog.memo import CatalogMemo
from quietshop.catalog.spelling import Vocabulary
from quietshop.db import make_session_factory, transaction
from quietshop.settings import Settings
from tests.catalog.factories import SmallCatalog, make_product, small_catalog
from tests.clock import MovableClock

BOUND = 10.0


@pytest.fixture
def shop_sessions(committing_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(committing_engine)


@pytest.fixture
def shop(shop_sessions: sessionmaker[Session]) -> SmallCatalog:
    with transaction(shop_sessions) as session:
        return small_catalog(session)


@pytest.fixture
def shop_app(
    settings: Settings, shop_sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[AssembledApp]:
    app = build_app(settings, shop_sessions, clock=clock)
    yield app
    app.state.part(CatalogMemo).wait_for_rebuild(BOUND)  # no thread outlives its database
    if app.access_log is not None:
        app.access_log.close()


class Hold:
    """Wraps a service function: the call waits for ``release`` before it runs."""

    def __init__(self, inner: Callable[..., Any]) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self.released_in_time: bool | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        self.released_in_time = self.release.wait(BOUND)
        return self.inner(*args, **kwargs)


async def get(app: AssembledApp, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET through the whole ASGI stack, as the server would send it."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    sent: list[Message] = []
    done = asyncio.Event()

    async def receive() -> Message:
        if not sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    done.set()
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


def _slug(shop_sessions: sessionmaker[Session], sku: str) -> str:
    with shop_sessions() as session:
        return service.get_product(session, sku).slug


@pytest.mark.parametrize(
    ("held_function", "uncached_path"),
    [
        ("category_listing", "/categories/hdmi-cables?sort=name&page=1"),
        ("search_products", "/search?q=hdmi+cable"),
        ("home_shelves", "/"),
        ("get_product", "/products/{other}"),
    ],
)
def test_a_cached_page_is_answered_while_an_uncached_pages_queries_are_held(
    shop: SmallCatalog,
    shop_app: AssembledApp,
    shop_sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    held_function: str,
    uncached_path: str,
) -> None:
    cached_path = f"/products/{_slug(shop_sessions, shop.hdmi_skus[0])}"
    uncached_path = uncached_path.format(other=_slug(shop_sessions, shop.hdmi_skus[1]))
    with TestClient(shop_app, base_url="https://testserver") as client:
        cached_body = client.get(cached_path).content
    assert shop_app.page_cache is not None and cached_path in shop_app.page_cache
    assert uncached_path not in shop_app.page_cache
    hold = Hold(getattr(service, held_function))
    monkeypatch.setattr(service, held_function, hold)

    async def both() -> tuple[tuple[int, dict[str, str], bytes], bool, int]:
        slow = asyncio.create_task(get(shop_app, uncached_path))
        # The slow route is inside its held query (in a thread: the loop is free to ask).
        assert await asyncio.to_thread(hold.entered.wait, BOUND)
        fast = await get(shop_app, cached_path)
        answered_while_held = not hold.release.is_set()
        hold.release.set()
        status, _, _ = await slow
        return fast, answered_while_held, status

    (fast_status, fast_headers, fast_body), answered_while_held, slow_status = asyncio.run(both())
    # On the event loop, the held query would have blocked the cached page until BOUND.
    assert hold.released_in_time is True and answered_while_held
    assert (fast_status, fast_body) == (200, cached_body)
    assert "set-cookie" not in fast_headers
    assert slow_status == 200
    assert uncached_path in shop_app.page_cache  # the slow page is kept as before


def test_a_search_during_a_vocabulary_rebuild_answers_with_the_previous_one_and_is_not_kept(
    shop: SmallCatalog,
    shop_app: AssembledApp,
    shop_sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memo = shop_app.state.part(CatalogMemo)
    cache = shop_app.page_cache
    assert cache is not None
    with TestClient(shop_app, base_url="https://testserver") as client:
        assert client.get("/search?q=hdmi").status_code == 200  # the first load, inline
        assert "/search?q=hdmi" in cache

        with transaction(shop_sessions) as session:
            make_product(session, shop.tools, name="Toslink Optical Cable")
        hold = Hold(Vocabulary)
        monkeypatch.setattr(memo_module, "Vocabulary", hold)

        stale = client.get("/search?q=toslnk")  # starts the rebuild, which is held
        assert hold.entered.is_set() and memo.rebuilding
        assert stale.status_code == 200
        assert "Toslink Optical Cable" not in stale.text  # searched as typed
        # No change will drop this page once the new vocabulary is in: it is not kept.
        assert stale.headers["cache-control"] == "no-store"
        assert "/search?q=toslnk" not in cache
        assert "set-cookie" not in stale.headers

        hold.release.set()
        assert memo.wait_for_rebuild(BOUND) and hold.released_in_time
        fresh = client.get("/search?q=toslnk")
        assert "Toslink Optical Cable" in fresh.text  # corrected with the new vocabulary
        assert fresh.headers["cache-control"].startswith("public")
        assert "/search?q=toslnk" in cache
        assert memo.loads["vocabulary"] == 2


def test_every_application_builds_its_own_memo(
    settings: Settings, shop_sessions: sessionmaker[Session]
) -> None:
    # Never process-global: two apps (two shops, or two tests) share no vocabulary, and
    # each one's rebuild runs in its own sessions (the rebuild test above sees the app's).
    first, second = build_app(settings, shop_sessions), build_app(settings, shop_sessions)
    assert first.state.part(CatalogMemo) is not second.state.part(CatalogMemo)
