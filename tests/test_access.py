"""Every mutation needs the writer token, refusals look alike, and secrets stay secret."""

from __future__ import annotations

import logging
from typing import Any

import neo4j
import pytest
from starlette.testclient import TestClient

from tests.api_client import WRITER_TOKEN, error_codes, gql, make_client
from tests.graph_state import canonical_dump
from tests.live_server import LiveApi

REFUSAL = "a valid bearer token is required (Authorization: Bearer <token>)"
NEAR_MISSES = [
    None,
    "",
    " ",
    "wrong",
    WRITER_TOKEN[:-1],
    WRITER_TOKEN + "x",
    WRITER_TOKEN.upper(),
    " " + WRITER_TOKEN + "\x00",
]
# A value for each scalar a mutation argument may need (a new scalar fails loudly here).
SCALAR_VALUES: dict[str, Any] = {
    "String": "org:x",
    "ID": "org:x-PART_OF->country:uk@source:x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "Date": "2024-03-25",
}

MUTATIONS = """{ __schema {
  mutationType { fields { name type { ...T } args { name type { ...T } } } }
  types { name kind enumValues { name } inputFields { name type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"""


def minimal_value(type_ref: dict[str, Any], types: dict[str, Any]) -> Any:
    """The smallest valid value of a (required) GraphQL input type."""
    if type_ref["kind"] == "NON_NULL":
        return minimal_value(type_ref["ofType"], types)
    if type_ref["kind"] == "LIST":
        return [minimal_value(type_ref["ofType"], types)]
    described = types[type_ref["name"]]
    if described["kind"] == "ENUM":
        return described["enumValues"][0]["name"]
    if described["kind"] == "INPUT_OBJECT":
        return {
            field["name"]: minimal_value(field["type"], types)
            for field in described["inputFields"]
            if field["type"]["kind"] == "NON_NULL"
        }
    return SCALAR_VALUES[type_ref["name"]]


def every_mutation(api: TestClient) -> list[tuple[str, dict[str, Any], str]]:
    """(field, minimal variables, the mutation's text) for every mutation, by introspection."""
    schema = gql(api, MUTATIONS)["data"]["__schema"]
    types = {t["name"]: t for t in schema["types"]}

    def type_name(type_ref: dict[str, Any]) -> str:
        if type_ref["kind"] == "NON_NULL":
            return type_name(type_ref["ofType"]) + "!"
        if type_ref["kind"] == "LIST":
            return f"[{type_name(type_ref['ofType'])}]"
        return str(type_ref["name"])

    found = []
    for field in schema["mutationType"]["fields"]:
        args = [a for a in field["args"] if a["type"]["kind"] == "NON_NULL"]
        variables = {a["name"]: minimal_value(a["type"], types) for a in args}
        declared = ", ".join(f"${a['name']}: {type_name(a['type'])}" for a in args)
        passed = ", ".join(f"{a['name']}: ${a['name']}" for a in args)
        returns = field["type"]
        while returns.get("ofType"):
            returns = returns["ofType"]
        selection = "" if returns["kind"] in ("SCALAR", "ENUM") else " { __typename }"
        text = f"mutation({declared}) {{ {field['name']}({passed}){selection} }}"
        found.append((field["name"], variables, text))
    return found


def test_introspection_finds_every_mutation(api: TestClient) -> None:
    assert sorted(name for name, _, _ in every_mutation(api)) == [
        "deleteRelation",
        "ingest",
        "upsertEntity",
        "upsertRelation",
    ]


def test_every_mutation_refuses_missing_wrong_and_near_miss_tokens_alike(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None
) -> None:
    before = canonical_dump(driver)
    for field, variables, query in every_mutation(api):
        for token in NEAR_MISSES:
            headers = {"authorization": f"Bearer {token}"} if token is not None else {}
            response = api.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            body = response.json()
            assert (response.status_code, body["data"]) == (200, None), (field, token, body)
            assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
                (REFUSAL, "UNAUTHENTICATED")
            ], (field, token)
        # With the token the same request gets past the guard (it may still be invalid input).
        answered = gql(api, query, token=WRITER_TOKEN, **variables)
        assert "UNAUTHENTICATED" not in error_codes(answered), field
    graph_now = canonical_dump(driver)
    refused_lines = set(before) ^ set(graph_now)
    # Only the last, authorised calls may have written (the minimal entity org:x).
    assert all("org:x" in line for line in refused_lines), refused_lines


def test_reads_need_a_token_when_required(neo4j_env: dict[str, str], seeded_graph: None) -> None:
    with make_client(THREATGRAPH_REQUIRE_READ_TOKEN="1") as client:
        for token in NEAR_MISSES:
            body = gql(client, '{ entity(ref: "apt31") { id } }', token=token)
            assert (body["_status"], error_codes(body)) == (401, ["UNAUTHENTICATED"]), token
            assert body["errors"][0]["message"] == REFUSAL
        ok = gql(client, '{ entity(ref: "apt31") { id } }', token=WRITER_TOKEN)
        assert ok["data"] == {"entity": {"id": "actor:apt31"}}


def test_tokens_and_passwords_never_reach_logs_errors_or_metrics(
    api: TestClient,
    live_api: LiveApi,
    neo4j_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    seeded_graph: None,
) -> None:
    secrets = [WRITER_TOKEN, neo4j_env["NEO4J_PASSWORD"], "guess-" + WRITER_TOKEN[:12]]
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    for token in (WRITER_TOKEN, secrets[2]):
        for query in (
            '{ entity(ref: "apt31") { id } }',
            'mutation { deleteRelation(id: "nonsense") }',
            "{ broken",
        ):
            texts.append(
                api.post(
                    "/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"}
                ).text
            )
    texts.append(api.get("/metrics").text)
    texts.append(api.get("/readyz").text)
    with make_client(NEO4J_PASSWORD="not-the-password") as wrong:
        texts.append(wrong.post("/graphql", json={"query": '{ entity(ref: "x") { id } }'}).text)
    texts.append(caplog.text)
    texts.append(live_api.log())
    for secret in secrets:
        for text in texts:
            assert secret not in text
