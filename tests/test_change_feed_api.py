"""The change feed over GraphQL: the `changes` connection and the `changed` subscription
(graphql-transport-ws over a real WebSocket), with writes made through the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from graph.writes.importing import import_batch
from schema.changes import encode_change_cursor
from schema.pagination import encode_cursor
from tests.api_client import WRITER_TOKEN, error_codes, gql, make_client
from tests.test_change_feed import CLAIM_ID, feed_batch, load, run

CHANGES = """query ($after: String, $first: Int!) { changes(after: $after, first: $first) {
  edges { cursor node { sequence kind entityId relationshipId } }
  nodes { cursor sequence kind entityId entityLabel relationshipId relation sourceId origin at }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  newestSequence } }"""
CHANGED = """subscription ($after: String) { changed(after: $after) {
  cursor sequence kind entityId relationshipId sourceId origin } }"""
UPSERT_ENTITY = """mutation { upsertEntity(input: {id: "org:feed-new", label: "Organisation",
  name: "Feed New"}) { id } }"""
UPSERT_RELATION = """mutation { upsertRelation(input: {from: "org:feed-new", relation: "PART_OF",
  to: "country:feed-y", likelihood: LIKELY, quote: "It is.", sources: ["source:feed-test"]})
  { id } }"""
DELETE = 'mutation { deleteRelation(id: "' + CLAIM_ID + '") }'
NEW_RELATION = "org:feed-new-PART_OF->country:feed-y@source:feed-test"


@pytest.fixture(scope="module")
def client(neo4j_env: dict[str, str]) -> Iterator[TestClient]:
    with make_client(THREATGRAPH_CHANGE_POLL_MS="20") as opened:
        yield opened


def changes(client: TestClient, after: str | None = None, first: int = 100) -> dict[str, Any]:
    body = gql(client, CHANGES, after=after, first=first)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["changes"]
    return result


def brief(nodes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (n["sequence"], n["kind"], n["entityId"] or n["relationshipId"], n["origin"]) for n in nodes
    ]


def write(client: TestClient, mutation: str) -> None:
    body = gql(client, mutation, token=WRITER_TOKEN)
    assert "errors" not in body, body


@pytest.mark.usefixtures("empty_graph")
def test_changes_pages_forward_with_cursors(client: TestClient) -> None:
    load()
    first = changes(client, first=4)
    assert [e["cursor"] for e in first["edges"]] == [encode_change_cursor(n) for n in (1, 2, 3, 4)]
    assert first["nodes"][0] == {
        "cursor": encode_change_cursor(1),
        "sequence": 1,
        "kind": "CREATED",
        "entityId": "actor:feed-x",
        "entityLabel": "ThreatActor",
        "relationshipId": None,
        "relation": None,
        "sourceId": "source:feed-test",
        "origin": "seed:feed-test.yaml",
        "at": first["nodes"][0]["at"],
    }
    assert first["nodes"][0]["at"].endswith("Z")
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": encode_change_cursor(1),
        "endCursor": encode_change_cursor(4),
    }
    assert first["newestSequence"] == 6
    rest = changes(client, after=first["pageInfo"]["endCursor"])
    assert [n["sequence"] for n in rest["nodes"]] == [5, 6]
    assert rest["pageInfo"]["hasNextPage"] is False
    empty = changes(client, after=rest["pageInfo"]["endCursor"])
    assert empty["nodes"] == []
    assert empty["pageInfo"]["endCursor"] == encode_change_cursor(6)  # resume from here


@pytest.mark.usefixtures("empty_graph")
def test_cursor_is_monotonic_across_seed_import_and_mutations(client: TestClient) -> None:
    load()
    run(lambda graph: import_batch(graph, feed_batch()))
    write(client, UPSERT_ENTITY)
    write(client, UPSERT_RELATION)
    write(client, DELETE)
    write(client, UPSERT_ENTITY)  # the same again: no change
    nodes = changes(client)["nodes"]
    assert [n["sequence"] for n in nodes] == list(range(1, 14))
    assert [n["origin"] for n in nodes] == (
        ["seed:feed-test.yaml"] * 6
        + ["import:feed.json"] * 4
        + ["mutation:upsertEntity", "mutation:upsertRelation", "mutation:deleteRelation"]
    )
    assert brief(nodes[10:]) == [
        (11, "CREATED", "org:feed-new", "mutation:upsertEntity"),
        (12, "CREATED", NEW_RELATION, "mutation:upsertRelation"),
        (13, "DELETED", CLAIM_ID, "mutation:deleteRelation"),
    ]
    assert [(n["sourceId"]) for n in nodes[10:]] == [None, "source:feed-test", "source:feed-test"]


@pytest.mark.parametrize(
    ("after", "first", "message"),
    [
        pytest.param("nope", 10, "after: 'nope' is not a change cursor this API issued", id="junk"),
        pytest.param(
            encode_cursor(3),
            10,
            f"after: {encode_cursor(3)!r} is not a change cursor this API issued",
            id="another-connection's-cursor",
        ),
        pytest.param(None, 0, "first: must be between 1 and 500, not 0", id="first-0"),
        pytest.param(None, 501, "first: must be between 1 and 500, not 501", id="first-501"),
    ],
)
def test_bad_changes_arguments_are_refused_clearly(
    client: TestClient, after: str | None, first: int, message: str
) -> None:
    body = gql(client, CHANGES, after=after, first=first)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == message


def subscribe(ws: Any, after: str | None, operation: str = "1") -> None:
    ws.send_json({"type": "connection_init"})
    assert ws.receive_json() == {"type": "connection_ack"}
    payload = {"query": CHANGED, "variables": {"after": after}}
    ws.send_json({"id": operation, "type": "subscribe", "payload": payload})


def received(ws: Any) -> tuple[Any, ...]:
    message = ws.receive_json()
    assert message["type"] == "next", message
    change = message["payload"]["data"]["changed"]
    assert change["cursor"] == encode_change_cursor(change["sequence"])
    return (
        change["sequence"],
        change["kind"],
        change["entityId"] or change["relationshipId"],
        change["origin"],
    )


@pytest.mark.usefixtures("empty_graph")
def test_an_offline_consumer_catches_up_on_exactly_what_it_missed(client: TestClient) -> None:
    load()
    # The consumer reads everything there is, keeps its cursor, and goes away.
    seen = changes(client)
    cursor = seen["pageInfo"]["endCursor"]
    assert cursor == encode_change_cursor(6)
    # Writes while it is away.
    write(client, UPSERT_ENTITY)
    write(client, UPSERT_RELATION)
    write(client, DELETE)
    missed = [
        (7, "CREATED", "org:feed-new", "mutation:upsertEntity"),
        (8, "CREATED", NEW_RELATION, "mutation:upsertRelation"),
        (9, "DELETED", CLAIM_ID, "mutation:deleteRelation"),
    ]
    # Back by polling: exactly the missed changes, nothing before, nothing twice.
    assert brief(changes(client, after=cursor)["nodes"]) == missed
    # Back by subscription: the same replay first, then live changes.
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        subscribe(ws, cursor)
        assert [received(ws) for _ in missed] == missed
        write(client, UPSERT_ENTITY.replace("Feed New", "Feed Renamed"))
        assert received(ws) == (10, "UPDATED", "org:feed-new", "mutation:upsertEntity")
        ws.send_json({"id": "1", "type": "complete"})


@pytest.mark.usefixtures("empty_graph")
def test_a_subscription_pushes_a_change_made_by_a_mutation(client: TestClient) -> None:
    load()
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        subscribe(ws, encode_change_cursor(5))
        # The replayed change proves the subscription runs; what follows is live.
        assert received(ws)[0] == 6
        write(client, UPSERT_ENTITY)
        assert received(ws) == (7, "CREATED", "org:feed-new", "mutation:upsertEntity")


def test_a_subscription_with_a_bad_cursor_gets_a_clear_error(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        subscribe(ws, "nope")
        first, then = ws.receive_json(), ws.receive_json()
    error = first["payload"]["errors"][0]
    assert (first["type"], first["payload"]["data"]) == ("next", None)
    assert (error["message"], error["extensions"]["code"]) == (
        "after: 'nope' is not a change cursor this API issued",
        "BAD_USER_INPUT",
    )
    assert then == {"id": "1", "type": "complete"}


def test_with_a_read_token_required_a_websocket_must_bring_one(neo4j_env: dict[str, str]) -> None:
    with make_client(THREATGRAPH_REQUIRE_READ_TOKEN="1") as guarded:
        with guarded.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == 4403
        with guarded.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            auth = {"Authorization": f"Bearer {WRITER_TOKEN}"}
            ws.send_json({"type": "connection_init", "payload": auth})
            assert ws.receive_json() == {"type": "connection_ack"}
