"""Neo4j Browser assets: the GraSS stylesheet and the `:play`-able guide.

Neo4j Browser fetches both cross-origin (it runs on Neo4j's HTTP port, the API
on its own), so they are served with `Access-Control-Allow-Origin: *`: they are
public, static and hold no data. The files live in api/browser_assets/, beside
the code that serves them, so they ship inside the package; the managed
server's `browser.post_connect_cmd` (graph/server/config.py) points here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graph.server.config import BROWSER_GUIDE_PATH, BROWSER_STYLE_PATH

ASSETS_DIR = Path(__file__).resolve().parent / "browser_assets"
STYLE_FILE = ASSETS_DIR / "style.grass"
GUIDE_FILE = ASSETS_DIR / "guide.html"
PUBLIC_HEADERS = {"access-control-allow-origin": "*", "cache-control": "no-cache"}


def public_file(path: Path, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint serving `path` to any origin, preflight included.

    Browser's `:play` sends custom headers, so the browser asks first (OPTIONS).
    """

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            asked = request.headers.get("access-control-request-headers", "")
            return Response(
                status_code=204,
                headers={
                    **PUBLIC_HEADERS,
                    "access-control-allow-methods": "GET, OPTIONS",
                    "access-control-allow-headers": asked,
                    "access-control-max-age": "600",
                },
            )
        return Response(path.read_bytes(), media_type=media_type, headers=PUBLIC_HEADERS)

    return endpoint


def browser_routes() -> list[Route]:
    """Routes for /browser/style.grass and /browser/guide.html."""
    return [
        Route(
            BROWSER_STYLE_PATH,
            public_file(STYLE_FILE, "text/plain; charset=utf-8"),
            methods=["GET", "OPTIONS"],
        ),
        Route(
            BROWSER_GUIDE_PATH,
            public_file(GUIDE_FILE, "text/html; charset=utf-8"),
            methods=["GET", "OPTIONS"],
        ),
    ]
