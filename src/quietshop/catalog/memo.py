"""What the whole catalog implies — the category tree and the search vocabulary — kept in
memory until a whole-catalog change (a category, a name, a product added or hidden); a
sale or a stock edit never reloads them. One memo per application, never process-global.

The tree is cheap (one small query) and reloads in the request that finds it out of date.
The vocabulary is not: at 100,000 products it took 6.5 s, and rebuilt inline it froze the
worker at the first search after every change. So once there is one, a change rebuilds it
in one background thread with its own session, and searches keep the previous one until
the new one is swapped in.

The listing index (catalog/listing_index.py) is kept the same way: loaded in the first
listing, rebuilt in the background after a whole-catalog change. Between rebuilds, each
use replays the change log past the index's last seen change (one indexed query, usually
empty) and patches the price and stock of the products it names, so the in-stock filter
and the price filter and orders follow sales and price edits at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.catalog import queries
from quietshop.catalog.listing_index import REFRESH_ROWS, ListingIndex, load_listing_index
from quietshop.catalog.models import Product
from quietshop.catalog.schemas import CategoryOut
from quietshop.catalog.spelling import Vocabulary


@dataclass(frozen=True)
class CategoryTree:
    roots: list[CategoryOut]
    # slug -> the path from its top-level category down to it (breadcrumbs)
    paths: dict[str, list[CategoryOut]] = field(default_factory=dict)
    # slug -> its id and every descendant's id (a parent's listing shows its children's products)
    ids_below: dict[str, list[int]] = field(default_factory=dict)


def load_category_tree(session: Session) -> CategoryTree:
    rows = session.connection().execute(queries.CATEGORIES).all()
    children: dict[int | None, list[Any]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    slug_of = {row.id: row.slug for row in rows}

    def build(row: Any) -> CategoryOut:
        return CategoryOut(
            slug=row.slug,
            name=row.name,
            description=row.description,
            parent_slug=slug_of.get(row.parent_id) if row.parent_id else None,
            children=[build(child) for child in children.get(row.id, [])],
        )

    def ids(row: Any) -> Iterator[int]:
        yield row.id
        for child in children.get(row.id, []):
            yield from ids(child)

    roots = [build(row) for row in children.get(None, [])]
    tree = CategoryTree(roots=roots)
    _index_paths(roots, [], tree.paths)
    tree.ids_below.update({row.slug: list(ids(row)) for row in rows})
    return tree


def _index_paths(
    nodes: list[CategoryOut], trail: list[CategoryOut], paths: dict[str, list[CategoryOut]]
) -> None:
    for node in nodes:
        paths[node.slug] = [*trail, node]
        _index_paths(node.children, paths[node.slug], paths)


def load_vocabulary(session: Session, pause: Callable[[], None] | None = None) -> Vocabulary:
    rows = session.connection().execute(
        select(Product.name, Product.brand, Product.search_text).where(Product.active.is_(True))
    )
    return Vocabulary((" ".join(row) for row in rows), pause)


# A search that finds the vocabulary out of date waits this long for the rebuild it started
# before answering with the previous one: a small shop's rebuild (milliseconds) is done by
# then, so its owner sees a new name corrected at once; a large shop's request is held no
# longer than this, in its worker thread and never on the event loop. Requests that come
# later in the same rebuild do not wait at all.
FRESH_WAIT_SECONDS = 0.25
# After a failed rebuild, requests at the same catalog generation try again this much later
# (a newer generation tries at once): a broken database is not asked again on every search.
RETRY_AFTER_FAILURE_SECONDS = 5.0
# A background rebuild works at most this share of its time and sleeps the rest: a thread
# that computes holds the GIL, and every time the event loop let go of it (each await on
# the network) it waited up to the switch interval to get it back. At 100,000 products
# the rebuild then takes about 4 x 2.2 s, and the loop keeps most of its rate.
REBUILD_DUTY = 0.25
# Change ids missing from the log (on PostgreSQL a transaction may commit after a later
# one) are asked for again this long, as web/page_cache.py does; at most this many.
GAP_PATIENCE = 120.0
MAX_GAPS = 1000
REFRESH_CHUNK = 500  # SKUs per IN list when the index re-reads changed products

log = logging.getLogger("quietshop.catalog")

Sessions = Callable[[], AbstractContextManager[Session]]


class _Throttle:
    """Sleeps, at each pause, ``1 / duty - 1`` times as long as the work since the last."""

    def __init__(self, duty: float) -> None:
        self._rest = (1.0 - duty) / duty
        self._since = time.perf_counter()

    def pause(self) -> None:
        time.sleep((time.perf_counter() - self._since) * self._rest)
        self._since = time.perf_counter()


@dataclass
class _Rebuild:
    version: int
    done: threading.Event
    wait_until: float  # monotonic: requests wait for it until then


class CatalogMemo:
    """``current_version`` names the catalog's generation: it must move on every
    whole-catalog change, and only then (the app hands in its change watch's).

    With ``sessions`` (the app's), an out-of-date vocabulary is rebuilt in the background,
    one rebuild at a time, while searches use the previous one; only the very first load
    runs in the request. Without ``sessions`` (scripts, service tests) it reloads inline,
    in the caller's session, as the tree does.
    """

    def __init__(
        self,
        current_version: Callable[[], int],
        sessions: Sessions | None = None,
        *,
        fresh_wait: float = FRESH_WAIT_SECONDS,
        retry_after: float = RETRY_AFTER_FAILURE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        vocabulary_loader: Callable[[Session], Vocabulary] | None = None,
        rebuild_duty: float = REBUILD_DUTY,
        listing_loader: Callable[[Session], ListingIndex] | None = None,
    ) -> None:
        self._current_version = current_version
        self._sessions = sessions
        self._fresh_wait = fresh_wait
        self._retry_after = retry_after
        self._monotonic = monotonic
        self._loader = vocabulary_loader
        self._listing_loader = listing_loader
        self._duty = rebuild_duty
        # One per value, held while a request loads it inline: the listing index's first
        # load (seconds at 100,000 products) must not hold up a reload of the tree.
        self._locks = {name: threading.Lock() for name in ("tree", "vocabulary", "listing")}
        self._values: dict[str, tuple[int, Any]] = {}
        # Guards the fields below; never held while loading.
        self._state = threading.Lock()
        # name ("vocabulary", "listing") -> the background rebuild under way / the last
        # failure's generation and when to retry (monotonic)
        self._rebuilds: dict[str, _Rebuild] = {}
        self._failures: dict[str, tuple[int, float]] = {}
        self.loads: Counter[str] = Counter()  # name -> times loaded, for tests and benches
        self._handed = threading.local()  # .behind: see handed_out_behind

    def _get(self, name: str, session: Session, load: Callable[[Session], Any]) -> Any:
        version = self._current_version()
        held = self._values.get(name)
        if held is not None and held[0] == version:
            return held[1]
        with self._locks[name]:
            held = self._values.get(name)
            if held is not None and held[0] == version:
                return held[1]  # another thread loaded it while this one waited
            value = load(session)
            self._values[name] = (version, value)
            self.loads[name] += 1
        return value

    def category_tree(self, session: Session) -> CategoryTree:
        tree: CategoryTree = self._get("tree", session, load_category_tree)
        return tree

    def vocabulary(self, session: Session) -> Vocabulary:
        """The catalog's words for spelling correction; possibly a few seconds old.

        A stale vocabulary is acceptable where a stale page would not be: it only corrects
        spelling. Prices, stock and which products match come from the database in every
        search; for a few seconds after a change a new word is merely not yet offered as a
        correction, and a typo of it is searched as typed.
        """
        version = self._current_version()
        held = self._values.get("vocabulary")
        if held is not None and held[0] == version:
            vocabulary: Vocabulary = held[1]
            return vocabulary
        if held is None or self._sessions is None:
            # Nothing to answer with yet (or no sessions of its own): load it here, once.
            loaded: Vocabulary = self._get("vocabulary", session, self._loader or load_vocabulary)
            return loaded
        rebuild = self._start_rebuild("vocabulary", version)
        if rebuild is not None:
            remaining = rebuild.wait_until - self._monotonic()
            if remaining > 0:
                rebuild.done.wait(remaining)
        newest: Vocabulary = self._values["vocabulary"][1]
        return newest

    def listing_index(self, session: Session) -> ListingIndex:
        """The listing index, patched with the change log's price and stock changes.

        After a whole-catalog change it may be the previous generation's for the length of
        a background rebuild (``handed_out_behind`` says so afterwards, in the same
        thread): a new product is not listed yet, a hidden one still is (its row is read,
        so what its card shows is current).
        """
        version = self._current_version()
        held = self._values.get("listing")
        loader = self._listing_loader or load_listing_index
        self._handed.behind = False
        if held is None or self._sessions is None:
            index: ListingIndex = self._get("listing", session, loader)
        else:
            if held[0] != version:
                rebuild = self._start_rebuild("listing", version)
                if rebuild is not None:
                    remaining = rebuild.wait_until - self._monotonic()
                    if remaining > 0:
                        rebuild.done.wait(remaining)
            held = self._values["listing"]
            index = held[1]
            self._handed.behind = held[0] != version
        return self._replayed(index, session)

    def listing_behind(self) -> bool:
        """Whether a listing now would come from an older index than the catalog's."""
        if self._sessions is None:
            return False
        held = self._values.get("listing")
        return held is not None and held[0] != self._current_version()

    def handed_out_behind(self) -> bool:
        """Whether the last index ``listing_index`` handed to this thread was older than
        the catalog then: that page must not be kept, for no change will drop it once the
        new index is in. (A page built from a current index is dropped by the page cache
        on the next whole-catalog change, like any other.)"""
        return bool(getattr(self._handed, "behind", False))

    def _replayed(self, index: ListingIndex, session: Session) -> ListingIndex:
        """``index`` with the logged price and stock changes since it last looked."""
        connection = session.connection()
        now = self._monotonic()
        gaps = {gap: until for gap, until in index.gaps.items() if until > now}
        changes = connection.execute(
            queries.CHANGES_AFTER, {"after": index.seen_change, "gaps": list(gaps)}
        ).all()
        if not changes and len(gaps) == len(index.gaps):
            return index
        last = index.seen_change
        skus: set[str] = set()
        for change in changes:
            if change.id > last:
                if change.id > last + 1 and self._pruned_past(connection, last):
                    self._mark_stale(index)  # changes are gone unread: build anew
                    return index
                for missing in range(max(last, change.id - MAX_GAPS) + 1, change.id):
                    gaps[missing] = now + GAP_PATIENCE
                last = change.id
            else:
                gaps.pop(change.id, None)
            # Whole-catalog changes move the generation (a rebuild); a stock change that
            # keeps the badge (listings False) changes nothing the index holds.
            if change.product_sku is not None and change.listings and not change.everything:
                skus.add(change.product_sku)
        if len(gaps) > MAX_GAPS:
            gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
        wanted = sorted(skus)
        rows: list[tuple[int, int, int, bool]] = []
        for start in range(0, len(wanted), REFRESH_CHUNK):
            found = connection.execute(
                REFRESH_ROWS.where(Product.sku.in_(wanted[start : start + REFRESH_CHUNK]))
            )
            rows.extend((r.id, r.price_cents, r.stock, r.active) for r in found)
        patched = index.refreshed(rows, last, gaps)
        with self._state:
            held = self._values.get("listing")
            if held is not None and held[1] is index:
                self._values["listing"] = (held[0], patched)
        return patched

    @staticmethod
    def _pruned_past(connection: Any, seen: int) -> bool:
        return int(connection.execute(queries.PRUNED_THROUGH).scalar() or 0) > seen

    def _mark_stale(self, index: ListingIndex) -> None:
        with self._state:
            held = self._values.get("listing")
            if held is not None and held[1] is index:
                self._values["listing"] = (-1, index)  # no generation: the next use rebuilds

    @property
    def rebuilding(self) -> bool:
        """Whether a background rebuild of the vocabulary is under way."""
        return "vocabulary" in self._rebuilds

    def vocabulary_behind(self) -> bool:
        """Whether a search now would be corrected with an older vocabulary than the
        catalog's (a rebuild under way, or failed): its page must not be kept, for no
        catalog change will drop it once the new vocabulary is in."""
        if self._sessions is None:
            return False  # reloads inline: never behind
        held = self._values.get("vocabulary")
        return held is not None and held[0] != self._current_version()

    def wait_for_rebuild(self, timeout: float | None = None) -> bool:
        """Wait for the rebuilds under way, if any (tests and benches); False on timeout."""
        return all(rebuild.done.wait(timeout) for rebuild in list(self._rebuilds.values()))

    def _start_rebuild(self, name: str, version: int) -> _Rebuild | None:
        """The rebuild of ``name`` under way, or a new one for ``version``; None after a
        recent failure at this generation."""
        with self._state:
            if name in self._rebuilds:
                return self._rebuilds[name]  # never two at once; the next request starts the next
            now = self._monotonic()
            failed = self._failures.get(name)
            if failed is not None and failed[0] == version and now < failed[1]:
                return None
            rebuild = _Rebuild(version, threading.Event(), now + self._fresh_wait)
            self._rebuilds[name] = rebuild
        thread = threading.Thread(
            target=self._run_rebuild, args=(name, rebuild), name=f"catalog-{name}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: keep the previous one, try later
            log.error("catalog %s rebuild could not start a thread; keeping the previous one", name)
            self._finish(name, rebuild, None)
        return rebuild

    def _run_rebuild(self, name: str, rebuild: _Rebuild) -> None:
        assert self._sessions is not None
        value: Any = None
        try:
            with self._sessions() as session:
                pause = _Throttle(self._duty).pause
                if name == "listing":
                    value = (
                        self._listing_loader(session)
                        if self._listing_loader is not None
                        else load_listing_index(session, pause)
                    )
                elif self._loader is not None:
                    value = self._loader(session)
                else:
                    value = load_vocabulary(session, pause)
        except Exception as exc:
            # The type only: a database error's message may quote the statement.
            log.error(
                "catalog %s rebuild for catalog generation %d failed (%s); keeping the "
                "previous one",
                name,
                rebuild.version,
                type(exc).__name__,
            )
        finally:
            self._finish(name, rebuild, value)

    def _finish(self, name: str, rebuild: _Rebuild, value: Any) -> None:
        with self._state:
            if value is None:
                self._failures[name] = (rebuild.version, self._monotonic() + self._retry_after)
            else:
                held = self._values.get(name)
                if held is None or held[0] <= rebuild.version:
                    self._values[name] = (rebuild.version, value)
                self.loads[name] += 1
                self._failures.pop(name, None)
            del self._rebuilds[name]
        rebuild.done.set()
