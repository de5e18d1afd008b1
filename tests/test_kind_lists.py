"""Lists by kind: entities(kind:) paged by name, and search(kinds:)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api_client import ask_both, error_codes, gql

ACTORS = """query ($after: String, $asOf: Date) {
  entities(kind: THREAT_ACTOR, first: 2, after: $after, asOf: $asOf) {
    totalCount nodes { id kind } edges { cursor } pageInfo { hasNextPage hasPreviousPage } } }"""


def test_every_threat_actor_paged_by_name(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    first = ask_both(api, resolvers, ACTORS)["entities"]
    assert first["totalCount"] == 3
    assert [n["id"] for n in first["nodes"]] == [
        "actor:apt31",
        "actor:china-state-affiliated-actor-electoral-commission",
    ]
    assert first["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False}
    rest = ask_both(api, resolvers, ACTORS, after=first["edges"][-1]["cursor"])["entities"]
    assert rest["nodes"] == [
        {"id": "actor:china-state-sponsored-lotl-actors", "kind": "ThreatActor"}
    ]
    assert rest["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    before = ask_both(api, resolvers, ACTORS, asOf="2024-03-24")["entities"]
    assert (before["totalCount"], before["nodes"]) == (0, [])


def test_search_keeps_to_the_kinds_asked(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    query = '{ search(text: "china", kinds: [COUNTRY, AGENCY]) { entity { id } } }'
    hits = [hit["entity"]["id"] for hit in ask_both(api, resolvers, query)["search"]]
    assert hits == ["country:china", "agency:chinese-intelligence-services"]


def test_an_unknown_kind_is_refused_by_validation(api: TestClient) -> None:
    body = gql(api, "{ entities(kind: DRAGON) { totalCount } }")
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
