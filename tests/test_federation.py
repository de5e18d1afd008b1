"""threatgraph as an Apollo Federation 2 subgraph, composed by Apollo's real composer.

The composer is @apollo/composition from npm, pinned in tests/federation/
(package-lock.json) and installed by `make install`; nothing is fetched here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from schema.sdl import SCHEMA_FILE
from schema.types import ENTITY_TYPES
from tests.api_client import gql

FEDERATION = Path(__file__).resolve().parent / "federation"
CASES_SDL = (FEDERATION / "cases.graphql").read_text()

ENTITIES = """
query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Entity { id name kind }
    ... on Incident { started }
  }
}"""


def served_sdl(api: TestClient) -> str:
    body = gql(api, "{ _service { sdl } }")
    assert "errors" not in body, body
    sdl: str = body["data"]["_service"]["sdl"]
    return sdl


def compose(subgraphs: dict[str, str], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    """Run tests/federation/compose.mjs over named SDLs: (exit status, its JSON answer)."""
    assert (FEDERATION / "node_modules" / "@apollo" / "composition").is_dir(), (
        "the composer is not installed: run `make install`"
    )
    listing = tmp_path / "subgraphs.json"
    listing.write_text(
        json.dumps(
            [
                {"name": name, "url": f"http://{name}.internal/graphql", "sdl": sdl}
                for name, sdl in subgraphs.items()
            ]
        )
    )
    finished = subprocess.run(
        ["node", str(FEDERATION / "compose.mjs"), str(listing)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.stdout, finished.stderr
    answer: dict[str, Any] = json.loads(finished.stdout)
    return finished.returncode, answer


def type_block(sdl: str, name: str) -> str:
    """The text of `type <name> ...` up to its closing brace."""
    start = sdl.index(f"\ntype {name} ")
    return sdl[start : sdl.index("\n}", start)]


def test_service_sdl_is_the_committed_schema_file(api: TestClient) -> None:
    assert served_sdl(api) + "\n" == SCHEMA_FILE.read_text()


def test_every_entity_type_is_keyed_by_id(api: TestClient) -> None:
    sdl = served_sdl(api)
    assert sdl.startswith(
        'schema @link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"])'
    )
    keyed = sorted(line.split()[1] for line in sdl.splitlines() if '@key(fields: "id"' in line)
    assert keyed == sorted(ENTITY_TYPES)


def test_entities_resolve_a_mixed_batch_in_one_round_trip(
    api: TestClient, seeded_graph: None
) -> None:
    representations = [
        {"__typename": "ThreatActor", "id": "actor:apt31"},
        {"__typename": "Incident", "id": "incident:2021-uk-parliamentarians-email-reconnaissance"},
        {"__typename": "Agency", "id": "agency:mss"},
        {"__typename": "ThreatActor", "id": "actor:no-such-actor"},
        # An id of another type is not this type's entity: null, not a wrong object.
        {"__typename": "Incident", "id": "actor:apt31"},
    ]
    body = gql(api, ENTITIES, representations=representations)
    assert "errors" not in body, body
    assert body["data"]["_entities"] == [
        {"__typename": "ThreatActor", "id": "actor:apt31", "name": "APT31", "kind": "ThreatActor"},
        {
            "__typename": "Incident",
            "id": "incident:2021-uk-parliamentarians-email-reconnaissance",
            "name": "Reconnaissance against UK parliamentarians' email accounts (2021)",
            "kind": "Incident",
            "started": "2021",
        },
        {
            "__typename": "Agency",
            "id": "agency:mss",
            "name": "Ministry of State Security",
            "kind": "Agency",
        },
        None,
        None,
    ]
    assert body["_round_trips"] == 1


def test_entities_with_nested_claims_add_one_round_trip_per_level(
    api: TestClient, seeded_graph: None
) -> None:
    query = """query ($representations: [_Any!]!) { _entities(representations: $representations) {
      ... on Entity { id relations(first: 1) { totalCount } } } }"""
    representations = [
        {"__typename": "ThreatActor", "id": "actor:apt31"},
        {"__typename": "Agency", "id": "agency:mss"},
    ]
    body = gql(api, query, representations=representations)
    assert [entity["id"] for entity in body["data"]["_entities"]] == ["actor:apt31", "agency:mss"]
    assert all(entity["relations"]["totalCount"] > 0 for entity in body["data"]["_entities"])
    assert body["_round_trips"] == 2


@pytest.mark.parametrize(
    ("representation", "message"),
    [
        pytest.param(
            {"__typename": "Nope", "id": "actor:apt31"},
            "representations[0].__typename: 'Nope' is not an entity type",
            id="unknown-type",
        ),
        pytest.param(
            {"__typename": "EvidenceStep", "id": "x"},
            "representations[0].__typename: 'EvidenceStep' is not an entity type",
            id="not-an-entity",
        ),
        pytest.param(
            {"__typename": "ThreatActor"},
            "representations[0].id: must be a string",
            id="no-id",
        ),
    ],
)
def test_malformed_representations_are_refused_by_name(
    api: TestClient, representation: dict[str, Any], message: str
) -> None:
    body = gql(api, ENTITIES, representations=[representation])
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        (message, "BAD_USER_INPUT")
    ]
    assert body["_round_trips"] == 0


def test_composes_with_a_subgraph_extending_threat_actor_and_incident(
    api: TestClient, tmp_path: Path
) -> None:
    status, answer = compose({"threatgraph": served_sdl(api), "cases": CASES_SDL}, tmp_path)
    assert (status, answer["errors"]) == (0, [])
    supergraph = answer["supergraphSdl"]
    assert 'join__Graph {\n  CASES @join__graph(name: "cases"' in supergraph
    assert 'THREATGRAPH @join__graph(name: "threatgraph"' in supergraph
    actor = type_block(supergraph, "ThreatActor")
    assert '@join__type(graph: CASES, key: "id")' in actor
    assert '@join__type(graph: THREATGRAPH, key: "id", resolvable: true)' in actor
    assert "openCases: [Case!]! @join__field(graph: CASES)" in actor
    assert "name: String! @join__field(graph: THREATGRAPH)" in actor
    incident = type_block(supergraph, "Incident")
    assert '@join__type(graph: CASES, key: "id")' in incident
    assert "case: Case @join__field(graph: CASES)" in incident
    assert "linkPath: EvidencePath @join__field(graph: THREATGRAPH)" in incident


def test_composer_refuses_a_subgraph_that_contradicts_ours(api: TestClient, tmp_path: Path) -> None:
    # Proves the composition test can fail: a shared field with another type is an error.
    clashing = CASES_SDL.replace("  openCases: [Case!]!", "  openCases: [Case!]!\n  name: Int!")
    status, answer = compose({"threatgraph": served_sdl(api), "cases": clashing}, tmp_path)
    assert status == 1
    assert answer["supergraphSdl"] is None
    assert any('"ThreatActor.name"' in error for error in answer["errors"]), answer["errors"]
