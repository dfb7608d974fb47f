"""An in-memory index of the shown products, so a listing page costs the same at any size.

At 100,000 products a deep category page sorted by price cost 99 ms of SQLite (an ORDER BY
... OFFSET walks the offset) and its COUNT 8.6 ms; at 1,200 products both cost about 6 ms
together. Here a listing is a few numpy operations over arrays of the products' filter
columns: a boolean mask, the chosen sort's precomputed order filtered by it, a slice for
the page. Only the page's rows are then read from the database, by id, so prices and stock
badges on a page are always the database's.

The index is immutable: a change (a price, a stock badge) makes a patched copy
(``refreshed``), swapped in by the memo; requests that hold the previous one finish with
it. Built from the database's own ``ORDER BY name, id``, so names sort in the database's
collation and the index's orders match the SQL path's (``queries._ORDERINGS``) row for row.

Memory (``nbytes``): 7.8 MB at the 100,000-product demo catalog (408,074 variants,
289,464 distinct product/option-value pairs), plus the candidates kept per listed category,
at most SUBSET_BUDGET (6 MB): 13.5 MB once every category was listed in every order
(bench/listing_index.py measures both).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from quietshop.catalog.models import CatalogChange, Product, ProductVariant
from quietshop.catalog.schemas import Facets, SortOrder

Ints = npt.NDArray[np.int32]
Longs = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# Rows are fetched in chunks of this many; a background build pauses between them.
CHUNK = 5_000
# Past this many changed products a refresh sorts the price orders again instead of moving
# each product (one move costs two passes over the order; a sort about forty).
MOVE_LIMIT = 16
# The candidates kept per category (see ListingIndex._subset) take at most about this much;
# the least recently listed categories are dropped first.
SUBSET_BUDGET = 6_000_000
_PRICE_SPAN = 1 << 31  # above any price in cents (the column is a 32-bit integer)

INDEX_PRODUCTS = (
    select(
        Product.id,
        Product.category_id,
        Product.price_cents,
        Product.stock,
        Product.brand,
        Product.created_at,
    )
    .where(Product.active.is_(True))
    # The database's collation decides the name order, as it does for the SQL listing.
    .order_by(Product.name.asc(), Product.id.asc())
)
# As text: most variants repeat a few option sets ('{"length": "1 m"}'), parsed once each.
INDEX_OPTIONS = (
    select(ProductVariant.product_id, cast(ProductVariant.options, Text))
    .join(Product, Product.id == ProductVariant.product_id)
    .where(Product.active.is_(True))
)
REFRESH_ROWS = select(Product.id, Product.price_cents, Product.stock, Product.active)
LAST_CHANGE = select(CatalogChange.id).order_by(CatalogChange.id.desc()).limit(1)

_DIGITS = re.compile(r"(\d+(?:\.\d+)?)")


def natural_key(text: str) -> tuple[tuple[int, float, str], ...]:
    """ "2 m" before "10 m": numbers in a value compare as numbers."""
    return tuple(
        (0, float(part), "") if i % 2 else (1, 0.0, part.casefold())
        for i, part in enumerate(_DIGITS.split(text))
        if part
    )


@dataclass(frozen=True)
class Selection:
    """A listing as the index answers it: the page's product ids in order, the exact
    number of matches, and (when asked) the facet counts."""

    ids: list[int]
    total: int
    facets: Facets | None = None


_NO_INTS: Ints = np.empty(0, np.int32)


@dataclass
class _Subset:
    """A listing's candidates: the products of some categories (or all), ascending."""

    positions: Ints
    owners: Ints  # option pairs: the owner's place in ``positions`` ...
    codes: Ints  # ... and the value's code
    orders: dict[SortOrder, Ints]  # places in ``positions`` in each order, built lazily
    # Brand and option value counts with no filter: they change only with a rebuild.
    plain: tuple[list[int], list[int]] | None = None

    @property
    def nbytes(self) -> int:
        arrays = [self.positions, self.owners, self.codes, *list(self.orders.values())]
        return sum(int(a.nbytes) for a in arrays)


@dataclass(frozen=True)
class _FacetData:
    subset: _Subset
    conditions: dict[str, Bools]
    all_but: Callable[[str | None], Bools | None]
    matched: Bools | None
    prices: Ints
    stocked: Bools
    brand_codes: Ints


@dataclass(frozen=True)
class ListingIndex:
    """Arrays over the shown products, position ``i`` being the ``i``-th by (name, id)."""

    ids: Longs
    category: Ints
    price: Ints
    in_stock: Bools
    alive: Bools  # False once a refresh finds the product hidden or gone
    brand: Ints  # code into ``brands`` (sorted)
    brands: tuple[str, ...]
    # order[sort]: product positions in that order; rank[sort]: each product's place in it
    order: dict[SortOrder, Ints]
    rank: dict[SortOrder, Ints]
    # Product positions in each category (ascending), for listings of a few categories.
    by_category: dict[int, Ints]
    # Option values as CSR: product i's distinct value codes are
    # value_codes[value_start[i]:value_start[i + 1]]; codes sort by (name, natural value).
    value_start: Ints
    value_codes: Ints
    values: tuple[tuple[str, str], ...]  # code -> (option name, value)
    value_code: dict[tuple[str, str], int]
    id_order: Ints  # positions sorted by product id, to find a product by its id
    # The change log was read through this id when the rows were; later changes are
    # replayed by ``refreshed`` (the memo does it on each use).
    seen_change: int = 0
    gaps: dict[int, float] = field(default_factory=dict)  # change id -> give up (monotonic)
    # Candidates by category key, filled on use (see ``_subset``); shared with refreshed
    # copies where their orders still hold.
    subsets: dict[tuple[int, ...] | None, _Subset] = field(default_factory=dict, compare=False)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        arrays: list[npt.NDArray[Any]] = [
            self.ids,
            self.category,
            self.price,
            self.in_stock,
            self.alive,
            self.brand,
            self.value_start,
            self.value_codes,
            self.id_order,
            *self.order.values(),
            *self.rank.values(),
            *self.by_category.values(),
        ]
        for subset in list(self.subsets.values()):
            arrays += [subset.positions, subset.owners, subset.codes, *subset.orders.values()]
        # An array shared by several parts (the whole catalog's orders) counts once.
        return sum(int(a.nbytes) for a in {id(a): a for a in arrays}.values())

    # ------------------------------------------------------------ reading

    def position_of(self, product_ids: Sequence[int]) -> Longs:
        """Positions of ``product_ids`` in the index; -1 for ids it does not hold."""
        wanted = np.asarray(product_ids, dtype=np.int64)
        if self.size == 0:
            return np.full(wanted.shape[0], -1, dtype=np.int64)
        sorted_ids = self.ids[self.id_order]
        at = np.minimum(np.searchsorted(sorted_ids, wanted), self.size - 1)
        positions: Longs = np.where(sorted_ids[at] == wanted, self.id_order[at], -1)
        return positions.astype(np.int64)

    def _subset(self, category_ids: Sequence[int] | None) -> _Subset:
        """The products of these categories with their option pairs and orders, built on
        first use and kept with the index (keys come from the category tree, never from
        a request, so there are at most as many as categories)."""
        key = None if category_ids is None else tuple(sorted(set(category_ids)))
        held = self.subsets.pop(key, None)
        if held is not None:
            self.subsets[key] = held  # most recently used last
            return held
        if key is None:
            positions: Ints = np.arange(self.size, dtype=np.int32)
        else:
            parts = [self.by_category[c] for c in key if c in self.by_category]
            positions = np.sort(np.concatenate(parts)).astype(np.int32) if parts else _NO_INTS
        owners, codes = self._pairs_of(positions)
        subset = _Subset(positions, owners, codes, {})
        self.subsets[key] = subset
        self._forget_subsets()
        return subset

    def _forget_subsets(self) -> None:
        """Keep the subsets within SUBSET_BUDGET bytes, dropping the least recently used
        (a dropped one is built again in a millisecond or two when next asked for)."""
        sizes = [(key, subset.nbytes) for key, subset in list(self.subsets.items())]
        total = sum(size for _, size in sizes)
        for key, size in sizes[:-1]:
            if total <= SUBSET_BUDGET:
                break
            self.subsets.pop(key, None)
            total -= size

    def _local_order(self, subset: _Subset, sort: SortOrder) -> Ints:
        """The subset's products (their places in ``subset.positions``) in ``sort`` order."""
        held = subset.orders.get(sort)
        if held is None:
            if subset.positions.shape[0] == self.size:
                held = self.order[sort]  # the whole catalog: positions are places
            else:
                held = np.argsort(self.rank[sort][subset.positions], kind="stable").astype(np.int32)
            subset.orders[sort] = held
        return held

    def select(
        self,
        *,
        category_ids: Sequence[int] | None,
        price_min: int | None,
        price_max: int | None,
        in_stock: bool,
        brands: Sequence[str],
        options: Sequence[tuple[str, str]],
        sort: SortOrder,
        offset: int,
        limit: int,
        facets: bool,
    ) -> Selection:
        """One page of the listing. Values the catalog does not have match nothing."""
        subset = self._subset(category_ids)
        positions = subset.positions
        k = int(positions.shape[0])
        # Each facet's own condition; a facet is counted with all the others applied.
        conditions: dict[str, Bools] = {}
        if not self.alive.all():
            conditions[""] = self.alive[positions]
        prices = self.price[positions]
        if price_min is not None or price_max is not None:
            ok = np.ones(k, dtype=np.bool_)
            if price_min is not None:
                ok &= prices >= price_min
            if price_max is not None:
                ok &= prices <= price_max
            conditions["price"] = ok
        stocked = self.in_stock[positions]
        if in_stock:
            conditions["in_stock"] = stocked
        brand_codes = self.brand[positions]
        if brands:
            wanted_brands = set(brands)
            chosen = np.zeros(len(self.brands) + 1, dtype=np.bool_)
            chosen[[i for i, name in enumerate(self.brands) if name in wanted_brands]] = True
            conditions["brand"] = chosen[brand_codes]
        wanted_by_name: dict[str, list[int]] = {}
        for name, value in options:
            code = self.value_code.get((name, value))
            wanted_by_name.setdefault(name, []).extend(() if code is None else (code,))
        for name, codes in wanted_by_name.items():
            chosen = np.zeros(len(self.values) + 1, dtype=np.bool_)
            chosen[codes] = True
            has = np.zeros(k, dtype=np.bool_)
            has[subset.owners[chosen[subset.codes]]] = True
            conditions["option:" + name] = has

        def all_but(skip: str | None) -> Bools | None:
            """Products passing every condition but ``skip``; None: every product."""
            mask: Bools | None = None
            for name, condition in conditions.items():
                if name != skip:
                    mask = condition.copy() if mask is None else mask & condition
            return mask

        matched = all_but(None)
        order = self._local_order(subset, sort)
        if matched is not None:
            order = order[matched[order]]
        total = int(order.shape[0])
        page = positions[order[offset : offset + limit]]
        answer = Selection(ids=self.ids[page].tolist(), total=total)
        if not facets:
            return answer
        facet_data = _FacetData(subset, conditions, all_but, matched, prices, stocked, brand_codes)
        return replace(answer, facets=self._facets(facet_data, set(brands), set(options)))

    def _pairs_of(self, positions: Ints) -> tuple[Ints, Ints]:
        """The (place in ``positions``, value code) pairs of those products."""
        starts = self.value_start[positions]
        lengths = self.value_start[positions + 1] - starts
        count = int(lengths.sum())
        if count == 0:
            return _NO_INTS, _NO_INTS
        owners = np.repeat(np.arange(positions.shape[0], dtype=np.int32), lengths)
        # Each pair's place in value_codes: its owner's start plus its rank within the owner.
        firsts = np.cumsum(lengths) - lengths
        within = np.arange(count, dtype=np.int64) - np.repeat(firsts, lengths)
        return owners, self.value_codes[np.repeat(starts, lengths) + within]

    def _facets(
        self, data: _FacetData, chosen_brands: set[str], chosen_options: set[tuple[str, str]]
    ) -> Facets:
        def kept(skip: str) -> Bools | None:
            return data.all_but(skip) if skip in data.conditions else data.matched

        def counts(values: npt.NDArray[Any], mask: Bools | None, size: int) -> list[int]:
            chosen = values if mask is None else values[mask]
            found: list[int] = np.bincount(chosen, minlength=size).tolist()
            return found

        pairs = data.subset
        if data.matched is None and pairs.plain is None:
            pairs.plain = (
                counts(data.brand_codes, None, len(self.brands)),
                counts(pairs.codes, None, len(self.values)),
            )
        by_brand = kept("brand")
        brand_counts = (
            pairs.plain[0]
            if by_brand is None and pairs.plain is not None
            else counts(data.brand_codes, by_brand, len(self.brands))
        )
        brand_facet = [
            {"value": name, "count": count, "selected": name in chosen_brands}
            for name, count in zip(self.brands, brand_counts, strict=True)
            if count or name in chosen_brands
        ]
        names = sorted({name for name, _ in self.values} | {n for n, _ in chosen_options})
        if data.matched is None and pairs.plain is not None:
            shared = pairs.plain[1]
        else:
            shared_mask = None if data.matched is None else data.matched[pairs.owners]
            shared = counts(pairs.codes, shared_mask, len(self.values))
        option_facets: list[dict[str, Any]] = []
        for name in names:
            own = "option:" + name
            by_name = shared
            if own in data.conditions:
                mask = data.all_but(own)
                by_name = counts(
                    pairs.codes, None if mask is None else mask[pairs.owners], len(self.values)
                )
            facet_values = [
                {"value": value, "count": by_name[code], "selected": (n, value) in chosen_options}
                for code, (n, value) in enumerate(self.values)
                if n == name and (by_name[code] or (n, value) in chosen_options)
            ]
            facet_values += [
                {"value": value, "count": 0, "selected": True}
                for n, value in sorted(chosen_options)
                if n == name and (n, value) not in self.value_code
            ]
            if facet_values:
                option_facets.append({"name": name, "values": facet_values})
        by_stock = kept("in_stock")
        stocked = data.stocked if by_stock is None else data.stocked & by_stock
        by_price = kept("price")
        priced = data.prices if by_price is None else data.prices[by_price]
        return Facets.model_validate(
            {
                "brands": brand_facet,
                "options": option_facets,
                "in_stock": int(np.count_nonzero(stocked)),
                "price": {
                    "min_cents": int(priced.min()) if priced.shape[0] else None,
                    "max_cents": int(priced.max()) if priced.shape[0] else None,
                },
            }
        )

    # ------------------------------------------------------------ keeping it current

    def refreshed(
        self,
        rows: Iterable[tuple[int, int, int, bool]],
        seen_change: int,
        gaps: dict[int, float],
    ) -> ListingIndex:
        """A copy with the products' (id, price_cents, stock, active) as given; a product
        the index does not hold (one added since it was built) waits for the rebuild that
        its whole-catalog change starts."""
        changed = list(rows)
        positions = self.position_of([row[0] for row in changed]) if changed else None
        price, in_stock, alive = self.price, self.in_stock, self.alive
        moved: list[int] = []
        if positions is not None and (positions >= 0).any():
            price, in_stock, alive = price.copy(), in_stock.copy(), alive.copy()
            for (_, cents, stock, active), at in zip(changed, positions.tolist(), strict=True):
                if at < 0:
                    continue
                if price[at] != cents:
                    price[at] = cents
                    moved.append(at)
                in_stock[at] = stock > 0
                alive[at] = bool(active)
        order, rank = self.order, self.rank
        if moved:
            order, rank = dict(order), dict(rank)
            for sort in (SortOrder.price_asc, SortOrder.price_desc):
                key = _price_key(price, sort)
                if len(moved) > MOVE_LIMIT:
                    order[sort] = np.argsort(key, kind="stable").astype(np.int32)
                else:
                    current = order[sort]
                    for at in moved:
                        current = np.delete(current, rank[sort][at])
                        place = np.searchsorted(key[current], key[at])
                        current = np.insert(current, place, at)
                        rank[sort] = _ranks(current)
                    order[sort] = current
                rank[sort] = _ranks(order[sort])
        # Candidates and option pairs never change here; price orders do when a price did.
        stale = (SortOrder.price_asc, SortOrder.price_desc) if moved else ()
        subsets = {
            key: _Subset(
                held.positions,
                held.owners,
                held.codes,
                {sort: o for sort, o in held.orders.items() if sort not in stale},
                held.plain,
            )
            for key, held in list(self.subsets.items())
        }
        return replace(
            self,
            price=price,
            in_stock=in_stock,
            alive=alive,
            order=order,
            rank=rank,
            seen_change=seen_change,
            gaps=gaps,
            subsets=subsets,
        )


def _price_key(price: Ints, sort: SortOrder) -> Longs:
    """Price, then name (the position), as one integer per product: unique, so a product's
    place in the order is found by bisection."""
    positions = np.arange(price.shape[0], dtype=np.int64)
    cents = price.astype(np.int64)
    if sort is SortOrder.price_desc:
        cents = _PRICE_SPAN - cents
    key: Longs = cents * max(price.shape[0], 1) + positions
    return key


def _ranks(order: Ints) -> Ints:
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0], dtype=order.dtype)
    return rank


def _microseconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // _MICROSECOND


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def _text_options(text: str) -> list[tuple[str, str]]:
    """A variant's options as (name, value) pairs. Only text values: the SQL path compares
    text, and a number's text differs between SQLite's json_extract and PostgreSQL's ->>."""
    try:
        options = json.loads(text)
    except ValueError:
        return []
    if not isinstance(options, dict):
        return []
    return [(k, v) for k, v in options.items() if isinstance(k, str) and isinstance(v, str)]


def load_listing_index(session: Session, pause: Callable[[], None] | None = None) -> ListingIndex:
    """Build the index from the database in ``session``; ``pause`` is called between
    chunks of rows (a background build's throttle)."""
    connection = session.connection()
    # Read the log's end before the rows: a change after it is replayed, never missed.
    seen = int(connection.execute(LAST_CHANGE).scalar() or 0)
    ids: list[int] = []
    categories: list[int] = []
    prices: list[int] = []
    stocks: list[bool] = []
    brand_names: list[str] = []
    created: list[int] = []
    result = connection.execute(INDEX_PRODUCTS)
    while chunk := result.fetchmany(CHUNK):
        for product_id, category_id, cents, stock, brand, created_at in chunk:
            ids.append(product_id)
            categories.append(category_id)
            prices.append(cents)
            stocks.append(stock > 0)
            brand_names.append(brand)
            created.append(_microseconds(created_at))
        if pause is not None:
            pause()
    n = len(ids)
    id_array = np.asarray(ids, dtype=np.int64)
    price = np.asarray(prices, dtype=np.int32)
    brands = tuple(sorted(set(brand_names)))
    brand_code = {name: i for i, name in enumerate(brands)}
    position_of_id = {product_id: i for i, product_id in enumerate(ids)}
    # Each (name, value) gets a provisional code as met; the codes are renumbered in
    # display order (name, then natural value order) once all are known.
    met: dict[tuple[str, str], int] = {}
    parsed: dict[str, list[int]] = {}
    pair_owners: list[int] = []
    pair_codes: list[int] = []
    option_rows = connection.execute(INDEX_OPTIONS)
    while variants := option_rows.fetchmany(CHUNK * 4):
        for product_id, text in variants:
            at = position_of_id.get(product_id)
            if at is None or not text:
                continue
            codes = parsed.get(text)
            if codes is None:
                codes = parsed[text] = [
                    met.setdefault(pair, len(met)) for pair in _text_options(text)
                ]
            pair_owners.extend([at] * len(codes))
            pair_codes.extend(codes)
        if pause is not None:
            pause()
    values = tuple(sorted(met, key=lambda p: (p[0], natural_key(p[1]), p[1])))
    value_code = {pair: i for i, pair in enumerate(values)}
    renumber = np.zeros(len(met) + 1, dtype=np.int64)
    for pair, provisional in met.items():
        renumber[provisional] = value_code[pair]
    # Distinct (owner, code) pairs, by owner: a product lists a value once, however many
    # of its variants have it.
    packed = np.unique(
        np.asarray(pair_owners, dtype=np.int64) * (len(values) + 1)
        + renumber[np.asarray(pair_codes, dtype=np.int64)]
    )
    owners = packed // (len(values) + 1)
    value_codes = (packed % (len(values) + 1)).astype(np.int32)
    value_start = np.searchsorted(owners, np.arange(n + 1, dtype=np.int64)).astype(np.int32)
    by_name = np.arange(n, dtype=np.int32)
    newest = np.lexsort((-id_array, -np.asarray(created, dtype=np.int64))).astype(np.int32)
    order = {
        SortOrder.name: by_name,
        SortOrder.price_asc: np.argsort(
            _price_key(price, SortOrder.price_asc), kind="stable"
        ).astype(np.int32),
        SortOrder.price_desc: np.argsort(
            _price_key(price, SortOrder.price_desc), kind="stable"
        ).astype(np.int32),
        SortOrder.newest: newest,
    }
    category = np.asarray(categories, dtype=np.int32)
    by_category: dict[int, Ints] = {}
    if n:
        category_order = np.argsort(category, kind="stable").astype(np.int32)
        edges = np.flatnonzero(np.diff(category[category_order])) + 1
        for group in np.split(category_order, edges):
            by_category[int(category[group[0]])] = group
    return ListingIndex(
        ids=id_array,
        category=category,
        price=price,
        in_stock=np.asarray(stocks, dtype=np.bool_),
        alive=np.ones(n, dtype=np.bool_),
        brand=np.asarray([brand_code[b] for b in brand_names], dtype=np.int32),
        brands=brands,
        order=order,
        rank={sort: _ranks(o) for sort, o in order.items()},
        by_category=by_category,
        value_start=value_start,
        value_codes=value_codes,
        values=values,
        value_code=value_code,
        id_order=np.argsort(id_array, kind="stable").astype(np.int32),
        seen_change=seen,
    )
