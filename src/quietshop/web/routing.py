"""What a domain hands the app at assembly, and the route class for signed-in routes.

``web/`` knows no domain. Each domain describes what it adds to the site in one
``DomainSite`` (its routers, its templates and scripts, the path prefixes whose raw form
could name someone, the query parameters the access log may keep, larger body limits for
uploads), and ``app.py`` assembles them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from quietshop.web.access_log import QueryRule
from quietshop.web.dependencies import bearer_token

# The OpenAPI security scheme every signed-in route names.
BEARER_SCHEME = "bearer"

Responses = dict[int | str, dict[str, Any]]
UNAUTHORIZED: Responses = {
    401: {"description": "No valid sign-in (or it has ended): sign in again"}
}
TOO_MANY: Responses = {429: {"description": "Too many attempts from this address; see Retry-After"}}


@dataclass(frozen=True)
class DomainSite:
    """Everything one domain adds to the HTTP app."""

    routers: tuple[APIRouter, ...] = ()
    # Page templates, reachable as "<template_prefix>/<file>" (e.g. "account/reset.html").
    templates: Path | None = None
    template_prefix: str = ""
    # Scripts and styles, served at /static/<static_prefix>/.
    static: Path | None = None
    static_prefix: str = ""
    # Paths logged by route template only, never raw (P5).
    private_prefixes: tuple[str, ...] = ()
    # Query parameters the access log may keep, each with the rule its value must pass.
    logged_query: Mapping[str, QueryRule] = field(default_factory=dict)
    # Larger request-body limits (bytes) for prefixes that take uploads.
    body_limits: Mapping[str, int] = field(default_factory=dict)


class SignedInRoute(APIRoute):
    """A route for signed-in people: without a bearer token the answer is 401 before the
    body is read or validated, and the API description names the bearer scheme and 401.

    Whether the token is live is checked by the domain's own road (``signed_in``); this
    only refuses the anonymous early, so a stranger's bad body never costs a parse.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = dict(kwargs.get("openapi_extra") or {})
        extra.setdefault("security", [{BEARER_SCHEME: []}])
        kwargs["openapi_extra"] = extra
        kwargs["responses"] = {**UNAUTHORIZED, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def anonymous_refused_first(request: Request) -> Response:
            bearer_token(request)  # raises Unauthorized without a token
            return await handler(request)

        return anonymous_refused_first
