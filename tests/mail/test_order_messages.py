"""Order mails (issue 8, P4, P8, P9): each change the customer hears of names the order,
its totals, the shop and the customer number; the signed order link is stored only as a
placeholder; a card is never more than its masked label; only a guest is offered an
account; and the text and HTML parts say the same thing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.errors import InvalidInput
from quietshop.mail import sealing, service
from quietshop.mail.messages import KINDS, MailTemplates
from quietshop.mail.models import OutboxMessage
from quietshop.settings import Settings
from tests.clock import T0

ORDER_KINDS = sorted(name for name, kind in KINDS.items() if kind.purpose == "order_update")
# What each mail is for decides what it repeats of the order.
WITH_TOTALS = {"order_received", "order_cancelled", "order_refunded"}
WITH_ITEMS = WITH_TOTALS - {"order_refunded"} | {
    "availability_problem",
    "order_shipped",
    "return_requested",
}
WITH_CARD = {"order_received", "payment_problem", "payment_verified", "order_refunded"}

NUMBER = "QS-4821-93057"
CUSTOMER = "123456782"
PAN = "4242424242424242"  # the test card; only its label reaches a mail
TIMES = "\N{MULTIPLICATION SIGN}"  # quantity TIMES name, as a shop writes it
SECRET = "s3cr3t-" + "x" * 36  # stands for the signed token in a link
LINES = [
    {
        "name": "HDMI cable",
        "label": "2 m, black",
        "quantity": 2,
        "unit_price": "€12.90",
        "line_total": "€25.80",
    },
    {"name": "USB charger", "label": "", "quantity": 1, "unit_price": "€19.00",
     "line_total": "€19.00"},
]  # fmt: skip


def full_context(*, guest: bool, **changes: Any) -> dict[str, Any]:
    """Every value the order service passes, already formatted as text."""
    context: dict[str, Any] = {
        "order_number": NUMBER,
        "status_label": "Shipped",
        "placed_on": "25 November 2026",
        "lines": LINES,
        "subtotal": "€44.80",
        "discount": "-€4.48",
        "shipping": "€4.90",
        "shipping_method_name": "Standard parcel",
        "tax": "€7.22",
        "tax_included": True,
        "total": "€45.22",
        "refunded": "",
        "ship_to": ["Ann Example", "1 Main Street", "12345 Springfield"],
        "card_label": "Visa •••• 4242",
        "payment_simulated": False,
        "detail": "The bank declined the card.",
        "carrier": "Parcel Co",
        "tracking_number": "PC123456",
        "is_guest": guest,
    }
    context.update(changes)
    return context


def links_for(settings: Settings, kind: str, *, guest: bool) -> dict[str, str]:
    links = {"order_link": f"{settings.base_url}/orders/{NUMBER}?token={SECRET}&v=1"}
    if guest and kind == "order_received":
        links["claim_link"] = f"{settings.base_url}/account/claim?token={SECRET}-claim"
    return links


def queue(
    db: Session, settings: Settings, kind: str, *, guest: bool, **changes: Any
) -> OutboxMessage:
    """Queue ``kind`` the way the order service does."""
    return service.queue_message(
        db,
        settings,
        kind,
        service.Recipient("ann@example.org", "Ann Example", CUSTOMER),
        full_context(guest=guest, **changes),
        now=T0,
        links=links_for(settings, kind, guest=guest),
        reference=NUMBER,
    )


TEMPLATES = MailTemplates("Quietshop", "1 Quiet Lane, Springfield", "https://shop.example")


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Overrides the mail tests' collection after each test: these open no socket that
    could leak, and a full collection after each of them would be most of their time."""
    yield


def render(kind: str, context: dict[str, Any]) -> tuple[str, str]:
    context = {"name": "Ann Example", "customer_number": CUSTOMER, **context}
    rendered = TEMPLATES.render(kind, context)
    return rendered.text, rendered.html


def visible_text(html_body: str) -> str:
    """What a reader of the HTML part sees, on one line: tags gone (a block or a line
    break leaves a space, an inline tag nothing), entities decoded."""
    html_body = re.sub(r"<head>.*?</head>", " ", html_body, flags=re.S)
    html_body = re.sub(r"<(?:br|/?p|/?t[rdh]|/?table)\b[^>]*>", " ", html_body)
    return one_line(html.unescape(re.sub(r"<[^>]+>", "", html_body)))


def one_line(text: str) -> str:
    return " ".join(text.split())


def urls(body: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", body, flags=re.I)


def stored(message: OutboxMessage) -> str:
    return " ".join(str(getattr(message, column.key)) for column in OutboxMessage.__table__.columns)


def test_every_change_the_customer_hears_of_is_an_order_update() -> None:
    assert ORDER_KINDS == [
        "availability_problem",
        "order_cancelled",
        "order_delivered",
        "order_received",
        "order_refunded",
        "order_shipped",
        "order_status",
        "payment_problem",
        "payment_verified",
        "return_received",
        "return_requested",
    ]


@pytest.mark.parametrize("guest", [False, True], ids=["customer", "guest"])
@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_an_order_mail_names_the_order_the_shop_and_the_customer(
    db: Session, mail_settings: Settings, kind: str, guest: bool
) -> None:
    message = queue(db, mail_settings, kind, guest=guest)
    assert message.purpose == "order_update" and message.reference == NUMBER
    assert NUMBER in message.subject
    for body in (one_line(message.text_body), visible_text(message.html_body)):
        assert f"Order {NUMBER}, placed on 25 November 2026, total €45.22 Status: Shipped" in body
        assert f"Your customer number: {CUSTOMER}" in body  # P9
        assert mail_settings.shop_name in body and mail_settings.shop_postal_address in body
    # The signed link is a placeholder in what is stored, sealed until the mail is sent.
    assert "[[link:order_link]]" in message.text_body
    assert 'href="[[link:order_link]]"' in message.html_body
    assert SECRET not in stored(message) and "token=" not in stored(message)
    assert message.sealed_context is not None
    links = sealing.unseal_links(mail_settings, message.sealed_context)
    assert links == links_for(mail_settings, kind, guest=guest)
    assert urls(message.text_body) == urls(message.html_body) == []  # P2, P4: no other site


@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_the_mail_as_sent_links_only_to_the_shop(
    db: Session, mail_settings: Settings, kind: str
) -> None:
    message = queue(db, mail_settings, kind, guest=True)
    assert message.sealed_context is not None
    links = sealing.unseal_links(mail_settings, message.sealed_context)
    text = sealing.fill(message.text_body, links, as_html=False)
    html_body = sealing.fill(message.html_body, links, as_html=True)
    assert links["order_link"] in text
    assert f'href="{html.escape(links["order_link"])}"' in html_body  # & is &amp; in HTML
    found = urls(text) + [html.unescape(url) for url in urls(html_body)]
    assert found and all(url.startswith(f"{mail_settings.base_url}/") for url in found), found
    assert not any(re.search(r"[?&](utm_|track|click|open)", url) for url in found)


@pytest.mark.parametrize("kind", sorted(WITH_TOTALS))
def test_the_mails_about_money_show_every_total(kind: str) -> None:
    text, html_body = render(kind, full_context(guest=False))
    for body in (text, visible_text(html_body)):
        for label, amount in [
            ("Subtotal", "€44.80"),
            ("Discount", "-€4.48"),
            ("Shipping (Standard parcel)", "€4.90"),
            ("Total", "€45.22"),
            ("incl. VAT", "€7.22"),
        ]:
            assert re.search(rf"{re.escape(label)}:\s+{re.escape(amount)}", body), (label, body)


@pytest.mark.parametrize("kind", sorted(WITH_ITEMS))
def test_the_mails_about_goods_list_every_line(kind: str) -> None:
    text, html_body = render(kind, full_context(guest=False))
    assert f"2 {TIMES} HDMI cable (2 m, black), €12.90 each: €25.80" in text
    assert f"1 {TIMES} USB charger: €19.00" in text  # one of a kind has no "each" and no "()"
    seen = visible_text(html_body)
    assert f"2 {TIMES} HDMI cable (2 m, black), €12.90 each: €25.80" in seen
    assert f"1 {TIMES} USB charger: €19.00" in seen


@pytest.mark.parametrize("included", [True, False])
def test_vat_reads_as_included_or_added(included: bool) -> None:
    text, _ = render("order_received", full_context(guest=False, tax_included=included))
    if included:  # prices with VAT: it is part of the total, shown after it
        assert "Total: €45.22\nincl. VAT: €7.22" in text and "plus VAT" not in text
    else:  # prices without VAT: it is added before the total
        assert "plus VAT: €7.22\nTotal: €45.22" in text and "incl. VAT" not in text


@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_a_card_is_never_more_than_its_masked_label(kind: str) -> None:
    for body in render(kind, full_context(guest=False)):
        assert PAN not in body and PAN[-8:] not in body  # P8
        assert ("Card: Visa •••• 4242" in body) == (kind in WITH_CARD)


@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_a_test_payment_says_no_money_was_taken(kind: str) -> None:
    note = "This is a test payment, no money was taken."
    simulated = render(kind, full_context(guest=False, payment_simulated=True))
    real = render(kind, full_context(guest=False, payment_simulated=False))
    for body in simulated:
        assert (note in body) == (kind in WITH_CARD)
    for body in real:
        assert note not in body
    # A refund of a test payment does not pretend that money goes back to a card.
    if kind == "order_refunded":
        assert "money goes back" in real[0] and "money goes back" not in simulated[0]


@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_only_a_guest_is_offered_an_account(
    db: Session, mail_settings: Settings, kind: str
) -> None:
    guest = queue(db, mail_settings, kind, guest=True)
    customer = queue(db, mail_settings, kind, guest=False)
    offered = kind == "order_received"
    for body in (guest.text_body, guest.html_body):
        assert ("set a password here" in body) == offered
        assert ("[[link:claim_link]]" in body) == offered
        assert "You ordered as a guest, so this link is how you" in body
        assert "please do not forward this mail" in body
        assert "in your account" not in body  # a guest has none to sign in to
    for body in (customer.text_body, customer.html_body):
        assert "set a password" not in body and "claim_link" not in body
        assert "as a guest" not in body
        assert "in your account:" in body  # the link leads to the account's order page


def test_a_customer_is_not_offered_an_account_even_if_a_claim_link_slips_in() -> None:
    context = full_context(guest=False, claim_link="[[link:claim_link]]")
    for body in render("order_received", context):
        assert "claim_link" not in body and "set a password" not in body


def test_without_a_link_a_customer_is_sent_to_the_account_and_a_guest_to_nothing() -> None:
    text, _ = render("order_shipped", full_context(guest=False))
    assert "Sign in to your account to see your order." in text
    text, _ = render("order_shipped", full_context(guest=True))
    assert "account" not in text.split("-- \n")[0] and "link" not in text


EMPTY = {
    "status_label": "",
    "placed_on": "",
    "lines": [],
    "subtotal": "",
    "discount": "",
    "shipping": "",
    "shipping_method_name": "",
    "tax": "",
    "tax_included": False,
    "total": "",
    "refunded": "",
    "ship_to": [],
    "card_label": "",
    "payment_simulated": False,
    "detail": "",
    "carrier": "",
    "tracking_number": "",
    "is_guest": False,
}
NO_LABEL_WITHOUT_VALUE = [
    "Items", "Subtotal", "Discount", "Shipping", "VAT", "Total", "Refunded", "Card:",
    "Carrier:", "Tracking number:", "Status:", "placed on", "None", "[[link:", "test payment",
]  # fmt: skip


@pytest.mark.parametrize("values", ["absent", "empty"])
@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_an_order_mail_renders_cleanly_with_only_its_number(kind: str, values: str) -> None:
    context = {"order_number": NUMBER} | (EMPTY if values == "empty" else {})
    text, html_body = render(kind, context)
    body_text = text.split("-- \n")[0]
    seen = visible_text(html_body)
    assert NUMBER in body_text and NUMBER in seen
    for label in NO_LABEL_WITHOUT_VALUE:
        assert label not in body_text, (label, body_text)
        assert label not in seen, (label, seen)
    assert "\n\n\n" not in text  # no hole where a missing part would be
    assert "<p></p>" not in html_body and "<p> </p>" not in html_body


@pytest.mark.parametrize("kind", sorted(WITH_ITEMS))
def test_a_line_without_a_variant_label_renders(kind: str) -> None:
    lines = [{key: value for key, value in LINES[0].items() if key != "label"}]
    text, html_body = render(kind, full_context(guest=False, lines=lines))
    assert f"2 {TIMES} HDMI cable, €12.90 each: €25.80" in text
    assert f"2 {TIMES} HDMI cable, €12.90 each: €25.80" in visible_text(html_body)


@pytest.mark.parametrize("guest", [False, True], ids=["customer", "guest"])
@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_the_text_and_html_parts_say_the_same(kind: str, guest: bool) -> None:
    context = full_context(guest=guest, payment_simulated=True, refunded="€10.00")
    context["order_link"] = "[[link:order_link]]"
    if guest:
        context["claim_link"] = "[[link:claim_link]]"
    text, html_body = render(kind, context)
    words = re.compile(r"[\w€•\u00d7-]+")  # punctuation and layout may differ, words may not
    text_words = words.findall(text.replace("\n-- \n", "\n"))  # the signature line
    html_words = words.findall(visible_text(html_body))
    assert html_words[0] == "Quietshop"  # the HTML part's title bar, the text's signature
    assert html_words[1:] == text_words


def test_hostile_values_stay_text(db: Session, mail_settings: Settings) -> None:
    lines = [{**LINES[0], "name": '<script>alert(1)</script><img src="https://evil.example/p">'}]
    message = queue(
        db, mail_settings, "order_cancelled", guest=True, lines=lines,
        detail='<a href="https://evil.example/">Click</a> & see', ship_to=["<b>Ann</b>"],
    )  # fmt: skip
    body = message.html_body
    assert "<script" not in body and "<img" not in body and "<b>" not in body
    assert 'href="https://evil.example' not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;a href=&#34;https://evil.example/&#34;&gt;Click&lt;/a&gt; &amp; see" in body
    assert re.findall(r'href="([^"]*)"', body) == ["[[link:order_link]]"]
    # Plain text is not HTML: the reader sees what was typed.
    assert "<script>alert(1)</script>" in message.text_body


def test_a_refund_says_how_much_and_why() -> None:
    context = full_context(guest=False, refunded="€19.00", detail="The charger was faulty.")
    text, html_body = render("order_refunded", context)
    assert "We refunded €19.00 for your order QS-4821-93057." in text
    assert "The charger was faulty." in text and "Refunded: €19.00" in text
    assert "We refunded €19.00 for your order QS-4821-93057." in visible_text(html_body)


def test_a_cancellation_says_what_happens_to_the_money_and_the_goods() -> None:
    text, _ = render("order_cancelled", full_context(guest=False))
    assert "No money is taken for it." in text and "reservation is released" in text
    assert "The items go back into our stock." in text
    text, _ = render("order_cancelled", full_context(guest=False, refunded="€45.22"))
    assert "We refund €45.22 to the card you paid with" in text
    assert "No money is taken" not in text


def test_a_payment_problem_says_why_and_what_to_do() -> None:
    text, _ = render("payment_problem", full_context(guest=True, order_link="[[link:order_link]]"))
    assert "We could not take the payment for your order QS-4821-93057." in text
    assert "The bank declined the card." in text
    assert "We are holding the items for you." in text
    assert "this link is how you give a new card" in text


def test_an_availability_problem_offers_waiting_or_cancelling() -> None:
    detail = "The HDMI cable (2 m, black) is back in stock on 10 December."
    text, _ = render("availability_problem", full_context(guest=False, detail=detail))
    assert detail in text and "choose to wait for it or to cancel the order" in text


def test_a_shipment_names_the_carrier_and_the_tracking_number() -> None:
    text, _ = render("order_shipped", full_context(guest=False))
    assert "on its way with Parcel Co." in text
    assert "Carrier: Parcel Co\nTracking number: PC123456" in text
    assert "Shipping to\n  Ann Example\n  1 Main Street\n  12345 Springfield" in text


def test_a_return_request_says_where_to_send_the_goods() -> None:
    text, _ = render("return_requested", full_context(guest=False))
    assert f"note with your order number, {NUMBER}, in the parcel" in text
    assert "  Quietshop\n  1 Quiet Lane, Springfield" in text
    text, _ = render("return_received", full_context(guest=False))
    assert "Your refund follows" in text


def test_a_long_order_still_fits_in_one_mail(db: Session, mail_settings: Settings) -> None:
    lines = [{**LINES[0], "name": f"Cable {n}"} for n in range(200)]
    message = queue(db, mail_settings, "order_received", guest=False, lines=lines)
    assert "Cable 199" in message.text_body and "Cable 199" in message.html_body
    assert len(message.html_body.encode()) < mail_settings.mail_max_body_bytes / 2


def test_an_order_too_long_for_a_mail_is_refused_and_nothing_is_queued(
    db: Session, mail_settings: Settings
) -> None:
    lines = [{**LINES[0], "name": f"Cable {n}"} for n in range(2000)]
    with pytest.raises(InvalidInput) as error:
        queue(db, mail_settings, "order_received", guest=False, lines=lines)
    assert error.value.field == "html_body"
    assert db.execute(select(func.count(OutboxMessage.id))).scalar_one() == 0
