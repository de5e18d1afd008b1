"""Hostile and malformed GraphQL requests: each refused with a clear code, others still served."""

from __future__ import annotations

import concurrent.futures
import os
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from tests.api_client import error_codes, make_client
from tests.live_server import LiveApi, Outcome, SteadyLoad, post_graphql, served

JSON = {"content-type": "application/json"}


def deep_query(depth: int) -> str:
    """A query `depth` fields deep, each a valid field of the schema."""
    inner = "id"
    for _ in range((depth - 2) // 3):
        inner = f"relations {{ nodes {{ to {{ {inner} }} }} }}"
    return f'{{ entity(ref: "apt31") {{ {inner} }} }}'


def nested_fragments(count: int) -> str:
    spreads = " ".join(
        f"fragment F{n} on Entity {{ id relations {{ nodes {{ to {{ ...F{n + 1} }} }} }} }}"
        for n in range(count)
    )
    return f'{{ entity(ref: "apt31") {{ ...F0 }} }} {spreads} fragment F{count} on Entity {{ id }}'


# (id, request keyword arguments, expected status, expected codes)
HOSTILE: list[tuple[str, dict[str, Any], int, list[str]]] = [
    (
        "depth-100",
        {"json": {"query": deep_query(100)}},
        200,
        ["GRAPHQL_VALIDATION_FAILED/QUERY_TOO_DEEP"],
    ),
    (
        "depth-1000",
        {"json": {"query": deep_query(1000)}},
        200,
        ["GRAPHQL_VALIDATION_FAILED/QUERY_TOO_DEEP"],
    ),
    (
        "10000-aliases",
        {"json": {"query": "{ " + " ".join(f"a{n}: __typename" for n in range(10_000)) + " }"}},
        200,
        ["GRAPHQL_PARSE_FAILED/TOO_MANY_TOKENS"],
    ),
    (
        "31-aliases",
        {"json": {"query": "{ " + " ".join(f"a{n}: __typename" for n in range(31)) + " }"}},
        200,
        ["GRAPHQL_VALIDATION_FAILED/TOO_MANY_ALIASES"],
    ),
    (
        "5-MB-query",
        {"json": {"query": "{ __typename }" + " " * (5 * 1024 * 1024)}},
        413,
        ["REQUEST_TOO_LARGE"],
    ),
    (
        "nested-fragments",
        {"json": {"query": nested_fragments(40)}},
        200,
        ["GRAPHQL_VALIDATION_FAILED/QUERY_TOO_DEEP"],
    ),
    (
        "fragment-cycle",
        {"json": {"query": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"}},
        200,
        ["GRAPHQL_VALIDATION_FAILED"],
    ),
    (
        "first-beyond-int",
        {"json": {"query": '{ search(text: "x", first: 99999999999) { score } }'}},
        200,
        ["GRAPHQL_VALIDATION_FAILED"],
    ),
    (
        "first-max-int",
        {"json": {"query": "{ incidents(first: 2147483647) { totalCount } }"}},
        200,
        ["BAD_USER_INPUT"],
    ),
    (
        "negative-first",
        {"json": {"query": '{ neighbourhood(ref: "apt31", first: -1) { nodes { id } } }'}},
        200,
        ["BAD_USER_INPUT"],
    ),
    (
        "negative-hops",
        {"json": {"query": '{ neighbourhood(ref: "apt31", hops: -5) { nodes { id } } }'}},
        200,
        ["BAD_USER_INPUT"],
    ),
    (
        "absurd-max-hops",
        {"json": {"query": '{ path(from: "a", to: "b", maxHops: 2147483647) { likelihood } }'}},
        200,
        ["BAD_USER_INPUT"],
    ),
    (
        "bad-date-literal",
        {"json": {"query": '{ incidents(since: "2024-13-45") { totalCount } }'}},
        200,
        ["BAD_USER_INPUT"],
    ),
    (
        "forged-cursor",
        {"json": {"query": '{ incidents(after: "b2Zmc2V0Oi05OTk=") { totalCount } }'}},
        200,
        ["BAD_USER_INPUT"],
    ),
    (
        "batch-of-two",
        {"json": [{"query": "{ __typename }"}, {"query": "{ __typename }"}]},
        400,
        ["BATCHING_NOT_SUPPORTED"],
    ),
    (
        "batch-of-1000",
        {"json": [{"query": "{ __typename }"}] * 1000},
        400,
        ["BATCHING_NOT_SUPPORTED"],
    ),
    (
        "invalid-utf8",
        {"content": b'{"query": "{ entity(ref: \\"\xff\xfe\\") { id } }"}', "headers": JSON},
        400,
        ["MALFORMED_JSON"],
    ),
    ("truncated-json", {"content": b'{"query": ', "headers": JSON}, 400, ["MALFORMED_JSON"]),
    ("json-string", {"json": "{ __typename }"}, 400, ["MALFORMED_JSON"]),
    ("json-number", {"content": b"42", "headers": JSON}, 400, ["MALFORMED_JSON"]),
    ("query-not-string", {"json": {"query": 5}}, 400, ["BAD_REQUEST"]),
    (
        "variables-a-list",
        {"json": {"query": "{ __typename }", "variables": [1]}},
        400,
        ["BAD_REQUEST"],
    ),
    (
        "form-encoded",
        {"content": b"query=1", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        400,
        ["UNSUPPORTED_MEDIA_TYPE"],
    ),
    (
        "subscription",
        {"json": {"query": "subscription { x }"}},
        200,
        ["GRAPHQL_VALIDATION_FAILED"],
    ),
    (
        "ref-of-900-kB",
        {"json": {"query": '{ entity(ref: "' + "x" * 900_000 + '") { id } }'}},
        200,
        ["BAD_USER_INPUT"],
    ),
]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "codes"),
    [pytest.param(kwargs, status, codes, id=name) for name, kwargs, status, codes in HOSTILE],
)
def test_hostile_request_is_refused_with_a_clear_code(
    api: TestClient, request_kwargs: dict[str, Any], status: int, codes: list[str]
) -> None:
    response = api.post("/graphql", **request_kwargs)
    body = response.json()
    assert (response.status_code, error_codes(body)[:1]) == (
        status,
        codes,
    )
    assert not any((body.get("data") or {}).values()), "nothing answered"
    assert "Traceback" not in response.text


def test_other_clients_are_served_while_hostile_requests_arrive(
    live_api: LiveApi, seeded_graph: None
) -> None:
    read = {"query": '{ entity(ref: "apt31") { id } }'}

    def reader(client: httpx.Client) -> Outcome:
        return post_graphql(client, live_api.url, read)

    def hostile(kwargs: dict[str, Any]) -> int:
        return httpx.post(f"{live_api.url}/graphql", timeout=60, **kwargs).status_code

    with SteadyLoad(reader, workers=2) as load, concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(hostile, [kwargs for _, kwargs, _, _ in HOSTILE] * 2))
    assert statuses == [status for _, _, status, _ in HOSTILE] * 2
    outcomes = load.snapshot()
    assert outcomes and {(o.status, o.codes) for o in outcomes} == {(200, ())}
    assert "Traceback" not in live_api.log()


def test_without_introspection_errors_suggest_no_names(neo4j_env: dict[str, str]) -> None:
    queries = [
        '{ entiti(ref: "x") { id } }',
        '{ entity(ref: "x") { nme } }',
        '{ path(from: "a", to: "b", minLikelihood: LIKLY) { likelihood } }',
        "query($x: Entityy) { __typename }",
        "{ __schema { types { name } } }",
        '{ __type(name: "Entity") { fields { name } } }',
    ]
    with make_client(THREATGRAPH_INTROSPECTION="0") as client:
        for query in queries:
            text = client.post("/graphql", json={"query": query}).text
            assert "Did you mean" not in text and "'entity'" not in text and "'name'" not in text, (
                text
            )
        body = client.post("/graphql", json={"query": queries[0]}).json()
        assert body["errors"][0]["message"] == "Cannot query field 'entiti' on type 'Query'."


def test_with_introspection_on_suggestions_stay(api: TestClient) -> None:
    body = api.post("/graphql", json={"query": '{ entiti(ref: "x") { id } }'}).json()
    assert body["errors"][0]["message"] == (
        "Cannot query field 'entiti' on type 'Query'. "
        "Did you mean 'entity', 'entities', or '_entities'?"
    )


def test_a_near_limit_literal_without_introspection_answers_within_a_second(
    neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    """Validation echoes the literal into its message; stripping suggestions from that
    message must stay linear, or one anonymous request blocks the event loop."""
    literal = " " * 900_000
    query = f'{{ neighbourhood(ref: "apt31", first: "{literal}") {{ nodes {{ id }} }} }}'
    hostile = {"query": query}
    read = {"query": '{ entity(ref: "apt31") { id } }'}
    env = {**os.environ, **neo4j_env, "THREATGRAPH_INTROSPECTION": "0"}
    with served(env, tmp_path / "api.log") as live:

        def reader(client: httpx.Client) -> Outcome:
            return post_graphql(client, live.url, read)

        with SteadyLoad(reader, workers=1) as load:
            load.wait_for(lambda outcome: outcome.status == 200, count=1, timeout_s=30)
            with httpx.Client() as client:
                outcome = post_graphql(client, live.url, hostile, timeout_s=30)
            load.wait_for(lambda o: o.sent > outcome.answered, count=1, timeout_s=5)
    reads = load.snapshot()
    assert (outcome.status, outcome.codes) == (200, ("GRAPHQL_VALIDATION_FAILED",))
    assert outcome.answered - outcome.sent < 1.0
    assert {(o.status, o.codes) for o in reads} == {(200, ())}
    assert max(o.answered - o.sent for o in reads) < 1.0, "a reader waited behind it"
