"""MISP galaxies and MITRE ATT&CK: a small galaxy in detail, then the full offline import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import neo4j
import pytest
import typer
from typer.testing import CliRunner

from api.cli_import import import_app
from seed.importers.misp import url_source_id
from tests.conftest import cypher
from tests.graph_state import seeded_graph  # noqa: F401

CN, GB = "c0000000-0000-4000-8000-000000000001", "c0000000-0000-4000-8000-000000000002"
GOV = "50000000-0000-4000-8000-000000000001"
A31, S1, S2 = (f"a0000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
LIKELY_TAG = 'estimative-language:likelihood-probability="very-likely"'
ADMIRALTY_TAG = 'admiralty-scale:source-reliability="b"'


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(import_app, name="import")
    return app


def _cluster(name: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "type": name, "uuid": f"{name}-uuid", "source": "test", "values": values}


def write_galaxy(where: Path) -> Path:
    countries: list[dict[str, Any]] = [
        {"uuid": CN, "value": "china", "description": "China", "meta": {"ISO": "CN"}},
        {
            "uuid": GB,
            "value": "united kingdom",
            "description": "United Kingdom",
            "meta": {"ISO": "GB"},
        },
    ]
    sectors: list[dict[str, Any]] = [
        {"uuid": GOV, "value": "Government", "meta": {"synonyms": ["Public sector"]}}
    ]
    actors: list[dict[str, Any]] = [
        {
            "uuid": A31,
            "value": "APT31",
            "description": "A MISP description of APT31.",
            "meta": {
                "synonyms": ["ZIRCONIUM", "Judgment Panda"],
                "country": "CN",
                "cfr-suspected-state-sponsor": "China",
                "cfr-suspected-victims": ["United Kingdom", "Atlantis"],
                "cfr-target-category": ["Public sector", "Think tanks"],
                "attribution-confidence": "50",
                "refs": ["https://example.org/apt31"],
            },
            "related": [
                {"dest-uuid": S1, "type": "similar", "tags": [LIKELY_TAG, ADMIRALTY_TAG]},
                {"dest-uuid": "ffffffff-0000-4000-8000-000000000000", "type": "uses"},
            ],
        },
        {"uuid": S1, "value": "Shared One", "meta": {"synonyms": ["Panda X"]}},
        {"uuid": S2, "value": "Shared Two", "meta": {"synonyms": ["Panda X"]}},
    ]
    for name, values in (("country", countries), ("sector", sectors), ("threat-actor", actors)):
        (where / f"{name}.json").write_text(json.dumps(_cluster(name, values)))
    return where


@pytest.mark.usefixtures("seeded_graph")
def test_small_galaxy_merges_into_the_seed_and_grades_claims(
    driver: neo4j.Driver, tmp_path: Path
) -> None:
    galaxy = write_galaxy(tmp_path)
    args = ["import", "misp-galaxy", "-q", "--clusters-dir", str(galaxy)]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    assert "1 cfr-suspected-victims values that name no known country" in result.output
    assert "1 related entries in galaxies not imported" in result.output
    assert "'panda x' names 2 ThreatActor entities: actor:shared-one, actor:shared-two" in (
        result.output
    )
    apt31 = cypher(
        driver,
        "MATCH (e {id: 'actor:apt31'}) RETURN e.name AS name, e.aliases AS aliases, "
        "e.description STARTS WITH 'A China state-affiliated' AS seed_description, "
        "e.attribution_confidence AS confidence",
    )
    assert apt31 == [
        {
            "name": "APT31",
            "aliases": ["ZIRCONIUM", "Judgment Panda"],
            "seed_description": True,
            "confidence": 50,
        }
    ]
    claims = cypher(
        driver,
        "MATCH (:Entity {id: 'actor:apt31'})-[r]->(b) "
        "WHERE r.source = 'source:misp-galaxy-threat-actor' "
        "RETURN type(r) AS type, b.id AS to, r.likelihood AS likelihood, r.quote AS quote, "
        "r.source_reliability AS reliability "
        "ORDER BY type, to",
    )
    assert claims == [
        {
            "type": "AFFILIATED_WITH",
            "to": "country:china",
            "likelihood": "REALISTIC_POSSIBILITY",
            "quote": "cfr-suspected-state-sponsor: China",
            "reliability": None,
        },
        {
            "type": "LOCATED_IN",
            "to": "country:china",
            "likelihood": "REALISTIC_POSSIBILITY",
            "quote": "country: CN",
            "reliability": None,
        },
        {
            "type": "RELATED_TO",
            "to": "actor:shared-one",
            "likelihood": "HIGHLY_LIKELY",
            "quote": f"similar: {S1} ({LIKELY_TAG}, {ADMIRALTY_TAG})",
            "reliability": "B",
        },
        {
            "type": "TARGETED",
            "to": "country:uk",
            "likelihood": "REALISTIC_POSSIBILITY",
            "quote": "cfr-suspected-victims: United Kingdom",
            "reliability": None,
        },
        {
            "type": "TARGETED",
            "to": "sector:government",
            "likelihood": "UNGRADED",
            "quote": "cfr-target-category: Public sector",
            "reliability": None,
        },
        {
            "type": "TARGETED",
            "to": "sector:think-tanks",
            "likelihood": "UNGRADED",
            "quote": "cfr-target-category: Think tanks",
            "reliability": None,
        },
    ]
    ref = cypher(
        driver,
        "MATCH (s:Source {id: $id})-[m:MENTIONS]->(:Entity {id: 'actor:apt31'}) "
        "RETURN s.url AS url, m.cited_by AS cited_by",
        id=url_source_id("https://example.org/apt31"),
    )
    assert ref == [
        {"url": "https://example.org/apt31", "cited_by": "source:misp-galaxy-threat-actor"}
    ]
    again = CliRunner().invoke(cli(), args)
    assert "entities: 0 created, 0 updated, 11 unchanged" in again.output
    assert "claims:   0 created, 0 updated, 7 unchanged" in again.output


def lookup(driver: neo4j.Driver, name: str) -> list[str]:
    rows = cypher(
        driver,
        "CALL db.index.fulltext.queryNodes('entity_lookup', $q) YIELD node RETURN node.id AS id",
        q=f'"{name.casefold()}"',
    )
    return sorted(row["id"] for row in rows)


@pytest.mark.usefixtures("seeded_graph")
def test_full_misp_galaxy_and_attack_import_offline_onto_the_seed(driver: neo4j.Driver) -> None:
    runner = CliRunner()
    # Its wall time is measured in bench/, never asserted here (shared machines drift).
    misp = runner.invoke(cli(), ["import", "misp-galaxy", "-q"])
    attack = runner.invoke(cli(), ["import", "attack", "-q"])
    assert misp.exit_code == 0, misp.output
    assert attack.exit_code == 0, attack.output
    for name in ("Violet Typhoon", "ZIRCONIUM", "G0128", "APT31", "Judgment Panda"):
        assert lookup(driver, name) == ["actor:apt31"], name
    sources = cypher(
        driver,
        "MATCH (e:Entity {id: 'actor:apt31'})-[r]-() WHERE type(r) <> 'MENTIONS' "
        "RETURN DISTINCT r.source AS source ORDER BY source",
    )
    assert [s["source"] for s in sources] == [
        "source:misp-galaxy-threat-actor",
        "source:mitre-attack-enterprise",
        "source:ncsc-2024-03-25",
    ]
    kept = cypher(
        driver,
        "MATCH (e:Entity {id: 'actor:apt31'}) "
        "OPTIONAL MATCH (i:Incident)-[r:ATTRIBUTED_TO]->(e) "
        "RETURN e.name AS name, e.stix_id AS stix_id, r.likelihood AS likelihood",
    )
    assert kept == [
        {
            "name": "APT31",
            "stix_id": "intrusion-set--4283ae19-69c7-4347-a35e-b56f08eb660b",
            "likelihood": "ALMOST_CERTAIN",
        }
    ]
    uses = cypher(
        driver,
        "MATCH (:Entity {id: 'actor:apt31'})-[r:USES]->(s) "
        "WHERE r.source = 'source:mitre-attack-enterprise' "
        "RETURN count(*) AS n, count(r.stix_id) AS with_stix_id",
    )
    assert uses[0]["n"] > 20 and uses[0]["n"] == uses[0]["with_stix_id"]
    again = runner.invoke(cli(), ["import", "attack", "-q"])
    assert "entities: 0 created, 0 updated," in again.output
    assert "claims:   0 created, 0 updated," in again.output
