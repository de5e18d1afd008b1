"""Activity linked to an entity: incidents and campaigns answered by one question
(`activity`), with the evidence paths, roles and asOf of `incidents(linkedTo:)`.

On the shipped seed plus the offline MISP galaxy and ATT&CK imports, the ATT&CK
campaigns attributed to groups the MISP galaxy affiliates with China are activity
linked to China, each with the chain that links it.
"""

from __future__ import annotations

import neo4j
import pytest
from starlette.testclient import TestClient

from schema.pagination import encode_cursor
from tests.api_client import ask_both, gql
from tests.conftest import cypher

LINKED = """
query ($ref: String!, $kinds: [ActivityKind!]!, $role: LinkRole! = ANY, $asOf: Date) {
  activity(linkedTo: $ref, kinds: $kinds, role: $role, asOf: $asOf, first: 50) {
    totalCount
    nodes {
      id
      kind
      ... on Campaign { firstSeen }
      ... on Incident { started }
      linkPath {
        likelihood
        ungradedSteps
        role
        steps { relation likelihood from { id } to { id } sources { id } }
      }
    }
  }
}
"""

EVERY_KIND = ["INCIDENT", "CAMPAIGN"]

# Every activity linked to China after both imports, in answer order: strongest link
# first (the seed's "almost certainly", then its ungraded attribution through "a China
# state-affiliated actor"), then newest. Each campaign is ATT&CK's ungraded attribution
# to a group, then the MISP galaxy's "suspected state sponsor" (realistic possibility).
RECONNAISSANCE = "incident:2021-uk-parliamentarians-email-reconnaissance"
ELECTORAL_COMMISSION = "incident:2021-2022-uk-electoral-commission-compromise"
LINKED_TO_CHINA = [
    (
        RECONNAISSANCE,
        "Incident",
        "ALMOST_CERTAIN",
        1,
        "ATTRIBUTED",
        [
            ("ATTRIBUTED_TO", RECONNAISSANCE, "actor:apt31"),
            ("AFFILIATED_WITH", "actor:apt31", "country:china"),
        ],
    ),
    *(
        (
            campaign,
            "Campaign",
            "REALISTIC_POSSIBILITY",
            1,
            "ATTRIBUTED",
            [
                ("ATTRIBUTED_TO", campaign, group),
                ("AFFILIATED_WITH", group, "country:china"),
            ],
        )
        for campaign, group in [
            ("campaign:reddelta-modified-plugx-infection-chain-operations", "actor:mustang-panda"),
            ("campaign:apt41-dust", "actor:apt41"),
            ("campaign:leviathan-australian-intrusions", "actor:apt40"),
            ("campaign:c0017", "actor:apt41"),
        ]
    ),
    (
        ELECTORAL_COMMISSION,
        "Incident",
        "UNGRADED",
        2,
        "ATTRIBUTED",
        [
            (
                "ATTRIBUTED_TO",
                ELECTORAL_COMMISSION,
                "actor:china-state-affiliated-actor-electoral-commission",
            ),
            (
                "AFFILIATED_WITH",
                "actor:china-state-affiliated-actor-electoral-commission",
                "country:china",
            ),
        ],
    ),
]


def summary(node: dict[str, object]) -> tuple[object, ...]:
    path = node["linkPath"]
    assert isinstance(path, dict)
    return (
        node["id"],
        node["kind"],
        path["likelihood"],
        path["ungradedSteps"],
        path["role"],
        [(s["relation"], s["from"]["id"], s["to"]["id"]) for s in path["steps"]],
    )


@pytest.mark.usefixtures("imported_graph")
def test_activity_linked_to_china_includes_the_campaigns_of_china_affiliated_groups(
    api: TestClient, resolvers: TestClient, driver: neo4j.Driver
) -> None:
    found = ask_both(api, resolvers, LINKED, ref="China", kinds=EVERY_KIND)["activity"]
    assert found["totalCount"] == 6
    assert [summary(node) for node in found["nodes"]] == LINKED_TO_CHINA
    # The campaigns are those a plain variable-length match finds: attributed to an
    # actor whose affiliations or parts lead to China.
    campaigns = cypher(
        driver,
        "MATCH (c:Campaign)-[:ATTRIBUTED_TO]->()-[:AFFILIATED_WITH|PART_OF*0..5]->"
        "(:Country {id: 'country:china'}) RETURN DISTINCT c.id AS id ORDER BY id",
    )
    assert sorted(n["id"] for n in found["nodes"] if n["kind"] == "Campaign") == [
        row["id"] for row in campaigns
    ]
    every_source = {
        s["id"] for n in found["nodes"] for step in n["linkPath"]["steps"] for s in step["sources"]
    }
    assert every_source == {
        "source:ncsc-2024-03-25",
        "source:mitre-attack-enterprise",
        "source:misp-galaxy-threat-actor",
    }


@pytest.mark.usefixtures("imported_graph")
def test_one_kind_is_that_kind_alone_and_incidents_are_the_incidents_view(
    api: TestClient, resolvers: TestClient
) -> None:
    campaigns = ask_both(api, resolvers, LINKED, ref="China", kinds=["CAMPAIGN"])["activity"]
    assert [summary(n) for n in campaigns["nodes"]] == LINKED_TO_CHINA[1:5]
    assert campaigns["totalCount"] == 4
    incidents = ask_both(api, resolvers, LINKED, ref="China", kinds=["INCIDENT"])["activity"]
    view = ask_both(
        api,
        resolvers,
        LINKED.replace("activity(linkedTo: $ref, kinds: $kinds,", "incidents(linkedTo: $ref,")
        .replace("$kinds: [ActivityKind!]!, ", "")
        .replace("... on Campaign { firstSeen }", ""),
        ref="China",
    )["incidents"]
    assert [summary(n) for n in incidents["nodes"]] == [LINKED_TO_CHINA[0], LINKED_TO_CHINA[5]]
    for node in incidents["nodes"]:
        node.pop("firstSeen", None)
    assert view == incidents


@pytest.mark.usefixtures("imported_graph")
def test_roles_and_as_of_apply_to_campaigns_too(api: TestClient, resolvers: TestClient) -> None:
    hit = ask_both(api, resolvers, LINKED, ref="China", kinds=EVERY_KIND, role="TARGETED")
    assert hit["activity"] == {"totalCount": 0, "nodes": []}
    # Before the imports' claims were known (ATT&CK's from its data's extraction,
    # 2026-02-16; the galaxy's, which carries no date, from the import day), only the
    # NCSC statement's incidents were.
    before = ask_both(api, resolvers, LINKED, ref="China", kinds=EVERY_KIND, asOf="2025-01-01")
    assert [n["id"] for n in before["activity"]["nodes"]] == [RECONNAISSANCE, ELECTORAL_COMMISSION]


CAMPAIGN_EVIDENCE = """
query ($after: String) {
  activity(linkedTo: "China", kinds: [CAMPAIGN], first: 1, after: $after) {
    nodes {
      id
      linkPaths(first: 3) { likelihood steps { relation to { id } } }
      attributions { relation to { id } likelihood quote }
      disputed
    }
  }
}
"""


@pytest.mark.usefixtures("imported_graph")
def test_a_campaign_shows_its_other_chains_attributions_and_dispute(
    api: TestClient, resolvers: TestClient
) -> None:
    (dust,) = ask_both(api, resolvers, CAMPAIGN_EVIDENCE, after=encode_cursor(0))["activity"][
        "nodes"
    ]
    assert dust["id"] == "campaign:apt41-dust"
    assert dust["attributions"] == [
        {
            "relation": "ATTRIBUTED_TO",
            "to": {"id": "actor:apt41"},
            "likelihood": "UNGRADED",
            "quote": "[APT41 DUST](https://attack.mitre.org/campaigns/C0040) was conducted by "
            "[APT41](https://attack.mitre.org/groups/G0096) from 2023 to July 2024.(Citation: "
            "Google Cloud APT41 2024)",
        }
    ]
    assert dust["disputed"] is False
    # ATT&CK names one group, and the galaxy gives APT41 one affiliation: one chain.
    assert dust["linkPaths"] == []
    # The reconnaissance has more, and activity shows the same as incidents.
    chains = (
        '{ %s(linkedTo: "China"%s, first: 1) '
        "{ nodes { linkPaths(first: 5) { likelihood steps { id } } } } }"
    )
    through_activity = ask_both(api, resolvers, chains % ("activity", ", kinds: [INCIDENT]"))
    through_incidents = ask_both(api, resolvers, chains % ("incidents", ""))
    paths = through_activity["activity"]["nodes"][0]["linkPaths"]
    assert paths == through_incidents["incidents"]["nodes"][0]["linkPaths"]
    assert [[step["id"] for step in path["steps"]] for path in paths] == [
        [
            f"{RECONNAISSANCE}-ATTRIBUTED_TO->actor:apt31@source:ncsc-2024-03-25",
            "actor:apt31-AFFILIATED_WITH->agency:mss@source:ncsc-2024-03-25",
            "agency:mss-PART_OF->country:china@source:ncsc-2024-03-25",
        ]
    ]


ALL_ACTIVITY = """
query ($since: Date) {
  activity(since: $since, first: 500) {
    totalCount
    nodes { id kind ... on Campaign { firstSeen lastSeen } ... on Incident { started ended } }
  }
}
"""


@pytest.mark.usefixtures("imported_graph")
def test_activity_without_a_link_is_every_kind_newest_first_in_the_window(
    api: TestClient, resolvers: TestClient, driver: neo4j.Driver
) -> None:
    found = ask_both(api, resolvers, ALL_ACTIVITY, since="2024-01-01")["activity"]
    began = [n.get("started") or n.get("firstSeen") or "" for n in found["nodes"]]
    assert began == sorted(began, reverse=True)
    expected = cypher(
        driver,
        "MATCH (a) WHERE (a:Incident OR a:Campaign) "
        "AND coalesce(a.ended, a.last_seen, a.started, a.first_seen, '9999') >= '2024' "
        "RETURN count(a) AS n",
    )[0]["n"]
    assert found["totalCount"] == len(found["nodes"]) == expected
    assert {n["kind"] for n in found["nodes"]} == {"Campaign"}
    every = ask_both(api, resolvers, ALL_ACTIVITY)["activity"]
    # ATT&CK's 52 campaigns and the seed's three incidents (the NCSC statement's two
    # and the Microsoft Exchange compromise).
    assert every["totalCount"] == 55


def test_an_empty_kinds_list_is_refused_by_name(api: TestClient, resolvers: TestClient) -> None:
    query = '{ activity(linkedTo: "China", kinds: []) { totalCount } }'
    for client in (api, resolvers):
        body = gql(client, query)
        assert body["errors"][0]["message"] == (
            "kinds: name at least one kind of activity (INCIDENT, CAMPAIGN)"
        )
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.usefixtures("imported_graph")
def test_the_compiled_executor_answers_activity_in_one_round_trip(api: TestClient) -> None:
    body = gql(api, LINKED, ref="China", kinds=EVERY_KIND)
    assert body["_round_trips"] == 1
