"""What each kind of mail says: its purpose, its subject, and its text and HTML templates.

Every message carries the shop's name and postal address, and the customer number when
the recipient is a customer (P9). No remote image, no pixel, no per-recipient link but
the unsubscribe link of a mailing (P4); ``tests/mail/test_messages.py`` scans them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).parent / "message_templates"


@dataclass(frozen=True)
class Kind:
    purpose: str
    subject: str  # a Jinja expression over the context


KINDS: dict[str, Kind] = {
    # Order updates (P4): one kind per change the customer needs to hear about, each
    # carrying the signed order link as a one-time ``order_link`` (placeholder when stored).
    "order_received": Kind("order_update", "We received your order {{ order_number }}"),
    "payment_problem": Kind("order_update", "Payment problem with your order {{ order_number }}"),
    "payment_verified": Kind("order_update", "Payment confirmed for order {{ order_number }}"),
    "availability_problem": Kind(
        "order_update", "An item in your order {{ order_number }} is not available yet"
    ),
    "order_shipped": Kind("order_update", "Your order {{ order_number }} is on its way"),
    "order_delivered": Kind("order_update", "Your order {{ order_number }} was delivered"),
    "order_cancelled": Kind("order_update", "Your order {{ order_number }} was cancelled"),
    "order_refunded": Kind("order_update", "A refund for your order {{ order_number }}"),
    "return_requested": Kind(
        "order_update", "We have your return request for order {{ order_number }}"
    ),
    "return_received": Kind("order_update", "We received your return for order {{ order_number }}"),
    # Any other change the customer should hear of (a return declined, say), told in ``detail``.
    "order_status": Kind("order_update", "News about your order {{ order_number }}"),
    "email_verification": Kind("account", "Please confirm your email address"),
    "registration_attempt": Kind("account", "Someone tried to register with your address"),
    "address_in_use": Kind("account", "Someone asked to use your email address"),
    "password_reset": Kind("account", "Reset your password"),
    "email_change": Kind("account", "Confirm your new email address"),
    "email_change_notice": Kind("account", "Your email address is being changed"),
    "account_closed": Kind("account", "Your account is closed"),
    "staff_notice": Kind("account", "{{ title }}"),
    # To staff: a policy was published, or a quarter began; ``body`` names what to read.
    "staff_policy_reminder": Kind("account", "{{ title }}"),
    "policy_changed": Kind("policy_change", "Our privacy policy changed (version {{ version }})"),
    "mailing": Kind("mailing", "{{ subject }}"),
}


@dataclass(frozen=True)
class Rendered:
    purpose: str
    subject: str
    text: str
    html: str


class MailTemplates:
    def __init__(self, shop_name: str, shop_address: str, base_url: str) -> None:
        loader = FileSystemLoader(TEMPLATES_DIR)
        common = {"shop_name": shop_name, "shop_address": shop_address, "base_url": base_url}
        # Plain-text parts and subjects are not HTML: escaping would print "&amp;" to readers.
        # auto_reload off, as for the pages: the templates ship with the code, and checking
        # each file's mtime cost every order mail a handful of stat calls.
        self._text = Environment(
            loader=loader,
            autoescape=False,  # noqa: S701
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self._html = Environment(
            loader=loader,
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            auto_reload=False,
        )
        self._subject = Environment(autoescape=False, undefined=StrictUndefined)  # noqa: S701
        for env in (self._text, self._html, self._subject):
            env.globals.update(common)
        # from_string compiles anew on every call: compile each subject once.
        self._subjects = {name: self._subject.from_string(k.subject) for name, k in KINDS.items()}

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        spec = KINDS[kind]
        return Rendered(
            purpose=spec.purpose,
            subject=self._subjects[kind].render(context).strip(),
            text=self._text.get_template(f"{kind}.txt").render(context),
            html=self._html.get_template(f"{kind}.html").render(context),
        )
