"""Alias resolution: what merges, what is kept apart, and that nothing is overwritten."""

from __future__ import annotations

import asyncio

import neo4j
import pytest

from graph.model.likelihood import Likelihood
from graph.store.database import Graph
from graph.writes.batches import Candidate, ImportBatch, ImportClaim, ImportSummary
from graph.writes.importing import import_batch
from tests.conftest import cypher
from tests.graph_state import empty_graph  # noqa: F401


def run(batch: ImportBatch) -> ImportSummary:
    async def go() -> ImportSummary:
        async with Graph.connect(bulk=True) as graph:
            return await import_batch(graph, batch)

    return asyncio.run(go())


def batch_of(name: str, *actors: Candidate) -> ImportBatch:
    source = Candidate(f"source:{name}", "Source", name, preferred_id=f"source:{name}")
    batch = ImportBatch(origin=name, candidates={source.key: source})
    for actor in actors:
        batch.add(actor)
    return batch


def actor(key: str, name: str, *aliases: str, ext: tuple[str, ...] = ()) -> Candidate:
    return Candidate(key, "ThreatActor", name, aliases, f"{name} as {key} says", (key, *ext))


def actors(driver: neo4j.Driver) -> list[dict[str, object]]:
    return cypher(
        driver,
        "MATCH (e:ThreatActor) RETURN e.id AS id, e.name AS name, e.aliases AS aliases, "
        "e.description AS description, e.ambiguous_with AS ambiguous_with, "
        "e.imported_aliases AS imported_aliases ORDER BY id",
    )


@pytest.mark.usefixtures("empty_graph")
def test_primary_name_merges_without_overwriting_name_or_description(
    driver: neo4j.Driver,
) -> None:
    run(batch_of("first", actor("a:1", "APT31", "Zirconium")))
    summary = run(batch_of("second", actor("b:1", "apt31", "Violet Typhoon", "ZIRCONIUM")))
    assert summary.merged == 1
    assert summary.entities == {"created": 1, "updated": 1, "unchanged": 0}  # its source is new
    assert actors(driver) == [
        {
            "id": "actor:apt31",
            "name": "APT31",
            "aliases": ["Zirconium", "Violet Typhoon"],
            "description": "APT31 as a:1 says",
            "ambiguous_with": None,
            "imported_aliases": ["Zirconium", "Violet Typhoon"],
        }
    ]


@pytest.mark.usefixtures("empty_graph")
def test_name_that_is_an_alias_of_one_actor_merges(driver: neo4j.Driver) -> None:
    run(batch_of("first", actor("a:1", "APT31", "ZIRCONIUM")))
    run(batch_of("second", actor("b:1", "ZIRCONIUM", "Violet Typhoon", ext=("G0128",))))
    rows = cypher(
        driver,
        "MATCH (e:Entity) WHERE $k IN e.lookup_keys RETURN e.id AS id",
        k="g0128",
    )
    assert rows == [{"id": "actor:apt31"}]


@pytest.mark.usefixtures("empty_graph")
def test_external_id_merges_even_under_another_name(driver: neo4j.Driver) -> None:
    run(batch_of("first", actor("a:1", "ZIRCONIUM", ext=("G0128",))))
    run(batch_of("second", actor("b:1", "Judgment Panda", ext=("g0128",))))
    assert [row["id"] for row in actors(driver)] == ["actor:zirconium"]


@pytest.mark.usefixtures("empty_graph")
def test_alias_shared_by_two_actors_is_kept_apart_and_reported(driver: neo4j.Driver) -> None:
    run(batch_of("first", actor("a:1", "APT4", "PLA Navy"), actor("a:2", "APT18", "PLA Navy")))
    summary = run(batch_of("second", actor("b:1", "Samurai Panda", "PLA Navy")))
    assert summary.merged == 0
    assert summary.ambiguities == [
        "ThreatActor 'Samurai Panda' (b:1) matches 2 entities by an alias only: "
        "actor:apt18, actor:apt4; kept apart"
    ]
    rows = {row["id"]: row["ambiguous_with"] for row in actors(driver)}
    assert rows["actor:samurai-panda"] == ["actor:apt18", "actor:apt4"]


@pytest.mark.usefixtures("empty_graph")
def test_name_matching_aliases_of_two_actors_is_kept_apart(driver: neo4j.Driver) -> None:
    run(batch_of("first", actor("a:1", "APT29", "Nobelium"), actor("a:2", "UNC2452", "Nobelium")))
    summary = run(batch_of("second", actor("b:1", "NOBELIUM")))
    assert summary.ambiguities == [
        "ThreatActor 'NOBELIUM' (b:1) matches 2 entities by a name or alias: "
        "actor:apt29, actor:unc2452; kept apart"
    ]
    assert len(actors(driver)) == 3


@pytest.mark.usefixtures("empty_graph")
def test_each_source_keeps_its_own_claim_and_view(driver: neo4j.Driver) -> None:
    for name in ("first", "second"):
        batch = batch_of(name, actor(f"{name}:1", "APT31"))
        batch.add(Candidate(f"{name}:cn", "Country", "China", ("CN",), "", (f"{name}:cn",)))
        batch.claims.append(
            ImportClaim(
                f"{name}:1",
                "AFFILIATED_WITH",
                f"{name}:cn",
                Likelihood.LIKELY if name == "first" else Likelihood.ALMOST_CERTAIN,
                f"source:{name}",
                f"{name}-ref",
                quote=f"{name} says so",
            )
        )
        from graph.writes.batches import Mention

        batch.mentions.append(Mention(f"source:{name}", f"{name}:1", f"{name}:1", {"name": name}))
        run(batch)
    rows = cypher(
        driver,
        "MATCH (:ThreatActor)-[r:AFFILIATED_WITH]->(:Country) "
        "RETURN r.source AS source, r.likelihood AS likelihood, r.quote AS quote, "
        "r.source_ref AS ref, r.imported_at IS NOT NULL AS stamped ORDER BY source",
    )
    assert rows == [
        {
            "source": "source:first",
            "likelihood": "LIKELY",
            "quote": "first says so",
            "ref": "first-ref",
            "stamped": True,
        },
        {
            "source": "source:second",
            "likelihood": "ALMOST_CERTAIN",
            "quote": "second says so",
            "ref": "second-ref",
            "stamped": True,
        },
    ]
    views = cypher(
        driver,
        "MATCH (s:Source)-[m:MENTIONS]->(:ThreatActor) RETURN s.id AS s, m.name AS name ORDER BY s",
    )
    assert views == [
        {"s": "source:first", "name": "first"},
        {"s": "source:second", "name": "second"},
    ]
