"""Every question as of a date, a claim's history, and what a revision keeps.

A second source attributes the Electoral Commission compromise to APT31; a
revision of it regrades that claim, and a later one drops it. The graph keeps
every version (graph/model/known.py), so each question asked as of a day
answers as the graph was publicly known then, through either executor and with
or without the stored closure.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from graph.model.documents import document_from_text
from graph.store.database import Graph
from graph.writes.importing import import_batches
from graph.writes.loading import load_documents
from seed.importers.stix import stix_batches
from tests.api_client import ask_both
from tests.stix_factory import actor, bundle, organisation, targets, write_bundle

EC = "incident:2021-2022-uk-electoral-commission-compromise"
RECON = "incident:2021-uk-parliamentarians-email-reconnaissance"
NEW_CLAIM = f"{EC}-ATTRIBUTED_TO->actor:apt31@source:second-opinion"

SECOND_SOURCE = """format: threatgraph-seed/1
source:
  id: source:second-opinion
  name: A second opinion
  published: 2024-05-01
{revised}claims:
  - {{from: source:second-opinion, relation: CITES, to: source:ncsc-2024-03-25,
     likelihood: FACT, quote: "As the NCSC said."}}
{attribution}"""

ATTRIBUTION = (
    "  - {from: " + EC + ", relation: ATTRIBUTED_TO, to: actor:apt31,\n"
    '     likelihood: LIKELIHOOD, quote: "APT31 was behind it."}\n'
)


def second_source(likelihood: str | None, revised: str | None = None) -> str:
    """The second source as published, or a revision of it (dropping the attribution
    when `likelihood` is None)."""
    return SECOND_SOURCE.format(
        revised=f"  revised: {revised}\n" if revised else "",
        attribution=ATTRIBUTION.replace("LIKELIHOOD", likelihood) if likelihood else "",
    )


def load(text: str) -> None:
    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await load_documents(graph, [document_from_text(text, "second-opinion.yaml")])

    asyncio.run(run())


LINKED = """query ($ref: String!, $asOf: Date, $since: Date) {
  incidents(linkedTo: $ref, asOf: $asOf, since: $since) { totalCount nodes { id
    linkPath { likelihood ungradedSteps steps { id likelihood reportedOn withdrawnOn } } } } }"""

INCIDENT = """query ($asOf: Date) { entity(ref: "EC", asOf: $asOf) { ... on Incident {
  disputed attributions { to { id } likelihood reportedOn withdrawnOn corroboration } }
} }""".replace("EC", EC)

HISTORY = """query ($since: Date) { history(ref: "EC", since: $since) { totalCount nodes {
  on kind previousLikelihood claim { id likelihood reportedOn withdrawnOn } } } }""".replace(
    "EC", EC
)

RELATIONS = """query ($asOf: Date) { entity(ref: "APT31", asOf: $asOf) { id
  relations(direction: IN, types: ["ATTRIBUTED_TO"]) { totalCount nodes { from { id }
  likelihood } } } }"""


def linked(api: TestClient, resolvers: TestClient, ref: str, as_of: str | None) -> Any:
    """incidents(linkedTo:) as of a day; today's also walked (a `since` before every
    incident keeps them all but leaves the stored closure out) and checked equal."""
    answer = ask_both(api, resolvers, LINKED, ref=ref, asOf=as_of)["incidents"]
    walked = ask_both(api, resolvers, LINKED, ref=ref, asOf=as_of, since="0001")["incidents"]
    assert walked == answer
    return answer


@pytest.fixture
def revised_graph(seeded_graph: None) -> dict[str, Any]:
    """The seed, then the second source (2024-05-01, LIKELY), a revision regrading its
    attribution (2024-06-01, HIGHLY_LIKELY) and one dropping it (2024-07-01)."""
    load(second_source("LIKELY"))
    load(second_source("HIGHLY_LIKELY", revised="2024-06-01"))
    load(second_source(None, revised="2024-07-01"))
    return {}


def test_as_of_before_the_second_source_answers_as_the_seed_alone(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    seed_only = linked(api, resolvers, "APT31", None)
    load(second_source("LIKELY"))
    assert linked(api, resolvers, "APT31", "2024-04-30") == seed_only
    assert [n["id"] for n in seed_only["nodes"]] == [RECON]


def test_between_source_and_revision_the_attribution_shows_disputed_side_by_side(
    api: TestClient, resolvers: TestClient, revised_graph: dict[str, Any]
) -> None:
    answer = linked(api, resolvers, "APT31", "2024-05-15")
    assert [n["id"] for n in answer["nodes"]] == [RECON, EC]
    assert answer["nodes"][1]["linkPath"] == {
        "likelihood": "LIKELY",
        "ungradedSteps": 0,
        "steps": [
            {
                "id": NEW_CLAIM + "~2024-06-01",
                "likelihood": "LIKELY",
                "reportedOn": "2024-05-01",
                "withdrawnOn": "2024-06-01",
            }
        ],
    }
    incident = ask_both(api, resolvers, INCIDENT, asOf="2024-05-15")["entity"]
    assert incident == {
        "disputed": True,
        "attributions": [
            {
                "to": {"id": "actor:apt31"},
                "likelihood": "LIKELY",
                "reportedOn": "2024-05-01",
                "withdrawnOn": "2024-06-01",
                "corroboration": 1,
            },
            {
                "to": {"id": "actor:china-state-affiliated-actor-electoral-commission"},
                "likelihood": "UNGRADED",
                "reportedOn": "2024-03-25",
                "withdrawnOn": None,
                "corroboration": 1,
            },
        ],
    }


def test_as_of_after_the_regrade_shows_the_new_grade(
    api: TestClient, resolvers: TestClient, revised_graph: dict[str, Any]
) -> None:
    answer = linked(api, resolvers, "APT31", "2024-06-01")
    assert answer["nodes"][1]["linkPath"]["steps"] == [
        {
            "id": NEW_CLAIM,
            "likelihood": "HIGHLY_LIKELY",
            "reportedOn": "2024-05-01",
            "withdrawnOn": "2024-07-01",
        }
    ]
    relations = ask_both(api, resolvers, RELATIONS, asOf="2024-06-30")["entity"]["relations"]
    assert relations == {
        "totalCount": 2,
        "nodes": [
            {"from": {"id": RECON}, "likelihood": "ALMOST_CERTAIN"},
            {"from": {"id": EC}, "likelihood": "HIGHLY_LIKELY"},
        ],
    }


def test_today_no_answer_shows_the_withdrawn_claim(
    api: TestClient, resolvers: TestClient, revised_graph: dict[str, Any]
) -> None:
    answer = linked(api, resolvers, "APT31", None)
    assert [n["id"] for n in answer["nodes"]] == [RECON]
    incident = ask_both(api, resolvers, INCIDENT)["entity"]
    assert incident["disputed"] is False
    assert [a["to"]["id"] for a in incident["attributions"]] == [
        "actor:china-state-affiliated-actor-electoral-commission"
    ]
    relations = ask_both(api, resolvers, RELATIONS)["entity"]["relations"]
    assert relations["totalCount"] == 1
    query = 'query ($ref: String!) { claims(from: $ref, to: "APT31") { id } }'
    claims = ask_both(api, resolvers, query, ref=EC)["claims"]
    assert claims == []


def test_history_lists_reported_regraded_and_withdrawn_with_their_dates(
    api: TestClient, resolvers: TestClient, revised_graph: dict[str, Any]
) -> None:
    answer = ask_both(api, resolvers, HISTORY, since="2024-04-01")["history"]
    assert answer == {
        "totalCount": 3,
        "nodes": [
            {
                "on": "2024-05-01",
                "kind": "REPORTED",
                "previousLikelihood": None,
                "claim": {
                    "id": NEW_CLAIM + "~2024-06-01",
                    "likelihood": "LIKELY",
                    "reportedOn": "2024-05-01",
                    "withdrawnOn": "2024-06-01",
                },
            },
            {
                "on": "2024-06-01",
                "kind": "REGRADED",
                "previousLikelihood": "LIKELY",
                "claim": {
                    "id": NEW_CLAIM,
                    "likelihood": "HIGHLY_LIKELY",
                    "reportedOn": "2024-05-01",
                    "withdrawnOn": "2024-07-01",
                },
            },
            {
                "on": "2024-07-01",
                "kind": "WITHDRAWN",
                "previousLikelihood": None,
                "claim": {
                    "id": NEW_CLAIM,
                    "likelihood": "HIGHLY_LIKELY",
                    "reportedOn": "2024-05-01",
                    "withdrawnOn": "2024-07-01",
                },
            },
        ],
    }


def test_an_entity_first_reported_later_is_absent_before(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    query = 'query ($asOf: Date) { entity(ref: "MSS", asOf: $asOf) { id } }'
    assert ask_both(api, resolvers, query, asOf="2024-03-24") == {"entity": None}
    assert ask_both(api, resolvers, query, asOf="2024-03-25") == {"entity": {"id": "agency:mss"}}
    search = 'query ($asOf: Date) { search(text: "APT31", asOf: $asOf) { entity { id } } }'
    assert ask_both(api, resolvers, search, asOf="2023") == {"search": []}
    linked_before = linked(api, resolvers, "China", "2023-12-31")
    assert linked_before == {"totalCount": 0, "nodes": []}


def test_a_reload_without_a_revision_date_withdraws_as_of_the_load(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    load(second_source("LIKELY"))
    load(second_source(None))
    entry = ask_both(api, resolvers, HISTORY, since="2024-04-01")["history"]["nodes"][-1]
    assert entry["kind"] == "WITHDRAWN"
    assert entry["claim"]["withdrawnOn"] == entry["on"]
    assert entry["on"] > "2024-05-01"  # the day of the load


def import_bundle(path: Path) -> None:
    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await import_batches(graph, stix_batches([path]))

    asyncio.run(run())


def test_a_re_import_with_a_new_confidence_is_regraded_on_its_modified_day(
    api: TestClient, resolvers: TestClient, empty_graph: None, tmp_path: Path
) -> None:
    attacker, victim = actor("Regraded Actor"), organisation("Regraded Victim")
    claim = targets(attacker, victim)  # confidence 75 (LIKELY), created 2024-03-25
    write_bundle(tmp_path / "b.json", bundle("regrade", [attacker, victim, claim]))
    import_bundle(tmp_path / "b.json")
    claim = {**claim, "confidence": 95, "modified": "2024-09-01T00:00:00.000Z"}
    write_bundle(tmp_path / "b.json", bundle("regrade", [attacker, victim, claim]))
    import_bundle(tmp_path / "b.json")
    query = """query ($asOf: Date) { entity(ref: "Regraded Actor") { id
      relations(asOf: $asOf) { nodes { likelihood } } } }"""
    graded = [
        ask_both(api, resolvers, query, asOf=day)["entity"]["relations"]["nodes"]
        for day in ("2024-08-31", "2024-09-01", None)
    ]
    assert graded == [
        [{"likelihood": "LIKELY"}],
        [{"likelihood": "ALMOST_CERTAIN"}],
        [{"likelihood": "ALMOST_CERTAIN"}],
    ]
    history = ask_both(
        api,
        resolvers,
        '{ history(ref: "Regraded Actor") { nodes { on kind previousLikelihood '
        "claim { likelihood } } } }",
    )["history"]["nodes"]
    assert history == [
        {
            "on": "2024-03-25",
            "kind": "REPORTED",
            "previousLikelihood": None,
            "claim": {"likelihood": "LIKELY"},
        },
        {
            "on": "2024-09-01",
            "kind": "REGRADED",
            "previousLikelihood": "LIKELY",
            "claim": {"likelihood": "ALMOST_CERTAIN"},
        },
    ]
