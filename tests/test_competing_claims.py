"""Competing claims side by side: every source's attribution, disputes, corroboration."""

from __future__ import annotations

import asyncio

import pytest
from starlette.testclient import TestClient

from graph.model.documents import document_from_text
from graph.store.database import Graph
from graph.writes.loading import load_documents
from tests.api_client import gql, make_client

EC = "incident:2021-2022-uk-electoral-commission-compromise"

SECOND_OPINION = """format: threatgraph-seed/1
source:
  id: source:second-opinion
  name: A second opinion
  published: 2024-04-15
claims:
  - {{from: {incident}, relation: ATTRIBUTED_TO, to: {actor},
     likelihood: {likelihood}, quote: "{quote}"}}
"""

ATTRIBUTIONS = """query ($ref: String!) { entity(ref: $ref) { ... on Incident {
  disputed attributions { to { id } likelihood reportedOn corroboration sources { id } } } } }"""


def load(text: str) -> None:
    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await load_documents(graph, [document_from_text(text, "second-opinion.yaml")])

    asyncio.run(run())


def test_the_seed_s_attributions_are_not_disputed(api: TestClient, seeded_graph: None) -> None:
    assert gql(api, ATTRIBUTIONS, ref=EC)["data"]["entity"] == {
        "disputed": False,
        "attributions": [
            {
                "to": {"id": "actor:china-state-affiliated-actor-electoral-commission"},
                "likelihood": "UNGRADED",
                "reportedOn": "2024-03-25",
                "corroboration": 1,
                "sources": [{"id": "source:ncsc-2024-03-25"}],
            }
        ],
    }


def test_an_attribution_to_an_actor_neither_links_to_is_disputed(
    api: TestClient, seeded_graph: None
) -> None:
    load(SECOND_OPINION.format(incident=EC, actor="actor:apt31", likelihood="LIKELY", quote="x"))
    answer = gql(api, ATTRIBUTIONS, ref=EC)["data"]["entity"]
    assert answer["disputed"] is True
    assert [(a["to"]["id"], a["likelihood"], a["reportedOn"]) for a in answer["attributions"]] == [
        ("actor:apt31", "LIKELY", "2024-04-15"),
        ("actor:china-state-affiliated-actor-electoral-commission", "UNGRADED", "2024-03-25"),
    ]


def test_an_attribution_up_the_same_hierarchy_is_no_dispute(
    api: TestClient, seeded_graph: None
) -> None:
    # APT31 is affiliated with China, so "China did it" agrees with "APT31 did it".
    recon = "incident:2021-uk-parliamentarians-email-reconnaissance"
    load(
        SECOND_OPINION.format(incident=recon, actor="country:china", likelihood="LIKELY", quote="x")
    )
    assert gql(api, ATTRIBUTIONS, ref=recon)["data"]["entity"]["disputed"] is False


def test_two_sources_grading_one_claim_two_bands_apart_dispute_and_corroborate(
    api: TestClient, seeded_graph: None
) -> None:
    recon = "incident:2021-uk-parliamentarians-email-reconnaissance"
    load(SECOND_OPINION.format(incident=recon, actor="actor:apt31", likelihood="LIKELY", quote="x"))
    answer = gql(api, ATTRIBUTIONS, ref=recon)["data"]["entity"]
    assert answer["disputed"] is True  # ALMOST_CERTAIN against LIKELY: two bands apart
    assert [(a["likelihood"], a["corroboration"]) for a in answer["attributions"]] == [
        ("ALMOST_CERTAIN", 2),
        ("LIKELY", 2),
    ]
    query = """{ claims(from: "incident:2021-uk-parliamentarians-email-reconnaissance",
                        to: "APT31", relation: "ATTRIBUTED_TO") { id likelihood quote } }"""
    claims = gql(api, query)["data"]["claims"]
    assert [(c["id"], c["likelihood"]) for c in claims] == [
        (f"{recon}-ATTRIBUTED_TO->actor:apt31@source:ncsc-2024-03-25", "ALMOST_CERTAIN"),
        (f"{recon}-ATTRIBUTED_TO->actor:apt31@source:second-opinion", "LIKELY"),
    ]
    assert "was almost certainly responsible" in claims[0]["quote"]
    assert claims[1]["quote"] == "x"


def test_claims_between_names_an_unknown_relation_and_reference(
    api: TestClient, seeded_graph: None
) -> None:
    bad = gql(api, '{ claims(from: "APT31", to: "MSS", relation: "LIKES") { id } }')
    assert [(e["message"], e["extensions"]["code"]) for e in bad["errors"]] == [
        ("relation: unknown relation type 'LIKES'", "BAD_USER_INPUT")
    ]
    missing = gql(api, '{ claims(from: "Atlantis", to: "MSS") { id } }')
    assert [(e["message"], e["extensions"]) for e in missing["errors"]] == [
        (
            "no entity matches 'Atlantis' (by id, name or alias)",
            {"code": "BAD_USER_INPUT", "reason": "NOT_FOUND"},
        )
    ]


LINK_PATHS = """{ incidents(linkedTo: "China") { nodes { id
  linkPath { likelihood ungradedSteps steps { id } }
  linkPaths(first: 2) { likelihood ungradedSteps steps { id } } } } }"""


@pytest.mark.parametrize("executor", ["compiled", "resolvers"])
def test_link_paths_list_the_next_strongest_chains_after_the_one_shown(
    executor: str, neo4j_env: dict[str, str], seeded_graph: None
) -> None:
    recon = "incident:2021-uk-parliamentarians-email-reconnaissance"
    attribution = f"{recon}-ATTRIBUTED_TO->actor:apt31@source:ncsc-2024-03-25"
    with make_client(THREATGRAPH_EXECUTOR=executor) as client:
        nodes = gql(client, LINK_PATHS)["data"]["incidents"]["nodes"]
        assert nodes[0]["id"] == recon
        assert [s["id"] for s in nodes[0]["linkPath"]["steps"]] == [
            attribution,
            "actor:apt31-AFFILIATED_WITH->country:china@source:ncsc-2024-03-25",
        ]
        # Through the MSS, part of China: as strong (the attribution is the weakest graded
        # step of both), one ungraded step, but longer.
        assert nodes[0]["linkPaths"] == [
            {
                "likelihood": "ALMOST_CERTAIN",
                "ungradedSteps": 1,
                "steps": [
                    {"id": attribution},
                    {"id": "actor:apt31-AFFILIATED_WITH->agency:mss@source:ncsc-2024-03-25"},
                    {"id": "agency:mss-PART_OF->country:china@source:ncsc-2024-03-25"},
                ],
            }
        ]
        assert nodes[1]["linkPaths"] == []
        elsewhere = gql(
            client,
            "query ($ref: String!) { entity(ref: $ref) { ... on Incident { "
            "linkPaths { likelihood } } } }",
            ref=recon,
        )
        assert elsewhere["data"] == {"entity": {"linkPaths": None}}
        refused = gql(
            client,
            '{ incidents(linkedTo: "China") { nodes { linkPaths(first: 21) { likelihood } } } }',
        )
        assert refused["errors"][0]["message"] == "first: must be between 0 and 20, not 21"


RELIABILITY = """query ($ref: String!) { entity(ref: $ref) { ... on Incident {
  attributions { sourceReliability sources { id ... on Source { reliability } } } } } }"""


def test_each_step_shows_its_source_s_reliability_else_its_publisher_s(
    api: TestClient, seeded_graph: None
) -> None:
    recon = "incident:2021-uk-parliamentarians-email-reconnaissance"
    seed_only = gql(api, RELIABILITY, ref=recon)["data"]["entity"]["attributions"]
    assert seed_only == [
        {
            "sourceReliability": "A",
            "sources": [{"id": "source:ncsc-2024-03-25", "reliability": "A"}],
        }
    ]
    # A source with no grade of its own takes its publisher's; the likelihood stays its own.
    load(
        """format: threatgraph-seed/1
source: {id: "source:second-opinion", name: A second opinion, published: 2024-04-15,
         publisher: "org:second-opinion-press"}
entities:
  - {id: "org:second-opinion-press", label: Organisation, name: Second Opinion Press,
     reliability: C}
claims:
  - {from: "RECON", relation: ATTRIBUTED_TO, to: actor:apt31, likelihood: LIKELY, quote: x}
""".replace("RECON", recon)
    )
    both = gql(api, RELIABILITY, ref=recon)["data"]["entity"]["attributions"]
    assert [a["sourceReliability"] for a in both] == ["A", "C"]
    assert both[1]["sources"] == [{"id": "source:second-opinion", "reliability": None}]
