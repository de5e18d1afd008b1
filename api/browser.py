"""Neo4j Browser assets: the GraSS stylesheet and the `:play`-able guide.

Neo4j Browser fetches both cross-origin (it runs on Neo4j's HTTP port, the API
on its own), so they are served with `Access-Control-Allow-Origin: *`: they are
public, static and hold no data. The files live in api/browser_assets/, beside
the code that serves them, so they ship inside the package. The managed
server's `browser.post_connect_cmd` points here (`managed_server_settings`).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.settings import DEFAULT_API_HOST, DEFAULT_API_PORT
from graph.server.config import ManagedServerSettings, refuse_line_breaks
from graph.store.settings import env_int

ASSETS_DIR = Path(__file__).resolve().parent / "browser_assets"
STYLE_FILE = ASSETS_DIR / "style.grass"
GUIDE_FILE = ASSETS_DIR / "guide.html"
PUBLIC_HEADERS = {"access-control-allow-origin": "*", "cache-control": "no-cache"}
BROWSER_STYLE_PATH = "/browser/style.grass"
BROWSER_GUIDE_PATH = "/browser/guide.html"
# THREATGRAPH_BROWSER_POST_CONNECT_CMD=off: Neo4j Browser opens bare.
BROWSER_SETUP_OFF = "off"
# The variables whose values reach the managed server's neo4j.conf.
NEO4J_CONF_VARIABLES = (
    "THREATGRAPH_BROWSER_POST_CONNECT_CMD",
    "THREATGRAPH_BROWSER_ALLOWLIST",
    "THREATGRAPH_API_HOST",
)


def api_base_url(host: str, port: int) -> str:
    """Where a web browser on this machine reaches the API (a wildcard address means here)."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "localhost"
    return f"http://{host}:{port}"


def browser_setup_commands(api_url: str) -> str:
    """A `browser.post_connect_cmd` that styles the graph and opens the guide.

    Neo4j Browser splits the value on ';' and runs each part as a `:` command
    once connected; both URLs must be on a host in the content allowlist.
    """
    return f"style {api_url}{BROWSER_STYLE_PATH}; play {api_url}{BROWSER_GUIDE_PATH}"


def browser_setup_from_env(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Neo4j Browser's post-connect command and content allowlist.

    By default they apply the API's stylesheet and open its guide, at
    THREATGRAPH_API_HOST / THREATGRAPH_API_PORT (what `threatgraph serve` listens
    on); THREATGRAPH_BROWSER_POST_CONNECT_CMD / _ALLOWLIST replace them, and
    THREATGRAPH_BROWSER_POST_CONNECT_CMD=off leaves Browser bare. Each value
    becomes a line of neo4j.conf, so a line break in any of them is refused.
    """
    for name in NEO4J_CONF_VARIABLES:
        refuse_line_breaks(name, env.get(name))
    command = env.get("THREATGRAPH_BROWSER_POST_CONNECT_CMD") or None
    allowlist = env.get("THREATGRAPH_BROWSER_ALLOWLIST") or None
    if command is not None and command.strip().lower() == BROWSER_SETUP_OFF:
        return None, allowlist
    api_url = api_base_url(
        env.get("THREATGRAPH_API_HOST") or DEFAULT_API_HOST,
        env_int(env, "THREATGRAPH_API_PORT", DEFAULT_API_PORT, minimum=1),
    )
    api_hostname = api_url.split("//", 1)[1].rsplit(":", 1)[0]
    return command or browser_setup_commands(api_url), allowlist or api_hostname


def managed_server_settings(env: Mapping[str, str] | None = None) -> ManagedServerSettings:
    """The managed server's settings, its Browser set up for this API."""
    env = os.environ if env is None else env
    return ManagedServerSettings.from_env(env, browser_setup_from_env(env))


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
