"""Neo4j killed, stopped or slow: nothing half-written, only clear errors, and recovery.

Every test here runs against the fault tests' own Neo4j (tests/fault_neo4j.py),
never the suite's, so killing it disturbs no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from graph.setup import ensure_schema
from graph.store.database import Graph
from graph.writes.importing import import_batches
from graph.writes.loading import load_documents
from seed.files import read_seed_files, shipped_seed_files
from seed.importers.stix import stix_batches
from tests.api_client import WRITER_TOKEN
from tests.fault_neo4j import FaultNeo4j
from tests.graph_state import VOLATILE_PROPERTIES, canonical_dump
from tests.live_server import Outcome, SteadyLoad, post_graphql, served
from tests.stix_factory import actor_bundle, write_bundle

BUNDLE_SIZE = 100  # actors per bundle; each brings a victim and a relationship
LOCKED_SEED_ID = "actor:apt31"
LOCKED_BUNDLE_ID = "actor:fault-actor-00150"  # in the second bundle
# Where a writer blocks on a held entity: the seed loader CREATEs entities new to
# the graph (graph/writes/batch_write.py), the STIX importer MERGEs them.
ENTITY_UPSERT = "UNWIND $rows AS row"


def dump(fault: FaultNeo4j) -> list[str]:
    with fault.driver() as driver:
        return canonical_dump(driver, VOLATILE_PROPERTIES)


def write_bundles(folder: Path) -> list[Path]:
    folder.mkdir()
    return [
        write_bundle(
            folder / f"bundle-{n + 1}.json",
            actor_bundle(f"fault-{n + 1}", "Fault", n * BUNDLE_SIZE, BUNDLE_SIZE),
        )
        for n in range(3)
    ]


def load_in_process(fault: FaultNeo4j, seed: bool, bundles: list[Path]) -> None:
    async def run() -> None:
        async with Graph.connect(
            env=fault.env(THREATGRAPH_TRANSACTION_TIMEOUT_MS="300000")
        ) as graph:
            await ensure_schema(graph)  # as threatgraph seed and import do
            if seed:
                await load_documents(graph, read_seed_files(shipped_seed_files()))
            if bundles:
                await import_batches(graph, stix_batches(bundles))

    asyncio.run(run())


@contextlib.contextmanager
def locks_held(fault: FaultNeo4j, *entity_ids: str) -> Iterator[None]:
    """An open transaction that has created (not committed) these entities: any
    writer that MERGEs one of them waits for it, mid-transaction."""
    driver = fault.driver()
    session = driver.session(database="neo4j")
    tx = session.begin_transaction()
    for entity_id in entity_ids:
        tx.run("MERGE (e:Entity {id: $id}) SET e.fault_lock = true", id=entity_id).consume()
    try:
        yield
    finally:
        # The server died under this transaction: closing it can only fail.
        with contextlib.suppress(Exception):
            tx.close()
        with contextlib.suppress(Exception):
            session.close()
        with contextlib.suppress(Exception):
            driver.close()


READ = {"query": '{ entity(ref: "actor:apt31") { id name } }'}
REQUEST_TIMEOUT_S = 30.0
RECOVERY_S = 5.0


@dataclass
class Outage:
    """What one SIGKILL of Neo4j did to a seed, an import and a served load."""

    first_bundle_only: list[str]
    clean: list[str]
    after_restart: list[str]
    after_rerun: list[str]
    writers: list[tuple[int, str]]
    reruns: list[tuple[int, str]]
    outcomes: list[Outcome]
    answering: float
    api_log: str


@pytest.fixture(scope="module")
def outage(fault_neo4j: FaultNeo4j, tmp_path_factory: pytest.TempPathFactory) -> Outage:
    """One kill of Neo4j (a restart costs about a minute here) with everything in flight:
    the seed inside its only document, a three-bundle import inside its second bundle
    (the first committed), and the API serving a steady load of reads."""
    folder = tmp_path_factory.mktemp("outage")
    bundles = write_bundles(folder / "bundles")
    fault_neo4j.clear()
    load_in_process(fault_neo4j, seed=False, bundles=bundles[:1])
    first_bundle_only = dump(fault_neo4j)
    fault_neo4j.clear()
    load_in_process(fault_neo4j, seed=True, bundles=bundles)
    clean = dump(fault_neo4j)
    fault_neo4j.clear()

    import_args = ("import", "stix", "-q", str(bundles[0].parent))
    env = fault_neo4j.env(THREATGRAPH_API_TOKENS=WRITER_TOKEN)
    with served(env, folder / "api.log") as live:

        def read(client: httpx.Client) -> Outcome:
            return post_graphql(client, live.url, READ, timeout_s=REQUEST_TIMEOUT_S)

        with locks_held(fault_neo4j, LOCKED_SEED_ID, LOCKED_BUNDLE_ID):
            seeding = fault_neo4j.threatgraph_started("seed")
            importing = fault_neo4j.threatgraph_started(*import_args)
            # Both writers are now inside a transaction: the seed in its only
            # document, the import in its second bundle (the first is committed).
            fault_neo4j.wait_for_transactions(ENTITY_UPSERT, "Blocked", count=2)
            with SteadyLoad(read, workers=3) as load:
                time.sleep(1)
                fault_neo4j.server.kill()
                writers = [(p.communicate(timeout=120)[1], p) for p in (seeding, importing)]
                fault_neo4j.server.start()
                answering = time.monotonic()
                load.wait_for(lambda o: o.sent >= answering + RECOVERY_S, count=6)
        after_restart = dump(fault_neo4j)
        reruns = [fault_neo4j.threatgraph(*args) for args in (("seed",), import_args)]
        return Outage(
            first_bundle_only=first_bundle_only,
            clean=clean,
            after_restart=after_restart,
            after_rerun=dump(fault_neo4j),
            writers=[(p.returncode, stderr) for stderr, p in writers],
            reruns=[(r.returncode, r.stderr) for r in reruns],
            outcomes=load.snapshot(),
            answering=answering,
            api_log=live.log(),
        )


# The outage fixture runs in the first test: a Neo4j restart after SIGKILL takes minutes
# on a loaded 2-core machine.
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_writers_killed_mid_transaction_fail_clearly(outage: Outage) -> None:
    for returncode, stderr in outage.writers:
        assert returncode == 1, stderr
        assert "unavailable" in stderr and "Traceback" not in stderr, stderr


@pytest.mark.slow
def test_only_whole_transactions_survive_a_kill(outage: Outage) -> None:
    # The first bundle was committed; nothing of the seed or of the second bundle was.
    assert outage.after_restart == outage.first_bundle_only


@pytest.mark.slow
def test_rerunning_after_a_kill_gives_the_clean_graph(outage: Outage) -> None:
    assert outage.reruns == [(0, ""), (0, "")]
    assert len(outage.clean) > len(outage.first_bundle_only) > 3 * BUNDLE_SIZE
    assert outage.after_rerun == outage.clean


@pytest.mark.slow
def test_requests_during_an_outage_are_503_neo4j_unavailable_only(outage: Outage) -> None:
    assert [o for o in outage.outcomes if o.failure] == [], "requests hung or broke"
    refused = [o for o in outage.outcomes if o.status != 200]
    assert refused, "the outage was never seen"
    assert {(o.status, o.codes) for o in refused} == {(503, ("NEO4J_UNAVAILABLE",))}
    assert "Traceback" not in outage.api_log and "Unexpected error" not in outage.api_log


@pytest.mark.slow
def test_the_api_recovers_within_5_s_of_neo4j_answering(outage: Outage) -> None:
    late = [o for o in outage.outcomes if o.sent >= outage.answering + RECOVERY_S]
    timeline = [(round(o.sent - outage.answering, 2), o.status) for o in outage.outcomes]
    assert late, timeline
    assert {o.status for o in late} == {200}, timeline


@pytest.mark.slow
def test_a_query_past_the_transaction_timeout_is_a_clear_error_others_are_served(
    fault_neo4j: FaultNeo4j, tmp_path: Path
) -> None:
    load_in_process(fault_neo4j, seed=True, bundles=[])
    env = fault_neo4j.env(
        THREATGRAPH_API_TOKENS=WRITER_TOKEN, THREATGRAPH_TRANSACTION_TIMEOUT_MS="2000"
    )
    slow = {
        "query": 'mutation { upsertEntity(input: {id: "actor:apt31", label: "ThreatActor", '
        'name: "APT31"}) { id } }'
    }
    with (
        served(env, tmp_path / "api.log") as live,
        httpx.Client() as client,
        locks_held(fault_neo4j, "actor:apt31"),
    ):
        # The write waits for the lock past its 2 s limit; reads go on meanwhile.
        def read(client: httpx.Client) -> Outcome:
            return post_graphql(client, live.url, READ)

        with SteadyLoad(read, workers=2) as load:
            blocked = post_graphql(client, live.url, slow, token=WRITER_TOKEN)
        served_meanwhile = [
            o for o in load.snapshot() if blocked.sent < o.answered < blocked.answered
        ]
    assert (blocked.status, blocked.codes) == (200, ("QUERY_TIMEOUT",))
    assert served_meanwhile and {o.status for o in served_meanwhile} == {200}
    assert "Traceback" not in live.log()
