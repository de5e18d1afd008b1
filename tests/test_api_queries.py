"""The GraphQL contract over HTTP against the seeded real Neo4j."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api_client import error_codes, gql

LINKED = """
query ($to: String!, $min: Likelihood) {
  incidents(linkedTo: $to, minLikelihood: $min) {
    totalCount
    nodes { id linkPath { likelihood steps { from { id } relation to { id } likelihood
            quote sources { id } assessedBy { id } } } }
  }
}"""


def chain(node: dict) -> list[tuple[str, str, str]]:
    return [(s["from"]["id"], s["relation"], s["to"]["id"]) for s in node["linkPath"]["steps"]]


def test_incidents_linked_to_mss_are_the_parliamentary_reconnaissance_only(
    api: TestClient, seeded_graph: None
) -> None:
    body = gql(api, LINKED, to="MSS")
    incidents = body["data"]["incidents"]
    assert incidents["totalCount"] == 1
    node = incidents["nodes"][0]
    assert node["id"] == "incident:2021-uk-parliamentarians-email-reconnaissance"
    assert chain(node) == [
        ("incident:2021-uk-parliamentarians-email-reconnaissance", "ATTRIBUTED_TO", "actor:apt31"),
        ("actor:apt31", "AFFILIATED_WITH", "agency:mss"),
    ]
    assert node["linkPath"]["likelihood"] == "ALMOST_CERTAIN"
    first = node["linkPath"]["steps"][0]
    assert first["likelihood"] == "ALMOST_CERTAIN"
    assert first["assessedBy"] == {"id": "agency:ncsc"}
    assert first["sources"] == [{"id": "source:ncsc-2024-03-25"}]
    assert "almost certainly responsible" in first["quote"]
    assert body["_round_trips"] == 1


def test_incidents_linked_to_china_are_both_attributed_incidents(
    api: TestClient, seeded_graph: None
) -> None:
    incidents = gql(api, LINKED, to="china")["data"]["incidents"]
    assert sorted(n["id"] for n in incidents["nodes"]) == [
        "incident:2021-2022-uk-electoral-commission-compromise",
        "incident:2021-uk-parliamentarians-email-reconnaissance",
    ]
    electoral = next(n for n in incidents["nodes"] if "electoral" in n["id"])
    assert [step[1] for step in chain(electoral)] == ["ATTRIBUTED_TO", "AFFILIATED_WITH"]
    assert chain(electoral)[0][2] == "actor:china-state-affiliated-actor-electoral-commission"


def test_an_incident_is_linked_to_itself_by_an_empty_chain(
    api: TestClient, seeded_graph: None
) -> None:
    incident = "incident:2021-uk-parliamentarians-email-reconnaissance"
    incidents = gql(api, LINKED, to=incident)["data"]["incidents"]
    assert incidents["totalCount"] == 1
    assert [(n["id"], n["linkPath"]["steps"]) for n in incidents["nodes"]] == [(incident, [])]


def test_min_likelihood_drops_links_weaker_than_asked(api: TestClient, seeded_graph: None) -> None:
    incidents = gql(api, LINKED, to="China", min="FACT")["data"]["incidents"]
    assert [n["id"] for n in incidents["nodes"]] == [
        "incident:2021-2022-uk-electoral-commission-compromise"
    ]


def test_entity_by_id_name_or_alias_in_any_case(api: TestClient, seeded_graph: None) -> None:
    query = "query ($r: String!) { entity(ref: $r) { id name kind } }"
    for ref in ("apt31", "APT31", "actor:apt31"):
        assert gql(api, query, r=ref)["data"]["entity"] == {
            "id": "actor:apt31",
            "name": "APT31",
            "kind": "ThreatActor",
        }
    assert gql(api, query, r="Chinese Ministry of State Security")["data"]["entity"]["id"] == (
        "agency:mss"
    )
    assert gql(api, query, r="no such thing")["data"] == {"entity": None}


def test_path_from_ncsc_to_gchq(api: TestClient, seeded_graph: None) -> None:
    body = gql(
        api,
        '{ path(from: "NCSC", to: "GCHQ") { likelihood steps { from { id } relation to { id } '
        "quote } } }",
    )
    path = body["data"]["path"]
    assert path["likelihood"] == "FACT"
    assert [(s["from"]["id"], s["relation"], s["to"]["id"]) for s in path["steps"]] == [
        ("agency:ncsc", "PART_OF", "agency:gchq")
    ]
    assert "a part of GCHQ" in path["steps"][0]["quote"]


def test_path_electoral_commission_compromise_never_reaches_apt31(
    api: TestClient, seeded_graph: None
) -> None:
    query = (
        '{ path(from: "incident:2021-2022-uk-electoral-commission-compromise", to: "China") '
        "{ steps { from { id } to { id } } } }"
    )
    steps = gql(api, query)["data"]["path"]["steps"]
    assert "actor:apt31" not in {s["to"]["id"] for s in steps} | {s["from"]["id"] for s in steps}


def test_search_ranks_the_electoral_register_first(api: TestClient, seeded_graph: None) -> None:
    hits = gql(api, '{ search(text: "electoral register", first: 3) { entity { id } score } }')
    ranked = hits["data"]["search"]
    assert ranked[0]["entity"]["id"] == "asset:electoral-register-data"
    assert ranked[0]["score"] >= ranked[1]["score"] >= ranked[2]["score"]


def test_neighbourhood_of_apt31_holds_its_claims(api: TestClient, seeded_graph: None) -> None:
    body = gql(
        api,
        '{ neighbourhood(ref: "APT31") { nodes { id } relationships { relation from { id } '
        "to { id } } } }",
    )
    sub = body["data"]["neighbourhood"]
    ids = {n["id"] for n in sub["nodes"]}
    assert {"actor:apt31", "agency:mss", "country:china", "agency:ncsc"} <= ids
    assert ("AFFILIATED_WITH", "actor:apt31", "agency:mss") in {
        (r["relation"], r["from"]["id"], r["to"]["id"]) for r in sub["relationships"]
    }
    assert body["_round_trips"] == 1


def test_a_cut_neighbourhood_keeps_the_nearest_first(api: TestClient, seeded_graph: None) -> None:
    """`first` cuts a 2-hop ring after the centre's own neighbours, never before them."""
    query = 'query ($hops: Int!, $first: Int!) { neighbourhood(ref: "APT31", hops: $hops, first: $first) { nodes { id } relationships { from { id } to { id } } } }'  # noqa: E501
    one_hop = gql(api, query, hops=1, first=500)["data"]["neighbourhood"]
    two_hops = gql(api, query, hops=2, first=500)["data"]["neighbourhood"]
    ring = [n["id"] for n in one_hop["nodes"][1:]]
    further = [n["id"] for n in two_hops["nodes"][1:] if n["id"] not in ring]
    assert ring == sorted(ring) and further == sorted(further) and further
    assert min(further) < max(ring)  # by id alone, the cut below would drop a neighbour
    cut = gql(api, query, hops=2, first=len(ring))["data"]["neighbourhood"]
    assert [n["id"] for n in cut["nodes"]] == ["actor:apt31", *ring]
    assert cut["relationships"] == one_hop["relationships"]


def test_unknown_linked_to_is_a_not_found_error(api: TestClient, seeded_graph: None) -> None:
    body = gql(api, '{ incidents(linkedTo: "Atlantis") { totalCount } }')
    assert error_codes(body) == ["BAD_USER_INPUT/NOT_FOUND"]
    assert body["errors"][0]["message"] == "no entity matches 'Atlantis' (by id, name or alias)"


def test_pagination_walks_incidents_with_cursors(api: TestClient, seeded_graph: None) -> None:
    query = "query ($after: String) { incidents(first: 2, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"  # noqa: E501
    first = gql(api, query)["data"]["incidents"]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    second = gql(api, query, after=first["pageInfo"]["endCursor"])["data"]["incidents"]
    assert second["pageInfo"]["hasNextPage"] is False
    seen = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert len(set(seen)) == 3


def test_entity_relations_are_strongest_first_with_sources(
    api: TestClient, seeded_graph: None
) -> None:
    body = gql(
        api,
        '{ entity(ref: "APT31") { sources { id } relations(direction: OUT, '
        'types: ["AFFILIATED_WITH"]) { totalCount nodes { to { id } likelihood } } } }',
    )
    entity = body["data"]["entity"]
    assert entity["sources"] == [{"id": "source:ncsc-2024-03-25"}]
    assert entity["relations"]["totalCount"] == 2
    assert {n["to"]["id"] for n in entity["relations"]["nodes"]} == {"agency:mss", "country:china"}


GRADED = """
query ($to: String!, $ungraded: Boolean! = true) {
  incidents(linkedTo: $to, includeUngraded: $ungraded) {
    totalCount
    nodes { id linkPath { likelihood ungradedSteps steps { likelihood } } }
  }
}"""


def test_a_graded_chain_ranks_before_one_with_no_graded_step(
    api: TestClient, seeded_graph: None
) -> None:
    incidents = gql(api, GRADED, to="China")["data"]["incidents"]
    assert [
        (n["id"], n["linkPath"]["likelihood"], n["linkPath"]["ungradedSteps"])
        for n in incidents["nodes"]
    ] == [
        ("incident:2021-uk-parliamentarians-email-reconnaissance", "ALMOST_CERTAIN", 1),
        ("incident:2021-2022-uk-electoral-commission-compromise", "UNGRADED", 2),
    ]
    electoral = incidents["nodes"][1]["linkPath"]["steps"]
    assert [step["likelihood"] for step in electoral] == ["UNGRADED", "UNGRADED"]


def test_include_ungraded_false_leaves_out_chains_with_ungraded_steps(
    api: TestClient, seeded_graph: None
) -> None:
    assert gql(api, GRADED, to="China", ungraded=False)["data"]["incidents"] == {
        "totalCount": 0,
        "nodes": [],
    }
    apt31 = gql(api, GRADED, to="APT31", ungraded=False)["data"]["incidents"]
    assert apt31["nodes"] == [
        {
            "id": "incident:2021-uk-parliamentarians-email-reconnaissance",
            "linkPath": {
                "likelihood": "ALMOST_CERTAIN",
                "ungradedSteps": 0,
                "steps": [{"likelihood": "ALMOST_CERTAIN"}],
            },
        }
    ]


def test_ungraded_is_no_minimum(api: TestClient, seeded_graph: None) -> None:
    body = gql(api, LINKED, to="China", min="UNGRADED")
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        (
            "minLikelihood: UNGRADED is no grade; to leave out ungraded claims of a chain, "
            "set includeUngraded: false",
            "BAD_USER_INPUT",
        )
    ]


def test_a_path_of_ungraded_claims_is_ungraded(api: TestClient, seeded_graph: None) -> None:
    query = """{ path(from: "incident:2021-2022-uk-electoral-commission-compromise",
                      to: "China") { likelihood ungradedSteps steps { likelihood } } }"""
    assert gql(api, query)["data"]["path"] == {
        "likelihood": "UNGRADED",
        "ungradedSteps": 2,
        "steps": [{"likelihood": "UNGRADED"}, {"likelihood": "UNGRADED"}],
    }
