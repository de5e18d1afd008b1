"""TLP markings through STIX import and export, and the export through the API (stixBundle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import neo4j
import pytest
import stix2  # type: ignore[import-untyped,unused-ignore]
import stix2validator  # type: ignore[import-untyped,unused-ignore]
from starlette.testclient import TestClient

from graph.model.markings import TLP1_IDS, TLP_NAMES
from seed.importers.stix_markings import TLP_DEFINITIONS
from tests.api_client import ask_both, error_codes, gql, make_client
from tests.conftest import cypher
from tests.graph_state import clear, empty_graph, seeded_graph  # noqa: F401
from tests.stix_factory import TIMESTAMP, stix_id
from tests.test_import_stix import export, run_import

TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP1_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
TLP2_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
ACTOR_ID = stix_id("intrusion-set", "Marked Actor")
VICTIM_ID = stix_id("identity", "Marked Victim")
CLAIM_ID = stix_id("relationship", "Marked Actor targets Marked Victim")


def marked_bundle(path: Path) -> Path:
    """An actor marked TLP:AMBER (1.0), its victim TLP:RED (2.0), and the claim between
    them TLP:RED (1.0) and under a copyright statement, built with the stix2 library."""
    stamps = {"created": TIMESTAMP, "modified": TIMESTAMP}
    tlp2_red = stix2.parse(TLP_DEFINITIONS[TLP2_RED], allow_custom=True, version="2.1")
    statement = stix2.MarkingDefinition(
        id=stix_id("marking-definition", "statement"),
        created=TIMESTAMP,
        definition_type="statement",
        definition=stix2.StatementMarking("Copyright Example Ltd"),
    )
    actor = stix2.IntrusionSet(
        id=ACTOR_ID, name="Marked Actor", object_marking_refs=[stix2.TLP_AMBER], **stamps
    )
    victim = stix2.Identity(
        id=VICTIM_ID,
        name="Marked Victim",
        identity_class="organization",
        object_marking_refs=[tlp2_red],
        **stamps,
    )
    claim = stix2.Relationship(
        actor,
        "targets",
        victim,
        id=CLAIM_ID,
        confidence=75,
        object_marking_refs=[stix2.TLP_RED, statement],
        **stamps,
    )
    objects = [stix2.TLP_AMBER, stix2.TLP_RED, tlp2_red, statement, actor, victim, claim]
    bundle = stix2.Bundle(objects, id=stix_id("bundle", "marked"), allow_custom=True)
    path.write_text(bundle.serialize())
    return path


def stored_markings(driver: neo4j.Driver) -> dict[str, Any]:
    rows = cypher(
        driver,
        "MATCH (e:Entity) WHERE e.markings IS NOT NULL RETURN e.name AS name, e.markings AS m "
        "UNION MATCH ()-[r:TARGETED]->() RETURN r.stix_id AS name, r.markings AS m",
    )
    return {row["name"]: row["m"] for row in rows}


def refs_by_name(bundle: dict[str, Any]) -> dict[str, list[str] | None]:
    return {
        str(obj.get("name") or obj["relationship_type"]): obj.get("object_marking_refs")
        for obj in bundle["objects"]
        if obj["type"] != "marking-definition"
    }


def is_valid(bundle: dict[str, Any]) -> bool:
    options = stix2validator.ValidationOptions(version="2.1")
    report = stix2validator.validate_instance(bundle, options)
    assert report.is_valid, [str(error) for error in report.errors]
    stix2.parse(bundle, allow_custom=True, version="2.1")
    return True


EXPORTED_REFS = {
    "Marked Actor": [TLP1_AMBER],
    "Marked Victim": [TLP2_RED],
    f"STIX bundle {stix_id('bundle', 'marked')}": None,
    "targets": [TLP1_RED],
}


@pytest.mark.usefixtures("empty_graph")
def test_tlp_markings_are_kept_on_import(driver: neo4j.Driver, tmp_path: Path) -> None:
    summary = run_import([marked_bundle(tmp_path / "marked.json")])
    assert summary.skipped == {
        "STIX marking-definition objects (not mapped)": 1,
        "object markings other than TLP (not kept)": 1,
    }
    assert stored_markings(driver) == {
        "Marked Actor": [TLP1_AMBER],
        "Marked Victim": [TLP2_RED],
        CLAIM_ID: [TLP1_RED],
    }


def test_the_graphs_tlp_ids_and_names_are_the_published_definitions() -> None:
    assert {TLP1_IDS[level]: f"TLP:{level.upper()}" for level in TLP1_IDS} == {
        str(definition.id): str(definition.name)
        for definition in (stix2.TLP_WHITE, stix2.TLP_GREEN, stix2.TLP_AMBER, stix2.TLP_RED)
    }
    assert {
        marking_id: definition["name"] for marking_id, definition in TLP_DEFINITIONS.items()
    } == TLP_NAMES


CLAIM_MARKINGS = '{ claims(from: "%s", to: "%s") { relation markings } }'


@pytest.mark.usefixtures("empty_graph")
def test_a_claims_tlp_markings_show_by_name_in_both_executors(
    api: TestClient, resolvers: TestClient, tmp_path: Path
) -> None:
    run_import([marked_bundle(tmp_path / "marked.json")])
    # The statement marking is not TLP and was not kept; the claim is TLP:RED (1.0).
    answer = ask_both(api, resolvers, CLAIM_MARKINGS % ("Marked Actor", "Marked Victim"))
    assert answer == {"claims": [{"relation": "TARGETED", "markings": ["TLP:RED"]}]}


ENTITY_MARKINGS = """{
  actor: entity(ref: "Marked Actor") { markings }
  victim: search(text: "Marked Victim", first: 1) { entity { name markings } }
  claims(from: "Marked Actor", to: "Marked Victim") { from { markings } to { markings } }
}"""


@pytest.mark.usefixtures("empty_graph")
def test_an_entitys_tlp_markings_show_by_name_wherever_it_is_found(
    api: TestClient, resolvers: TestClient, tmp_path: Path
) -> None:
    run_import([marked_bundle(tmp_path / "marked.json")])
    assert ask_both(api, resolvers, ENTITY_MARKINGS) == {
        "actor": {"markings": ["TLP:AMBER"]},
        "victim": [{"entity": {"name": "Marked Victim", "markings": ["TLP:RED"]}}],
        "claims": [{"from": {"markings": ["TLP:AMBER"]}, "to": {"markings": ["TLP:RED"]}}],
    }


@pytest.mark.usefixtures("seeded_graph")
def test_an_unmarked_entity_has_no_markings(api: TestClient, resolvers: TestClient) -> None:
    assert ask_both(api, resolvers, '{ entity(ref: "APT31") { markings } }') == {
        "entity": {"markings": []}
    }


@pytest.mark.usefixtures("seeded_graph")
def test_an_unmarked_claim_has_no_markings(api: TestClient, resolvers: TestClient) -> None:
    answer = ask_both(api, resolvers, CLAIM_MARKINGS % ("APT31", "MSS"))
    assert answer == {"claims": [{"relation": "AFFILIATED_WITH", "markings": []}]}


@pytest.mark.usefixtures("empty_graph")
def test_export_writes_the_markings_back_with_their_definitions(
    driver: neo4j.Driver, tmp_path: Path
) -> None:
    run_import([marked_bundle(tmp_path / "marked.json")])
    bundle = export("Marked Actor", hops=1)
    assert is_valid(bundle)
    definitions = [obj for obj in bundle["objects"] if obj["type"] == "marking-definition"]
    assert [(d["id"], d["name"]) for d in definitions] == [
        (TLP1_RED, "TLP:RED"),
        (TLP2_RED, "TLP:RED"),
        (TLP1_AMBER, "TLP:AMBER"),
    ]
    assert definitions[1]["extensions"] == {
        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
            "extension_type": "property-extension",
            "tlp_2_0": "red",
        }
    }
    assert definitions[2]["definition"] == {"tlp": "amber"}
    assert refs_by_name(bundle) == EXPORTED_REFS
    # And back again: the exported bundle imports to the same markings.
    path = tmp_path / "exported.json"
    path.write_text(json.dumps(bundle))
    clear(driver)
    assert run_import([path]).skipped == {}
    again = stored_markings(driver)
    claim_id = next(o["id"] for o in bundle["objects"] if o["type"] == "relationship")
    assert again == {
        "Marked Actor": [TLP1_AMBER],
        "Marked Victim": [TLP2_RED],
        claim_id: [TLP1_RED],
    }


def _comparable(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects without what each export stamps anew (its time)."""
    moment = {"created", "modified", "published"}
    return [
        {k: v for k, v in obj.items() if k not in moment or obj["type"] == "marking-definition"}
        for obj in bundle["objects"]
    ]


@pytest.mark.usefixtures("empty_graph")
def test_stix_bundle_field_answers_the_cli_export(api: TestClient, tmp_path: Path) -> None:
    run_import([marked_bundle(tmp_path / "marked.json")])
    body = gql(api, '{ stixBundle(ref: "marked actor", hops: 1) }')
    bundle = body["data"]["stixBundle"]
    assert "errors" not in body
    assert is_valid(bundle)
    assert _comparable(bundle) == _comparable(export("Marked Actor", hops=1))
    assert refs_by_name(bundle) == EXPORTED_REFS


@pytest.mark.usefixtures("seeded_graph")
def test_stix_bundle_hops_zero_is_the_entity_alone(api: TestClient) -> None:
    body = gql(api, '{ stixBundle(ref: "APT31", hops: 0) }')
    assert [obj["x_threatgraph_id"] for obj in body["data"]["stixBundle"]["objects"]] == [
        "actor:apt31"
    ]


@pytest.mark.usefixtures("seeded_graph")
def test_stix_bundle_as_of_a_day_before_the_statement_holds_no_claim(api: TestClient) -> None:
    today = gql(api, '{ stixBundle(ref: "APT31") }')["data"]["stixBundle"]
    before = gql(api, '{ stixBundle(ref: "APT31", asOf: "2024-03-24") }')["data"]["stixBundle"]
    assert len([o for o in today["objects"] if o["type"] == "relationship"]) > 0
    assert [o for o in before["objects"] if o["type"] == "relationship"] == []


@pytest.mark.usefixtures("seeded_graph")
@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        pytest.param(
            '{ stixBundle(ref: "APT31", hops: 4) }',
            "BAD_USER_INPUT",
            "hops: must be between 0 and 3, not 4",
            id="hops",
        ),
        pytest.param(
            '{ stixBundle(ref: " ") }',
            "BAD_USER_INPUT",
            "ref: must not be empty",
            id="empty-ref",
        ),
        pytest.param(
            '{ stixBundle(ref: "no such thing") }',
            "BAD_USER_INPUT/NOT_FOUND",
            "no entity matches 'no such thing' (by id, name or alias)",
            id="unknown-ref",
        ),
    ],
)
def test_stix_bundle_refuses_bad_arguments(
    api: TestClient, query: str, code: str, message: str
) -> None:
    body = gql(api, query)
    assert (error_codes(body), body["errors"][0]["message"], body["data"]) == (
        [code],
        message,
        None,
    )


@pytest.mark.usefixtures("seeded_graph")
def test_compiled_executor_hands_stix_bundle_to_the_resolvers_with_debug_cypher(
    driver: neo4j.Driver,
) -> None:
    with make_client(THREATGRAPH_DEBUG="1") as client:
        body = gql(client, '{ stixBundle(ref: "APT31", hops: 0) }')
    shown = body["extensions"]["threatgraph"]
    assert (shown["executor"], shown["parameters"][:2]) == (
        "resolvers",
        [{"ref": "APT31", "key": "apt31"}, {"id": "actor:apt31", "hops": 0, "as_of": None}],
    )
    records, _, _ = driver.execute_query(
        shown["cypher"][1], shown["parameters"][1], database_="neo4j"
    )
    assert [record["ids"] for record in records] == [["actor:apt31"]]
