"""Read-your-writes across API replicas: Neo4j bookmarks travel with the client.

The API keeps no per-client state. After a request, the response header
`x-threatgraph-bookmark` carries the bookmarks of the transactions it ran (or
of those the client said it had seen); a client that sends the latest value
back on its next request, to any replica, gets reads that wait until Neo4j
has applied those writes. The value is opaque, to be sent back exactly as
received: base64url of a JSON list of Neo4j bookmarks, a dot, and its HMAC-SHA256
under the deployment's key (THREATGRAPH_BOOKMARK_KEY). A value the API did not
issue is refused before anything runs: a forged bookmark could make Neo4j hold a
transaction at BEGIN, waiting for a write that never comes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from graph.store.database import causal_chain

BOOKMARK_HEADER = "x-threatgraph-bookmark"
MAX_HEADER_CHARS = 4096
MAX_BOOKMARKS = 32


class BadBookmarkHeader(ValueError):
    code = "BAD_BOOKMARK"


def _base64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _signature(payload: str, key: bytes) -> str:
    return _base64(hmac.digest(key, payload.encode("ascii"), hashlib.sha256))


def encode_bookmarks(bookmarks: list[str], key: bytes) -> str:
    payload = _base64(orjson.dumps(sorted(bookmarks)))
    return f"{payload}.{_signature(payload, key)}"


def decode_bookmarks(value: str, key: bytes) -> list[str]:
    """The bookmarks in a header value this API issued; BadBookmarkHeader otherwise."""
    if len(value) > MAX_HEADER_CHARS:
        raise BadBookmarkHeader(f"longer than {MAX_HEADER_CHARS} characters")
    payload, _, signature = value.rpartition(".")
    if not payload.isascii() or not hmac.compare_digest(
        signature.encode("ascii", "replace"), _signature(payload, key).encode("ascii")
    ):
        raise BadBookmarkHeader("not a value this API issued")
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        raise BadBookmarkHeader("not a value this API issued") from None
    if (
        not isinstance(decoded, list)
        or len(decoded) > MAX_BOOKMARKS
        or not all(isinstance(bookmark, str) and bookmark for bookmark in decoded)
    ):
        raise BadBookmarkHeader("not a value this API issued")
    return decoded


class BookmarkRelay:
    """ASGI middleware: run /graphql in a causal chain from the client's bookmark header."""

    def __init__(self, app: ASGIApp, key: bytes) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        sent = [v.decode("latin-1") for k, v in scope["headers"] if k == BOOKMARK_HEADER.encode()]
        try:
            bookmarks = [
                b for value in sent if value for b in decode_bookmarks(value.strip(), self.key)
            ]
        except BadBookmarkHeader as error:
            response = error_response(
                f"{BOOKMARK_HEADER}: {error}; send back the value "
                "of the last response's header exactly as received",
                error.code,
            )
            await response(scope, receive, send)
            return
        with causal_chain(bookmarks) as chain:

            async def send_with_bookmark(message: Message) -> None:
                if message["type"] == "http.response.start":
                    latest = await chain.bookmarks()
                    if latest:
                        headers = [
                            *message.get("headers", []),
                            (BOOKMARK_HEADER.encode(), encode_bookmarks(latest, self.key).encode()),
                        ]
                        message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_bookmark)
