"""How STIX 2.1 corresponds to threatgraph's model, in both directions.

The reader (seed.importers.stix) and the exporter (seed.importers.stix_export)
share these facts so that an exported bundle imports back to the same entities
and claims: STIX object types and identity classes to labels, relationship
types to relations and back, the standard types that are skipped, a STIX
relationship's likelihood, and the stable STIX ids made from threatgraph ids.
docs/importers.md describes the mappings.
"""

from __future__ import annotations

import uuid
from typing import Any

from graph.model.likelihood import Likelihood, from_name
from graph.model.vocabulary import LABELS, RELATION_TYPES
from seed.importers.common import from_confidence

# STIX object type -> label (identity and location are decided by their content).
SDO_LABELS = {
    "threat-actor": "ThreatActor",
    "intrusion-set": "ThreatActor",
    "incident": "Incident",
    "campaign": "Campaign",
    "malware": "Software",
    "tool": "Software",
    "software": "Software",
    "attack-pattern": "AttackPattern",
    "vulnerability": "Vulnerability",
    "infrastructure": "Asset",
    "report": "Source",
    "identity": "Organisation",
    "location": "Region",
}
IDENTITY_CLASSES = {
    "individual": "Person",
    "group": "Group",
    "organization": "Organisation",
    "class": "Sector",
}
# Standard STIX types threatgraph does not map (skipped and counted).
UNMAPPED_TYPES = {
    "indicator",
    "observed-data",
    "note",
    "opinion",
    "course-of-action",
    "grouping",
    "sighting",
    "malware-analysis",
    "marking-definition",
    "language-content",
    "extension-definition",
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
}
SCO_TYPES = {"software"}
# External reference sources whose external_id is an id of the object itself.
ID_SOURCES = {"mitre-attack", "mitre-mobile-attack", "mitre-ics-attack", "cve", "capec", "cwe"}
# The kill chains whose phases are ATT&CK tactics (an AttackPattern's `tactics`), and
# the one an export names for them.
ATTACK_KILL_CHAINS = {"mitre-attack", "mitre-mobile-attack", "mitre-ics-attack"}
EXPORT_KILL_CHAIN = "mitre-attack"


def tactics_of(obj: dict[str, Any]) -> tuple[list[str], int]:
    """An attack-pattern's ATT&CK tactics, from its `kill_chain_phases`, in order and
    without repeats; and how many phases of other kill chains it names (not kept)."""
    tactics: list[str] = []
    others = 0
    for phase in obj.get("kill_chain_phases") or []:
        if phase.get("kill_chain_name") in ATTACK_KILL_CHAINS:
            if phase.get("phase_name") not in tactics:
                tactics.append(str(phase["phase_name"]))
        else:
            others += 1
    return tactics, others


def kill_chain_phases(tactics: list[str]) -> list[dict[str, str]]:
    """An AttackPattern's tactics as STIX kill-chain phases."""
    return [{"kill_chain_name": EXPORT_KILL_CHAIN, "phase_name": t} for t in tactics]


# STIX relationship_type -> our relation. attributed-to depends on the ends.
STIX_RELATIONS = {
    "targets": "TARGETED",
    "uses": "USES",
    "located-at": "LOCATED_IN",
    "part-of": "PART_OF",
    "related-to": "RELATED_TO",
    "compromises": "COMPROMISED",
    "exploits": "EXPLOITED",
    "authored-by": "PUBLISHED_BY",
    "owns": "HOLDS",
    "exfiltrates-from": "EXFILTRATED",
    "identified-by": "IDENTIFIED_BY",
    "mitigated-by": "MITIGATED_BY",
    "remediated-with": "REMEDIATED_WITH",
    "used-by": "USED_BY",
    "warned-about": "WARNED_ABOUT",
    "cites": "CITES",
    "affiliated-with": "AFFILIATED_WITH",
    "variant-of": "RELATED_TO",
    "derived-from": "RELATED_TO",
    "duplicate-of": "RELATED_TO",
    "impersonates": "RELATED_TO",
    "delivers": "USES",
    "drops": "USES",
    "downloads": "USES",
}
# Our relation -> the relationship_type exported (x_threatgraph_relation keeps ours).
EXPORT_RELATIONS = {
    "ATTRIBUTED_TO": "attributed-to",
    "AFFILIATED_WITH": "attributed-to",
    "PART_OF": "part-of",
    "TARGETED": "targets",
    "COMPROMISED": "compromises",
    "EXFILTRATED": "exfiltrates-from",
    "HOLDS": "owns",
    "IDENTIFIED_BY": "identified-by",
    "MITIGATED_BY": "mitigated-by",
    "REMEDIATED_WITH": "remediated-with",
    "USED_BY": "used-by",
    "USES": "uses",
    "EXPLOITED": "exploits",
    "WARNED_ABOUT": "warned-about",
    "LOCATED_IN": "located-at",
    # STIX has no relationship for it (an identity's `sectors` is text).
    "IN_SECTOR": "related-to",
    "PUBLISHED_BY": "authored-by",
    "CITES": "cites",
    "RELATED_TO": "related-to",
}
NAMESPACE = uuid.UUID("6f1c4b0e-6a55-4a7e-9b59-1f3e0c9a2d41")


def stix_id(kind: str, our_id: str) -> str:
    """The STIX id of a threatgraph id: stable across exports (uuid5)."""
    return f"{kind}--{uuid.uuid5(NAMESPACE, our_id)}"


def label_of(obj: dict[str, Any]) -> str:
    """The label a mapped STIX object becomes."""
    declared = obj.get("x_threatgraph_label")
    if isinstance(declared, str) and declared in LABELS:
        return declared
    kind = obj["type"]
    if kind == "identity":
        return IDENTITY_CLASSES.get(str(obj.get("identity_class", "")), "Organisation")
    if kind == "location":
        return "Country" if obj.get("country") else "Region"
    return SDO_LABELS[kind]


def relation_of(
    obj: dict[str, Any], from_label: str | None, to_label: str | None
) -> tuple[str, bool]:
    """Our relation for a STIX relationship; True when it fell back to RELATED_TO."""
    declared = obj.get("x_threatgraph_relation")
    kind = str(obj.get("relationship_type", ""))
    if isinstance(declared, str) and declared in RELATION_TYPES and declared != "MENTIONS":
        relation = declared
    elif kind == "attributed-to":
        activity = from_label in ("Incident", "Campaign")
        relation = "ATTRIBUTED_TO" if activity or from_label is None else "AFFILIATED_WITH"
    else:
        relation = STIX_RELATIONS.get(kind, "RELATED_TO")
        if kind not in STIX_RELATIONS:
            return "RELATED_TO", True
    if from_label is None or to_label is None:
        return relation, False
    rel = RELATION_TYPES[relation]
    if from_label in rel.from_labels and to_label in rel.to_labels:
        return relation, False
    return "RELATED_TO", True


def likelihood_of(obj: dict[str, Any]) -> tuple[Likelihood, int | None]:
    """A relationship's likelihood term and its STIX confidence, when it has one."""
    declared = obj.get("x_threatgraph_likelihood")
    confidence = obj.get("confidence")
    number = (
        confidence if isinstance(confidence, int) and not isinstance(confidence, bool) else None
    )
    if isinstance(declared, str):
        try:
            return from_name(declared), number
        except ValueError:
            pass
    if number is not None:
        return from_confidence(number), number
    # A relationship is a judgment; without a confidence its source graded nothing.
    return Likelihood.UNGRADED, None
