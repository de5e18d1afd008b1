"""Concurrent writers: no duplicate entity, no lost relationship, no mixed claim."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path

import httpx2 as httpx
import neo4j

from graph.store.database import Graph
from graph.writes.importing import import_batches
from graph.writes.loading import load_documents
from seed.files import read_seed_files, shipped_seed_files
from seed.importers.stix import stix_batches
from tests.api_client import WRITER_TOKEN
from tests.conftest import cypher
from tests.graph_state import VOLATILE_PROPERTIES, canonical_dump, clear
from tests.live_server import LiveApi
from tests.stix_factory import actor_bundle, write_bundle

LIKELIHOODS = [
    "REMOTE_CHANCE",
    "HIGHLY_UNLIKELY",
    "UNLIKELY",
    "REALISTIC_POSSIBILITY",
    "LIKELY",
    "HIGHLY_LIKELY",
    "ALMOST_CERTAIN",
    "FACT",
]


def load_seed() -> None:
    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await load_documents(graph, read_seed_files(shipped_seed_files()))

    asyncio.run(run())


def import_bundle(path: Path) -> None:
    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await import_batches(graph, stix_batches([path]))

    asyncio.run(run())


def overlapping_bundles(folder: Path) -> list[Path]:
    # Actors 30-59 are in both bundles, with the same ids and content.
    return [
        write_bundle(folder / "a.json", actor_bundle("overlap-a", "Overlap", 0, 60)),
        write_bundle(folder / "b.json", actor_bundle("overlap-b", "Overlap", 30, 60)),
    ]


def test_four_seed_loaders_and_two_importers_at_once_equal_one_at_a_time(
    driver: neo4j.Driver, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    bundles = overlapping_bundles(tmp_path)
    clear(driver)
    load_seed()
    for path in bundles:
        import_bundle(path)
    expected = canonical_dump(driver, VOLATILE_PROPERTIES)

    clear(driver)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        jobs = [pool.submit(load_seed) for _ in range(4)]
        jobs += [pool.submit(import_bundle, path) for path in bundles]
        for job in jobs:
            job.result()  # any writer's failure fails the test
    assert canonical_dump(driver, VOLATILE_PROPERTIES) == expected
    counts = cypher(
        driver,
        "MATCH (e:Entity) WITH e.name AS name, labels(e) AS labels, count(*) AS n "
        "WHERE n > 1 RETURN name, n",
    )
    assert counts == [], "duplicate entities"
    targets = cypher(
        driver,
        "MATCH (a:ThreatActor)-[r:TARGETED]->(:Organisation) "
        "WHERE a.name STARTS WITH 'Overlap' RETURN count(r) AS n",
    )
    # 90 actors; the 30 in both bundles carry one claim per bundle.
    assert targets == [{"n": 120}]


def test_concurrent_upserts_of_one_claim_leave_exactly_one_write(
    live_api: LiveApi, driver: neo4j.Driver, seeded_graph: None
) -> None:
    mutation = """mutation($quote: String!, $likelihood: Likelihood!, $from: Date!) {
      upsertRelation(input: {from: "actor:apt31", relation: "RELATED_TO", to: "country:china",
        likelihood: $likelihood, quote: $quote, sources: ["source:ncsc-2024-03-25"],
        validFrom: $from}) { quote likelihood validFrom } }"""
    writes = [
        {"quote": f"Writer {n} says so.", "likelihood": LIKELIHOODS[n], "from": f"20{10 + n}-01-01"}
        for n in range(8)
    ]

    def upsert(variables: dict[str, str]) -> dict[str, object]:
        response = httpx.post(
            f"{live_api.url}/graphql",
            json={"query": mutation, "variables": variables},
            headers={"authorization": f"Bearer {WRITER_TOKEN}"},
            timeout=60,
        )
        return {"status": response.status_code, **response.json()}

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(upsert, writes * 3))
    # Every write was answered: written, or refused with a code (none lost silently).
    for answer in answers:
        assert answer["status"] == 200
        assert answer.get("errors") is None, answer
    stored = cypher(
        driver,
        "MATCH (:Entity {id: 'actor:apt31'})-[r:RELATED_TO]->(:Entity {id: 'country:china'}) "
        "RETURN r.quote AS quote, r.likelihood AS likelihood, r.valid_from AS valid_from",
    )
    assert len(stored) == 1
    final = stored[0]
    matching = [
        w for w in writes if (w["quote"], w["from"]) == (final["quote"], str(final["valid_from"]))
    ]
    assert len(matching) == 1, final
    assert final["likelihood"].upper().replace(" ", "_") == matching[0]["likelihood"] or (
        final["likelihood"] == matching[0]["likelihood"].lower().replace("_", " ")
    ), final
