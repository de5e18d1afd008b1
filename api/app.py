"""The Starlette application: /graphql (HTTP, and WebSocket for subscriptions), /healthz,
/readyz, /metrics.

HTTP concerns live here and only here: token checks, body-size limits, CORS,
status codes (503 when Neo4j is unavailable or every turn at it is taken), one JSON
log line per request. Error responses are rendered by api/errors.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from cross_web import HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from api.auth import TokenChecker
from api.body_drain import drain_refused_body
from api.bookmarks import BOOKMARK_HEADER, BookmarkRelay
from api.browser import browser_routes
from api.closure_refresher import refresh_deferred_forever
from api.errors import NotAnOperation, error_response, refusal_code, unavailable_status
from api.graphiql import graphiql_page, page_security_headers
from api.graphiql_assets import VENDOR_DIR, VENDOR_PATH
from api.metrics import Metrics
from api.persisted import OperationResolver, PersistedOperations
from api.settings import ApiSettings
from api.trusted_documents import TrustedDocuments
from api.websockets import CappedTransportWSHandler, WebSocketCap
from graph.errors import GraphError
from graph.setup import ensure_schema
from graph.store.database import (
    Graph,
    count_round_trips,
    statements_here,
    writes_committed_here,
)
from graph.writes.change_poller import ChangePoller
from schema.build import SchemaLimits, build_schema
from schema.compiled.executor import EXECUTOR_KEY, CompiledExecutor
from schema.context import Context
from schema.errors import translate

access_log = logging.getLogger("threatgraph.access")
ROUND_TRIPS_HEADER = "x-threatgraph-round-trips"


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends JSON as text frames: graphql-transport-ws clients (graphql-ws in a browser)
    parse text frames only, and our orjson encoder gives bytes."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


async def export_stix(graph: Graph, ref: str, hops: int, as_of: str | None) -> dict[str, Any]:
    """Query.stixBundle's exporter: the CLI's, imported on first use (stix2 is slow to load)."""
    from seed.importers.stix_export import export_bundle

    return await export_bundle(graph, ref, hops, as_of)


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, JSON encoding and status codes."""

    websocket_adapter_class = TextFrameWebSocketAdapter
    graphql_transport_ws_handler_class = CappedTransportWSHandler

    def __init__(
        self,
        graph_holder: Starlette,
        tokens: TokenChecker,
        metrics: Metrics,
        settings: ApiSettings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.app_holder = graph_holder
        self.tokens = tokens
        self.metrics = metrics
        self.settings = settings or ApiSettings.from_env({})
        self.max_subscriptions_per_connection = self.settings.max_subscriptions_per_connection
        self.change_poller = ChangePoller(self.settings.change_poll_ms / 1000)
        self.ide_page = graphiql_page()
        self.compiled: CompiledExecutor | None = None
        self.debug = False

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        # Strawberry's page, opening on our example query (api/graphiql.py).
        return HTMLResponse(self.ide_page, headers=page_security_headers(self.ide_page))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            graph=self.app_holder.state.graph,
            request=request,
            response=response,
            is_writer=self.tokens.is_valid(request.headers.get("authorization")),
            change_poller=self.change_poller,
            stix_exporter=export_stix,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        # Browsers cannot set headers on a WebSocket: the token may come in the
        # connection_init payload instead ({"Authorization": "Bearer <token>"}).
        params = context.connection_params or {}
        offered = params.get("Authorization", params.get("authorization"))
        if isinstance(offered, str) and self.tokens.is_valid(offered):
            context.is_writer = True
        if self.settings.require_read_token and not context.is_writer:
            raise ConnectionRejectionError()
        return await super().on_ws_connect(context)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # Parse errors never reach the schema's extensions; give them their code here.
        if result.errors:
            result.errors = [
                error if (error.extensions or {}).get("code") else translate(error)
                for error in result.errors
            ]
        return await super().process_result(request, result)

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: Any,
    ) -> ExecutionResult:
        # Queries the compiler covers skip the resolver walk; the rest run as ever.
        if self.compiled is not None and request_adapter.method == "POST":
            result = await self.compiled.execute(
                context.graph,
                request_data.query,
                request_data.variables,
                request_data.operation_name,
            )
            if result is not None:
                return result
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if self.debug:
            ran = statements_here()
            result.extensions = {
                **(result.extensions or {}),
                # As the compiled executor shows them: each statement beside the
                # parameters it ran with, so it runs again as it is (docs/operations.md).
                EXECUTOR_KEY: {
                    "executor": "resolvers",
                    "cypher": [text for text, _ in ran],
                    "parameters": [dict(parameters) for _, parameters in ran],
                },
            }
        return result

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses invalid UTF-8 as malformed JSON (a 400), where the
        # standard library raised UnicodeDecodeError (a 500).
        decoded = orjson.loads(data)
        if not isinstance(decoded, (dict, list)):
            raise NotAnOperation()
        return decoded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry answers a malformed request in plain text; give it a JSON error and code."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as error:
            code = refusal_code(error)
            self.metrics.errors.labels(code=code).inc()
            response = error_response(error.reason, code, error.status_code)
        await response(scope, receive, send)

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        results: list[Any] = response_data if isinstance(response_data, list) else [response_data]
        codes = [
            (error.get("extensions") or {}).get("code", "UNKNOWN")
            for result in results
            for error in result.get("errors") or []
        ]
        for code in codes:
            self.metrics.errors.labels(code=code).inc()
        unavailable = unavailable_status(codes, writes_committed_here())
        if unavailable is not None:
            response.status_code, headers = unavailable
            response.headers.update(headers)
        return response


class RequestGuard:
    """Body-size limit and the optional read token, before GraphQL sees the request."""

    def __init__(self, app: ASGIApp, settings: ApiSettings, tokens: TokenChecker) -> None:
        self.app = app
        self.settings = settings
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/graphql"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        # GraphiQL's page itself is public; what it (or anyone) asks is not, so a GET
        # carrying a query needs the token whatever it accepts.
        wants_ide = (
            scope["method"] == "GET"
            and "text/html" in headers.get("accept", "")
            and "query" not in parse_qs(scope.get("query_string", b"").decode("latin-1"))
        )
        if (
            self.settings.require_read_token
            and not wants_ide
            and not self.tokens.is_valid(headers.get("authorization"))
        ):
            response = error_response(READ_TOKEN_REQUIRED, "UNAUTHENTICATED", 401)
            await response(scope, receive, send)
            return
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, more_body=True)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            if len(body) > limit:
                await self._too_large(scope, receive, send, message.get("more_body", False))
                return
            if not message.get("more_body", False):
                break
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, more_body: bool) -> None:
        # The rest of the body is read first (api/body_drain.py), so a client still
        # sending sees this answer rather than a reset.
        drained = not more_body or await drain_refused_body(scope, receive)
        response = error_response(
            f"request body is larger than {self.settings.max_body_bytes} bytes",
            "REQUEST_TOO_LARGE",
            413,
            headers=None if drained else {"connection": "close"},
        )
        await response(scope, receive, send)


class AccessLog:
    """One JSON line per request, Prometheus counts, and the round-trip header."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        with count_round_trips() as trips:

            async def send_with_header(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((ROUND_TRIPS_HEADER.encode(), str(trips.count).encode()))
                    message = {**message, "headers": headers}
                await send(message)

            try:
                await self.app(scope, receive, send_with_header)
            finally:
                elapsed = time.perf_counter() - started
                path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
                self.metrics.requests.labels(path=path, status=str(status)).inc()
                self.metrics.latency.labels(path=path).observe(elapsed)
                self.metrics.round_trips.inc(trips.count)
                # Built only when the log is on (`threatgraph serve` turns it on): the
                # encoding cost each request 5-10 us whether anyone read it or not.
                if access_log.isEnabledFor(logging.INFO):
                    access_log.info(
                        json.dumps(
                            {
                                "method": scope["method"],
                                "path": scope["path"],
                                "status": status,
                                "duration_ms": round(elapsed * 1000, 2),
                                "round_trips": trips.count,
                            }
                        )
                    )


READ_TOKEN_REQUIRED = "a valid bearer token is required (Authorization: Bearer <token>)"
KNOWN_PATHS = {"/graphql", "/healthz", "/readyz", "/metrics"}


def create_app(settings: ApiSettings | None = None, graph: Graph | None = None) -> Starlette:
    """The ASGI app. `graph` may be given (tests); otherwise it is opened in the lifespan,
    with a second, bulk connection for the closure refresher (api/closure_refresher.py).
    A given graph serves both, and its owner closes it."""
    settings = settings or ApiSettings.from_env()
    tokens = TokenChecker(settings.api_tokens)
    metrics = Metrics()
    # A bad manifest stops start-up here, naming the file and the entry.
    trusted = (
        TrustedDocuments.load(settings.trusted_documents) if settings.trusted_documents else None
    )
    schema = build_schema(
        SchemaLimits(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_cost=settings.max_cost,
            max_tokens=settings.max_tokens,
            introspection=settings.introspection,
        ),
        trusted_documents=list(trusted.documents.values()) if trusted else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = graph is None
        app.state.graph = graph or Graph.connect()
        schema_ready = True
        try:
            await ensure_schema(app.state.graph)
        except GraphError as error:
            schema_ready = False
            # Start anyway: /readyz says 503 until Neo4j answers; the refresher sets the
            # store up once it does.
            access_log.warning(json.dumps({"event": "schema_setup_skipped", "reason": str(error)}))
        # Its own connection (no per-transaction time limit, not in the requests' gate),
        # to the same database as the requests': a given graph is used as it is. Off
        # (0 ms), this process writes nothing by itself once started (the test suite's
        # compose replica: tests/compose.tests.yaml).
        refreshing = settings.closure_refresh_ms > 0
        refresher_graph = Graph.connect(bulk=True) if owned and refreshing else app.state.graph
        refresher = (
            asyncio.create_task(
                refresh_deferred_forever(
                    refresher_graph,
                    every_s=settings.closure_refresh_ms / 1000,
                    schema_ready=schema_ready,
                )
            )
            if refreshing
            else None
        )
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            if owned:
                if refresher_graph is not app.state.graph:
                    await refresher_graph.close()
                await app.state.graph.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await request.app.state.graph.ping()
        except GraphError as error:
            return JSONResponse({"status": "unavailable", "code": error.code}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics_endpoint(request: Request) -> Response:
        # Its figures (request paths, error codes, load) follow the read-token setting.
        if settings.require_read_token and not tokens.is_valid(
            request.headers.get("authorization")
        ):
            return error_response(READ_TOKEN_REQUIRED, "UNAUTHENTICATED", 401)
        metrics.read_gate(request.app.state.graph.gate)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    middleware = [Middleware(AccessLog, metrics=metrics)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", BOOKMARK_HEADER],
                expose_headers=[BOOKMARK_HEADER],
            )
        )
    middleware.append(Middleware(RequestGuard, settings=settings, tokens=tokens))
    middleware.append(Middleware(WebSocketCap, limit=settings.max_websockets))
    middleware.append(Middleware(BookmarkRelay, key=settings.bookmark_key))
    middleware.append(
        Middleware(
            PersistedOperations,
            resolver=OperationResolver(
                trusted, settings.apq_cache_bytes, settings.apq_cache_entries
            ),
            metrics=metrics,
        )
    )
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *browser_routes(),
            Mount(VENDOR_PATH, StaticFiles(directory=VENDOR_DIR, check_dir=False)),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    view = GraphQLView(
        app,
        tokens,
        metrics,
        settings,
        schema=schema,
        graphql_ide="graphiql",
        allow_queries_via_get=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        allowed_origins=settings.cors_origins,
    )
    view.debug = settings.debug
    if settings.executor == "compiled":
        view.compiled = CompiledExecutor(
            schema._schema,
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_cost=settings.max_cost,
            max_tokens=settings.max_tokens,
            introspection=settings.introspection,
            trusted_documents=list(trusted.documents.values()) if trusted else None,
            debug=settings.debug,
        )
    app.router.routes.append(Route("/graphql", view, methods=["GET", "POST"]))
    app.router.routes.append(WebSocketRoute("/graphql", view))
    return app
