"""A guest's customer record (accounts/guests.py), made with plain statements in the order's
transaction: one record per address, a twin checkout that made it first, a customer number
drawn twice, and a record already made an account, which a guest's order must not touch."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from quietshop.accounts import guests
from quietshop.accounts.models import Customer
from quietshop.accounts.numbers import new_customer_number
from quietshop.accounts.signin import email_key
from tests.clock import T0


def numbers(seed: int = 7) -> Callable[[], str]:
    source = random.Random(seed)
    return lambda: new_customer_number(source)


def guest_rows(db: Session) -> list[Customer]:
    return list(db.execute(select(Customer).where(Customer.guest_key.is_not(None))).scalars())


def test_a_first_order_makes_a_record_with_a_number_and_no_password(db: Session) -> None:
    buyer = guests.guest(db, "Ann Lee", "Ann@Example.org", numbers(), T0)
    (row,) = guest_rows(db)
    assert (row.id, row.customer_number, row.name, row.email) == (
        buyer.id,
        buyer.customer_number,
        "Ann Lee",
        "Ann@Example.org",
    )
    assert buyer.is_guest and row.password_hash is None and row.email_key is None
    assert row.guest_key == email_key("Ann@Example.org") and row.created_at == T0


def test_the_same_address_again_keeps_the_number_and_takes_the_new_name(db: Session) -> None:
    first = guests.guest(db, "Ann Lee", "ann@example.org", numbers(1), T0)
    again = guests.guest(db, "Ann Lee-Smith", "ANN@example.org", numbers(2), T0)
    assert again.id == first.id and again.customer_number == first.customer_number
    db.expire_all()
    (row,) = guest_rows(db)
    assert (row.name, row.email) == ("Ann Lee-Smith", "ANN@example.org")


def test_a_twin_checkout_that_made_the_record_first_is_used(db: Session) -> None:
    """The twin's INSERT lands between this order's SELECT and its INSERT (here: while
    the number is drawn); the second INSERT does nothing and the record found is the twin's."""
    twin_number = numbers(3)()
    draws: Iterator[str] = iter([numbers(4)()])

    def draw_while_a_twin_inserts() -> str:
        guests.guest(db, "Ann Twin", "ann@example.org", lambda: twin_number, T0)
        return next(draws)

    buyer = guests.guest(db, "Ann Lee", "ann@example.org", draw_while_a_twin_inserts, T0)
    assert buyer.customer_number == twin_number
    assert len(guest_rows(db)) == 1


def test_a_number_drawn_twice_is_drawn_again(db: Session) -> None:
    taken = guests.guest(db, "Bob", "bob@example.org", numbers(5), T0).customer_number
    fresh = numbers(6)()
    draws = iter([taken, fresh])
    buyer = guests.guest(db, "Cy", "cy@example.org", lambda: next(draws), T0)
    assert buyer.customer_number == fresh
    assert db.scalar(select(func.count()).select_from(Customer)) == 2


def test_a_record_made_an_account_is_not_taken_for_a_guest_again(db: Session) -> None:
    """Claiming clears guest_key (``guests.claim``): a later guest order at the address
    gets a record of its own, so a guest's checkout never touches an account's row."""
    claimed = guests.guest(db, "Dee", "dee@example.org", numbers(8), T0)
    db.execute(update(Customer).where(Customer.id == claimed.id).values(guest_key=None))
    new = guests.guest(db, "Dee", "dee@example.org", numbers(9), T0)
    assert new.id != claimed.id and new.customer_number != claimed.customer_number


def test_numbers_that_never_come_free_end_in_an_error_not_a_loop(db: Session) -> None:
    taken = guests.guest(db, "Eve", "eve@example.org", numbers(10), T0).customer_number
    with pytest.raises(RuntimeError, match="guest record"):
        guests.guest(db, "Fay", "fay@example.org", lambda: taken, T0)
    assert [row.customer_number for row in guest_rows(db)] == [taken]
