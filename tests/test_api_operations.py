"""Auth, limits, masking, round-trip counts, health and the committed schema file."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import neo4j
import pytest
from starlette.testclient import TestClient

from api.bookmarks import BOOKMARK_HEADER
from schema.sdl import SCHEMA_FILE, schema_sdl
from tests.api_client import WRITER_TOKEN, error_codes, gql, make_client
from tests.conftest import ROOT, cypher
from tests.neo4j_provider import SuiteNeo4j

UPSERT = """mutation { upsertRelation(input: {from: "agency:gchq", relation: "PART_OF",
  to: "country:uk", likelihood: FACT, quote: "GCHQ is a UK agency.",
  sources: ["source:ncsc-2024-03-25"]}) { id likelihood quote } }"""


def test_schema_file_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text() == schema_sdl(), "run: threatgraph schema export"


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(UPSERT, id="upsertRelation"),
        pytest.param('mutation { deleteRelation(id: "a:b-PART_OF->c:d@source:e") }', id="delete"),
        pytest.param('mutation { ingest(seed: "format: x") { claimsWritten } }', id="ingest"),
        pytest.param(
            'mutation { upsertEntity(input: {id: "org:x", label: "Organisation", name: "X"}) '
            "{ id } }",
            id="upsertEntity",
        ),
    ],
)
def test_every_mutation_needs_a_token(api: TestClient, mutation: str, seeded_graph: None) -> None:
    for token in (None, "wrong", WRITER_TOKEN + "x", ""):
        body = gql(api, mutation, token=token)
        assert error_codes(body) == ["UNAUTHENTICATED"], token
        assert body["errors"][0]["message"] == (
            "a valid bearer token is required (Authorization: Bearer <token>)"
        )


def test_upsert_relation_with_token_writes_one_claim(
    api: TestClient, driver: neo4j.Driver, empty_graph: None
) -> None:
    from tests.graph_state import load_shipped_seed

    load_shipped_seed()
    body = gql(api, UPSERT, token=WRITER_TOKEN)
    assert body["data"]["upsertRelation"] == {
        "id": "agency:gchq-PART_OF->country:uk@source:ncsc-2024-03-25",
        "likelihood": "FACT",
        "quote": "GCHQ is a UK agency.",
    }
    rows = cypher(
        driver, "MATCH (:Agency {id: 'agency:gchq'})-[r:PART_OF]->(:Country) RETURN r.id AS id"
    )
    assert rows == [{"id": "agency:gchq-PART_OF->country:uk@source:ncsc-2024-03-25"}]


def test_upsert_relation_of_one_claim_takes_at_most_four_round_trips(
    api: TestClient, seeded_graph: None
) -> None:
    # Schema setup runs at start-up and on `threatgraph seed`/`import`, never per write.
    first = gql(api, UPSERT, token=WRITER_TOKEN)
    again = gql(api, UPSERT, token=WRITER_TOKEN)
    # Probe and check, write, record with the closure upkeep, and the answer read;
    # a repeat changes nothing, so it records nothing.
    assert (first["_round_trips"], again["_round_trips"]) == (4, 3)


def test_upsert_relation_to_an_unknown_entity_writes_nothing(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None
) -> None:
    before = cypher(driver, "MATCH ()-[r]->() RETURN count(r) AS n")
    body = gql(
        api, UPSERT.replace('to: "country:uk"', 'to: "country:atlantis"'), token=WRITER_TOKEN
    )
    assert error_codes(body) == ["BAD_USER_INPUT/VALIDATION_FAILED"]
    assert (
        "'country:atlantis' is not declared in this load nor present in the graph"
        in (body["errors"][0]["message"])
    )
    assert cypher(driver, "MATCH ()-[r]->() RETURN count(r) AS n") == before


def test_ingest_takes_a_seed_document(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None
) -> None:
    document = (
        "format: threatgraph-seed/1\n"
        "entities:\n"
        "  - {id: 'org:example-ministry', label: Organisation, name: Example Ministry}\n"
        "claims:\n"
        "  - {from: 'org:example-ministry', relation: PART_OF, to: 'country:uk', "
        "likelihood: LIKELY, quote: 'It probably is.', sources: ['source:ncsc-2024-03-25']}\n"
    )
    query = "mutation ($s: String!) { ingest(seed: $s) { entitiesCreated claimsCreated } }"
    body = gql(api, query, token=WRITER_TOKEN, s=document)
    assert body["data"]["ingest"] == {"entitiesCreated": 1, "claimsCreated": 1}
    rows = cypher(
        driver,
        "MATCH (:Organisation {id: 'org:example-ministry'})-[r]->() RETURN r.likelihood AS l",
    )
    assert rows == [{"l": "LIKELY"}]


def test_nested_query_round_trips_grow_with_depth_not_results(
    api: TestClient, driver: neo4j.Driver, empty_graph: None
) -> None:
    from tests.graph_state import load_shipped_seed, rebuild_linked_closure

    load_shipped_seed()
    cypher(
        driver,
        "MATCH (a:ThreatActor {id: 'actor:apt31'}) "
        "UNWIND range(1, 120) AS n "
        "CREATE (i:Entity:Incident {id: 'incident:generated-' + n, name: 'Generated ' + n, "
        "aliases: [], description: '', lookup_keys: ['incident:generated-' + n]}) "
        "CREATE (i)-[:ATTRIBUTED_TO {id: 'g' + n, likelihood: 'LIKELY', likelihood_rank: 4, "
        "sources: ['source:ncsc-2024-03-25'], quote: 'generated'}]->(a)",
    )
    rebuild_linked_closure()  # written around threatgraph's write paths
    query = """{ incidents(linkedTo: "MSS", first: 200) { totalCount nodes { id
      relations(direction: OUT) { nodes { to { id relations(first: 3) { totalCount } } } } } } }"""
    body = gql(api, query)
    assert body["data"]["incidents"]["totalCount"] == 121
    # The compiled executor (the default) answers the whole query in one statement.
    assert body["_round_trips"] == 1
    with make_client(THREATGRAPH_EXECUTOR="resolvers") as resolvers:
        regular = gql(resolvers, query)
    assert regular["data"] == body["data"]
    # incidents (1) + their relations (1 batch) + the related entities' relations (1 batch)
    assert regular["_round_trips"] == 3


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("{ " + 'entity(ref: "x") { ' * 1 + "id }" + " }", None, id="fine"),
        pytest.param(
            '{ entity(ref: "x") { '
            + "relations { nodes { to { " * 6
            + "id"
            + " } } }" * 6
            + " } }",
            "GRAPHQL_VALIDATION_FAILED/QUERY_TOO_DEEP",
            id="depth",
        ),
        pytest.param(
            "{ " + " ".join(f'a{i}: entity(ref: "x") {{ id }}' for i in range(40)) + " }",
            "GRAPHQL_VALIDATION_FAILED/TOO_MANY_ALIASES",
            id="aliases",
        ),
        pytest.param('{ search(text: "x", first: 501) { score } }', "BAD_USER_INPUT", id="page"),
        pytest.param(
            '{ path(from: "a", to: "b", maxHops: 9) { likelihood } }', "BAD_USER_INPUT", id="hops"
        ),
        pytest.param('{ entity(ref: "x") { id ', "GRAPHQL_PARSE_FAILED", id="syntax"),
    ],
)
def test_limits_answer_with_clear_codes(
    api: TestClient, query: str, code: str | None, seeded_graph: None
) -> None:
    assert error_codes(gql(api, query)) == ([code] if code else [])


def test_oversized_body_is_refused_with_413(api: TestClient) -> None:
    response = api.post("/graphql", content=b'{"query": "' + b"x" * 1_100_000 + b'"}')
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


# (request keyword arguments, settings, status, code, refused before GraphQL ran)
ERROR_RESPONSES = [
    pytest.param({"content": b"x" * 1_100_000}, {}, 413, "REQUEST_TOO_LARGE", True, id="size"),
    pytest.param(
        {"json": {"query": "{ __typename }"}},
        {"THREATGRAPH_REQUIRE_READ_TOKEN": "1"},
        401,
        "UNAUTHENTICATED",
        True,
        id="read-token",
    ),
    pytest.param(
        {"json": {"query": "{ __typename }"}, "headers": {BOOKMARK_HEADER: "%%%"}},
        {},
        400,
        "BAD_USER_INPUT/BAD_BOOKMARK",
        True,
        id="bookmark",
    ),
    pytest.param(
        {"json": {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}}},
        {},
        200,
        "PERSISTED_QUERY_NOT_FOUND",
        True,
        id="persisted",
    ),
    pytest.param(
        {"json": [{"query": "{ __typename }"}] * 2},
        {},
        400,
        "BATCHING_NOT_SUPPORTED",
        True,
        id="strawberry-refusal",
    ),
    pytest.param({"json": "{ __typename }"}, {}, 400, "MALFORMED_JSON", True, id="not-an-object"),
    pytest.param(
        {"json": {"query": "{ __typename "}}, {}, 200, "GRAPHQL_PARSE_FAILED", False, id="parse"
    ),
    pytest.param(
        {"json": {"query": "{ nope }"}}, {}, 200, "GRAPHQL_VALIDATION_FAILED", False, id="rule"
    ),
    pytest.param(
        {"json": {"query": "{ " + " ".join(f"a{n}: __typename" for n in range(31)) + " }"}},
        {},
        200,
        "GRAPHQL_VALIDATION_FAILED/TOO_MANY_ALIASES",
        False,
        id="limit",
    ),
    pytest.param(
        {"json": {"query": '{ search(text: "x", first: 501) { score } }'}},
        {},
        200,
        "BAD_USER_INPUT",
        False,
        id="argument",
    ),
]


@pytest.mark.parametrize(("request_kwargs", "env", "status", "code", "refused"), ERROR_RESPONSES)
def test_every_error_response_has_one_shape(
    api: TestClient,
    request_kwargs: dict[str, Any],
    env: dict[str, str],
    status: int,
    code: str,
    refused: bool,
) -> None:
    """Whichever layer answers, an error is {"message", "extensions": {"code"[, "reason"]}}
    (`code` here is "CODE" or "CODE/REASON"); a request refused before GraphQL ran gets
    nothing else in its body."""
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(make_client(**env)) if env else api
        response = client.post("/graphql", **request_kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    [error] = body["errors"]
    assert isinstance(error["message"], str) and error["message"]
    standard, _, reason = code.partition("/")
    extensions = {"code": standard, **({"reason": reason} if reason else {})}
    assert error["extensions"] == extensions
    if refused:
        assert body == {"errors": [{"message": error["message"], "extensions": extensions}]}


def test_unexpected_errors_are_masked(api: TestClient) -> None:
    body = gql(api, '{ incidents(after: "bm90LWEtY3Vyc29y") { totalCount } }')
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "Traceback" not in str(body) and "MATCH" not in str(body)


def test_read_token_required_when_configured(neo4j_env: dict[str, str]) -> None:
    with make_client(THREATGRAPH_REQUIRE_READ_TOKEN="1") as client:
        assert gql(client, '{ entity(ref: "apt31") { id } }')["_status"] == 401
        ok = gql(client, "{ __typename }", token=WRITER_TOKEN)
        assert ok["data"] == {"__typename": "Query"}


def test_introspection_can_be_switched_off(neo4j_env: dict[str, str]) -> None:
    with make_client(THREATGRAPH_INTROSPECTION="0") as client:
        codes = error_codes(gql(client, "{ __schema { types { name } } }"))
        assert set(codes) == {"GRAPHQL_VALIDATION_FAILED/INTROSPECTION_DISABLED"}


def test_health_readiness_and_metrics(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}
    gql(api, "{ __typename }")
    text = api.get("/metrics").text
    assert 'threatgraph_http_requests_total{path="/graphql",status="200"}' in text
    assert "threatgraph_cypher_round_trips_total" in text


def test_graphiql_is_served_to_browsers(api: TestClient) -> None:
    response = api.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_neo4j_outage_is_503_and_the_api_recovers(
    test_neo4j: SuiteNeo4j, seeded_graph: None
) -> None:
    server = test_neo4j.managed
    if server is None:
        pytest.skip("needs the suite's own managed Neo4j to stop and start")
    with make_client() as client:
        assert gql(client, '{ entity(ref: "apt31") { id } }')["_status"] == 200
        server.stop()
        try:
            down = gql(client, '{ entity(ref: "apt31") { id } }')
            assert down["_status"] == 503
            assert error_codes(down) == ["NEO4J_UNAVAILABLE"]
            assert client.get("/readyz").status_code == 503
        finally:
            server.start()
        assert client.get("/readyz").status_code == 200
        back = gql(client, '{ entity(ref: "apt31") { id } }')
        assert back["data"] == {"entity": {"id": "actor:apt31"}}


def test_one_json_access_line_per_request_when_the_log_is_on(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def lines() -> list[dict[str, object]]:
        return [
            json.loads(record.getMessage())
            for record in caplog.records
            if record.name == "threatgraph.access"
        ]

    with caplog.at_level(logging.WARNING, logger="threatgraph.access"):
        gql(api, "{ __typename }")
    assert lines() == []
    with caplog.at_level(logging.INFO, logger="threatgraph.access"):
        gql(api, "{ __typename }")
    [line] = lines()
    assert isinstance(line.pop("duration_ms"), float)
    assert line == {"method": "POST", "path": "/graphql", "status": 200, "round_trips": 0}


def test_every_reason_is_documented_under_its_standard_code() -> None:
    from schema.errors import STANDARD_CODES

    guide = (ROOT / "docs" / "service-owners.md").read_text(encoding="utf-8")
    for reason, code in STANDARD_CODES.items():
        assert f"| `{code}` | `{reason}` |" in guide, reason
