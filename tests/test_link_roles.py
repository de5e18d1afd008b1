"""Who did it versus who was hit: incidents(linkedTo:, role:) and each chain's role."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api_client import gql

RECON = "incident:2021-uk-parliamentarians-email-reconnaissance"
EC = "incident:2021-2022-uk-electoral-commission-compromise"

LINKED = """query ($ref: String!, $role: LinkRole!, $since: Date) {
  incidents(linkedTo: $ref, role: $role, since: $since) { totalCount nodes { id
    linkPath { role likelihood steps { relation to { id } } }
    linkPaths { role } } } }"""


def linked(api: TestClient, resolvers: TestClient, ref: str, role: str) -> Any:
    """The answer, the same through both executors, stored and walked (a `since`
    before every incident leaves the stored closure out)."""
    answer = gql(api, LINKED, ref=ref, role=role)
    assert "errors" not in answer, answer
    for client in (api, resolvers):
        for since in (None, "0001"):
            again = gql(client, LINKED, ref=ref, role=role, since=since)
            assert again["data"] == answer["data"]
    return answer["data"]["incidents"]


def test_the_uk_was_hit_by_both_incidents_and_did_neither(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    hit = linked(api, resolvers, "United Kingdom", "TARGETED")
    # Equally strong (stated as fact): the newer incident first.
    assert [n["id"] for n in hit["nodes"]] == [EC, RECON]
    # The reconnaissance reaches the UK through the parliamentarians and Parliament.
    assert hit["nodes"][1]["linkPath"] == {
        "role": "TARGETED",
        "likelihood": "FACT",
        "steps": [
            {"relation": "TARGETED", "to": {"id": "group:uk-parliamentarians"}},
            {"relation": "PART_OF", "to": {"id": "org:uk-parliament"}},
            {"relation": "PART_OF", "to": {"id": "country:uk"}},
        ],
    }
    assert linked(api, resolvers, "United Kingdom", "ATTRIBUTED") == {
        "totalCount": 0,
        "nodes": [],
    }


def test_china_did_both_and_was_hit_by_neither(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    assert linked(api, resolvers, "China", "TARGETED") == {"totalCount": 0, "nodes": []}
    did = linked(api, resolvers, "China", "ATTRIBUTED")
    assert [(n["id"], n["linkPath"]["role"]) for n in did["nodes"]] == [
        (RECON, "ATTRIBUTED"),
        (EC, "ATTRIBUTED"),
    ]
    assert did == linked(api, resolvers, "China", "ANY")
    assert [p["role"] for p in did["nodes"][0]["linkPaths"]] == ["ATTRIBUTED"]


def test_a_path_between_two_entities_has_no_role(api: TestClient, seeded_graph: None) -> None:
    answer = gql(api, '{ path(from: "APT31", to: "China") { role likelihood } }')
    assert answer["data"] == {"path": {"role": None, "likelihood": "UNGRADED"}}
