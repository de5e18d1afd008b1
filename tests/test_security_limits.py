"""The security review's findings 4 (WebSockets), 5 (bookmarks), 6 (cost) and the
driver's text in client errors (8), each pinned by a test against the real app."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wsproto
import wsproto.events
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.bookmarks import BOOKMARK_HEADER, encode_bookmarks
from api.settings import ApiSettings
from graph.errors import ConfigurationError, QueryOverMemory
from graph.server.config import DEFAULT_TRANSACTION_MEMORY_MB, render_neo4j_conf
from graph.server.process import free_port
from graph.store.database import Graph
from tests.api_client import WRITER_TOKEN, error_codes, gql, make_client
from tests.neo4j_provider import managed_test_settings
from tests.test_compose import environment
from tests.test_scale_out import THREATGRAPH, wait_until_ready

PROTOCOL = ["graphql-transport-ws"]
CHANGED = "subscription { changed { sequence entityId } }"
KEY = "a-deployment-bookmark-key-of-at-least-32-chars"


def acknowledged(ws: Any) -> None:
    ws.send_json({"type": "connection_init"})
    assert ws.receive_json() == {"type": "connection_ack"}


def subscribe(ws: Any, operation: str) -> None:
    ws.send_json({"id": operation, "type": "subscribe", "payload": {"query": CHANGED}})


# -- finding 4: WebSockets -----------------------------------------------------------


def test_a_subscription_beyond_the_connections_cap_gets_a_coded_error(
    neo4j_env: dict[str, str],
) -> None:
    with (
        make_client(THREATGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION="1") as client,
        client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
    ):
        acknowledged(ws)
        subscribe(ws, "1")
        subscribe(ws, "2")
        refusal = ws.receive_json()
    assert refusal == {
        "id": "2",
        "type": "error",
        "payload": [
            {
                "message": "this connection already runs 1 operations, the most one connection "
                "may; complete one before subscribing again",
                "extensions": {"code": "BAD_REQUEST", "reason": "TOO_MANY_SUBSCRIPTIONS"},
            }
        ],
    }


def test_a_websocket_beyond_the_process_cap_is_closed_with_its_reason(
    neo4j_env: dict[str, str],
) -> None:
    with make_client(THREATGRAPH_MAX_WEBSOCKETS="1") as client:
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as first:
            acknowledged(first)
            with (
                client.websocket_connect("/graphql", subprotocols=PROTOCOL) as second,
                pytest.raises(WebSocketDisconnect) as closed,
            ):
                second.receive_json()
        assert (closed.value.code, closed.value.reason) == (
            1013,
            "this server already holds 1 WebSocket connections, its most; retry later",
        )
        # The first one gone, there is room again.
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as again:
            acknowledged(again)


def poller_of(client: TestClient) -> Any:
    [route] = [r for r in client.app.router.routes if isinstance(r, WebSocketRoute)]  # type: ignore[attr-defined]
    return route.endpoint.change_poller  # type: ignore[attr-defined]


UPSERT = """mutation { upsertEntity(input: {id: "org:poller-probe", label: "Organisation",
  name: "Poller probe"}) { id } }"""


@pytest.mark.usefixtures("seeded_graph")
def test_subscribers_share_one_poll_of_the_change_feed(neo4j_env: dict[str, str]) -> None:
    with make_client(THREATGRAPH_CHANGE_POLL_MS="50") as client:
        poller = poller_of(client)
        with (
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as a,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as b,
        ):
            for ws in (a, b):
                acknowledged(ws)
            subscribe(a, "1")
            subscribe(a, "2")
            subscribe(b, "1")
            deadline = time.monotonic() + 10
            while len(poller.followers) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert gql(client, UPSERT, token=WRITER_TOKEN)["data"] == {
                "upsertEntity": {"id": "org:poller-probe"}
            }
            pushed = [
                (message["id"], message["payload"]["data"]["changed"]["entityId"])
                for message in (a.receive_json(), a.receive_json(), b.receive_json())
            ]
            shared = (len(poller.followers), poller.started)
    assert sorted(pushed) == [("1", "org:poller-probe")] * 2 + [("2", "org:poller-probe")]
    # Three subscribers, one poll task.
    assert shared == (3, 1)


def ws_frame_refusal(base: str, size: int) -> tuple[int, str]:
    """(code, reason) uvicorn closes with when a client sends a `size`-byte message."""
    host, port = base.removeprefix("http://").split(":")
    connection = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            connection.send(
                wsproto.events.Request(host=host, target="/graphql", subprotocols=PROTOCOL)
            )
        )
        sent = False
        while True:
            data = sock.recv(65536)
            if not data:
                raise AssertionError("closed without a close frame")
            connection.receive_data(data)
            for event in connection.events():
                if isinstance(event, wsproto.events.AcceptConnection) and not sent:
                    sock.sendall(connection.send(wsproto.events.TextMessage(data="x" * size)))
                    sent = True
                if isinstance(event, wsproto.events.CloseConnection):
                    return event.code, event.reason


def test_threatgraph_serve_refuses_a_websocket_message_over_the_limit(
    neo4j_env: dict[str, str],
) -> None:
    port = free_port()
    env = {**os.environ, **neo4j_env, "THREATGRAPH_MAX_WS_MESSAGE_BYTES": "2048"}
    process = subprocess.Popen(
        [THREATGRAPH, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process)
        refused = ws_frame_refusal(base, 4096)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert refused == (1009, "Message exceeds the maximum size (2048 bytes)")


# -- finding 5: bookmarks --------------------------------------------------------------


def bookmark_refusal(problem: str) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": f"{BOOKMARK_HEADER}: {problem}; send back the value of the last "
                "response's header exactly as received",
                "extensions": {"code": "BAD_USER_INPUT", "reason": "BAD_BOOKMARK"},
            }
        ]
    }


@pytest.fixture
def two_replicas(neo4j_env: dict[str, str], seeded_graph: None) -> Iterator[tuple[Any, Any]]:
    """Two apps of one deployment: the same bookmark key, nothing else shared."""
    with (
        make_client(THREATGRAPH_BOOKMARK_KEY=KEY) as a,
        make_client(THREATGRAPH_BOOKMARK_KEY=KEY) as b,
    ):
        yield a, b


READ = '{ entity(ref: "org:bookmark-probe") { name } }'
WRITE = """mutation { upsertEntity(input: {id: "org:bookmark-probe", label: "Organisation",
  name: "Bookmark probe"}) { id } }"""


def test_a_genuine_bookmark_reads_your_writes_on_another_replica(
    two_replicas: tuple[TestClient, TestClient],
) -> None:
    a, b = two_replicas
    written = a.post(
        "/graphql", json={"query": WRITE}, headers={"authorization": f"Bearer {WRITER_TOKEN}"}
    )
    bookmark = written.headers[BOOKMARK_HEADER]
    read = b.post("/graphql", json={"query": READ}, headers={BOOKMARK_HEADER: bookmark})
    assert (read.status_code, read.json()) == (
        200,
        {"data": {"entity": {"name": "Bookmark probe"}}},
    )


def test_a_forged_or_oversize_bookmark_is_refused_before_anything_runs(
    two_replicas: tuple[TestClient, TestClient],
) -> None:
    a, b = two_replicas
    genuine = a.post("/graphql", json={"query": READ}).headers[BOOKMARK_HEADER]
    payload, _, signature = genuine.rpartition(".")
    future = base64.urlsafe_b64encode(b'["FB:a-bookmark-from-the-future"]').decode().rstrip("=")
    forged = {
        "another signature": f"{payload}.{'A' * len(signature)}",
        "another payload": f"{future}.{signature}",
        "unsigned": payload,
        "another key": encode_bookmarks(["FB:x"], b"not-this-deployments-key-at-all-32"),
    }
    answers = {
        name: b.post("/graphql", json={"query": READ}, headers={BOOKMARK_HEADER: value})
        for name, value in forged.items()
    }
    oversize = b.post(
        "/graphql", json={"query": READ}, headers={BOOKMARK_HEADER: genuine + "x" * 4096}
    )
    assert {name: (r.status_code, r.json()) for name, r in answers.items()} == {
        name: (400, bookmark_refusal("not a value this API issued")) for name in forged
    }
    assert (oversize.status_code, oversize.json()) == (
        400,
        bookmark_refusal("longer than 4096 characters"),
    )


def test_a_replica_with_another_key_refuses_the_bookmark(
    neo4j_env: dict[str, str], seeded_graph: None
) -> None:
    with make_client(THREATGRAPH_BOOKMARK_KEY=KEY) as a, make_client() as own_key:
        bookmark = a.post("/graphql", json={"query": READ}).headers[BOOKMARK_HEADER]
        refused = own_key.post(
            "/graphql", json={"query": READ}, headers={BOOKMARK_HEADER: bookmark}
        )
    assert (refused.status_code, refused.json()) == (
        400,
        bookmark_refusal("not a value this API issued"),
    )


def test_a_short_bookmark_key_stops_start_up() -> None:
    with pytest.raises(ConfigurationError) as refused:
        ApiSettings.from_env({"THREATGRAPH_BOOKMARK_KEY": "short"})
    assert str(refused.value) == (
        "THREATGRAPH_BOOKMARK_KEY: at least 32 characters, not 5 (for example the output of "
        "`openssl rand -hex 32`)"
    )


# -- finding 6: cost -------------------------------------------------------------------

NESTED_PAGES = """{ entity(ref: "APT31") { relations(first: 500) { nodes { to {
  relations(first: 500) { nodes { id } } } } } } }"""
COST_REFUSAL = (
    "This query costs 501,502, over the limit of 100,000: each field counts 1, and a field "
    "that takes `first` counts its selection once per item of the page (a variable at the "
    "most it allows). Ask for smaller pages or fewer nested ones."
)


@pytest.mark.parametrize("executor", ["compiled", "resolvers"])
def test_nested_pages_over_the_cost_limit_are_refused_before_they_run(
    neo4j_env: dict[str, str], executor: str
) -> None:
    with make_client(THREATGRAPH_EXECUTOR=executor) as client:
        body = gql(client, NESTED_PAGES)
    assert (body["_status"], body.get("data"), body["_round_trips"]) == (200, None, 0)
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (
            COST_REFUSAL,
            {"code": "GRAPHQL_VALIDATION_FAILED", "reason": "QUERY_TOO_COSTLY"},
        )
    ]


def test_the_cost_limit_is_a_setting(neo4j_env: dict[str, str]) -> None:
    query = '{ search(text: "APT31", first: 5) { score } }'  # 1 + 5 x 1
    with (
        make_client(THREATGRAPH_MAX_COST="5") as tight,
        make_client(THREATGRAPH_MAX_COST="6") as fits,
    ):
        refused, answered = gql(tight, query), gql(fits, query)
    assert [e["message"].split(":")[0] for e in refused["errors"]] == [
        "This query costs 6, over the limit of 5"
    ]
    assert "errors" not in answered


# -- finding 8: the driver's text never reaches a client -------------------------------


def answer_from(
    monkeypatch: pytest.MonkeyPatch, graph_env: dict[str, str], executor: str
) -> tuple[int, str, list[str]]:
    """A query's (status, body text, codes) from an app on the Neo4j `graph_env` names
    (the app opens and closes its connections itself, from the environment)."""
    for name, value in graph_env.items():
        monkeypatch.setenv(name, value)
    settings = ApiSettings.from_env({"THREATGRAPH_EXECUTOR": executor})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post("/graphql", json={"query": '{ entity(ref: "APT31") { id } }'})
    return response.status_code, response.text, error_codes(response.json())


@pytest.mark.parametrize("executor", ["compiled", "resolvers"])
def test_neo4j_away_is_told_without_its_address(
    monkeypatch: pytest.MonkeyPatch, neo4j_env: dict[str, str], executor: str
) -> None:
    port = free_port()  # nothing listens there
    env = {
        **neo4j_env,
        "NEO4J_URI": f"bolt://127.0.0.1:{port}",
        "THREATGRAPH_CONNECTION_TIMEOUT_MS": "1500",
    }
    status, text, codes = answer_from(monkeypatch, env, executor)
    assert (status, codes) == (503, ["NEO4J_UNAVAILABLE"])
    assert '"message":"Neo4j is unavailable"' in text
    assert str(port) not in text and "127.0.0.1" not in text


@pytest.mark.parametrize("executor", ["compiled", "resolvers"])
def test_refused_credentials_are_told_without_the_drivers_text(
    monkeypatch: pytest.MonkeyPatch, neo4j_env: dict[str, str], executor: str
) -> None:
    # A user of its own: failed sign-ins lock that user out for a while, not the suite's.
    env = {**neo4j_env, "NEO4J_USER": "no-such-user-for-this-test"}
    status, text, codes = answer_from(monkeypatch, env, executor)
    assert (status, codes) == (200, ["NEO4J_AUTH_FAILED"])
    assert '"message":"Neo4j refused the credentials the API signs in with"' in text
    assert neo4j_env["NEO4J_URI"].removeprefix("bolt://") not in text
    assert "no-such-user" not in text and "Neo.ClientError" not in text


def test_a_transactions_memory_is_capped_on_the_managed_server_and_in_compose(
    tmp_path: Path,
) -> None:
    conf = render_neo4j_conf(managed_test_settings(tmp_path)).splitlines()
    assert f"db.memory.transaction.max={DEFAULT_TRANSACTION_MEMORY_MB}m" in conf
    assert environment("neo4j")["NEO4J_db_memory_transaction_max"] == (
        f"${{THREATGRAPH_NEO4J_TRANSACTION_MEMORY_MB:-{DEFAULT_TRANSACTION_MEMORY_MB}}}m"
    )


def test_a_statement_over_one_transactions_memory_fails_at_once_not_retried(
    neo4j_env: dict[str, str],
) -> None:
    # The suite's server caps one transaction at DEFAULT_TRANSACTION_MEMORY_MB (its heap
    # is twice that, so the server-wide pool is not what stops it).
    async def over() -> tuple[float, QueryOverMemory]:
        async with Graph.connect(env=neo4j_env) as graph:
            started = time.monotonic()
            with pytest.raises(QueryOverMemory) as raised:
                await graph.read(
                    "UNWIND range(1, 400000000) AS x WITH collect(x) AS xs RETURN size(xs) AS n"
                )
            return time.monotonic() - started, raised.value

    seconds, error = asyncio.run(over())
    assert error.code == "QUERY_MEMORY_LIMIT"
    assert error.public_message == (
        "the query needed more memory than one transaction may take; "
        "ask for less (smaller pages, fewer hops)"
    )
    assert "db.memory.transaction.max" in str(error)
    # Not retried: the driver's schedule would keep it for 30 s.
    assert seconds < 15, seconds
