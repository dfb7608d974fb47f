"""Reference for serve_bench.py: a bare Starlette app serving one page's bytes from memory.

It runs under the very server Quietshop uses (``quietshop.web.serving.build_server``:
granian, same TLS certificate, TLS 1.2 minimum, access logging off in granian), so the
difference between the two rates is what Quietshop's own layers cost: FastAPI routing,
the privacy middleware, the access log and the page cache lookup.

    python bench/bare_app.py --data-dir DIR --port PORT --workers N --body FILE
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY_ENV = "QUIETSHOP_BENCH_BODY_FILE"
CONTENT_TYPE = "text/html; charset=utf-8"


def create_app() -> Starlette:
    """granian's factory: load the page once, then answer every product URL with it."""
    body = Path(os.environ[BODY_ENV]).read_bytes()

    async def product(_: Request) -> Response:
        return Response(body, media_type=CONTENT_TYPE)

    return Starlette(routes=[Route("/products/{slug}", product)])


def main() -> None:
    from quietshop.settings import Settings
    from quietshop.web.serving import build_server
    from quietshop.web.tls import ensure_certificate

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="Quietshop data dir (TLS)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--body", type=Path, required=True, help="file with the page bytes")
    args = parser.parse_args()

    os.environ[BODY_ENV] = str(args.body.resolve())  # granian's workers read it
    settings = Settings(data_dir=args.data_dir, https_port=args.port, http_port=0)
    paths = ensure_certificate(settings)  # the certificate Quietshop generated there
    target = f"{Path(__file__).resolve()}:create_app"
    build_server(settings, args.workers, target, paths).serve()


if __name__ == "__main__":
    main()
