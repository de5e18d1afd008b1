"""When each claim became known (`reportedOn`): its source's publication or revision date."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from starlette.testclient import TestClient

from graph.errors import ValidationError
from graph.model.documents import document_from_text
from graph.store.database import Graph
from graph.writes.loading import load_documents
from tests.api_client import WRITER_TOKEN, gql

REPORTED = """{ entity(ref: "apt31") { relations(direction: OUT) { nodes { id reportedOn } } } }"""

SOURCE = """format: threatgraph-seed/1
source:
  id: source:revised-report
  name: A revised report
  published: 2024-05-02
{revised}entities:
  - {{id: actor:revised-x, label: ThreatActor, name: Revised X}}
claims:
{claims}"""
FIRST_CLAIM = """  - {from: actor:revised-x, relation: AFFILIATED_WITH, to: country:china,
     likelihood: LIKELY, quote: "likely Chinese"}
"""
SECOND_CLAIM = """  - {from: actor:revised-x, relation: AFFILIATED_WITH, to: agency:mss,
     likelihood: UNGRADED, quote: "linked to the MSS"}
"""


def load(text: str) -> None:
    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await load_documents(graph, [document_from_text(text, "revised.yaml")])

    asyncio.run(run())


def reported(api: TestClient, ref: str) -> dict[str, str]:
    query = REPORTED.replace("apt31", ref)
    nodes = gql(api, query)["data"]["entity"]["relations"]["nodes"]
    return {node["id"].split("@")[0]: node["reportedOn"] for node in nodes}


def test_the_seed_s_claims_were_reported_on_its_publication_date(
    api: TestClient, seeded_graph: None
) -> None:
    assert reported(api, "apt31") == {
        "actor:apt31-AFFILIATED_WITH->country:china": "2024-03-25",
        "actor:apt31-AFFILIATED_WITH->agency:mss": "2024-03-25",
    }


def test_a_revision_dates_the_claims_it_adds_and_keeps_the_others(
    api: TestClient, seeded_graph: None
) -> None:
    load(SOURCE.format(revised="", claims=FIRST_CLAIM))
    load(SOURCE.format(revised="  revised: 2024-06-10\n", claims=FIRST_CLAIM + SECOND_CLAIM))
    assert reported(api, "actor:revised-x") == {
        "actor:revised-x-AFFILIATED_WITH->country:china": "2024-05-02",
        "actor:revised-x-AFFILIATED_WITH->agency:mss": "2024-06-10",
    }


def test_a_revision_before_its_publication_is_refused() -> None:
    text = SOURCE.format(revised="  revised: 2024-01-01\n", claims=FIRST_CLAIM)
    with pytest.raises(ValidationError) as refused:
        document_from_text(text, "revised.yaml")
    assert "source.revised: published 2024-05-02 is after revised 2024-01-01" in str(refused.value)


def test_an_analyst_s_claim_is_reported_on_the_day_it_is_written(
    api: TestClient, seeded_graph: None
) -> None:
    body = gql(
        api,
        """mutation { upsertRelation(input: {from: "actor:apt31", relation: "AFFILIATED_WITH",
          to: "agency:chinese-intelligence-services", likelihood: LIKELY, quote: "",
          sources: ["source:ncsc-2024-03-25"]}) { reportedOn } }""",
        token=WRITER_TOKEN,
    )
    assert body["data"]["upsertRelation"] == {"reportedOn": dt.date.today().isoformat()}
