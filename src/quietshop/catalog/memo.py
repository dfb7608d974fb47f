"""What the whole catalog implies — the category tree and the search vocabulary — kept in
memory until a whole-catalog change (a category, a name, a product added or hidden); a
sale or a stock edit never reloads them. One memo per application, never process-global.

The tree is cheap (one small query) and reloads in the request that finds it out of date.
The vocabulary is not: at 100,000 products it took 6.5 s, and rebuilt inline it froze the
worker at the first search after every change. So once there is one, a change rebuilds it
in one background thread with its own session, and searches keep the previous one until
the new one is swapped in.
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
    ) -> None:
        self._current_version = current_version
        self._sessions = sessions
        self._fresh_wait = fresh_wait
        self._retry_after = retry_after
        self._monotonic = monotonic
        self._loader = vocabulary_loader
        self._duty = rebuild_duty
        self._lock = threading.Lock()  # held while a request loads inline
        self._values: dict[str, tuple[int, Any]] = {}
        # Guards the fields below; never held while loading.
        self._state = threading.Lock()
        self._rebuild: _Rebuild | None = None
        self._failed: tuple[int, float] | None = None  # generation, retry after (monotonic)
        self.loads: Counter[str] = Counter()  # name -> times loaded, for tests and benches

    def _get(self, name: str, session: Session, load: Callable[[Session], Any]) -> Any:
        version = self._current_version()
        held = self._values.get(name)
        if held is not None and held[0] == version:
            return held[1]
        with self._lock:
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
        rebuild = self._start_rebuild(version)
        if rebuild is not None:
            remaining = rebuild.wait_until - self._monotonic()
            if remaining > 0:
                rebuild.done.wait(remaining)
        newest: Vocabulary = self._values["vocabulary"][1]
        return newest

    @property
    def rebuilding(self) -> bool:
        """Whether a background rebuild of the vocabulary is under way."""
        return self._rebuild is not None

    def vocabulary_behind(self) -> bool:
        """Whether a search now would be corrected with an older vocabulary than the
        catalog's (a rebuild under way, or failed): its page must not be kept, for no
        catalog change will drop it once the new vocabulary is in."""
        if self._sessions is None:
            return False  # reloads inline: never behind
        held = self._values.get("vocabulary")
        return held is not None and held[0] != self._current_version()

    def wait_for_rebuild(self, timeout: float | None = None) -> bool:
        """Wait for the rebuild under way, if any (tests and benches); False on timeout."""
        rebuild = self._rebuild
        return rebuild is None or rebuild.done.wait(timeout)

    def _start_rebuild(self, version: int) -> _Rebuild | None:
        """The rebuild under way, or a new one for ``version``; None after a recent
        failure at this generation."""
        with self._state:
            if self._rebuild is not None:
                return self._rebuild  # never two at once; the next request starts the next
            now = self._monotonic()
            if self._failed is not None and self._failed[0] == version and now < self._failed[1]:
                return None
            rebuild = _Rebuild(version, threading.Event(), now + self._fresh_wait)
            self._rebuild = rebuild
        thread = threading.Thread(
            target=self._run_rebuild, args=(rebuild,), name="catalog-vocabulary", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: keep the previous vocabulary, try later
            log.error(
                "search vocabulary rebuild could not start a thread; searches keep the previous one"
            )
            self._finish(rebuild, None)
        return rebuild

    def _run_rebuild(self, rebuild: _Rebuild) -> None:
        assert self._sessions is not None
        value: Vocabulary | None = None
        try:
            with self._sessions() as session:
                if self._loader is not None:
                    value = self._loader(session)
                else:
                    value = load_vocabulary(session, _Throttle(self._duty).pause)
        except Exception as exc:
            # The type only: a database error's message may quote the statement.
            log.error(
                "search vocabulary rebuild for catalog generation %d failed (%s); searches "
                "keep the previous one",
                rebuild.version,
                type(exc).__name__,
            )
        finally:
            self._finish(rebuild, value)

    def _finish(self, rebuild: _Rebuild, value: Vocabulary | None) -> None:
        with self._state:
            if value is None:
                self._failed = (rebuild.version, self._monotonic() + self._retry_after)
            else:
                held = self._values.get("vocabulary")
                if held is None or held[0] <= rebuild.version:
                    self._values["vocabulary"] = (rebuild.version, value)
                self.loads["vocabulary"] += 1
                self._failed = None
            self._rebuild = None
        rebuild.done.set()
