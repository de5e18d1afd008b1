"""Adversarial STIX bundles and MISP clusters: refused whole, clearly, without exhausting memory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import neo4j
import pytest

from graph.errors import ValidationError
from graph.model.documents import document_from_text
from graph.model.field_checks import MAX_NAME_CHARS, MAX_STRING_CHARS
from graph.store.database import Graph
from graph.writes.importing import import_batches
from seed.importers.misp import galaxy_batches
from seed.importers.stix import MAX_BUNDLE_BYTES, MAX_JSON_DEPTH, stix_batches
from tests.conftest import cypher
from tests.graph_state import canonical_dump
from tests.stix_factory import actor, bundle, write_bundle


def import_problems(path: Path) -> list[str]:
    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await import_batches(graph, stix_batches([path]))

    with pytest.raises(ValidationError) as raised:
        asyncio.run(run())
    return raised.value.problems


def test_deeply_nested_bundle_is_refused_as_it_streams(
    tmp_path: Path, driver: neo4j.Driver, seeded_graph: None
) -> None:
    path = tmp_path / "deep.json"
    # 1 000 000 levels: a recursive reader would overflow long before.
    path.write_bytes(
        b'{"type": "bundle", "id": "bundle--x", "objects": [{"x_deep": '
        + b"[" * 1_000_000
        + b"]" * 1_000_000
        + b"}]}"
    )
    before = canonical_dump(driver)
    assert import_problems(path) == [
        f"objects.item.x_deep{'.item' * (MAX_JSON_DEPTH - 3)}: nested deeper than "
        f"{MAX_JSON_DEPTH} levels"
    ]
    assert canonical_dump(driver) == before


def test_oversized_bundle_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_BUNDLE_BYTES + 1)  # sparse: no disk or memory spent
    assert import_problems(path) == [
        f"bundle is {MAX_BUNDLE_BYTES + 1} bytes, over the limit of {MAX_BUNDLE_BYTES} bytes "
        "(200 MB); split it into several bundles"
    ]


def test_enormous_names_and_descriptions_are_refused_whole(
    tmp_path: Path, driver: neo4j.Driver, seeded_graph: None
) -> None:
    objects = [
        actor("N" * (MAX_NAME_CHARS + 1)),
        actor("Fine", aliases=["A" * (MAX_NAME_CHARS + 1)]),
        actor("Also fine", description="D" * (MAX_STRING_CHARS + 1)),
    ]
    path = write_bundle(tmp_path / "long.json", bundle("long", objects))
    before = canonical_dump(driver)
    assert import_problems(path) == [
        f"{objects[0]['id']}: name is {MAX_NAME_CHARS + 1} characters long, over the limit "
        f"of {MAX_NAME_CHARS}",
        f"{objects[1]['id']}: alias is {MAX_NAME_CHARS + 1} characters long, over the limit "
        f"of {MAX_NAME_CHARS}",
        f"{objects[2]['id']}: description is {MAX_STRING_CHARS + 1} characters long, over "
        f"the limit of {MAX_STRING_CHARS}",
    ]
    assert canonical_dump(driver) == before


def test_misp_cluster_with_an_enormous_name_is_refused(
    tmp_path: Path, driver: neo4j.Driver, seeded_graph: None
) -> None:
    (tmp_path / "threat-actor.json").write_text(
        '{"name": "Threat Actor", "uuid": "u", "values": [{"value": "'
        + "V" * (MAX_NAME_CHARS + 1)
        + '", "uuid": "7cdff317-a673-4474-84ec-4f1754947823"}]}'
    )
    for name in ("country", "sector"):
        (tmp_path / f"{name}.json").write_text('{"name": "x", "uuid": "u", "values": []}')

    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await import_batches(graph, galaxy_batches(tmp_path, ["threat-actor"]))

    with pytest.raises(ValidationError) as raised:
        asyncio.run(run())
    assert any(
        f"name is {MAX_NAME_CHARS + 1} characters long" in p for p in raised.value.problems
    ), raised.value.problems
    # The country and sector clusters are batches of their own; the actor batch wrote nothing.
    written = cypher(
        driver,
        "MATCH (e:Entity) WHERE size(e.name) > $limit OR e.id = 'source:misp-galaxy-threat-actor' "
        "RETURN count(e) AS n",
        limit=MAX_NAME_CHARS,
    )
    assert written == [{"n": 0}]


def test_misp_cluster_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    (tmp_path / "threat-actor.json").write_text('{"values": ' + "[" * 5000 + "]" * 5000 + "}")
    for name in ("country", "sector"):
        (tmp_path / f"{name}.json").write_text('{"name": "x", "uuid": "u", "values": []}')
    with pytest.raises(ValidationError) as raised:
        galaxy_batches(tmp_path, ["threat-actor"])
    assert raised.value.problems[0].startswith("invalid JSON:"), raised.value.problems


def test_seed_text_with_a_lone_surrogate_is_refused() -> None:
    text = (
        'format: threatgraph-seed/1\nentities:\n  - {id: "org:x", label: Organisation, '
        'name: "Emoji \\ud83d"}\n'
    )
    with pytest.raises(ValidationError) as raised:
        document_from_text(text, "surrogate.yaml")
    assert raised.value.problems == [
        "line 3: entities[0].name: contains the lone surrogate \\ud83d; write the character itself"
    ]


def test_seed_text_with_control_characters_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        document_from_text("format: threatgraph-seed/1\nname: \x0f\n", "control.yaml")
    assert raised.value.problems == ["line 2: character #x000f is not allowed in YAML"]
