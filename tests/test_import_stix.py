"""STIX 2.1 import and export against a real Neo4j: mapping, bad input, validator, round trip."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import neo4j
import pytest
import stix2validator  # type: ignore[import-untyped,unused-ignore]
import typer
from typer.testing import CliRunner

from api.cli_import import export_app, import_app
from graph.errors import ValidationError
from graph.store.database import Graph
from graph.writes.batches import ImportSummary
from graph.writes.importing import import_batches
from seed.importers.misp import url_source_id
from seed.importers.stix import stix_batches
from seed.importers.stix_export import export_bundle
from tests.conftest import cypher
from tests.graph_state import clear, empty_graph, seeded_graph  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures" / "stix"


def run_import(paths: list[Path]) -> ImportSummary:
    async def go() -> ImportSummary:
        async with Graph.connect(bulk=True) as graph:
            return await import_batches(graph, stix_batches(paths))

    return asyncio.run(go())


def export(ref: str | None = None, hops: int = 1) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with Graph.connect(bulk=True) as graph:
            return await export_bundle(graph, ref, hops)

    return asyncio.run(go())


def node_count(driver: neo4j.Driver) -> int:
    """Every node but what schema setup makes on an empty store: the linked-to
    closure's marker and the change feed's counter, still at 0."""
    bookkeeping = "n:LinkedClosure OR (n:ChangeFeed AND n.seq = 0)"
    return int(cypher(driver, f"MATCH (n) WHERE NOT ({bookkeeping}) RETURN count(n) AS n")[0]["n"])


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    return app


@pytest.mark.usefixtures("empty_graph")
def test_valid_bundle_maps_objects_relationships_and_skips(driver: neo4j.Driver) -> None:
    summary = run_import([FIXTURES / "valid.json"])
    labels = {
        row["name"]: row["label"]
        for row in cypher(
            driver,
            "MATCH (e:Entity) WHERE e.stix_id IS NOT NULL "
            "RETURN e.name AS name, [l IN labels(e) WHERE l <> 'Entity'][0] AS label",
        )
    }
    assert labels == {
        "APT31": "ThreatActor",
        "ZIRCONIUM": "ThreatActor",
        "Example Ministry": "Organisation",
        "Government": "Sector",
        "Jane Analyst": "Person",
        "United Kingdom": "Country",
        "Europe": "Region",
        "Operation Example": "Campaign",
        "Example Incident 2021": "Incident",
        "ExampleRAT": "Software",
        "ExampleTool": "Software",
        "Phishing": "AttackPattern",
        "CVE-2021-26855": "Vulnerability",
        "Example vendor report": "Source",
    }
    assert summary.skipped == {
        "STIX indicator objects (not mapped)": 1,
        "custom objects (x-... types)": 1,
    }
    assert summary.claims == {"created": 11, "updated": 0, "unchanged": 0}
    claims = {
        (row["from"], row["type"], row["to"]): (row["likelihood"], row["confidence"])
        for row in cypher(
            driver,
            "MATCH (a)-[r]->(b) WHERE type(r) <> 'MENTIONS' "
            "RETURN a.name AS from, type(r) AS type, b.name AS to, "
            "r.likelihood AS likelihood, r.confidence AS confidence",
        )
    }
    assert claims[("Operation Example", "ATTRIBUTED_TO", "ZIRCONIUM")] == ("HIGHLY_LIKELY", 85)
    assert claims[("APT31", "AFFILIATED_WITH", "United Kingdom")] == ("REALISTIC_POSSIBILITY", 52)
    assert claims[("Operation Example", "USES", "Phishing")] == ("REMOTE_CHANCE", 7)
    assert claims[("Example Incident 2021", "ATTRIBUTED_TO", "APT31")] == ("UNLIKELY", 38)
    # No confidence: a judgment its source did not grade.
    assert claims[("ZIRCONIUM", "USES", "ExampleRAT")] == ("UNGRADED", None)
    assert claims[("Example Ministry", "LOCATED_IN", "United Kingdom")] == ("UNGRADED", None)
    rel = cypher(
        driver,
        "MATCH (:Campaign)-[r:ATTRIBUTED_TO]->() "
        "RETURN r.stix_id AS stix_id, r.source AS source, r.quote AS quote, r.source_ref AS ref",
    )[0]
    assert rel["stix_id"].startswith("relationship--")
    assert rel["ref"] == rel["stix_id"]
    assert rel["quote"] == "Operation Example is attributed to ZIRCONIUM."
    assert rel["source"] == "source:example-vendor-report"
    zirc = cypher(driver, "MATCH (e {name: 'ZIRCONIUM'}) RETURN e.lookup_keys AS keys")[0]
    assert {"g0128", "violet typhoon", "zirconium"} <= set(zirc["keys"])
    mentions = cypher(
        driver,
        "MATCH (s:Source)-[:MENTIONS]->(e {name: 'APT31'}) RETURN s.id AS s ORDER BY s",
    )
    assert [m["s"] for m in mentions] == [
        "source:example-vendor-report",
        url_source_id("https://example.org/apt31"),
    ]


@pytest.mark.usefixtures("empty_graph")
def test_reimporting_a_bundle_changes_nothing(driver: neo4j.Driver) -> None:
    from tests.graph_state import fingerprint

    run_import([FIXTURES / "valid.json"])
    before = fingerprint(driver)
    again = run_import([FIXTURES / "valid.json"])
    assert fingerprint(driver) == before
    assert (again.entities["created"], again.entities["updated"]) == (0, 0)
    assert again.claims == {"created": 0, "updated": 0, "unchanged": 11}


@pytest.mark.parametrize(
    ("fixture", "problem"),
    [
        ("invalid_json.json", "invalid JSON: parse error"),
        ("truncated.json", "truncated JSON: the file ends before the bundle does"),
        ("bundle_spec_20.json", "bundle spec_version '2.0'"),
        ("wrong_spec_version.json", "spec_version '2.0'; STIX 2.1 objects carry '2.1'"),
        ("duplicate_ids.json", "duplicate id"),
        ("invalid_object.json", "No values for required properties for ThreatActor: (name)."),
        ("not_a_bundle.json", "not a STIX bundle (type is 'report', not 'bundle')"),
        ("dangling_reference.json", "is neither in this input nor in the graph"),
    ],
)
@pytest.mark.usefixtures("empty_graph")
def test_bad_bundles_are_refused_whole(driver: neo4j.Driver, fixture: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        run_import([FIXTURES / fixture])
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert node_count(driver) == 0


@pytest.mark.usefixtures("empty_graph")
def test_one_bad_bundle_among_good_ones_writes_nothing(driver: neo4j.Driver) -> None:
    with pytest.raises(ValidationError) as caught:
        run_import([FIXTURES / "valid.json", FIXTURES / "truncated.json"])
    assert caught.value.origin == str(FIXTURES / "truncated.json")
    assert node_count(driver) == 0


@pytest.mark.usefixtures("empty_graph")
def test_custom_and_unmapped_objects_are_skipped_with_counts(driver: neo4j.Driver) -> None:
    summary = run_import([FIXTURES / "custom_only.json"])
    assert summary.skipped == {
        "STIX indicator objects (not mapped)": 1,
        "custom objects (x-... types)": 1,
    }
    assert cypher(driver, "MATCH (e:ThreatActor) RETURN e.name AS n") == [{"n": "APT31"}]


@pytest.mark.usefixtures("empty_graph")
def test_dangling_reference_resolves_when_the_graph_has_it(driver: neo4j.Driver) -> None:
    dangling = json.loads((FIXTURES / "dangling_reference.json").read_text())
    target = dangling["objects"][1]["target_ref"]
    cypher(
        driver,
        "CREATE (:Entity:ThreatActor {id: 'actor:elsewhere', name: 'Elsewhere', aliases: [], "
        "description: '', external_ids: [$t], lookup_keys: ['actor:elsewhere', 'elsewhere', $t]})",
        t=target,
    )
    summary = run_import([FIXTURES / "dangling_reference.json"])
    # Resolved to the graph's entity; `targets` between two actors is not in the model.
    assert summary.skipped == {
        "TARGETED claims from a ThreatActor to a ThreatActor (not in the model)": 1
    }
    assert cypher(driver, "MATCH (e:ThreatActor) RETURN e.id AS id ORDER BY id") == [
        {"id": "actor:apt31"},
        {"id": "actor:elsewhere"},
    ]


@pytest.mark.usefixtures("empty_graph")
def test_cli_import_reports_summary_and_errors(driver: neo4j.Driver) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli(), ["import", "stix", "-q", str(FIXTURES / "custom_only.json")])
    assert ok.exit_code == 0, ok.output
    assert "entities: 2 created, 0 updated, 0 unchanged" in ok.output
    assert "1 custom objects (x-... types)" in ok.output
    bad = runner.invoke(cli(), ["import", "stix", "-q", str(FIXTURES / "truncated.json")])
    assert bad.exit_code == 1
    assert "truncated JSON" in bad.output


def _validate(bundle: dict[str, Any]) -> Any:
    options = stix2validator.ValidationOptions(version="2.1")
    return stix2validator.validate_instance(bundle, options)


@pytest.mark.usefixtures("seeded_graph")
def test_export_of_seeded_graph_is_valid_stix(tmp_path: Path) -> None:
    out = tmp_path / "seed.json"
    result = CliRunner().invoke(cli(), ["export", "stix", "-o", str(out)])
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    report = _validate(bundle)
    assert report.is_valid, [str(e) for e in report.errors]
    types = {obj["type"] for obj in bundle["objects"]}
    assert {"threat-actor", "identity", "location", "incident", "report", "relationship"} <= types
    apt31 = next(o for o in bundle["objects"] if o.get("x_threatgraph_id") == "actor:apt31")
    rel = next(
        o
        for o in bundle["objects"]
        if o["type"] == "relationship"
        and o["target_ref"] == apt31["id"]
        and o["x_threatgraph_relation"] == "ATTRIBUTED_TO"
    )
    assert rel["confidence"] == 100
    assert rel["x_threatgraph_likelihood"] == "ALMOST_CERTAIN"
    assert rel["description"].startswith("The National Cyber Security Centre")
    assert rel["external_references"][0]["external_id"] == "source:ncsc-2024-03-25"


@pytest.mark.usefixtures("seeded_graph")
def test_export_neighbourhood_is_valid_and_bounded() -> None:
    bundle = export("APT31", hops=1)
    assert _validate(bundle).is_valid
    ids = {o.get("x_threatgraph_id") for o in bundle["objects"]}
    assert {"actor:apt31", "country:china", "agency:mss", "source:ncsc-2024-03-25"} <= ids
    assert "org:uk-electoral-commission" not in ids


def _core(driver: neo4j.Driver) -> tuple[list[Any], list[Any], list[Any]]:
    entities = cypher(
        driver,
        "MATCH (e:Entity) RETURN e.id AS id, [l IN labels(e) WHERE l <> 'Entity'] AS labels, "
        "e.name AS name, e.aliases AS aliases, e.description AS description, "
        "e.role AS role, e.started AS started, e.ended AS ended, e.status AS status, "
        "e.publisher AS publisher, e.published AS published, e.url AS url ORDER BY id",
    )
    claims = cypher(
        driver,
        "MATCH (a)-[r]->(b) WHERE type(r) <> 'MENTIONS' RETURN r.id AS id, type(r) AS type, "
        "a.id AS a, b.id AS b, r.likelihood AS likelihood, r.quote AS quote, "
        "r.sources AS sources, r.assessed_by AS assessed_by, r.valid_from AS valid_from, "
        "r.valid_to AS valid_to ORDER BY id",
    )
    mentions = cypher(
        driver, "MATCH (s)-[:MENTIONS]->(e) RETURN s.id AS s, e.id AS e ORDER BY s, e"
    )
    return entities, claims, mentions


@pytest.mark.usefixtures("seeded_graph")
def test_round_trip_export_then_import_into_empty_graph(
    driver: neo4j.Driver, tmp_path: Path
) -> None:
    before = _core(driver)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(export()))
    clear(driver)
    summary = run_import([path])
    after = _core(driver)
    assert summary.ambiguities == []
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == before[2]


def _technique_bundle(path: Path) -> Path:
    """A bundle with one attack-pattern in two of ATT&CK's tactics and one phase of
    another kill chain."""
    at = "2024-05-01T00:00:00.000Z"
    technique = {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": "attack-pattern--0b2b3d8e-2a58-4b5c-9d3d-5a8e1f3c2b11",
        "created": at,
        "modified": at,
        "name": "Valid Accounts",
        "external_references": [{"source_name": "mitre-attack", "external_id": "T1078"}],
        "kill_chain_phases": [
            {"kill_chain_name": "mitre-attack", "phase_name": "initial-access"},
            {"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "delivery"},
            {"kill_chain_name": "mitre-attack", "phase_name": "persistence"},
            {"kill_chain_name": "mitre-attack", "phase_name": "initial-access"},
        ],
    }
    bundle = {
        "type": "bundle",
        "id": "bundle--7a0c1f3e-9a64-4f0e-8a77-51c3f2d6e4a9",
        "objects": [technique],
    }
    path.write_text(json.dumps(bundle))
    return path


@pytest.mark.usefixtures("empty_graph")
def test_attack_kill_chain_phases_are_tactics_and_are_written_back(
    driver: neo4j.Driver, tmp_path: Path
) -> None:
    summary = run_import([_technique_bundle(tmp_path / "technique.json")])
    assert summary.skipped == {"kill-chain phases of chains other than ATT&CK's": 1}
    assert cypher(
        driver, "MATCH (t:AttackPattern) RETURN t.name AS name, t.tactics AS tactics"
    ) == [{"name": "Valid Accounts", "tactics": ["initial-access", "persistence"]}]
    exported = [o for o in export()["objects"] if o["type"] == "attack-pattern"]
    assert [o["kill_chain_phases"] for o in exported] == [
        [
            {"kill_chain_name": "mitre-attack", "phase_name": "initial-access"},
            {"kill_chain_name": "mitre-attack", "phase_name": "persistence"},
        ]
    ]
    assert "x_threatgraph_properties" not in exported[0]
