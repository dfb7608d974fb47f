"""Helpers for server-rendered pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from quietshop.web.dependencies import settings, templates


def public_page(request: Request, template: str, **context: Any) -> HTMLResponse:
    """A page that is the same for everyone, so the page cache and browsers may keep it."""
    body = templates(request).render(template, **context)
    max_age = settings(request).page_cache_max_age
    return HTMLResponse(body, headers={"cache-control": f"public, max-age={max_age}"})


def private_page(request: Request, template: str, **context: Any) -> HTMLResponse:
    """A page shell for signed-in screens: never stored anywhere (the middleware adds no-store)."""
    return HTMLResponse(templates(request).render(template, **context))
