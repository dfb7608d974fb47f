"""The listing index (catalog/listing_index.py) answers exactly as the SQL path does, and
its memo keeps it current: a price or stock change shows at once, a whole-catalog change
is rebuilt in the background while the previous index answers (issue 11, items 1 and 2).

The agreement test builds one catalog full of ties (equal prices, equal names, equal
creation times, products in and out of stock, hidden ones, variants with options) and
compares several hundred seeded filter, sort and page combinations on both databases.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from quietshop.catalog import admin, listing_index, service
from quietshop.catalog.listing_index import ListingIndex, load_listing_index, natural_key
from quietshop.catalog.memo import CatalogMemo
from quietshop.catalog.models import Product
from quietshop.catalog.schemas import SortOrder
from quietshop.catalog.service import ListingQuery, ProductDraft, VariantDraft
from quietshop.errors import InvalidInput, NotFound
from tests.catalog.factories import make_category, make_product, small_catalog
from tests.clock import T0

BOUND = 10.0  # only a memo that never finishes a rebuild waits this long

BRANDS = ("Quietline", "Corelink", "Amberton", "")
LENGTHS = ("0.5 m", "1 m", "2 m", "10 m")
COLOURS = ("Black", "White", "Red")
NAMES = ("Cable", "Adapter", "cable", "Zebra Hub", "Äpfel Switch", "Cable")


def tied_catalog(session: Session, products: int = 90) -> dict[str, str]:
    """Categories three deep and ``products`` products with many ties; returns slugs."""
    rng = random.Random(11)
    top = make_category(session, "av", "AV")
    mid = make_category(session, "av-cables", "AV cables", parent="av")
    leaf = make_category(session, "av-cables-hdmi", "HDMI", parent="av-cables")
    other = make_category(session, "tools-x", "Tools")
    empty = make_category(session, "empty-x", "Empty", parent="tools-x")
    categories = [top, mid, leaf, other]
    for number in range(products):
        price = rng.choice((100, 250, 250, 999, 1500, 1500, 4000))
        lengths = rng.sample(LENGTHS, rng.randint(0, 3))
        colours = rng.sample(COLOURS, rng.randint(1, 2)) if lengths else []
        combos = [(length, colour) for length in lengths for colour in colours]
        variants = [
            VariantDraft(
                sku=f"TI-{number}-{i}" if len(combos) > 1 else f"TI-{number}",
                label=f"{length} {colour}",
                options={"length": length, "colour": colour},
                price_cents=price + 10 * i,
                stock=rng.choice((0, 3)),
            )
            for i, (length, colour) in enumerate(combos)
        ] or [VariantDraft(sku=f"TI-{number}", price_cents=price, stock=rng.choice((0, 0, 4)))]
        service.create_product(
            session,
            ProductDraft(
                sku=f"TI-{number}",
                slug=f"tied-{number}",
                name=rng.choice(NAMES),
                category_slug=rng.choice(categories),
                variants=variants,
                currency="USD",
                brand=rng.choice(BRANDS),
                active=rng.random() > 0.1,
            ),
            T0 + timedelta(hours=rng.choice((0, 0, 1, 2))),
        )
    session.commit()
    return {"top": top, "mid": mid, "leaf": leaf, "other": other, "empty": empty}


def random_query(rng: random.Random, slugs: dict[str, str]) -> ListingQuery:
    low = rng.choice((None, None, 0, 250, 1000))
    high = rng.choice((None, None, 999, 1500, 100_000))
    if low is not None and high is not None and low > high:
        low, high = high, low
    options: list[tuple[str, str]] = []
    if rng.random() < 0.4:
        options += [("length", v) for v in rng.sample(LENGTHS, rng.randint(1, 2))]
    if rng.random() < 0.3:
        options += [("colour", v) for v in rng.sample(COLOURS, rng.randint(1, 2))]
    if rng.random() < 0.05:
        options.append(("voltage", "230 V"))  # a name no product has
    brands: list[str] = []
    if rng.random() < 0.4:
        brands = rng.sample(BRANDS, rng.randint(1, 2))
    if rng.random() < 0.05:
        brands.append("No Such Brand")
    return ListingQuery(
        category=rng.choice((None, *slugs.values())),
        price_min=low,
        price_max=high,
        in_stock=rng.random() < 0.4,
        sort=rng.choice(list(SortOrder)),
        page=rng.choice((1, 1, 2, 3, 9)),
        page_size=rng.choice((1, 5, 24)),
        brands=tuple(brands),
        options=tuple(options),
    )


def skus(page: service.ListingPage) -> list[str]:
    return [item.sku for item in page.items]


def test_index_and_sql_answer_alike_for_many_listings(db: Session) -> None:
    slugs = tied_catalog(db)
    memo = CatalogMemo(lambda: 1)  # no sessions: loads inline, in this session
    rng = random.Random(2026)
    nonempty = 0
    for _ in range(400):
        query = random_query(rng, slugs)
        by_sql = service.list_products(db, query)
        by_index = service.list_products(db, query, memo)
        assert skus(by_index) == skus(by_sql), query
        assert (by_index.total, by_index.pages) == (by_sql.total, by_sql.pages), query
        assert by_sql.facets is None and by_index.facets is not None
        nonempty += bool(by_index.items)
    assert nonempty > 150  # the combinations found products, not only empty pages
    assert memo.loads["listing"] == 1


def facet_counts_by_sql(db: Session, query: ListingQuery) -> dict[str, int]:
    """Each brand's count as the SQL path finds it: the query with only that brand."""
    return {
        brand: service.list_products(
            db, ListingQuery(**{**query.__dict__, "brands": (brand,), "page": 1})
        ).total
        for brand in BRANDS
    }


def test_facet_counts_are_disjunctive_and_match_sql(db: Session) -> None:
    slugs = tied_catalog(db)
    memo = CatalogMemo(lambda: 1)
    query = ListingQuery(
        category=slugs["top"], brands=("Corelink",), options=(("length", "2 m"),), in_stock=True
    )
    page = service.list_products(db, query, memo)
    assert page.facets is not None
    brands = {f.value: f.count for f in page.facets.brands}
    # A brand's count ignores the brand filter itself (what choosing it would add) ...
    by_sql = facet_counts_by_sql(db, query)
    assert brands == {b: n for b, n in by_sql.items() if n or b == "Corelink"}
    assert [f.value for f in page.facets.brands if f.selected] == ["Corelink"]
    # ... each length's count ignores the length filter but keeps the brand and stock ones.
    lengths = {
        f.value: f.count for o in page.facets.options if o.name == "length" for f in o.values
    }
    for length, count in lengths.items():
        alone = ListingQuery(**{**query.__dict__, "options": (("length", length),)})
        assert service.list_products(db, alone).total == count
    # In-stock: how many of the matches without the stock filter are in stock.
    assert page.facets.in_stock == page.total
    # Price range: over the matches without a price filter.
    every = service.list_products(
        db, ListingQuery(**{**query.__dict__, "page_size": 100, "sort": SortOrder.price_asc})
    )
    if every.items:
        assert page.facets.price.min_cents == every.items[0].price.cents
        assert page.facets.price.max_cents == max(i.price.cents for i in every.items)


def test_option_values_sort_as_numbers() -> None:
    values = ["10 m", "2 m", "0.5 m", "1 m", "1.5 m"]
    assert sorted(values, key=natural_key) == ["0.5 m", "1 m", "1.5 m", "2 m", "10 m"]


def test_unknown_values_give_an_empty_page_and_bad_ones_are_refused(db: Session) -> None:
    catalog = small_catalog(db)
    memo = CatalogMemo(lambda: 1)
    for query in (
        ListingQuery(category=catalog.cables, brands=("Nobody",)),
        ListingQuery(category=catalog.cables, options=(("length", "99 m"),)),
        ListingQuery(category=catalog.cables, options=(('le"ngth', "1 m"),)),
    ):
        for answer in (service.list_products(db, query), service.list_products(db, query, memo)):
            assert (answer.items, answer.total, answer.pages) == ([], 0, 1)
    too_many = ListingQuery(brands=tuple(f"b{i}" for i in range(51)))
    too_long = ListingQuery(options=(("length", "x" * 101),))
    control = ListingQuery(brands=("a\x00b",))
    for query, field in ((too_many, "brand"), (too_long, "option"), (control, "brand")):
        with pytest.raises(InvalidInput) as refused:
            service.list_products(db, query, memo)
        assert refused.value.field == field
    with pytest.raises(NotFound):
        service.list_products(db, ListingQuery(category="no-such"), memo)


def test_a_page_past_the_end_is_empty_with_the_real_page_count(db: Session) -> None:
    catalog = small_catalog(db)
    memo = CatalogMemo(lambda: 1)
    answer = service.list_products(db, ListingQuery(category=catalog.cables, page=50), memo)
    assert answer.items == [] and answer.total == 7 and answer.pages == 1
    assert answer.facets is not None and answer.facets.in_stock == 6


def test_price_and_stock_changes_show_without_a_rebuild(db: Session) -> None:
    catalog = small_catalog(db)
    memo = CatalogMemo(lambda: 1)
    cheapest = ListingQuery(category=catalog.hdmi, sort=SortOrder.price_asc)
    in_stock = ListingQuery(category=catalog.hdmi, in_stock=True)
    before = service.list_products(db, cheapest, memo)
    assert before.items[0].sku == catalog.hdmi_skus[1]  # 4.99
    # A price edit (a listing change, no new generation) moves the product to the front.
    admin.update_variant(db, catalog.hdmi_skus[3], admin.VariantChanges(price_cents=99))
    db.commit()
    after = service.list_products(db, cheapest, memo)
    assert after.items[0].sku == catalog.hdmi_skus[3]
    assert skus(after) == skus(service.list_products(db, cheapest))
    # Stock to zero (the badge flips): gone from the in-stock listing at once.
    service.set_variant_stock(db, catalog.hdmi_skus[1], 0)
    db.commit()
    assert catalog.hdmi_skus[1] not in skus(service.list_products(db, in_stock, memo))
    assert memo.loads["listing"] == 1  # patched, never rebuilt


def test_many_price_changes_at_once_resort_the_orders(db: Session) -> None:
    slugs = tied_catalog(db, products=40)
    memo = CatalogMemo(lambda: 1)
    service.list_products(db, ListingQuery(), memo)
    rng = random.Random(5)
    for number in rng.sample(range(40), 25):
        db.execute(
            update(Product)
            .where(Product.sku == f"TI-{number}")
            .values(price_cents=rng.randint(1, 9))
        )
        service._record(db, [service._Change(f"TI-{number}", listings=True)])
    db.commit()
    for sort in SortOrder:
        query = ListingQuery(category=slugs["top"], sort=sort, page_size=100)
        assert skus(service.list_products(db, query, memo)) == skus(
            service.list_products(db, query)
        )
    assert memo.loads["listing"] == 1


def test_a_whole_catalog_change_is_rebuilt_in_the_background(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        catalog = small_catalog(session)
    version = [1]
    gate = threading.Event()
    started = threading.Event()

    def held_loader(session: Session) -> ListingIndex:
        started.set()
        assert gate.wait(BOUND)
        return load_listing_index(session)

    memo = CatalogMemo(lambda: version[0], sessions, fresh_wait=0, listing_loader=held_loader)
    query = ListingQuery(category=catalog.tools)
    gate.set()
    with sessions() as session:
        assert service.list_products(session, query, memo).total == 2  # first load: inline
        gate.clear()
        make_product(session, catalog.tools, name="New Tool", price_cents=5)
        session.commit()
        version[0] = 2
        # The rebuild waits on the gate; the previous index answers meanwhile.
        stale = service.list_products(session, query, memo)
        assert started.wait(BOUND)
        assert stale.total == 2 and memo.listing_behind() and memo.handed_out_behind()
        gate.set()
        assert memo.wait_for_rebuild(BOUND)
        fresh = service.list_products(session, query, memo)
    assert fresh.total == 3 and fresh.items[0].name == "New Tool"
    assert not memo.listing_behind() and not memo.handed_out_behind()
    assert memo.loads["listing"] == 2


def test_the_index_is_small(db: Session) -> None:
    tied_catalog(db, products=60)
    index = load_listing_index(db)
    assert 40 < index.size < 60  # the hidden ones are not in it
    # Well under a hundred bytes a product plus the option pairs (the docstring's figure).
    pairs = int(index.value_codes.shape[0])
    assert index.nbytes <= 100 * index.size + 12 * pairs + 8 * 64


def test_kept_candidates_stay_within_their_budget(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    slugs = tied_catalog(db, products=60)
    memo = CatalogMemo(lambda: 1)
    monkeypatch.setattr(listing_index, "SUBSET_BUDGET", 1)  # keep only the latest
    for slug in [*slugs.values(), *slugs.values()]:
        for sort in SortOrder:
            query = ListingQuery(category=slug, sort=sort, in_stock=True)
            assert skus(service.list_products(db, query, memo)) == skus(
                service.list_products(db, query)
            )
    assert len(memo.listing_index(db).subsets) == 1
