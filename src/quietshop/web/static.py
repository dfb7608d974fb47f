"""Static files served from our own origin (P2), cacheable by browsers."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"


class CachedStaticFiles(StaticFiles):
    """StaticFiles whose answers say ``public`` so the privacy middleware does not mark them
    ``no-store``. Assets are not personal."""

    def __init__(self, *, directory: Path, max_age: int = 3600) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.cache_control = f"public, max-age={max_age}"

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["cache-control"] = self.cache_control
        return response
