"""What the imports know, in GraphQL: APT31's (ATT&CK G0128) techniques, software and
identities across sources, after the real offline MISP galaxy and ATT&CK imports.

Every question goes through both executors (ask_both): the compiled one answers
them in one round-trip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import neo4j
import pytest
import typer
from starlette.testclient import TestClient
from typer.testing import CliRunner

from api.cli_import import import_app
from graph.model.identifiers import external_id
from schema.pagination import encode_cursor
from tests.api_client import ask_both, gql
from tests.conftest import cypher
from tests.stix_factory import actor, bundle, write_bundle


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(import_app, name="import")
    return app


ATTACK = "source:mitre-attack-enterprise"
MISP = "source:misp-galaxy-threat-actor"

APT31 = """
query ($first: Int, $after: String, $asOf: Date) {
  entity(ref: "G0128") {
    id
    externalIds { source id url }
    namesBySource { source { id } name aliases ref url }
    possibleDuplicates { id }
    ... on ThreatActor {
      motivation
      sophistication
      techniques(first: $first, after: $after, asOf: $asOf) {
        totalCount
        nodes { externalId name tactics technique { id } }
      }
      software { totalCount }
    }
  }
}
"""


@pytest.mark.usefixtures("seeded_graph")
def test_the_seed_alone_has_no_techniques_software_or_other_identities(
    api: TestClient, resolvers: TestClient
) -> None:
    data = ask_both(api, resolvers, APT31.replace("G0128", "APT31"))
    assert data == {
        "entity": {
            "id": "actor:apt31",
            "externalIds": [],
            "namesBySource": [],
            "possibleDuplicates": [],
            "motivation": None,
            "sophistication": None,
            "techniques": {"totalCount": 0, "nodes": []},
            "software": {"totalCount": 0},
        }
    }


APT31_TECHNIQUES = [
    ("T1012", "Query Registry", ["discovery"]),
    ("T1016", "System Network Configuration Discovery", ["discovery"]),
    ("T1027.002", "Software Packing", ["defense-evasion"]),
    ("T1033", "System Owner/User Discovery", ["discovery"]),
    ("T1036", "Masquerading", ["defense-evasion"]),
    ("T1036.004", "Masquerade Task or Service", ["defense-evasion"]),
    ("T1041", "Exfiltration Over C2 Channel", ["exfiltration"]),
    ("T1059.003", "Windows Command Shell", ["execution"]),
    ("T1059.006", "Python", ["execution"]),
    ("T1068", "Exploitation for Privilege Escalation", ["privilege-escalation"]),
    ("T1082", "System Information Discovery", ["discovery"]),
    ("T1090.003", "Multi-hop Proxy", ["command-and-control"]),
    ("T1102.002", "Bidirectional Communication", ["command-and-control"]),
    ("T1105", "Ingress Tool Transfer", ["command-and-control"]),
    ("T1124", "System Time Discovery", ["discovery"]),
    ("T1140", "Deobfuscate/Decode Files or Information", ["defense-evasion"]),
    ("T1204.001", "Malicious Link", ["execution"]),
    ("T1218.007", "Msiexec", ["defense-evasion"]),
    ("T1547.001", "Registry Run Keys / Startup Folder", ["persistence", "privilege-escalation"]),
    ("T1555.003", "Credentials from Web Browsers", ["credential-access"]),
    ("T1566.002", "Spearphishing Link", ["initial-access"]),
    ("T1567.002", "Exfiltration to Cloud Storage", ["exfiltration"]),
    ("T1573.001", "Symmetric Cryptography", ["command-and-control"]),
    ("T1583.001", "Domains", ["resource-development"]),
    ("T1583.006", "Web Services", ["resource-development"]),
    ("T1584.008", "Network Devices", ["resource-development"]),
    ("T1598", "Phishing for Information", ["reconnaissance"]),
    ("T1598.003", "Spearphishing Link", ["reconnaissance"]),
    ("T1665", "Hide Infrastructure", ["command-and-control"]),
]


@pytest.mark.usefixtures("imported_graph")
def test_apt31_techniques_come_with_attack_ids_and_tactics_by_id(
    api: TestClient, resolvers: TestClient
) -> None:
    techniques = ask_both(api, resolvers, APT31)["entity"]["techniques"]
    assert techniques["totalCount"] == 29
    shown = [(t["externalId"], t["name"], t["tactics"]) for t in techniques["nodes"]]
    assert shown == APT31_TECHNIQUES
    assert techniques["nodes"][20]["technique"] == {"id": "attack-pattern:spearphishing-link"}


@pytest.mark.usefixtures("imported_graph")
def test_a_technique_carries_the_attack_claim_that_says_so(
    api: TestClient, resolvers: TestClient
) -> None:
    query = """query ($after: String) { entity(ref: "APT31") { ... on ThreatActor {
      techniques(first: 1, after: $after) {
        nodes { externalId claims { id relation likelihood quote reportedOn sources { id } } }
        pageInfo { hasNextPage hasPreviousPage } } } } }"""
    data = ask_both(api, resolvers, query, after=encode_cursor(19))
    assert data["entity"]["techniques"] == {
        "nodes": [
            {
                "externalId": "T1566.002",
                "claims": [
                    {
                        "id": f"actor:apt31-USES->attack-pattern:spearphishing-link@{ATTACK}",
                        "relation": "USES",
                        "likelihood": "UNGRADED",
                        "quote": "[ZIRCONIUM](https://attack.mitre.org/groups/G0128) has used "
                        "malicious links in e-mails to deliver malware.(Citation: Microsoft "
                        "Targeting Elections September 2020)(Citation: Google Election Threats "
                        "Oct...",
                        # The day the lookup data was extracted from ATT&CK v18.1.
                        "reportedOn": "2026-02-16",
                        "sources": [{"id": ATTACK}],
                    }
                ],
            }
        ],
        "pageInfo": {"hasNextPage": True, "hasPreviousPage": True},
    }


@pytest.mark.usefixtures("imported_graph")
def test_apt31_external_ids_and_names_by_source(api: TestClient, resolvers: TestClient) -> None:
    entity = ask_both(api, resolvers, APT31, first=0)["entity"]
    assert entity["externalIds"] == [
        {"source": "misp", "id": "6bf7e6b6-5917-45a6-9567-f0baba79768c", "url": None},
        {
            "source": "stix",
            "id": "intrusion-set--4283ae19-69c7-4347-a35e-b56f08eb660b",
            "url": None,
        },
        {"source": "mitre-attack", "id": "G0128", "url": "https://attack.mitre.org/groups/G0128"},
    ]
    assert entity["namesBySource"] == [
        {
            "source": {"id": MISP},
            "name": "APT31",
            "aliases": [
                "ZIRCONIUM",
                "JUDGMENT PANDA",
                "BRONZE VINEWOOD",
                "Red keres",
                "Violet Typhoon",
                "TA412",
                "Zirconium",
            ],
            "ref": "6bf7e6b6-5917-45a6-9567-f0baba79768c",
            "url": None,
        },
        {
            "source": {"id": ATTACK},
            "name": "ZIRCONIUM",
            "aliases": ["ZIRCONIUM", "APT31", "Violet Typhoon"],
            "ref": "intrusion-set--4283ae19-69c7-4347-a35e-b56f08eb660b",
            "url": "https://attack.mitre.org/groups/G0128",
        },
    ]
    assert entity["possibleDuplicates"] == []
    assert (entity["motivation"], entity["software"]) == (None, {"totalCount": 0})


@pytest.mark.usefixtures("imported_graph")
def test_before_the_attack_data_was_extracted_its_claims_were_not_known(
    api: TestClient, resolvers: TestClient
) -> None:
    # ATT&CK's claims date from the lookup data's extraction (2026-02-16), while a
    # source's name for an entity stands with the source (these have no date).
    before = ask_both(api, resolvers, APT31, asOf="2026-02-15")["entity"]
    assert before["techniques"] == {"totalCount": 0, "nodes": []}
    assert [n["name"] for n in before["namesBySource"]] == ["APT31", "ZIRCONIUM"]
    on_the_day = ask_both(api, resolvers, APT31, asOf="2026-02-16")["entity"]
    assert on_the_day["techniques"]["totalCount"] == len(APT31_TECHNIQUES)


@pytest.mark.usefixtures("imported_graph")
def test_possible_duplicates_are_the_ambiguities_the_import_recorded(
    api: TestClient, resolvers: TestClient
) -> None:
    query = '{ entity(ref: "actor:apt29") { possibleDuplicates { id name kind } } }'
    assert ask_both(api, resolvers, query)["entity"]["possibleDuplicates"] == [
        {"id": "actor:apt28", "name": "APT28", "kind": "ThreatActor"},
        {"id": "actor:unc2452", "name": "UNC2452", "kind": "ThreatActor"},
    ]


@pytest.mark.usefixtures("imported_graph")
def test_software_an_actor_uses_and_the_techniques_it_uses(
    api: TestClient, resolvers: TestClient
) -> None:
    # The page after the second: "b2Zmc2V0OjE=" is the cursor of offset 1.
    query = """{ entity(ref: "actor:apt29") { ... on ThreatActor { motivation
      software(first: 2, after: "b2Zmc2V0OjE=") { totalCount
        nodes { externalId name softwareType software { id } claims { quote } } } } } }"""
    assert ask_both(api, resolvers, query)["entity"] == {
        "motivation": None,
        "software": {
            "totalCount": 49,
            "nodes": [
                {
                    "externalId": "S0037",
                    "name": "HAMMERTOSS",
                    "softwareType": "malware",
                    "software": {"id": "software:hammertoss"},
                    "claims": [
                        {
                            "quote": "(Citation: F-Secure The Dukes)(Citation: Secureworks "
                            "IRON HEMLOCK Profile)"
                        }
                    ],
                },
                {
                    "externalId": "S0039",
                    "name": "Net",
                    "softwareType": "tool",
                    "software": {"id": "software:net"},
                    "claims": [{"quote": "(Citation: CISA SoreFang July 2016)"}],
                },
            ],
        },
    }
    hammertoss = """{ entity(ref: "software:hammertoss") { ... on Software {
      techniques(first: 1) { totalCount nodes { externalId name tactics } } } } }"""
    assert ask_both(api, resolvers, hammertoss)["entity"]["techniques"] == {
        "totalCount": 7,
        "nodes": [
            {"externalId": "T1001.002", "name": "Steganography", "tactics": ["command-and-control"]}
        ],
    }


@pytest.mark.usefixtures("imported_graph")
def test_misp_motive_is_the_actors_motivation(api: TestClient, resolvers: TestClient) -> None:
    query = '{ entity(ref: "actor:apt14") { ... on ThreatActor { motivation sophistication } } }'
    assert ask_both(api, resolvers, query) == {
        "entity": {"motivation": "Espionage", "sophistication": None}
    }


@pytest.mark.usefixtures("imported_graph")
def test_identity_fields_compile_to_one_round_trip(api: TestClient) -> None:
    body = gql(api, APT31, first=3)
    assert "errors" not in body and body["_round_trips"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("G0128", ["mitre-attack", "G0128", "https://attack.mitre.org/groups/G0128"]),
        (
            "T1566.002",
            ["mitre-attack", "T1566.002", "https://attack.mitre.org/techniques/T1566/002"],
        ),
        ("TA0001", ["mitre-attack", "TA0001", "https://attack.mitre.org/tactics/TA0001"]),
        (
            "CVE-2021-26855",
            ["cve", "CVE-2021-26855", "https://www.cve.org/CVERecord?id=CVE-2021-26855"],
        ),
        ("CWE-79", ["cwe", "CWE-79", "https://cwe.mitre.org/data/definitions/79.html"]),
        ("iso:CN", ["iso", "CN", None]),
        ("misp:6bf7e6b6", ["misp", "6bf7e6b6", None]),
        ("tool--2c5281dd", ["stix", "tool--2c5281dd", None]),
        ("https://example.org/a", ["url", "https://example.org/a", "https://example.org/a"]),
        ("G0128x", ["other", "G0128x", None]),
    ],
)
def test_an_external_id_says_whose_it_is_by_its_form(
    driver: neo4j.Driver, text: str, expected: list[Any]
) -> None:
    rows = cypher(driver, f"WITH $x AS x RETURN {external_id('x')} AS id", x=text)
    assert [rows[0]["id"][key] for key in ("source", "id", "url")] == expected


@pytest.mark.usefixtures("empty_graph")
def test_stix_motivation_sophistication_and_ids_are_shown(
    api: TestClient, resolvers: TestClient, tmp_path: Path
) -> None:
    group = actor(
        "Example Group",
        primary_motivation="organizational-gain",
        sophistication="expert",
        external_references=[{"source_name": "mitre-attack", "external_id": "G9999"}],
    )
    path = write_bundle(tmp_path / "group.json", bundle("identities", [group]))
    result = CliRunner().invoke(cli(), ["import", "stix", "-q", str(path)])
    assert result.exit_code == 0, result.output
    query = """{ entity(ref: "Example Group") { externalIds { source id }
      ... on ThreatActor { motivation sophistication } } }"""
    assert ask_both(api, resolvers, query)["entity"] == {
        "externalIds": [
            {"source": "stix", "id": group["id"]},
            {"source": "mitre-attack", "id": "G9999"},
        ],
        "motivation": "organizational-gain",
        "sophistication": "expert",
    }
