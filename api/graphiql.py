"""GraphiQL as analysts get it: opened on a useful example query, served offline.

Strawberry's GraphiQL page has no setting for its opening query (it is a
constant, EXAMPLE_QUERY, in strawberry/static/graphiql.html), so the API takes
Strawberry's own page and replaces that constant. The page loads React and
GraphiQL from unpkg.com; when `make install` has vendored those exact files
(api/graphiql_assets.py, checked against the page's integrity hashes), the page
loads them from the API instead, so GraphiQL works without internet access.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

from api.graphiql_assets import UNPKG_URL, VENDOR_DIR, VENDOR_PATH, unpkg_assets

EXAMPLE_QUERY = """\
# Which incidents are linked to the Ministry of
# State Security, and on what evidence?
# Run it: ▶ (or Ctrl-Enter). Every field is
# described in Docs; more in docs/cookbook.md.
{
  incidents(linkedTo: "MSS") {
    totalCount
    nodes {
      name
      linkPath {
        likelihood
        steps {
          from { name }
          relation
          to { name }
          likelihood
          quote
          assessedBy { name }
        }
      }
    }
  }
}
"""

_EXAMPLE_CONSTANT = re.compile(r"const EXAMPLE_QUERY = `.*?`;", re.DOTALL)


def _js_template_literal(text: str) -> str:
    """`text` as a JavaScript template literal (no interpolation, no early end)."""
    escaped = text.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")
    return f"`{escaped}`"


def graphiql_page(example_query: str = EXAMPLE_QUERY, vendor_dir: Path | None = VENDOR_DIR) -> str:
    """Strawberry's GraphiQL page opening on `example_query`, offline when assets are vendored.

    Raises RuntimeError when Strawberry's page no longer has the constant this
    relies on, so an upgrade that changes it fails in the tests, not silently.
    """
    html = get_graphql_ide_html(graphql_ide="graphiql")
    if not _EXAMPLE_CONSTANT.search(html):
        raise RuntimeError(
            "Strawberry's graphiql.html has no `const EXAMPLE_QUERY = `...`;` any more: "
            "api/graphiql.py must learn the new way to set GraphiQL's opening query"
        )
    replacement = f"const EXAMPLE_QUERY = {_js_template_literal(example_query)};"
    html = _EXAMPLE_CONSTANT.sub(lambda _: replacement, html, count=1)
    # Headers typed in the editor (bearer tokens) stay in the tab, not in localStorage.
    if _PERSIST_HEADERS not in html:
        raise RuntimeError(
            f"Strawberry's graphiql.html no longer sets {_PERSIST_HEADERS!r}: api/graphiql.py "
            "must learn how to keep GraphiQL from persisting headers"
        )
    html = html.replace(_PERSIST_HEADERS, "shouldPersistHeaders: false")
    assets = unpkg_assets(html)
    if vendor_dir is not None and assets and all(a.file(vendor_dir).is_file() for a in assets):
        html = html.replace(UNPKG_URL, VENDOR_PATH + "/")
    return html


_PERSIST_HEADERS = "shouldPersistHeaders: true"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def page_security_headers(html: str) -> dict[str, str]:
    """Headers for the GraphiQL page: a Content-Security-Policy that lets in its own
    inline script (by hash), its assets (from the API when vendored, else unpkg.com)
    and requests to this API only; no framing; no sniffing; no referrer."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    assets = "'self'" + (" https://unpkg.com" if UNPKG_URL in html else "")
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {assets} {hashes}",
            f"style-src {assets} 'unsafe-inline'",
            f"font-src {assets} data:",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "content-security-policy": policy,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }


def example_query_text() -> str:
    """The example query without its comment lines (what the cookbook's first question asks)."""
    lines = [line for line in EXAMPLE_QUERY.splitlines() if not line.startswith("#")]
    return "\n".join(lines).strip() + "\n"


__all__ = ["EXAMPLE_QUERY", "example_query_text", "graphiql_page", "page_security_headers"]
