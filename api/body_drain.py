"""Reading the rest of a refused request body before answering, so every client gets the 413.

A server that answers while the client is still sending, then closes, leaves unread bytes
in its socket, and the kernel answers those with a reset. A client that reads its response
only after it has sent the whole body (Python's urllib, which also asks for
`Connection: close`, so uvicorn closes right after the response) then sees ECONNRESET
instead of the error that explains the limit. Reading and discarding the rest first, as
nginx's lingering close and Go's net/http do, makes the close a clean one.

The drain is bounded in bytes and in time, so a client cannot make the API read for ever
to be told no; past either bound the API answers anyway and closes the connection.
"""

from __future__ import annotations

import asyncio

from starlette.types import Receive, Scope

# The most a refused body is read for: well above any client's honest overshoot of
# THREATGRAPH_MAX_BODY_BYTES, small enough to cost a loopback or LAN link well under a
# second.
DRAIN_LIMIT_BYTES = 32 * 1024 * 1024
DRAIN_TIMEOUT_S = 5.0


def expects_continue(scope: Scope) -> bool:
    """The client sent `Expect: 100-continue` and waits for the server's go before the body."""
    return any(
        name == b"expect" and value.lower() == b"100-continue" for name, value in scope["headers"]
    )


async def drain_refused_body(scope: Scope, receive: Receive) -> bool:
    """Read and discard the rest of the request body; True when all of it was read (the
    connection can then be kept), False when a bound was reached first."""
    if expects_continue(scope):
        # Answering before asking for the body tells the client not to send it at all;
        # asking (receive) would make uvicorn send 100 Continue and invite the upload.
        return False
    drained = 0
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            while drained <= DRAIN_LIMIT_BYTES:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return False
                drained += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
    except TimeoutError:
        pass
    return False
