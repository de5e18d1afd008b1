"""The API's start-up rehearsal of the mutations (graph/warm_up.py): it runs the very
statements the mutations run, and keeps nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import neo4j
import pytest

import api.app as app_module
from graph.store.database import Graph, count_round_trips, statements_here
from graph.warm_up import Rehearsed, rehearse_writes
from tests.api_client import WRITER_TOKEN, gql, make_client
from tests.conftest import cypher
from tests.graph_state import fingerprint

UPSERT_RELATION = """mutation { upsertRelation(input: {from: "actor:apt31",
  relation: "AFFILIATED_WITH", to: "country:china", likelihood: UNLIKELY,
  quote: "x", sources: ["source:ncsc-2024-03-25"]}) { id } }"""
UPSERT_ENTITY = """mutation { upsertEntity(input: {id: "actor:apt31", label: "ThreatActor",
  name: "APT31"}) { id } }"""


def rehearse() -> tuple[Rehearsed, list[str]]:
    async def run() -> tuple[Rehearsed, list[str]]:
        async with Graph.connect(bulk=True) as graph:
            with count_round_trips():
                done = await rehearse_writes(graph)
                return done, [text for text, _ in statements_here()]

    return asyncio.run(run())


def feed_counter(driver: neo4j.Driver) -> Any:
    return cypher(driver, "MATCH (f:ChangeFeed) RETURN f.seq AS seq")


@pytest.mark.usefixtures("seeded_graph")
def test_a_rehearsal_writes_and_keeps_nothing(driver: neo4j.Driver) -> None:
    before, counter = fingerprint(driver), feed_counter(driver)
    done, statements = rehearse()
    # One current claim per relation type the seed has; per label it has, one entity
    # written again and one new one.
    relations, labels = cypher(
        driver,
        "MATCH ()-[c]->() WHERE type(c) <> 'MENTIONS' AND c.withdrawn_on IS NULL "
        "RETURN count(DISTINCT type(c)) AS n UNION ALL MATCH (e:Entity) "
        "RETURN count(DISTINCT [l IN labels(e) WHERE l <> 'Entity'][0]) AS n",
    )
    assert (done.writes, done.skipped) == (relations["n"] + 2 * labels["n"], 0)
    # Each write changed the graph and recorded it in the change feed, then rolled back.
    recorded = [text for text in statements if "MERGE (feed:ChangeFeed" in text]
    assert len(recorded) == done.writes
    assert (fingerprint(driver), feed_counter(driver)) == (before, counter)


@pytest.mark.usefixtures("seeded_graph")
def test_a_rehearsal_runs_the_statements_the_mutations_run() -> None:
    _, rehearsed = rehearse()
    with make_client(THREATGRAPH_DEBUG="1") as client:
        # The probe, the upsert, the change-feed record, the read-back.
        for mutation in (UPSERT_RELATION, UPSERT_ENTITY):
            body = gql(client, mutation, token=WRITER_TOKEN)
            assert "errors" not in body, body
            ran = body["extensions"]["threatgraph"]["cypher"]
            assert [text in rehearsed for text in ran] == [True] * 4


@pytest.mark.usefixtures("empty_graph")
def test_an_empty_graph_rehearses_nothing() -> None:
    done, statements = rehearse()
    assert (done.writes, len(statements)) == (0, 2)  # the two look-ups, nothing else


@pytest.mark.usefixtures("neo4j_env")
def test_the_api_rehearses_at_start_on_the_requests_connection_unless_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[Graph] = []

    async def warm(graph: Graph) -> None:
        started.append(graph)

    monkeypatch.setattr(app_module, "warm_write_plans", warm)
    request_graphs = []
    for env in (
        {"THREATGRAPH_WARM_UP": "1"},
        {"THREATGRAPH_WARM_UP": "1", "THREATGRAPH_CLOSURE_REFRESH_MS": "0"},
        {},  # the suite's default: off
    ):
        with make_client(**env) as client:
            request_graphs.append(client.app.state.graph)  # type: ignore[attr-defined]
    assert started == request_graphs[:2]
