"""Links filled in at send time, so no usable link is ever stored in a mail's body.

A message is rendered when it is queued, but where it carries a one-time link (reset a
password, confirm an address) or its unsubscribe link, the stored bodies hold only a
placeholder, ``[[link:NAME]]``. One-time links wait, AES-256-GCM sealed with the shop's
key, in the row's ``sealed_context`` until the message is sent or given up, and are then
dropped; the unsubscribe link is made at send time from the sender's configured base URL
and key. Whoever reads the database, the export or ``quietshop mail show`` sees where a
link was, never the link.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping

from quietshop.settings import Settings
from quietshop.signing import seal, signing_key, unseal

SEAL_PURPOSE = "mail-links"
UNSUBSCRIBE = "unsubscribe_url"
SHOWN_AS = "[link sent in the mail; not kept]"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PLACEHOLDER = re.compile(r"\[\[link:([a-z][a-z0-9_]{0,39})\]\]")


def placeholder(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"a link name is lower-case letters, digits and _: {name!r}")
    return f"[[link:{name}]]"


def seal_links(settings: Settings, links: Mapping[str, str]) -> str:
    for name in links:
        placeholder(name)  # refuses a bad name
    return seal(signing_key(settings), SEAL_PURPOSE, json.dumps(dict(links)).encode())


def unseal_links(settings: Settings, sealed_text: str) -> dict[str, str]:
    links = json.loads(unseal(signing_key(settings), SEAL_PURPOSE, sealed_text))
    if not isinstance(links, dict) or not all(isinstance(v, str) for v in links.values()):
        raise ValueError("sealed links are not a mapping of names to links")
    return links


def fill(body: str, links: Mapping[str, str], *, as_html: bool) -> str:
    """The body as sent: every placeholder replaced by its link (escaped for HTML).

    A placeholder without a link is a bug in whoever queued the message: KeyError, so the
    message is not sent with a hole in it."""

    def link(match: re.Match[str]) -> str:
        value = links[match.group(1)]
        return html.escape(value, quote=True) if as_html else value

    return _PLACEHOLDER.sub(link, body)


def shown(body: str) -> str:
    """The body as shown or exported: where each link was, never the link."""
    return _PLACEHOLDER.sub(SHOWN_AS, body)


def names_in(body: str) -> set[str]:
    return set(_PLACEHOLDER.findall(body))
