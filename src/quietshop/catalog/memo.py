"""What the whole catalog implies — the category tree and the search vocabulary — kept in
memory until a whole-catalog change (a category, a name, a product added or hidden); a
sale or a stock edit never reloads them. One memo per application, never process-global."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
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


def load_vocabulary(session: Session) -> Vocabulary:
    rows = session.connection().execute(
        select(Product.name, Product.brand, Product.search_text).where(Product.active.is_(True))
    )
    return Vocabulary(" ".join(row) for row in rows)


class CatalogMemo:
    """``current_version`` names the catalog's generation: it must move on every
    whole-catalog change, and only then (the app hands in its change watch's)."""

    def __init__(self, current_version: Callable[[], int]) -> None:
        self._current_version = current_version
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, Any]] = {}
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
        vocabulary: Vocabulary = self._get("vocabulary", session, load_vocabulary)
        return vocabulary
