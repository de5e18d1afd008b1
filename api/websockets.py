"""The WebSocket limits the HTTP guard cannot apply: operations per connection and
connections per process. (The largest message is uvicorn's `ws_max_size`, which
`threatgraph serve` sets from THREATGRAPH_MAX_WS_MESSAGE_BYTES.)"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    SubscribeMessage,
)

from schema.errors import error_extensions

# WebSocket close code 1013, "Try Again Later": the server is at its limit.
TRY_AGAIN_LATER = 1013


def too_many_operations(limit: int) -> str:
    return (
        f"this connection already runs {limit} operations, the most one connection may; "
        "complete one before subscribing again"
    )


def too_many_connections(limit: int) -> str:
    # A close reason holds at most 123 bytes.
    return f"this server already holds {limit} WebSocket connections, its most; retry later"


class CappedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws, refusing a subscribe beyond the connection's operations
    with an `error` message that carries a code; the connection and its other
    operations go on."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            limit is not None
            and self.connection_acknowledged
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            error = GraphQLError(
                too_many_operations(limit), extensions=error_extensions("TOO_MANY_SUBSCRIPTIONS")
            )
            await self.send_message(
                ErrorMessage(id=message["id"], type="error", payload=[error.formatted])
            )
            return
        await super().handle_subscribe(message)


class WebSocketCap:
    """ASGI middleware: at most `limit` WebSocket connections at once in this process.

    One more is accepted and closed at once with 1013 and a reason, so its client
    learns why (a refused handshake tells a browser nothing)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.open = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        if self.open >= self.limit:
            await self._refuse(scope, receive, send)
            return
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        offered = scope.get("subprotocols") or []
        protocol = (
            GRAPHQL_TRANSPORT_WS_PROTOCOL if GRAPHQL_TRANSPORT_WS_PROTOCOL in offered else None
        )
        await send({"type": "websocket.accept", "subprotocol": protocol})
        await send(
            {
                "type": "websocket.close",
                "code": TRY_AGAIN_LATER,
                "reason": too_many_connections(self.limit),
            }
        )
