"""The stored "linked to" closure answers as walking the links does, and stays so.

Two independent checks after every kind of write: incidents(linkedTo:) read from
the closure equals the same question walked (a date window that keeps every
incident makes the reader walk), and the closure's entries equal those a rebuild
from scratch makes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import neo4j
import pytest
from starlette.testclient import TestClient

from api import app as app_module
from api.closure_refresher import DEFAULT_REFRESH_MS
from bench.generate import generate
from bench.ingest import validated
from graph.linking import upkeep as linked_closure
from graph.linking.upkeep import VERSION, ensure_closure, rebuild_closure, refresh_deferred
from graph.model.documents import document_from_text
from graph.model.likelihood import Likelihood
from graph.reads.activity import activity
from graph.reads.questions import ref_parameters
from graph.setup import ensure_schema
from graph.store.database import Graph
from graph.writes.batches import Candidate, ImportBatch, ImportClaim, Mention
from graph.writes.claims import delete_relation
from graph.writes.importing import import_batch
from graph.writes.loading import load_documents
from tests.api_client import WRITER_TOKEN, gql, make_client
from tests.conftest import cypher
from tests.graph_state import load_shipped_seed

T = TypeVar("T")
EVERY_DATE = "0000-01-01"  # a `since` that keeps every incident, and makes the reader walk


def run(work: Callable[[Graph], Awaitable[T]]) -> T:
    async def go() -> T:
        async with Graph.connect(bulk=True) as graph:
            return await work(graph)

    return asyncio.run(go())


def load(text: str, origin: str = "/somewhere/closure-test.yaml", replace: bool = True) -> None:
    document = document_from_text(text, origin)
    run(lambda graph: load_documents(graph, [document], replace))


def entries(driver: neo4j.Driver) -> list[tuple[str, str, str]]:
    rows = cypher(
        driver,
        "MATCH (l:LinkedIncident) RETURN l.target AS t, l.incident AS i, l.key AS k ORDER BY t, k",
    )
    return [(row["t"], row["i"], row["k"]) for row in rows]


def answers(target: str, min_rank: int, walked: bool, skip: int = 0) -> tuple[Any, ...]:
    parameters = {
        "min": min_rank,
        "ungraded": True,
        "since": EVERY_DATE if walked else None,
        "until": None,
        "root_skip": skip,
        "root_first": 25,
        "as_of": None,
        "role": "ANY",
        **ref_parameters("target", target),
    }
    page = run(lambda graph: activity(graph, parameters, target))
    return page.total, [
        (
            row["activity"]["id"],
            row["likelihood"],
            row["ungradedSteps"],
            [step["id"] for step in row["steps"]],
        )
        for row in page.rows
    ]


def assert_closure_is_true(driver: neo4j.Driver, targets: list[str]) -> None:
    """Stored answers equal walked ones, and the entries equal a rebuild's."""
    for target in targets:
        for min_rank in (0, 4, 6):
            stored = answers(target, min_rank, walked=False)
            assert stored == answers(target, min_rank, walked=True), (target, min_rank)
    kept = entries(driver)
    run(rebuild_closure)
    assert entries(driver) == kept


def linked_ids(target: str) -> list[str]:
    return [incident for incident, *_ in answers(target, 0, walked=False)[1]]


SEED_TARGETS = [
    "agency:mss",
    "country:china",
    "actor:apt31",
    "actor:china-state-affiliated-actor-electoral-commission",
    "country:uk",
    "org:uk-parliament",
]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_the_seed_s_closure_answers_as_the_walk_does(driver: neo4j.Driver) -> None:
    load_shipped_seed()
    assert cypher(driver, "MATCH (m:LinkedClosure) RETURN m.version AS v") == [{"v": VERSION}]
    targets = [row["id"] for row in cypher(driver, "MATCH (e:Entity) RETURN e.id AS id")]
    assert_closure_is_true(driver, targets)
    total, rows = answers("agency:mss", 0, walked=False)
    assert total == 1
    # ATTRIBUTED_TO APT31 ALMOST_CERTAIN, then AFFILIATED_WITH the MSS, ungraded.
    assert rows[0][:3] == (
        "incident:2021-uk-parliamentarians-email-reconnaissance",
        "ALMOST_CERTAIN",
        1,
    )


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_a_generated_graph_s_closure_answers_as_the_walk_does(driver: neo4j.Driver) -> None:
    synthetic = generate(3_000, seed=11)
    run(lambda graph: load_documents(graph, validated(synthetic.documents)))
    targets = [
        row["id"]
        for row in cypher(
            driver,
            "MATCH (e:Entity) WHERE e:Agency OR e:Country OR e:Sector OR e:ThreatActor "
            "RETURN e.id AS id ORDER BY id",
        )
    ]
    hub_total = answers(synthetic.hub_agency, 0, walked=False)[0]
    assert hub_total > 100
    assert answers(synthetic.hub_agency, 0, walked=False, skip=60) == answers(
        synthetic.hub_agency, 0, walked=True, skip=60
    )
    assert_closure_is_true(driver, [synthetic.hub_agency, *targets[::7]])


NEW_ACTOR = """format: threatgraph-seed/1
source: {{id: 'source:closure-test', name: Closure test, published: '2024-05-01'}}
entities:
  - {{id: 'actor:closure-x', label: ThreatActor, name: Closure X}}
  - {{id: 'incident:closure-1', label: Incident, name: Closure one, started: '{started}'}}
claims:
  - {{from: 'incident:closure-1', relation: ATTRIBUTED_TO, to: 'actor:closure-x',
     likelihood: {attribution}, quote: 'X did it.'}}
{onward}"""
ONWARD = """  - {from: 'actor:closure-x', relation: AFFILIATED_WITH, to: 'actor:apt31',
     likelihood: LIKELY, quote: 'X is part of APT31.'}
"""
ONWARD_ID = "actor:closure-x-AFFILIATED_WITH->actor:apt31@source:closure-test"


def new_actor(
    started: str = "2023-02", attribution: str = "ALMOST_CERTAIN", onward: str = ONWARD
) -> str:
    return NEW_ACTOR.format(started=started, attribution=attribution, onward=onward)


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_loads_reloads_withdrawals_deletes_and_imports_keep_the_closure(
    driver: neo4j.Driver,
) -> None:
    load_shipped_seed()
    targets = [*SEED_TARGETS, "actor:closure-x", "incident:closure-1"]

    # A new incident whose chain runs through a new onward claim into APT31, the MSS, China.
    load(new_actor())
    assert linked_ids("agency:mss") == [
        "incident:2021-uk-parliamentarians-email-reconnaissance",
        "incident:closure-1",
    ]
    assert answers("agency:mss", 0, walked=False)[1][1][1] == "LIKELY"  # the weakest graded
    assert_closure_is_true(driver, targets)

    # Reloaded weaker and later: the incident's strength and date move it.
    load(new_actor(started="2024", attribution="REALISTIC_POSSIBILITY"))
    assert answers("agency:mss", 0, walked=False)[1][1][1] == "REALISTIC_POSSIBILITY"
    assert_closure_is_true(driver, targets)

    # Reloaded without the onward claim: withdrawn, so the MSS no longer reaches it.
    load(new_actor(onward=""))
    assert linked_ids("agency:mss") == ["incident:2021-uk-parliamentarians-email-reconnaissance"]
    assert linked_ids("actor:closure-x") == ["incident:closure-1"]
    assert_closure_is_true(driver, targets)

    # Put back by a mutation-style load, then deleted by the deleteRelation mutation.
    load(new_actor(), origin="upsertRelation.input", replace=False)
    assert "incident:closure-1" in linked_ids("country:china")
    assert run(lambda graph: delete_relation(graph, ONWARD_ID)) is True
    assert "incident:closure-1" not in linked_ids("country:china")
    assert_closure_is_true(driver, targets)

    # An import adds a second actor and an onward claim from the incident's actor to it.
    source = Candidate("s", "Source", "Closure report", preferred_id="source:closure-report")
    actor = Candidate("y", "ThreatActor", "Closure Y", preferred_id="actor:closure-y")
    batch = ImportBatch(origin="/tmp/closure.json", candidates={"s": source, "y": actor})
    batch.mentions.append(Mention("s", "y", "report-ref"))
    batch.claims.append(
        ImportClaim("actor:closure-x", "AFFILIATED_WITH", "y", Likelihood.LIKELY, "s", "r1")
    )
    batch.references.add("actor:closure-x")
    run(lambda graph: import_batch(graph, batch))
    assert linked_ids("actor:closure-y") == ["incident:closure-1"]
    assert_closure_is_true(driver, [*targets, "actor:closure-y"])


def chain_half(n: int, half: str) -> str:
    """One of two documents that only together link incident n to agency n."""
    if half == "incident":
        return (
            "format: threatgraph-seed/1\n"
            f"source: {{id: 'source:half-i{n}', name: Half {n}, published: '2024-01-01'}}\n"
            "entities:\n"
            f"  - {{id: 'incident:half-{n}', label: Incident, name: Half {n}}}\n"
            f"  - {{id: 'actor:half-{n}', label: ThreatActor, name: Half actor {n}}}\n"
            "claims:\n"
            f"  - {{from: 'incident:half-{n}', relation: ATTRIBUTED_TO, to: 'actor:half-{n}', "
            "likelihood: LIKELY, quote: 'Done by the actor.'}\n"
        )
    return (
        "format: threatgraph-seed/1\n"
        f"source: {{id: 'source:half-a{n}', name: Half a{n}, published: '2024-01-01'}}\n"
        "entities:\n"
        f"  - {{id: 'actor:half-{n}', label: ThreatActor, name: Half actor {n}}}\n"
        f"  - {{id: 'agency:half-{n}', label: Agency, name: Half agency {n}}}\n"
        "claims:\n"
        f"  - {{from: 'actor:half-{n}', relation: AFFILIATED_WITH, to: 'agency:half-{n}', "
        "likelihood: LIKELY, quote: 'The actor serves the agency.'}\n"
    )


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_a_chain_completed_by_two_concurrent_writers_is_found(driver: neo4j.Driver) -> None:
    """Each writer's upkeep runs under the change feed's lock, after the other committed."""
    pairs = 8

    async def write(n: int, half: str) -> None:
        document = document_from_text(chain_half(n, half), f"/w/{half}-{n}.yaml")
        async with Graph.connect() as graph:
            await load_documents(graph, [document], False, f"mutation:{half}")

    async def scenario() -> None:
        await asyncio.gather(
            *(write(n, half) for n in range(pairs) for half in ("incident", "affiliation"))
        )

    asyncio.run(scenario())
    for n in range(pairs):
        assert linked_ids(f"agency:half-{n}") == [f"incident:half-{n}"]
    assert_closure_is_true(driver, [f"agency:half-{n}" for n in range(pairs)])


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_a_store_without_the_closure_walks_until_it_is_built_once(driver: neo4j.Driver) -> None:
    load_shipped_seed()
    built = entries(driver)
    cypher(driver, "MATCH (n) WHERE n:LinkedClosure OR n:LinkedIncident DELETE n")
    assert answers("agency:mss", 0, walked=False)[0] == 1  # walked: no marker

    async def twice(graph: Graph) -> tuple[bool, bool]:
        await ensure_schema(graph)
        first = await ensure_closure(graph)
        return first, await ensure_closure(graph)

    assert run(twice) == (False, False)  # ensure_schema built it
    assert entries(driver) == built
    cypher(driver, "MATCH (n:LinkedClosure) DELETE n")
    cypher(
        driver,
        "MATCH (l:LinkedIncident) WITH l LIMIT 3 "
        "CREATE (:LinkedIncident {target: 'x', incident: 'y', key: 'z'})",
    )
    assert run(ensure_closure) is True  # what an unfinished build left is cleared
    assert entries(driver) == built


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_the_cli_rebuilds_the_closure_after_writes_made_around_threatgraph(
    driver: neo4j.Driver,
) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    load_shipped_seed()
    cypher(
        driver,
        "MATCH (a:ThreatActor {id: 'actor:apt31'}) "
        "CREATE (i:Entity:Incident {id: 'incident:around', name: 'Around', aliases: [], "
        "lookup_keys: ['incident:around']}) "
        "CREATE (i)-[:ATTRIBUTED_TO {id: 'around', likelihood: 'LIKELY', likelihood_rank: 4, "
        "sources: ['source:ncsc-2024-03-25'], quote: 'written with Cypher'}]->(a)",
    )
    assert linked_ids("agency:mss") == ["incident:2021-uk-parliamentarians-email-reconnaissance"]
    before = len(entries(driver))
    result = CliRunner().invoke(app, ["closure", "rebuild"])
    assert (result.exit_code, result.output) == (
        0,
        f"rebuilt the linked-to closure: {before + 4} entries\n",
    )
    assert linked_ids("agency:mss") == [
        "incident:2021-uk-parliamentarians-email-reconnaissance",
        "incident:around",
    ]


PARENT = """format: threatgraph-seed/1
source: {id: 'source:closure-parent', name: Closure parent, published: '2024-06-01'}
entities:
  - {id: 'agency:closure-parent', label: Agency, name: Closure parent}
claims:
  - {from: 'agency:mss', relation: PART_OF, to: 'agency:closure-parent',
     likelihood: LIKELY, quote: 'The MSS reports to the parent.'}
"""
EC_ACTOR = "actor:china-state-affiliated-actor-electoral-commission"
EC_INCIDENT = "incident:2021-2022-uk-electoral-commission-compromise"
EC_TO_MSS = f"""format: threatgraph-seed/1
source: {{id: 'source:closure-ec', name: Closure EC, published: '2024-06-01'}}
claims:
  - {{from: '{EC_ACTOR}', relation: AFFILIATED_WITH, to: 'agency:mss',
     likelihood: UNLIKELY, quote: 'The actor may work for the MSS.'}}
"""


def refresh_jobs(driver: neo4j.Driver) -> int:
    rows = cypher(driver, "MATCH (j:LinkedRefresh) RETURN count(j) AS n")
    return int(rows[0]["n"])


def stored_incidents(driver: neo4j.Driver, target: str) -> list[str]:
    rows = cypher(
        driver,
        "MATCH (l:LinkedIncident {target: $target}) RETURN l.incident AS i ORDER BY i",
        target=target,
    )
    return [row["i"] for row in rows]


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_a_claim_with_many_incidents_upstream_leaves_its_refresh_as_a_job(
    driver: neo4j.Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_shipped_seed()
    load(new_actor())  # the MSS now has two incidents upstream
    monkeypatch.setattr(linked_closure, "DEFER_ABOVE", 1)

    # One incident upstream of the actor: refreshed in the write, as before.
    load(EC_TO_MSS, origin="upsertRelation.input", replace=False)
    assert refresh_jobs(driver) == 0
    assert EC_INCIDENT in stored_incidents(driver, "agency:mss")

    # Three upstream of the MSS: the write leaves a job and the parent no entries yet,
    # while the reader walks and answers in full.
    load(PARENT, origin="upsertRelation.input", replace=False)
    assert refresh_jobs(driver) == 1
    assert stored_incidents(driver, "agency:closure-parent") == []
    linked = [EC_INCIDENT, "incident:2021-uk-parliamentarians-email-reconnaissance"]
    linked = sorted([*linked, "incident:closure-1"])
    assert sorted(linked_ids("agency:closure-parent")) == linked

    assert run(refresh_deferred) == 3
    assert refresh_jobs(driver) == 0
    assert stored_incidents(driver, "agency:closure-parent") == linked
    assert run(refresh_deferred) == 0
    assert_closure_is_true(driver, [*SEED_TARGETS, "agency:closure-parent", "actor:closure-x"])


@pytest.mark.usefixtures("empty_graph", "neo4j_env")
def test_of_two_builds_at_once_one_finishes_and_the_other_stops(driver: neo4j.Driver) -> None:
    # Before this module's first `api` client: a live app's closure refresher would be a
    # third builder, and could take over from both.
    load_shipped_seed()
    built = entries(driver)
    cypher(driver, "MATCH (m:LinkedClosure) DELETE m")

    async def two_builds(graph: Graph) -> list[bool]:
        return sorted(await asyncio.gather(ensure_closure(graph), ensure_closure(graph)))

    assert run(two_builds) == [False, True]
    assert cypher(driver, "MATCH (m:LinkedClosure) RETURN m.version AS v") == [{"v": VERSION}]
    assert entries(driver) == built

    # A build that lost its turn just before the end does not mark either.
    async def late_mark(graph: Graph) -> list[Any]:
        return await graph.write(
            linked_closure._MARK_BUILT, {"version": VERSION, "token": "a builder taken over"}
        )

    assert run(late_mark) == []
    assert cypher(driver, "MATCH (m:LinkedClosure) RETURN count(m) AS n") == [{"n": 1}]


@pytest.mark.usefixtures("empty_graph")
def test_the_api_server_does_deferred_refreshes_in_the_background(
    api: TestClient,
    driver: neo4j.Driver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    load_shipped_seed()
    caplog.set_level(logging.INFO, logger="threatgraph.closure")
    monkeypatch.setattr(linked_closure, "DEFER_ABOVE", 0)
    body = gql(
        api,
        'mutation { upsertRelation(input: {from: "' + EC_ACTOR + '", relation: "AFFILIATED_WITH", '
        'to: "agency:mss", likelihood: UNLIKELY, quote: "The actor may work for the MSS.", '
        'sources: ["source:ncsc-2024-03-25"]}) { id } }',
        token=WRITER_TOKEN,
    )
    assert "errors" not in body, body
    # The write left the refresh to the server's task, which looks every second.
    deadline = time.monotonic() + 15
    while refresh_jobs(driver) or EC_INCIDENT not in stored_incidents(driver, "agency:mss"):
        assert time.monotonic() < deadline, f"jobs left: {refresh_jobs(driver)}"
        time.sleep(0.2)
    refreshed = [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "threatgraph.closure"
    ]
    assert refreshed == [{"event": "closure_refreshed", "incidents": 1}]
    query = '{ incidents(linkedTo: "agency:mss") { totalCount } }'
    assert gql(api, query)["data"]["incidents"]["totalCount"] == 2


@pytest.mark.usefixtures("neo4j_env")
def test_an_api_server_with_the_refresh_off_starts_no_refresher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[float] = []

    async def refresher(graph: Graph, every_s: float, schema_ready: bool) -> None:
        started.append(every_s)

    monkeypatch.setattr(app_module, "refresh_deferred_forever", refresher)
    with make_client(THREATGRAPH_CLOSURE_REFRESH_MS="0"):
        pass
    with make_client(THREATGRAPH_CLOSURE_REFRESH_MS="250"):
        pass
    with make_client():
        pass
    assert started == [0.25, DEFAULT_REFRESH_MS / 1000]
