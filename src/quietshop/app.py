"""build_app(settings): assembles the domains' routes and the cross-cutting middleware.

Each domain describes what it adds to the site in one ``DomainSite`` (``<domain>/routes.py``)
and what it holds about a customer in ``SubjectRows`` (``<domain>/personal_data.py``);
this module is the only one that knows every domain. The privacy middleware wraps
everything, Starlette's own error handling included, so even a 500 carries the security
headers and is logged without personal data.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from quietshop import __version__
from quietshop.accounts import personal_data as accounts_personal_data
from quietshop.accounts import routes as accounts_routes
from quietshop.analytics.visitors import DailySalts
from quietshop.catalog import routes as catalog_routes
from quietshop.catalog import service as catalog_service
from quietshop.catalog.memo import CatalogMemo
from quietshop.catalog.pages import ShippingEstimates
from quietshop.catalog.schemas import CategoryOut, Money, ShippingCountry, ShippingEstimate
from quietshop.clock import Clock, system_clock
from quietshop.db import is_busy, make_engine, make_session_factory
from quietshop.errors import InvalidInput, QuietshopError
from quietshop.mail import personal_data as mail_personal_data
from quietshop.mail import routes as mail_routes
from quietshop.orders import checkout as orders_checkout
from quietshop.orders import personal_data as orders_personal_data
from quietshop.orders import pricing as orders_pricing
from quietshop.orders import routes as orders_routes
from quietshop.orders import service as orders_service
from quietshop.orders.service import Collaborators
from quietshop.privacy import routes as privacy_routes
from quietshop.privacy.personal_data import PersonalDataRegistry
from quietshop.settings import Settings, load_settings
from quietshop.shop_pages import routes as shop_pages_routes
from quietshop.staff import analytics_api as staff_analytics_api
from quietshop.staff import audit_api as staff_audit_api
from quietshop.staff import catalog_api as staff_catalog_api
from quietshop.staff import customers_api as staff_customers_api
from quietshop.staff import dashboard_api as staff_dashboard_api
from quietshop.staff import disclosure_api as staff_disclosure_api
from quietshop.staff import disclosures as staff_disclosures
from quietshop.staff import inbox_api as staff_inbox_api
from quietshop.staff import mailings_api as staff_mailings_api
from quietshop.staff import orders_api as staff_orders_api
from quietshop.staff import owner_api as staff_owner_api
from quietshop.staff import passkeys_api as staff_passkeys_api
from quietshop.staff import policy_routes as staff_policy_routes
from quietshop.staff import rates_api as staff_rates_api
from quietshop.staff import routes as staff_routes
from quietshop.staff import shop_pages_api as staff_shop_pages_api
from quietshop.staff.service import StaffKeys
from quietshop.web.access_log import AccessLogFile, LogPolicy
from quietshop.web.body_limit import BodyLimitMiddleware
from quietshop.web.limits import AttemptLimiter
from quietshop.web.page_cache import CatalogChangeWatch, PageCache, PageCacheMiddleware
from quietshop.web.privacy import PrivacyMiddleware
from quietshop.web.routing import BEARER_SCHEME, DomainSite
from quietshop.web.state import AppState, app_state
from quietshop.web.static import STATIC_DIR, CachedStaticFiles
from quietshop.web.templating import Templates

API_PREFIX = "/api/"
log = logging.getLogger("quietshop")

# In match order: the storefront pages, which most requests ask for, first.
DOMAIN_SITES: tuple[DomainSite, ...] = (
    catalog_routes.SITE,
    privacy_routes.SITE,
    shop_pages_routes.SITE,
    mail_routes.SITE,
    accounts_routes.SITE,
    orders_routes.SITE,
    staff_routes.SITE,
    staff_policy_routes.SITE,
    staff_orders_api.SITE,
    staff_customers_api.SITE,
    staff_inbox_api.SITE,
    staff_passkeys_api.SITE,
    staff_catalog_api.SITE,
    staff_owner_api.SITE,
    staff_rates_api.SITE,
    staff_shop_pages_api.SITE,
    staff_audit_api.SITE,
    staff_disclosure_api.SITE,
    staff_mailings_api.SITE,
    staff_dashboard_api.SITE,
    staff_analytics_api.SITE,
)


def personal_data_registry() -> PersonalDataRegistry:
    """Every domain's share of a customer's data (export and erasure walk it)."""
    return PersonalDataRegistry(
        [
            *accounts_personal_data.ROWS,
            *mail_personal_data.ROWS,
            *orders_personal_data.ROWS,
            *staff_disclosures.ROWS,
        ]
    )


@dataclass
class AssembledApp:
    """The ASGI callable to serve, and the parts tests and benchmarks look at."""

    asgi: ASGIApp
    fastapi: FastAPI
    state: AppState
    page_cache: PageCache | None
    access_log: AccessLogFile | None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)


def build_app(
    settings: Settings,
    sessions: sessionmaker[Session] | None = None,
    *,
    page_cache: bool = True,
    clock: Clock = system_clock,
) -> AssembledApp:
    if sessions is None:
        sessions = make_session_factory(make_engine(settings.resolved_database_url))
    # One watch of the catalog's change log: the page cache drops what each change shows,
    # the memo reloads on whole-catalog changes only, and this process's own commits are
    # seen at once.
    watch = CatalogChangeWatch(
        lambda after, gaps: _read_catalog_changes(sessions, after, gaps),
        settings.catalog_version_check_interval,
    )
    catalog_service.call_after_catalog_commits(sessions, watch.poll_soon)
    # The memo rebuilds the search vocabulary in the background with sessions of its own.
    memo = CatalogMemo(watch.generation, sessions)
    access_log = AccessLogFile(settings.access_log_path) if settings.access_log_enabled else None

    api = _fastapi(settings, access_log)
    state = AppState(
        settings=settings,
        sessions=sessions,
        templates=_templates(settings, sessions, memo),
        clock=clock,
        limiter=AttemptLimiter(
            settings.sign_in_attempts_per_address, settings.sign_in_address_window_seconds
        ),
        parts={
            CatalogMemo: memo,
            PersonalDataRegistry: personal_data_registry(),
            Collaborators: Collaborators(settings, clock),
            StaffKeys: StaffKeys(settings, clock),
            ShippingEstimates: SHIPPING_ESTIMATES,
        },
    )
    api.state.quietshop = state
    _add_routes(api, settings)
    _add_error_handlers(api)
    _describe_errors_as_sent(api)

    cache = PageCache(watch) if page_cache else None
    asgi: ASGIApp = PageCacheMiddleware(api, cache)
    asgi = BodyLimitMiddleware(asgi, settings.max_request_body_bytes, _body_limits())
    asgi = PrivacyMiddleware(
        asgi,
        strict=settings.strict_privacy_guard,
        write_log=access_log.write if access_log else None,
        log_policy=log_policy(),
        clock=clock,
        # P5: a private route's line carries the day's visitor hash, not the address.
        private_client=DailySalts(sessions).visitor,
        trusted_proxies=settings.trusted_proxy_list,
    )
    return AssembledApp(
        asgi=asgi, fastapi=api, state=state, page_cache=cache, access_log=access_log
    )


def create_app(settings: Settings) -> AssembledApp:
    return build_app(settings, page_cache=settings.page_cache_enabled)


def app_from_environment() -> AssembledApp:
    """The factory `quietshop serve` hands to granian: settings from QUIETSHOP_* variables."""
    # A worker's event loop answers cached pages in microseconds, while orders run in its
    # threads for milliseconds. At Python's default of 5 ms a thread keeps the GIL that
    # long before the loop gets it back; at 1 ms the loop kept 0.67-0.69 of its page rate
    # beside 50 orders/s against 0.57-0.62 (bench/orders.py, quick runs side by side).
    sys.setswitchinterval(WORKER_SWITCH_INTERVAL_SECONDS)
    return create_app(load_settings())


WORKER_SWITCH_INTERVAL_SECONDS = 0.001


def log_policy() -> LogPolicy:
    """What the access log may keep, from what every domain declared."""
    rules: dict[str, Any] = {}
    for site in DOMAIN_SITES:
        rules.update(site.logged_query)
    prefixes = tuple(prefix for site in DOMAIN_SITES for prefix in site.private_prefixes)
    return LogPolicy(private_prefixes=prefixes, query_rules=rules)


def _body_limits() -> dict[str, int]:
    return {prefix: limit for site in DOMAIN_SITES for prefix, limit in site.body_limits.items()}


def _templates(settings: Settings, sessions: sessionmaker[Session], memo: CatalogMemo) -> Templates:
    return Templates(
        {
            "shop_name": settings.shop_name,
            "shop_address": settings.shop_postal_address,
            # Absolute links (canonical, Open Graph, JSON-LD) from the settings, never from
            # the request's Host: cached pages are shared, a forged Host must not reach them.
            "base_url": settings.base_url,
            "category_nav": lambda: _category_menu(sessions, memo),
            "version": __version__,
        },
        {site.template_prefix: site.templates for site in DOMAIN_SITES if site.templates},
    )


def _read_catalog_changes(
    sessions: sessionmaker[Session], after_id: int | None, gaps: Collection[int]
) -> catalog_service.ChangeFeed:
    with sessions() as session:
        return catalog_service.changes_since(session, after_id, gaps)


def _shipping_countries(session: Session) -> list[ShippingCountry]:
    return [
        ShippingCountry(code=code, name=orders_service.country_name(code))
        for code in orders_service.shipping_countries(session)
    ]


def _shipping_estimate(
    session: Session, country: str, weight_grams: int, price: Money
) -> list[ShippingEstimate]:
    """The methods checkout would offer one unit of a variant to ``country``, priced by
    the same rules (orders/pricing.py), so the product page and checkout agree."""
    try:
        line = orders_pricing.CartLine(
            sku="estimate", name="estimate", unit_price_cents=price.cents,
            currency=price.currency, quantity=1, weight_grams=weight_grams,
        )  # fmt: skip
        rates = orders_checkout.shipping_rates(session)
        options = orders_pricing.shipping_options([line], country, rates)
    except InvalidInput:  # no rate for the country, or none takes the weight
        return []
    return [
        ShippingEstimate(
            name=option.name,
            cost=Money(cents=option.cost_cents, currency=option.currency),
            delivery_days_min=option.delivery_days_min,
            delivery_days_max=option.delivery_days_max,
        )
        for option in options
    ]


# The product page's door to the orders domain's shipping rates (catalog/pages.py).
SHIPPING_ESTIMATES = ShippingEstimates(_shipping_countries, _shipping_estimate)


def _category_menu(sessions: sessionmaker[Session], memo: CatalogMemo) -> list[CategoryOut]:
    # The session connects only when the catalog changed and the memo must reload.
    with sessions() as session:
        return catalog_service.category_tree(session, memo)


def _fastapi(settings: Settings, access_log: AccessLogFile | None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if access_log is not None:
            access_log.close()

    return FastAPI(
        # FastAPI's built-in OpenTelemetry would record every request (paths with search
        # text, client addresses) and, with FASTAPI_OTEL_AUTO_CONFIGURE=true, export them
        # to whatever the environment names: a third party (P2) and a log linked to
        # nobody's consent (P5). Off, whatever the environment says.
        telemetry={
            "tracing": False,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
        },
        title=f"{settings.shop_name} API",
        version=__version__,
        description=(
            "The shop's catalog and customer accounts. No cookies, no tracking: a signed-in "
            "customer sends `Authorization: Bearer <token>` from POST /api/v1/auth/sign-in."
        ),
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )


def _add_routes(api: FastAPI, settings: Settings) -> None:
    for site in DOMAIN_SITES:
        for router in site.routers:
            _add_flat(api, router)
    api.mount("/static/swagger", CachedStaticFiles(directory=swagger_ui_bundle.swagger_ui_path))
    for site in DOMAIN_SITES:
        if site.static is not None:
            api.mount(f"/static/{site.static_prefix}", CachedStaticFiles(directory=site.static))
    api.mount("/static", CachedStaticFiles(directory=STATIC_DIR))
    api.mount("/images", CachedStaticFiles(directory=settings.images_dir, max_age=86400))

    @api.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        icon = (STATIC_DIR / "favicon.svg").read_bytes()
        return Response(
            icon, media_type="image/svg+xml", headers={"cache-control": "public, max-age=86400"}
        )

    @api.get("/api/docs", include_in_schema=False)
    async def api_docs(request: Request) -> HTMLResponse:
        body = app_state(request).templates.render("api_docs.html")
        return HTMLResponse(body, headers={"cache-control": "public, max-age=3600"})


def route_templates() -> tuple[str, ...]:
    """Every route's path template, in the order they match: what traffic analytics names
    a logged path by (``/products/{slug}``), so a route's requests count together."""
    return tuple(
        route.path
        for site in DOMAIN_SITES
        for router in site.routers
        for route in router.routes
        if isinstance(route, APIRoute)
    )


def _add_flat(api: FastAPI, router: APIRouter) -> None:
    """Put a domain router's routes straight into the app's route list.

    FastAPI 0.165's ``include_router`` keeps each router as a nested branch that is
    matched twice per request; its routes, already complete (prefix, response class),
    match in a single pass at the top level. Measured: 87 -> 68 us for a trivial route
    (docs/decisions/0002-flat-routers.md). A router-level dependency, event or nested
    router would be silently dropped, so they are refused.
    """
    if router.dependencies or router.on_startup or router.on_shutdown:
        raise ValueError("a flat-added router must not declare dependencies or events")
    if not all(isinstance(route, APIRoute) for route in router.routes):
        raise ValueError("a flat-added router holds plain routes only (no mounts, no routers)")
    api.router.routes.extend(router.routes)


# ---------------------------------------------------------------- errors

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "examples": ["invalid_parameter", "not_found"]},
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            ]
        },
    },
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_VALIDATION_REF = "#/components/schemas/HTTPValidationError"


def _describe_errors_as_sent(api: FastAPI) -> None:
    """Make the OpenAPI description say what the API really answers: 400 (not FastAPI's
    default 422) and 404 with our error body on every operation, 413 where a body is sent,
    the 401/409/422/429 that routes declare themselves, and the bearer scheme."""
    default_openapi = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        schema = default_openapi()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas["Error"] = ERROR_SCHEMA
        components["securitySchemes"] = {
            BEARER_SCHEME: {"type": "http", "scheme": "bearer", "description": "A sign-in token"}
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                _describe_operation(operation)
        api.openapi_schema = schema
        return schema

    api.openapi = openapi  # type: ignore[method-assign]


def _describe_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    default_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
    if default_422.get("schema", {}).get("$ref") == _VALIDATION_REF:
        responses.pop("422")  # FastAPI's own; a route's declared 422 stays
    responses.setdefault("400", {"description": "A parameter is invalid"})
    responses.setdefault("404", {"description": "Not found"})
    if "requestBody" in operation:
        responses.setdefault("413", {"description": "The request body is too large"})
    for code, response in responses.items():
        if code.startswith("4"):
            response["content"] = _ERROR_CONTENT


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _error(
    request: Request,
    status: int,
    code: str,
    detail: Any,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    if _wants_json(request):
        payload = {**(extra or {}), "error": code, "detail": detail}
        return JSONResponse(payload, status_code=status, headers=headers)
    body = app_state(request).templates.render(
        "error.html", status=status, title=code, detail=detail, show_nav=status != 500
    )
    return HTMLResponse(body, status_code=status, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (a 405's Allow header, RFC 9110)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")  # the page cache answers HEAD for every GET
    return ", ".join(sorted(methods))


def _add_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(QuietshopError)
    async def domain_error(request: Request, exc: QuietshopError) -> Response:
        return _error(request, exc.status_code, exc.code, exc.detail(), exc.headers(), exc.extra())

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        detail = [
            {"field": str(error["loc"][-1]) if error["loc"] else "request", "message": error["msg"]}
            for error in exc.errors()
        ]
        return _error(request, 400, "invalid_parameter", detail)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = {name.lower(): value for name, value in (exc.headers or {}).items()}
        if exc.status_code == 405:
            headers["allow"] = _allowed_methods(request)
            return _error(request, 405, "method_not_allowed", "method not allowed here", headers)
        code = "not_found" if exc.status_code == 404 else "http_error"
        return _error(request, exc.status_code, code, exc.detail, headers)

    @api.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        if is_busy(exc):  # a lock wait ran out under load: nothing was written
            return _error(
                request, 503, "busy", "We are very busy: please try again in a moment.",
                {"retry-after": "1"},
            )  # fmt: skip
        _log_server_error(request, exc)
        return _error(request, 500, "server_error", "Something went wrong on our side.")


def _log_server_error(request: Request, exc: BaseException) -> None:
    """Say what broke and where, for the operator: the exception's type and the innermost
    frame of our code, with the route's template, never its message or values (a
    database error's message quotes the statement's parameters: names, addresses)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/quietshop/" in f.filename] or frames
    where = f"{ours[-1].filename.rsplit('/quietshop/', 1)[-1]}:{ours[-1].lineno}" if ours else "?"
    route = request.scope.get("route")
    path = getattr(route, "path", "(no route)")
    log.error("server error %s at %s in %s %s", type(exc).__name__, where, request.method, path)
