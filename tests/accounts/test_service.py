"""Account rules without HTTP: registration, verification, sign-in, tokens, lockout,
password reset, email change, addresses, export and closing — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.accounts import addresses, service, signin, tokens
from quietshop.accounts.models import Customer
from quietshop.accounts.numbers import is_valid_customer_number
from quietshop.app import personal_data_registry
from quietshop.errors import InvalidInput, NotFound, Unauthorized
from quietshop.mail import service as mail
from quietshop.mail.models import OutboxMessage
from quietshop.settings import Settings
from quietshop.web.limits import AttemptLimiter
from tests.accounts.factories import (
    PASSWORD,
    T0,
    link_in,
    mails_to,
    make_customer,
    token_for,
)


def customers(db: Session) -> int:
    return db.execute(select(func.count(Customer.id))).scalar_one()


# ---------------------------------------------------------------- registration


def test_registration_gives_a_customer_number_and_a_verification_mail(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings, email="Ann@Example.org")
    number = account.customer.customer_number
    assert is_valid_customer_number(number)
    (message,) = mails_to(db, "Ann@Example.org")
    assert message.purpose == "account" and number in message.text_body
    # The stored body has only a placeholder; the link itself waits sealed until sent.
    assert "https://shop.test/account/verify?token=" not in message.text_body
    assert "[[link:link]]" in message.text_body
    assert len(link_in(message, account_settings)) == 43
    assert account.customer.password_hash.startswith("$argon2id$")
    assert mail.is_opted_in(db, number) is False  # unticked unless ticked


def test_registering_a_taken_address_changes_nothing_and_tells_its_owner(
    db: Session, account_settings: Settings
) -> None:
    """The same (silent) outcome for a new and a taken address: the caller answers alike,
    and the owner of the address learns of the attempt by mail, not the one who tried."""
    owner = make_customer(db, account_settings, email="ann@example.org")
    service.register(
        db,
        account_settings,
        service.Registration("Mallory", "ANN@Example.ORG", "another long passphrase"),
        T0,
    )
    assert customers(db) == 1
    attempt = mails_to(db, "ann@example.org")[-1]
    assert attempt.subject == "Someone tried to register with your address"
    assert attempt.customer_number == owner.customer.customer_number
    assert "Mallory" not in attempt.text_body  # the stranger's name is not passed on


@pytest.mark.parametrize(
    ("name", "email", "password", "phone", "field"),
    [
        ("", "a@example.org", PASSWORD, "", "name"),
        ("N" * 201, "a@example.org", PASSWORD, "", "name"),
        ("Ann\r\nBcc: x@example.org", "a@example.org", PASSWORD, "", "name"),
        ("Ann", "not-an-address", PASSWORD, "", "email"),
        ("Ann", "a@example.org\r\nBcc: x@example.org", PASSWORD, "", "email"),
        ("Ann", "a" * 250 + "@example.org", PASSWORD, "", "email"),
        ("Ann", "a@example.org", "short", "", "password"),
        ("Ann", "a@example.org", "x" * 129, "", "password"),
        ("Ann", "a@example.org", "password1234", "", "password"),
        ("Ann", "a@example.org", PASSWORD, "call me maybe", "phone"),
    ],
)
def test_bad_registrations_name_the_field_and_write_nothing(
    db: Session,
    account_settings: Settings,
    name: str,
    email: str,
    password: str,
    phone: str,
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as error:
        service.register(
            db, account_settings, service.Registration(name, email, password, phone), T0
        )
    assert error.value.field == field
    assert password not in error.value.message  # never echoed
    assert customers(db) == 0 and db.execute(select(func.count(OutboxMessage.id))).scalar_one() == 0


def test_the_mailing_opt_in_is_kept_by_the_mail_domain(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings, opt_in=True)
    assert mail.is_opted_in(db, account.customer.customer_number)
    service.set_mailing_preference(db, account.signed_in, False, T0)
    assert not mail.is_opted_in(db, account.customer.customer_number)


def test_a_verification_link_works_once(db: Session, account_settings: Settings) -> None:
    account = make_customer(db, account_settings)
    token = link_in(mails_to(db, account.email)[0], account_settings)
    service.verify_email(db, token, T0 + timedelta(hours=1))
    assert account.customer.email_verified_at == T0 + timedelta(hours=1)
    with pytest.raises(InvalidInput) as replayed:
        service.verify_email(db, token, T0 + timedelta(hours=2))
    assert "not valid any more" in replayed.value.message


def test_an_old_verification_link_is_refused(db: Session, account_settings: Settings) -> None:
    account = make_customer(db, account_settings)
    token = link_in(mails_to(db, account.email)[0], account_settings)
    with pytest.raises(InvalidInput):
        service.verify_email(db, token, T0 + timedelta(hours=25))
    assert account.customer.email_verified_at is None


@pytest.mark.parametrize("cut", [1, 10, 42])
def test_a_link_cut_short_is_called_incomplete(
    db: Session, account_settings: Settings, cut: int
) -> None:
    """A link copied from a wrapped terminal line arrives cut: say so, not "too old"."""
    account = make_customer(db, account_settings)
    token = link_in(mails_to(db, account.email)[0], account_settings)
    with pytest.raises(InvalidInput) as error:
        service.verify_email(db, token[:cut], T0)
    assert error.value.message.startswith("This link is incomplete")
    with pytest.raises(InvalidInput) as forged:
        service.verify_email(db, "A" * 43, T0)  # the right shape, but no such link
    assert "not valid any more" in forged.value.message


def test_a_new_verification_link_on_request(db: Session, account_settings: Settings) -> None:
    account = make_customer(db, account_settings)
    service.resend_verification(db, account_settings, account.signed_in, T0 + timedelta(days=3))
    first, second = mails_to(db, account.email)
    with pytest.raises(InvalidInput):  # the first one is too old by now
        service.verify_email(db, link_in(first, account_settings), T0 + timedelta(days=3))
    service.verify_email(db, link_in(second, account_settings), T0 + timedelta(days=3))
    with pytest.raises(InvalidInput) as error:
        service.resend_verification(db, account_settings, account.signed_in, T0)
    assert error.value.message == "your email address is already confirmed"


def test_customer_service_checks_the_digit_before_looking(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings)
    number = account.customer.customer_number
    assert service.find_by_number(db, number).id == account.customer.id
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(InvalidInput):
        service.find_by_number(db, wrong)


# ---------------------------------------------------------------- signing in


def test_sign_in_and_the_same_failure_for_unknown_and_wrong(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings)
    ok = signin.sign_in(db, account_settings, account.email.upper(), PASSWORD, T0)
    assert ok.token is not None and len(ok.token) >= 43  # 256 bits, url-safe
    wrong = signin.sign_in(db, account_settings, account.email, "wrong password!!", T0)
    unknown = signin.sign_in(db, account_settings, "nobody@example.org", PASSWORD, T0)
    assert wrong.token is None and unknown.token is None and wrong.failure == unknown.failure


def test_tokens_are_stored_only_as_digests(db: Session, account_settings: Settings) -> None:
    from quietshop.accounts.models import CustomerToken

    account = make_customer(db, account_settings)
    token = token_for(db, account_settings, account)
    stored = db.execute(select(CustomerToken.token_hash)).scalar_one()
    assert stored == tokens.digest(token) and token not in stored


def test_idle_and_absolute_expiry(db: Session, account_settings: Settings) -> None:
    account = make_customer(db, account_settings)
    token = token_for(db, account_settings, account)
    moment = T0
    for _ in range(23):  # use it every 29 minutes: alive for 11 h 7 min
        moment += timedelta(minutes=29)
        found = tokens.authenticate(db, token, account_settings, moment)
        assert found.customer.id == account.customer.id
        tokens.touch(db, found.token_id, moment)
    with pytest.raises(Unauthorized):
        tokens.authenticate(db, token, account_settings, T0 + timedelta(hours=12))  # absolute
    idle = token_for(db, account_settings, account)
    with pytest.raises(Unauthorized):
        tokens.authenticate(db, idle, account_settings, T0 + timedelta(minutes=31))


def test_token_and_registration_times_are_kept_to_the_minute(
    db: Session, account_settings: Settings
) -> None:
    """P5 (issue 10): a sign-in's or registration's access-log line is stamped to the
    second; the records keep the minute, so no time in them picks that line out. The
    limits still hold: the token idles out at most a minute early, never late."""
    from quietshop.accounts.models import CustomerToken

    signed_in_at = T0 + timedelta(seconds=47, microseconds=123)
    account = make_customer(db, account_settings)
    token = token_for(db, account_settings, account, now=signed_in_at)
    row = db.execute(select(CustomerToken)).scalar_one()
    assert row.created_at == row.last_used_at == T0
    assert row.expires_at == T0 + timedelta(hours=account_settings.token_absolute_hours)
    used_at = T0 + timedelta(minutes=5, seconds=31)
    tokens.touch(db, tokens.authenticate(db, token, account_settings, used_at).token_id, used_at)
    db.expire_all()
    assert db.execute(select(CustomerToken.last_used_at)).scalar_one() == T0 + timedelta(minutes=5)
    idle = timedelta(minutes=account_settings.token_idle_minutes)
    assert tokens.authenticate(db, token, account_settings, T0 + timedelta(minutes=5) + idle / 2)
    with pytest.raises(Unauthorized):
        tokens.authenticate(db, token, account_settings, T0 + timedelta(minutes=5) + idle)

    registration = service.Registration("Ann Lee", "ann.minute@example.org", "a long passphrase 9")
    service.register(db, account_settings, registration, signed_in_at)
    customer = db.execute(
        select(Customer).where(Customer.email == "ann.minute@example.org")
    ).scalar_one()
    assert customer.created_at == customer.password_changed_at == T0


def test_sign_out_and_sign_out_everywhere(db: Session, account_settings: Settings) -> None:
    account = make_customer(db, account_settings)
    first, second, third = (token_for(db, account_settings, account) for _ in range(3))
    tokens.revoke(db, first, T0)
    with pytest.raises(Unauthorized):
        tokens.authenticate(db, first, account_settings, T0)
    assert tokens.authenticate(db, second, account_settings, T0)
    tokens.revoke_all(db, account.customer.id, T0)
    for token in (second, third):
        with pytest.raises(Unauthorized):
            tokens.authenticate(db, token, account_settings, T0)


def test_ten_failures_lock_the_account_for_thirty_minutes(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings)
    for _ in range(10):
        assert (
            signin.sign_in(db, account_settings, account.email, "wrong password!!", T0).token
            is None
        )
    locked = signin.sign_in(
        db, account_settings, account.email, PASSWORD, T0 + timedelta(minutes=29)
    )
    assert locked.token is None  # even the right password waits
    later = signin.sign_in(
        db, account_settings, account.email, PASSWORD, T0 + timedelta(minutes=31)
    )
    assert later.token is not None


def test_the_per_address_limit_lives_in_memory() -> None:
    from quietshop.errors import TooManyAttempts

    limiter = AttemptLimiter(limit=3, window_seconds=60)
    for i in range(3):
        limiter.check("203.0.113.7", now=float(i))
    with pytest.raises(TooManyAttempts):
        limiter.check("203.0.113.7", now=10.0)
    limiter.check("198.51.100.1", now=10.0)  # another address is not affected
    limiter.check("203.0.113.7", now=61.0)  # the window moved on


# ---------------------------------------------------------------- passwords


def test_changing_the_password_asks_the_old_one_and_ends_every_sign_in(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings)
    token = token_for(db, account_settings, account)
    with pytest.raises(InvalidInput) as error:
        service.change_password(
            db, account.signed_in, "not the password", "a new long passphrase", T0
        )
    assert error.value.field == "current_password"
    service.change_password(db, account.signed_in, PASSWORD, "a new long passphrase", T0)
    with pytest.raises(Unauthorized):
        tokens.authenticate(db, token, account_settings, T0)
    assert signin.sign_in(db, account_settings, account.email, "a new long passphrase", T0).token


def test_password_reset_by_mail(db: Session, account_settings: Settings) -> None:
    account = make_customer(db, account_settings)
    token = token_for(db, account_settings, account)
    service.request_password_reset(db, account_settings, account.email, T0)
    service.request_password_reset(db, account_settings, "nobody@example.org", T0)  # no error
    reset = [m for m in mails_to(db, account.email) if "reset" in m.subject.lower()]
    link = link_in(reset[0], account_settings)
    service.reset_password(db, link, "a brand new passphrase", T0 + timedelta(minutes=30))
    with pytest.raises(Unauthorized):
        tokens.authenticate(db, token, account_settings, T0 + timedelta(minutes=30))
    with pytest.raises(InvalidInput):
        service.reset_password(db, link, "yet another passphrase", T0 + timedelta(minutes=31))


def test_reset_links_die_after_an_hour_and_with_a_password_change(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings)
    service.request_password_reset(db, account_settings, account.email, T0)
    old_link = link_in(mails_to(db, account.email)[-1], account_settings)
    with pytest.raises(InvalidInput):
        service.reset_password(db, old_link, "a brand new passphrase", T0 + timedelta(minutes=61))
    service.request_password_reset(db, account_settings, account.email, T0 + timedelta(minutes=1))
    link = link_in(mails_to(db, account.email)[-1], account_settings)
    service.change_password(
        db, account.signed_in, PASSWORD, "changed meanwhile!!", T0 + timedelta(minutes=2)
    )
    with pytest.raises(InvalidInput):
        service.reset_password(db, link, "a brand new passphrase", T0 + timedelta(minutes=3))


# ---------------------------------------------------------------- email change, addresses


def test_email_change_needs_the_new_address_to_confirm(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings, email="old@example.org")
    service.request_email_change(db, account_settings, account.signed_in, "new@example.org", T0)
    notice = mails_to(db, "old@example.org")[-1]
    assert "new@example.org" in notice.text_body
    assert account.customer.email == "old@example.org"  # not until confirmed
    change = mails_to(db, "new@example.org")[0]
    service.confirm_email_change(db, link_in(change, account_settings), T0)
    assert account.customer.email == "new@example.org"
    assert signin.sign_in(db, account_settings, "new@example.org", PASSWORD, T0).token


def test_moving_to_a_taken_address_tells_its_owner_and_changes_nothing(
    db: Session, account_settings: Settings
) -> None:
    """Like registration: a signed-in stranger learns nothing of which addresses exist."""
    mallory = make_customer(db, account_settings, email="mallory@example.org")
    make_customer(db, account_settings, email="ann@example.org")
    service.request_email_change(db, account_settings, mallory.signed_in, "ANN@example.org", T0)
    assert [m.subject for m in mails_to(db, "ann@example.org")][-1] == (
        "Someone asked to use your email address"
    )
    assert mails_to(db, "mallory@example.org")[-1].subject == "Please confirm your email address"
    assert mallory.customer.email == "mallory@example.org"
    with pytest.raises(InvalidInput) as own:
        service.request_email_change(
            db, account_settings, mallory.signed_in, "Mallory@Example.org", T0
        )
    assert own.value.message == "this is already your address"


def test_addresses_are_validated_per_country_and_private(
    db: Session, account_settings: Settings
) -> None:
    ann = make_customer(db, account_settings).customer.id
    bob = make_customer(db, account_settings, name="Bob").customer.id
    good = addresses.AddressInput(
        "shipping", "Ann", "1 Main St", "Springfield", "us", region="IL", postcode="62701"
    )
    address = addresses.add(db, ann, good, T0)
    assert address.country == "US"
    for bad, field in [
        (
            addresses.AddressInput(
                "shipping", "Ann", "1 Main St", "Springfield", "US", postcode="62701"
            ),
            "region",
        ),
        (
            addresses.AddressInput(
                "shipping", "Ann", "1 Main St", "Springfield", "US", region="IL", postcode="ABC"
            ),
            "postcode",
        ),
        (
            addresses.AddressInput("shipping", "Ann", "", "Springfield", "DE", postcode="10115"),
            "line1",
        ),
        (addresses.AddressInput("shipping", "Ann", "1 Main St", "Springfield", "XX"), "country"),
        (
            addresses.AddressInput(
                "home", "Ann", "1 Main St", "Springfield", "DE", postcode="10115"
            ),
            "kind",
        ),
    ]:
        with pytest.raises(InvalidInput) as error:
            addresses.add(db, ann, bad, T0)
        assert error.value.field == field
    with pytest.raises(NotFound):
        addresses.get_for(db, bob, address.id)  # another customer's address is "not found"
    with pytest.raises(NotFound):
        addresses.delete(db, bob, address.id)


# ---------------------------------------------------------------- export and closing


def test_export_holds_every_personal_datum(db: Session, account_settings: Settings) -> None:
    account = make_customer(db, account_settings, name="Ann Export", opt_in=True)
    service.update_profile(db, account.signed_in, None, "+1 555 0100")
    addresses.add(
        db,
        account.customer.id,
        addresses.AddressInput("billing", "Ann Export", "2 Side St", "Dublin", "IE"),
        T0,
    )
    token_for(db, account_settings, account)
    exported = service.export_data(db, account.signed_in, personal_data_registry(), T0)
    assert exported["customer_number"] == account.customer.customer_number
    data = exported["data"]
    (row,) = data["account"]
    assert row["name"] == "Ann Export" and row["phone"] == "+1 555 0100"
    assert row["email"] == account.email
    assert row["password_hash"].startswith("(a secret")  # described, never given
    assert data["addresses"][0]["line1"] == "2 Side St"
    (sign_in,) = data["sign_ins"]
    assert sign_in["token_hash"].startswith("(a secret")
    assert data["mailing_subscription"][0]["opted_in"] is True
    (verification,) = data["mail"]
    assert "[link sent in the mail; not kept]" in verification["text_body"]
    assert verification["sealed_context"].startswith("(a secret")
    # Generated from the tables: every column of the customer row is there.
    assert set(row) == {c.key for c in Customer.__table__.columns}


def test_closing_asks_the_password_then_erases_and_signs_out(
    db: Session, account_settings: Settings
) -> None:
    account = make_customer(
        db, account_settings, name="Ann Close", email="close@example.org", opt_in=True
    )
    token = token_for(db, account_settings, account)
    number = account.customer.customer_number
    registry = personal_data_registry()
    with pytest.raises(InvalidInput) as wrong:
        service.close_account(db, account_settings, account.signed_in, "not it", T0, registry)
    assert wrong.value.field == "password"
    service.close_account(db, account_settings, account.signed_in, PASSWORD, T0, registry)
    closed = db.get(Customer, account.customer.id)
    assert closed is not None and closed.customer_number == number  # orders refer to it
    assert closed.closed_at == T0
    assert "close@example.org" not in (closed.email, closed.email_key) and closed.name == ""
    assert addresses.list_for(db, closed.id) == []
    with pytest.raises(Unauthorized):
        tokens.authenticate(db, token, account_settings, T0)
    assert not mail.is_opted_in(db, number)
    # One message still knows the address: the goodbye, until it is sent (then scrubbed).
    (goodbye,) = mails_to(db, "close@example.org")
    assert goodbye.subject == "Your account is closed" and goodbye.erase_after_send
    assert signin.sign_in(db, account_settings, "close@example.org", PASSWORD, T0).token is None


def test_unknown_email_and_wrong_password_take_about_as_long(
    db: Session, account_settings: Settings
) -> None:
    """Both pay one argon2id verify; a missing account must not answer measurably faster."""
    import statistics
    import time

    account = make_customer(db, account_settings)

    # CPU time, not wall time: both pay the same argon2id work, and other load on the
    # machine (a parallel test worker) would skew wall-clock samples of one but not the other.
    def timed(email: str) -> float:
        start = time.process_time()
        signin.sign_in(db, account_settings, email, "wrong password!!", T0)
        return time.process_time() - start

    wrong = statistics.median(timed(account.email) for _ in range(5))
    unknown = statistics.median(timed("nobody@example.org") for _ in range(5))
    assert 0.5 < unknown / wrong < 2.0, (unknown, wrong)


def test_a_new_name_reaches_the_mailing_greeting(db: Session, account_settings: Settings) -> None:
    from quietshop.mail.models import MailingSubscription

    account = make_customer(db, account_settings, name="Ann Old", opt_in=True)
    service.update_profile(db, account.signed_in, "Ann New", None)
    subscription = db.execute(select(MailingSubscription)).scalar_one()
    assert (subscription.name, subscription.opted_in) == ("Ann New", True)
