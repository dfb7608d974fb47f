"""Every kind of mail, rendered: it names the shop and its address, the customer number
for a customer, and carries no remote image, pixel or tracked link (P4)."""

from __future__ import annotations

import re

import pytest

from quietshop.mail.messages import KINDS, MailTemplates

BASE_URL = "https://shop.example"
SAMPLE = {
    "name": "Ann <Example> & Co",
    "customer_number": "123456782",
    "order_number": "QS-1001",
    "total": "$12.99",
    "detail": "The card was declined.",
    "item_name": "HDMI cable, 2 m",
    "carrier": "Parcel Co",
    "tracking_number": "PC123",
    "amount": "$4.99",
    "link": f"{BASE_URL}/verify?token=abc",
    "new_email": "new@example.org",
    "title": "Quarterly policy reminder",
    "body": "Please read the policies.\n\nThank you.",
    "version": 2,
    "summary": "Clearer words on log files.",
    "subject": "Spring prices",
    "unsubscribe_url": f"{BASE_URL}/unsubscribe?token=123456782.sig",
}
templates = MailTemplates("Quietshop", "1 Quiet Lane, Springfield", BASE_URL)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_with_the_shop_and_no_tracking(kind: str) -> None:
    rendered = templates.render(kind, SAMPLE)
    assert rendered.subject and "\n" not in rendered.subject
    for body in (rendered.text, rendered.html):
        assert "Quietshop" in body and "1 Quiet Lane, Springfield" in body
        if kind != "staff_notice":
            assert "123456782" in body
    html = rendered.html
    assert "<img" not in html.lower()  # no images at all, so no pixel and nothing remote
    assert "background=" not in html.lower() and "url(" not in html.lower()
    assert "<script" not in html.lower()
    links = re.findall(r'href="([^"]*)"', html) + re.findall(r"https?://\S+", rendered.text)
    for link in links:
        assert link.startswith(BASE_URL), link  # only our own site
        assert not re.search(r"[?&](utm_|track|click|open)", link), link
    assert "Ann &lt;Example&gt; &amp; Co" in html  # escaped in HTML
    assert "Ann <Example> & Co" in rendered.text  # and not in plain text


def test_only_functional_per_recipient_links() -> None:
    # The only links that differ per recipient are the ones the message is for:
    # confirming an address, resetting a password, and stopping mailings.
    per_recipient = {"email_verification", "password_reset", "email_change", "mailing"}
    for kind in KINDS:
        html = templates.render(kind, SAMPLE).html
        has_token_link = "token=" in html
        assert has_token_link == (kind in per_recipient), kind


def test_a_mailing_says_why_it_came_and_how_to_stop_it() -> None:
    rendered = templates.render("mailing", SAMPLE)
    assert "because you asked for it and confirmed this address" in rendered.text
    assert SAMPLE["unsubscribe_url"] in rendered.text
    assert f'href="{SAMPLE["unsubscribe_url"]}"' in rendered.html
