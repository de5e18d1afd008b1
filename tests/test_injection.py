"""Cypher injection: every string a client or a file can send is data, never Cypher.

Each string argument of the schema (found by introspection, so a new one cannot
slip through untested) and each text field of seed documents and STIX bundles is
fed quotes, backticks, Cypher that would delete the graph, parameter-looking
text, NUL bytes and very long strings. Text fields come back verbatim; the rest
of the graph is unchanged; identifiers are refused with a clear code.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import neo4j
import pytest
from starlette.testclient import TestClient

from graph.model.field_checks import MAX_NAME_CHARS, MAX_STRING_CHARS
from graph.store.database import Graph
from graph.writes.importing import import_batches
from seed.importers.stix import stix_batches
from tests.api_client import WRITER_TOKEN, error_codes, gql
from tests.conftest import cypher
from tests.graph_state import canonical_dump
from tests.stix_factory import actor, bundle, write_bundle

PAYLOADS = [
    "O'Brien",
    'say "hi"',
    "back`tick`",
    "'}) DETACH DELETE n //",
    '"}) DETACH DELETE n //',
    "`}) DETACH DELETE n //",
    "x'}) WITH 1 AS x MATCH (n) DETACH DELETE n RETURN 1 //",
    "$param",
    "{id: $id}",
    "a\x00b",
    "\\' OR 1=1 --",
    "MATCH (n) DETACH DELETE n",
    "\u202egnp.exe",
    "emoji \U0001f642",
    "line\r\nbreak",
]
LONG_NAME = "N" * MAX_NAME_CHARS
LONG_TEXT = "T" * MAX_STRING_CHARS
# A quote is compared with its source's text with runs of white space as one
# space (graph/model/documents.py), so it is stored that way: not a payload for quotes.
QUOTE_PAYLOADS = [p for p in PAYLOADS if p == " ".join(p.split())] + [LONG_TEXT]
NAME_PAYLOADS = [*PAYLOADS, LONG_NAME]

# Every String/ID argument and input field, with the query that feeds it $v.
READ_ARGUMENTS = {
    "Query.entity(ref)": "query($v: String!) { entity(ref: $v) { id } }",
    "Query.search(text)": "query($v: String!) { search(text: $v) { score } }",
    "Query.incidents(linkedTo)": "query($v: String) { incidents(linkedTo: $v) { totalCount } }",
    "Query.incidents(after)": "query($v: String) { incidents(after: $v) { totalCount } }",
    "Query.incidents(targetSector)": "query($v: String) { incidents(targetSector: $v) "
    "{ totalCount } }",
    "Query.activity(linkedTo)": "query($v: String) { activity(linkedTo: $v) { totalCount } }",
    "Query.activity(after)": "query($v: String) { activity(after: $v) { totalCount } }",
    "Query.activity(targetSector)": "query($v: String) { activity(targetSector: $v) "
    "{ totalCount } }",
    "Query.search(after)": 'query($v: String) { search(text: "APT31", after: $v) { cursor } }',
    "Query.path(from)": 'query($v: String!) { path(from: $v, to: "apt31") { likelihood } }',
    "Query.path(to)": 'query($v: String!) { path(from: "apt31", to: $v) { likelihood } }',
    "Query.neighbourhood(ref)": "query($v: String!) { neighbourhood(ref: $v) { nodes { id } } }",
    "Query.claims(from)": 'query($v: String!) { claims(from: $v, to: "mss") { id } }',
    "Query.claims(to)": 'query($v: String!) { claims(from: "apt31", to: $v) { id } }',
    "Query.claims(relation)": 'query($v: String) { claims(from: "apt31", to: "mss", '
    "relation: $v) { id } }",
    "Query.history(ref)": "query($v: String!) { history(ref: $v) { totalCount } }",
    "Query.entities(after)": "query($v: String) { entities(kind: AGENCY, after: $v) "
    "{ totalCount } }",
    "Query.history(after)": 'query($v: String) { history(ref: "apt31", after: $v) { totalCount } }',
    "Entity.relations(types)": 'query($v: String!) { entity(ref: "apt31") '
    "{ relations(types: [$v]) { totalCount } } }",
    "Entity.relations(after)": 'query($v: String) { entity(ref: "apt31") '
    "{ relations(after: $v) { totalCount } } }",
    "Query.changes(after)": "query($v: String) { changes(after: $v) { newestSequence } }",
    "Query.stixBundle(ref)": "query($v: String!) { stixBundle(ref: $v) }",
    "Entity.techniques(after)": 'query($v: String) { entity(ref: "apt31") '
    "{ ... on ThreatActor { techniques(after: $v) { totalCount } } } }",
    "Entity.software(after)": 'query($v: String) { entity(ref: "apt31") '
    "{ ... on ThreatActor { software(after: $v) { totalCount } } } }",
}
# Arguments only a WebSocket subscription takes (test_subscription_arguments_...).
SUBSCRIPTION_ARGUMENTS = {"Subscription.changed(after)"}
STORED_ARGUMENTS = {
    "Mutation.upsertEntity(input.name)",
    "Mutation.upsertEntity(input.aliases)",
    "Mutation.upsertEntity(input.description)",
    "Mutation.upsertEntity(input.properties.value)",
    "Mutation.upsertRelation(input.quote)",
    "Mutation.ingest(seed)",
}
IDENTIFIER_ARGUMENTS = {
    "Mutation.upsertEntity(input.id)": ("upsertEntity", {"id": "$"}),
    "Mutation.upsertEntity(input.label)": ("upsertEntity", {"label": "$"}),
    "Mutation.upsertEntity(input.properties.key)": (
        "upsertEntity",
        {"properties": [{"key": "$", "value": "x"}]},
    ),
    "Mutation.upsertRelation(input.from)": ("upsertRelation", {"from": "$"}),
    "Mutation.upsertRelation(input.relation)": ("upsertRelation", {"relation": "$"}),
    "Mutation.upsertRelation(input.to)": ("upsertRelation", {"to": "$"}),
    "Mutation.upsertRelation(input.sources)": ("upsertRelation", {"sources": ["$"]}),
    "Mutation.upsertRelation(input.assessedBy)": ("upsertRelation", {"assessedBy": "$"}),
    "Mutation.deleteRelation(id)": ("deleteRelation", {}),
}

INTROSPECT = """{ __schema { types { name kind interfaces { name }
  fields { name args { name type { ...T } } }
  inputFields { name type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"""


def named(type_ref: dict[str, Any]) -> dict[str, Any]:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref


def string_arguments(api: TestClient) -> set[str]:
    """'Type.field(argument[.input field...])' for every String or ID the schema accepts."""
    types = {t["name"]: t for t in gql(api, INTROSPECT)["data"]["__schema"]["types"]}
    found: set[str] = set()

    def visit(type_ref: dict[str, Any], where: str, path: str) -> None:
        inner = named(type_ref)
        if inner["kind"] == "INPUT_OBJECT":
            for field in types[inner["name"]]["inputFields"]:
                visit(field["type"], where, f"{path}.{field['name']}")
        elif inner["name"] in ("String", "ID"):
            found.add(f"{where}({path})")

    for type_ in types.values():
        if type_["kind"] not in ("OBJECT", "INTERFACE") or type_["name"].startswith("__"):
            continue
        # Entity kinds share the Entity interface's fields: name them once, by it.
        owner = "Entity" if {"name": "Entity"} in (type_["interfaces"] or []) else type_["name"]
        for field in type_["fields"]:
            for arg in field["args"]:
                visit(arg["type"], f"{owner}.{field['name']}", arg["name"])
    return found


def test_every_string_argument_is_covered(api: TestClient) -> None:
    covered = (
        set(READ_ARGUMENTS) | STORED_ARGUMENTS | set(IDENTIFIER_ARGUMENTS) | SUBSCRIPTION_ARGUMENTS
    )
    assert string_arguments(api) == covered


def test_subscription_arguments_treat_payloads_as_data(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None
) -> None:
    before = canonical_dump(driver)
    query = "subscription($v: String) { changed(after: $v) { sequence } }"
    with api.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        for number, payload in enumerate([*PAYLOADS, LONG_TEXT]):
            operation = {"query": query, "variables": {"v": payload}}
            ws.send_json({"id": str(number), "type": "subscribe", "payload": operation})
            first, then = ws.receive_json(), ws.receive_json()
            codes = [error["extensions"]["code"] for error in first["payload"]["errors"]]
            assert codes == ["BAD_USER_INPUT"], (payload, first)
            assert then == {"id": str(number), "type": "complete"}
    assert canonical_dump(driver) == before


@pytest.mark.parametrize("argument", sorted(READ_ARGUMENTS))
def test_read_arguments_treat_payloads_as_data(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None, argument: str
) -> None:
    before = canonical_dump(driver)
    for payload in [*PAYLOADS, LONG_TEXT]:
        body = gql(api, READ_ARGUMENTS[argument], v=payload)
        assert body["_status"] == 200, payload
        assert set(error_codes(body)) <= {"BAD_USER_INPUT", "BAD_USER_INPUT/NOT_FOUND"}, (
            payload,
            body,
        )
    assert canonical_dump(driver) == before


UPSERT_ENTITY = """mutation($input: EntityInput!) { upsertEntity(input: $input) {
  id name aliases description ... on ThreatActor { stixType } } }"""
UPSERT_RELATION = """mutation($input: RelationInput!) { upsertRelation(input: $input) {
  id quote } }"""
ENTITY = {"label": "ThreatActor", "name": "Injection test actor"}
RELATION = {
    "from": "actor:apt31",
    "relation": "RELATED_TO",
    "to": "country:china",
    "likelihood": "LIKELY",
    "quote": "A quote.",
    "sources": ["source:ncsc-2024-03-25"],
}


def unchanged_except(before: list[str], after: list[str], marker: str) -> bool:
    """Every line of `before` is still there, and every new line mentions `marker`."""
    return set(before) <= set(after) and all(marker in line for line in set(after) - set(before))


def test_entity_text_fields_are_stored_and_returned_verbatim(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None
) -> None:
    before = canonical_dump(driver)
    for number, payload in enumerate(NAME_PAYLOADS):
        text = LONG_TEXT if payload == LONG_NAME else payload
        entity = {
            **ENTITY,
            "id": f"actor:injection-{number}",
            "name": payload,
            "aliases": [payload],
            "description": text,
            "properties": [{"key": "stix_type", "value": text}],
        }
        body = gql(api, UPSERT_ENTITY, token=WRITER_TOKEN, input=entity)
        assert body.get("errors") is None, (payload, body)
        written = body["data"]["upsertEntity"]
        expected = {"name": payload, "aliases": [payload], "description": text, "stixType": text}
        assert {k: written[k] for k in expected} == expected
        stored = cypher(
            driver,
            "MATCH (e:Entity {id: $id}) RETURN e.name AS name, e.aliases AS aliases, "
            "e.description AS description, e.stix_type AS stixType",
            id=entity["id"],
        )
        assert stored == [expected]
    assert unchanged_except(before, canonical_dump(driver), "actor:injection-")


def test_claim_quotes_are_stored_and_returned_verbatim(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None
) -> None:
    before = canonical_dump(driver)
    for payload in QUOTE_PAYLOADS:
        body = gql(api, UPSERT_RELATION, token=WRITER_TOKEN, input={**RELATION, "quote": payload})
        assert body.get("errors") is None, (payload, body)
        assert body["data"]["upsertRelation"]["quote"] == payload
        stored = cypher(
            driver, "MATCH (:Entity {id: 'actor:apt31'})-[r:RELATED_TO]->() RETURN r.quote AS q"
        )
        assert stored == [{"q": payload}]
    assert unchanged_except(before, canonical_dump(driver), "RELATED_TO")


@pytest.mark.parametrize("argument", sorted(IDENTIFIER_ARGUMENTS))
def test_identifier_arguments_refuse_payloads_and_write_nothing(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None, argument: str
) -> None:
    mutation, fields = IDENTIFIER_ARGUMENTS[argument]
    before = canonical_dump(driver)
    for payload in [*PAYLOADS, LONG_TEXT]:
        if mutation == "deleteRelation":
            body = gql(
                api, "mutation($v: ID!) { deleteRelation(id: $v) }", token=WRITER_TOKEN, v=payload
            )
        else:
            base = {**ENTITY, "id": "actor:injection"} if mutation == "upsertEntity" else RELATION
            filled = json.loads(json.dumps(fields).replace('"$"', json.dumps(payload)))
            query = UPSERT_ENTITY if mutation == "upsertEntity" else UPSERT_RELATION
            body = gql(api, query, token=WRITER_TOKEN, input={**base, **filled})
        assert body["_status"] == 200
        assert set(error_codes(body)) <= {
            "BAD_USER_INPUT/VALIDATION_FAILED",
            "BAD_USER_INPUT/NOT_FOUND",
            "BAD_USER_INPUT",
        }
        assert error_codes(body), (payload, body)
    assert canonical_dump(driver) == before


def test_ingested_seed_text_is_stored_verbatim(
    api: TestClient, driver: neo4j.Driver, seeded_graph: None
) -> None:
    before = canonical_dump(driver)
    entities = [
        {
            "id": f"org:ingested-{n}",
            "label": "Organisation",
            "name": payload,
            "aliases": [payload],
            "description": LONG_TEXT if payload == LONG_NAME else payload,
        }
        for n, payload in enumerate(NAME_PAYLOADS)
    ]
    claims = [
        {
            "from": "actor:apt31",
            "relation": "TARGETED",
            "to": f"org:ingested-{n}",
            "likelihood": "likely",
            "quote": payload,
            "sources": ["source:ncsc-2024-03-25"],
        }
        for n, payload in enumerate(QUOTE_PAYLOADS)
    ]
    # JSON is YAML: json.dumps escapes what YAML would otherwise read as syntax.
    document = {"format": "threatgraph-seed/1", "entities": entities, "claims": claims}
    seed = json.dumps(document, ensure_ascii=False)
    body = gql(
        api, "mutation($s: String!) { ingest(seed: $s) { claimsWritten } }", WRITER_TOKEN, s=seed
    )
    assert body.get("errors") is None, body
    stored = cypher(
        driver,
        "MATCH (e:Organisation) WHERE e.id STARTS WITH 'org:ingested-' "
        "RETURN e.id AS id, e.name AS name, e.aliases AS aliases, e.description AS description",
    )
    assert sorted(stored, key=lambda r: r["id"]) == sorted(
        ({k: e[k] for k in ("id", "name", "aliases", "description")} for e in entities),
        key=lambda r: r["id"],
    )
    quotes = cypher(
        driver,
        "MATCH (:Entity {id: 'actor:apt31'})-[r:TARGETED]->(o) WHERE o.id STARTS WITH "
        "'org:ingested-' RETURN r.quote AS quote",
    )
    assert sorted(q["quote"] for q in quotes) == sorted(QUOTE_PAYLOADS)
    assert unchanged_except(before, canonical_dump(driver), "ingested-")


def test_stix_text_fields_are_stored_verbatim(
    driver: neo4j.Driver, seeded_graph: None, tmp_path: Path
) -> None:
    before = canonical_dump(driver)
    objects = [
        actor(f"STIX {n} {payload}", aliases=[payload], description=payload)
        for n, payload in enumerate(PAYLOADS)
    ]
    path = write_bundle(tmp_path / "hostile.json", bundle("hostile", objects))

    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await import_batches(graph, stix_batches([path]))

    asyncio.run(run())
    stored = cypher(
        driver,
        "MATCH (e:ThreatActor) WHERE e.name STARTS WITH 'STIX ' "
        "RETURN e.name AS name, e.aliases AS aliases, e.description AS description",
    )
    assert sorted(stored, key=lambda r: r["name"]) == sorted(
        (
            {"name": o["name"], "aliases": o["aliases"], "description": o["description"]}
            for o in objects
        ),
        key=lambda r: r["name"],
    )
    assert set(before) <= set(canonical_dump(driver))
