"""Jinja2 templates for server-rendered pages, with the shop's money and text filters."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup

TEMPLATES_DIR = Path(__file__).parent / "templates"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}


def format_money(cents: int, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    amount = f"{cents // 100:,}.{cents % 100:02d}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


def simple_markdown(text: str) -> Markup:
    """Headings (##) and paragraphs, escaped: enough for policy texts we write ourselves."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    parts = []
    for block in blocks:
        if block.startswith("## "):
            heading = html.escape(block[3:].strip())
            anchor = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")
            parts.append(f'<h2 id="{anchor}">{heading}</h2>')
        else:
            parts.append(f"<p>{html.escape(block)}</p>")
    return Markup("\n".join(parts))  # noqa: S704 - every piece above is escaped


class Templates:
    """The page templates: the shared layout here, each domain's own under its prefix.

    ``domain_dirs`` maps a prefix to a domain's template folder, so ``account/reset.html``
    is ``accounts/templates/reset.html``; ``base.html``, ``error.html`` and the macros
    every domain's pages use are this package's.
    """

    def __init__(
        self, globals_: dict[str, Any], domain_dirs: Mapping[str, Path] | None = None
    ) -> None:
        domains = {prefix: FileSystemLoader(path) for prefix, path in (domain_dirs or {}).items()}
        self.env = Environment(
            loader=ChoiceLoader([PrefixLoader(domains), FileSystemLoader(TEMPLATES_DIR)]),
            autoescape=select_autoescape(["html", "xml"]),
            undefined=StrictUndefined,
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(globals_)
        self.env.filters["money"] = lambda m: format_money(m.cents, m.currency) if m else ""
        self.env.filters["cents"] = format_money  # {{ cents|cents(currency) }}
        self.env.filters["markdown"] = simple_markdown

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)
