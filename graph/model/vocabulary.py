"""The graph model: node labels, relationship types and what a claim carries.

Every node has the label Entity plus one kind label from LABELS, and the
properties id, name, aliases and description. Every relationship except
MENTIONS is a claim: it carries likelihood, sources, quote, assessed_by and
optionally valid_from / valid_to, and is keyed by (from, type, to, source) so
that two sources making the same claim keep their own grade and quote.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import LiteralString

ENTITY = "Entity"


@dataclass(frozen=True)
class Label:
    name: str
    id_prefix: str
    description: str
    extra_properties: tuple[str, ...] = ()


LABELS: dict[str, Label] = {
    label.name: label
    for label in [
        Label(
            "ThreatActor",
            "actor",
            "A threat actor or intrusion set.",
            ("stix_type", "first_seen", "last_seen", "motivation", "sophistication"),
        ),
        Label(
            "Agency",
            "agency",
            "A state agency or government body (MSS, GCHQ, NCSC).",
            ("reliability",),
        ),
        Label(
            "Organisation",
            "org",
            "An organisation that is not a state agency.",
            ("reliability",),
        ),
        Label("Country", "country", "A state.", ("iso_code",)),
        Label("Region", "region", "A region or other location that is not a state."),
        Label("Person", "person", "A named person.", ("role",)),
        Label("Group", "group", "A group of people (e.g. UK parliamentarians)."),
        Label(
            "Incident",
            "incident",
            "A malicious cyber incident.",
            ("started", "ended", "status", "outcome", "disclosed"),
        ),
        Label(
            "Campaign", "campaign", "A campaign of related intrusions.", ("first_seen", "last_seen")
        ),
        Label("Asset", "asset", "Data or systems that can be held, targeted or taken."),
        Label("Software", "software", "Software: products, malware or tools.", ("software_type",)),
        Label(
            "AttackPattern",
            "attack-pattern",
            "A technique (e.g. an ATT&CK technique).",
            ("tactics",),
        ),
        Label("Vulnerability", "vulnerability", "A vulnerability (e.g. a CVE)."),
        Label("Sector", "sector", "An industry or sector of society."),
        Label(
            "Source",
            "source",
            "A published report or statement.",
            ("url", "publisher", "published", "title", "reliability"),
        ),
    ]
}

# Who may claim what of whom. A tuple of labels, or ANY.
ANY: tuple[str, ...] = tuple(LABELS)
ACTORS = ("ThreatActor", "Agency", "Country", "Organisation", "Person", "Group")
ACTIVITY = ("Incident", "Campaign")
VICTIMS = (
    "Organisation",
    "Agency",
    "Group",
    "Person",
    "Country",
    "Region",
    "Sector",
    "Asset",
    "Software",
)
BODIES = ("Agency", "Organisation", "Group", "Person", "Country")
# Who may belong to a sector (IN_SECTOR): the victims that are bodies or people, not states.
SECTOR_MEMBERS = ("Agency", "Organisation", "Group", "Person")


@dataclass(frozen=True)
class RelationType:
    name: str
    sentence: str
    from_labels: tuple[str, ...]
    to_labels: tuple[str, ...]


RELATION_TYPES: dict[str, RelationType] = {
    rel.name: rel
    for rel in [
        RelationType("ATTRIBUTED_TO", "incident was carried out by actor", ACTIVITY, ACTORS),
        RelationType(
            "AFFILIATED_WITH",
            "actor works with or for",
            ("ThreatActor", "Person", "Organisation"),
            ("Agency", "Country", "Organisation", "ThreatActor"),
        ),
        RelationType(
            "PART_OF",
            "is part of / a member of",
            (
                "Agency",
                "Organisation",
                "Group",
                "Person",
                "Asset",
                "Region",
                "Country",
                "Campaign",
                "Incident",
            ),
            ("Agency", "Organisation", "Group", "Country", "Region", "Asset", "Campaign"),
        ),
        RelationType("TARGETED", "targeted", (*ACTIVITY, "ThreatActor"), VICTIMS),
        RelationType(
            "COMPROMISED",
            "compromised",
            (*ACTIVITY, "ThreatActor"),
            ("Asset", "Software", "Organisation", "Agency"),
        ),
        RelationType("EXFILTRATED", "took data from", (*ACTIVITY, "ThreatActor"), ("Asset",)),
        RelationType("HOLDS", "holds or owns", BODIES, ("Asset", "Software")),
        RelationType("IDENTIFIED_BY", "was identified by", ACTIVITY, BODIES),
        RelationType("MITIGATED_BY", "was mitigated by", ACTIVITY, BODIES),
        RelationType("REMEDIATED_WITH", "was remediated with the support of", ACTIVITY, BODIES),
        RelationType(
            "USED_BY",
            "is (or would be) used by",
            ("Asset", "Software", "AttackPattern"),
            (*ACTORS, *ACTIVITY),
        ),
        RelationType(
            "USES",
            "uses",
            ("ThreatActor", "Campaign", "Incident", "Software"),
            ("Software", "AttackPattern", "Vulnerability"),
        ),
        RelationType(
            "EXPLOITED",
            "exploited",
            ("ThreatActor", "Campaign", "Incident", "Software"),
            ("Vulnerability", "Software"),
        ),
        RelationType("WARNED_ABOUT", "warned about", BODIES, ANY),
        RelationType("LOCATED_IN", "is located in", ANY, ("Country", "Region")),
        RelationType("IN_SECTOR", "is in the sector", SECTOR_MEMBERS, ("Sector",)),
        RelationType("PUBLISHED_BY", "was published by", ("Source",), BODIES),
        RelationType("CITES", "cites", ("Source",), ("Source",)),
        RelationType("RELATED_TO", "is related to", ANY, ANY),
        RelationType("MENTIONS", "mentions", ("Source",), ANY),
    ]
}

# MENTIONS is derived by the loader (a source mentions what its claims are about).
NON_CLAIM_TYPES = frozenset({"MENTIONS"})
CLAIM_TYPES = frozenset(RELATION_TYPES) - NON_CLAIM_TYPES

# Every claim type as a relationship pattern's type list, `(a)-[r:<this>]-(b)`. A
# traversal over claims names them rather than filtering `type(r) <> 'MENTIONS'`:
# the store keeps a dense node's relationships grouped by type, so a typed expand
# skips the group of MENTIONS that every source adds (a state in a large graph has
# one from each source that names it) instead of reading and dropping each one.
# From the model's fixed list.
CLAIM_TYPE_PATTERN: LiteralString = "|".join(name for name in RELATION_TYPES if name in CLAIM_TYPES)


class EntityKind(enum.Enum):
    """The kinds (LABELS) by the names questions use for them, each the label's value."""

    THREAT_ACTOR = "ThreatActor"
    AGENCY = "Agency"
    ORGANISATION = "Organisation"
    COUNTRY = "Country"
    REGION = "Region"
    PERSON = "Person"
    GROUP = "Group"
    INCIDENT = "Incident"
    CAMPAIGN = "Campaign"
    ASSET = "Asset"
    SOFTWARE = "Software"
    ATTACK_PATTERN = "AttackPattern"
    VULNERABILITY = "Vulnerability"
    SECTOR = "Sector"
    SOURCE = "Source"


def _check_kinds() -> None:
    # One kind per label, named by its label in upper snake case.
    assert [kind.value for kind in EntityKind] == list(LABELS)
    for kind in EntityKind:
        assert kind.name == re.sub(r"(?<!^)(?=[A-Z])", "_", kind.value).upper()


_check_kinds()

ENTITY_CORE_PROPERTIES = ("id", "name", "aliases", "description")
CLAIM_PROPERTIES = ("likelihood", "sources", "quote", "assessed_by", "valid_from", "valid_to")


def id_prefix(label: str) -> str:
    return LABELS[label].id_prefix


def lookup_key(text: str) -> str:
    """How names, aliases and ids are compared: case- and spacing-insensitive."""
    return " ".join(text.casefold().split())


def relation_id(from_id: str, relation: str, to_id: str, source_id: str) -> str:
    """The stable id of one source's claim that from -[relation]-> to."""
    return f"{from_id}-{relation}->{to_id}@{source_id}"


def relation_from_id(claim_id: str, relation: str) -> str:
    """The `from_id` a relation_id was made with (ids hold no "-RELATION->")."""
    return claim_id.split(f"-{relation}->", 1)[0]
