"""Victims by sector and country: Victim.sectors and .country, and incidents(targetSector:)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from graph.store.database import Graph
from graph.writes.importing import import_batches
from seed.importers.stix import stix_batches
from tests import stix_factory as stix
from tests.api_client import ask_both, gql

RECON = "incident:2021-uk-parliamentarians-email-reconnaissance"
EC = "incident:2021-2022-uk-electoral-commission-compromise"
UK = {"id": "country:uk", "name": "United Kingdom"}
DEMOCRATIC = {"id": "sector:democratic-institutions", "name": "Democratic institutions"}

VICTIM = """query ($ref: String!) { entity(ref: $ref) {
  ... on Victim { sectors { id name } country { id name } } } }"""

INCIDENTS = """query ($sector: String, $ref: String, $role: LinkRole! = ANY, $since: Date,
  $until: Date, $asOf: Date) {
  incidents(targetSector: $sector, linkedTo: $ref, role: $role, since: $since, until: $until,
    asOf: $asOf) { totalCount nodes { id linkPath { role steps { relation to { id } } } } } }"""


def victim(api: TestClient, resolvers: TestClient, ref: str) -> Any:
    return ask_both(api, resolvers, VICTIM, ref=ref)["entity"]


def incident_ids(api: TestClient, resolvers: TestClient, **variables: Any) -> list[str]:
    found = ask_both(api, resolvers, INCIDENTS, **variables)["incidents"]
    assert found["totalCount"] == len(found["nodes"])
    return [node["id"] for node in found["nodes"]]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("Electoral Commission", {"sectors": [DEMOCRATIC], "country": UK}, id="ec"),
        pytest.param("UK Parliament", {"sectors": [DEMOCRATIC], "country": UK}, id="parliament"),
        # Members of Parliament, not an institution themselves: their country is
        # Parliament's, two claims away.
        pytest.param("UK parliamentarians", {"sectors": [], "country": UK}, id="members"),
        # Part of GCHQ, which the statement places in no country.
        pytest.param("NCSC", {"sectors": [], "country": None}, id="ncsc"),
    ],
)
def test_victims_carry_their_sectors_and_country(
    api: TestClient, resolvers: TestClient, seeded_graph: None, ref: str, expected: Any
) -> None:
    assert victim(api, resolvers, ref) == expected


def test_a_sector_membership_is_a_claim_with_its_quote(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    query = """{ entity(ref: "Electoral Commission") { relations(types: ["IN_SECTOR"]) {
      nodes { to { id } likelihood quote assessedBy { id } } } } }"""
    assert ask_both(api, resolvers, query)["entity"]["relations"]["nodes"] == [
        {
            "to": {"id": "sector:democratic-institutions"},
            "likelihood": "UNGRADED",
            "quote": "The UK government has called out China state-affiliated actors today "
            "(Monday) for carrying out malicious cyber activity targeting UK institutions and "
            "individuals important to our democracy.",
            "assessedBy": {"id": "agency:ncsc"},
        }
    ]


def test_states_and_incidents_are_no_victims(api: TestClient, seeded_graph: None) -> None:
    answer = gql(api, '{ entity(ref: "China") { ... on Victim { sectors { id } } } }')
    assert answer["data"] == {"entity": {}}


@pytest.mark.parametrize(
    "sector",
    ["Democratic institutions", "democratic   INSTITUTIONS", "sector:democratic-institutions"],
)
def test_both_incidents_targeted_democratic_institutions(
    api: TestClient, resolvers: TestClient, seeded_graph: None, sector: str
) -> None:
    # The Electoral Commission directly; the reconnaissance through the parliamentarians,
    # part of Parliament. Newest first, then by id.
    assert incident_ids(api, resolvers, sector=sector) == [EC, RECON]


def test_a_sector_no_incident_targeted_has_none(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    # Only an actor is said to target critical infrastructure, no incident.
    assert incident_ids(api, resolvers, sector="Critical infrastructure") == []
    assert incident_ids(api, resolvers, sector="No such sector") == []


def test_target_sector_works_with_linked_to_role_and_dates(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    sector = "Democratic institutions"
    assert incident_ids(api, resolvers, sector=sector, ref="APT31") == [RECON]
    assert incident_ids(api, resolvers, sector=sector, ref="China", role="ATTRIBUTED") == [
        RECON,
        EC,
    ]
    assert incident_ids(api, resolvers, sector=sector, ref="China", role="TARGETED") == []
    assert incident_ids(api, resolvers, sector=sector, since="2022") == [EC]
    assert incident_ids(api, resolvers, sector=sector, until="2020") == []
    # The same evidence as without the sector (the stored closure answers that one).
    with_sector = ask_both(api, resolvers, INCIDENTS, sector=sector, ref="United Kingdom")
    without = ask_both(api, resolvers, INCIDENTS, ref="United Kingdom")
    assert with_sector == without


def test_target_sector_honours_as_of(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    sector = "Democratic institutions"
    assert incident_ids(api, resolvers, sector=sector, asOf="2024-03-24") == []
    assert incident_ids(api, resolvers, sector=sector, asOf="2024-03-25") == [EC, RECON]


def test_an_empty_target_sector_is_refused(api: TestClient, resolvers: TestClient) -> None:
    for client in (api, resolvers):
        body = gql(client, INCIDENTS, sector=" ")
        assert [e["message"] for e in body["errors"]] == ["targetSector: must not be empty"]


def test_stix_identity_sectors_and_a_targeted_sector(
    api: TestClient, resolvers: TestClient, seeded_graph: None, tmp_path: Path
) -> None:
    ministry = {**stix.organisation("Ministry of Examples"), "sectors": ["government-national"]}
    sector = {
        **stix.organisation("Government national"),
        "identity_class": "class",
        "id": stix.stix_id("identity", "government sector"),
    }
    incident = {
        "type": "incident",
        "spec_version": "2.1",
        "id": stix.stix_id("incident", "sector sweep"),
        "created": stix.TIMESTAMP,
        "modified": stix.TIMESTAMP,
        "name": "Sweep of the government sector",
    }
    objects = [ministry, sector, incident, stix.targets(incident, sector)]
    bundle = {"type": "bundle", "id": stix.stix_id("bundle", "sectors"), "objects": objects}
    path = tmp_path / "sectors.json"
    path.write_text(json.dumps(bundle))

    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await import_batches(graph, stix_batches([path]))

    asyncio.run(run())
    # The identity's sector is the bundle's sector identity of that name.
    government = {"id": "sector:government-national", "name": "Government national"}
    assert victim(api, resolvers, "Ministry of Examples") == {
        "sectors": [government],
        "country": None,
    }
    # The incident targeted the sector itself.
    assert incident_ids(api, resolvers, sector="Government national") == [
        "incident:sweep-of-the-government-sector"
    ]
    # A term the bundle has no sector identity for becomes a Sector of its own.
    university = {**stix.organisation("Example University"), "sectors": ["education"]}
    path.write_text(json.dumps({**bundle, "objects": [university]}))
    asyncio.run(run())
    assert victim(api, resolvers, "Example University")["sectors"] == [
        {"id": "sector:education", "name": "Education"}
    ]
