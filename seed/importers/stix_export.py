"""STIX 2.1 export: the graph, or the neighbourhood of one entity, as a bundle.

It reads the graph rather than files, so it lives apart from the reader
(seed.importers.stix); both use the facts in seed.importers.stix_mapping. The
bundle round-trips: every object carries x_threatgraph_* properties with the
ids, labels and likelihood terms STIX has no place for.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from graph.errors import AmbiguousReference, NotFound, ValidationError
from graph.model.known import claim_known, entity_known
from graph.model.likelihood import from_name
from graph.model.markings import MARKINGS_PROPERTY
from graph.model.vocabulary import LABELS, lookup_key
from graph.store.database import Graph
from seed.importers.common import from_confidence, to_confidence
from seed.importers.stix_mapping import (
    EXPORT_RELATIONS,
    IDENTITY_CLASSES,
    kill_chain_phases,
    stix_id,
)
from seed.importers.stix_markings import TLP_DEFINITIONS, marking_definitions


def _timestamp(date: str | None) -> str | None:
    if not date:
        return None
    parts = (date + "-01-01")[:10] if len(date) == 4 else (date + "-01")[:10]
    return f"{parts}T00:00:00.000Z"


def _country_codes() -> dict[str, str]:
    """Country names -> ISO codes, from the MISP country cluster (offline)."""
    from seed.importers.misp import clusters_dir, read_cluster

    try:
        cluster = read_cluster(clusters_dir(), "country")
    except ValidationError:
        return {}
    codes: dict[str, str] = {}
    for value in cluster["values"]:
        iso = str((value.get("meta") or {}).get("ISO") or "")
        for name in (value.get("value"), value.get("description")):
            if name and iso:
                codes[lookup_key(str(name))] = iso
    return codes


def _sdo(entity: dict[str, Any], created: str, codes: dict[str, str]) -> dict[str, Any]:
    label, props = entity["label"], entity["props"]
    our_id = props["id"]
    extra = {k: props[k] for k in LABELS[label].extra_properties if props.get(k) is not None}
    aliases = list(props.get("aliases") or [])
    obj: dict[str, Any] = {"spec_version": "2.1", "created": created, "modified": created}
    if label == "ThreatActor":
        kind = props.get("stix_type") if props.get("stix_type") == "intrusion-set" else None
        obj["type"] = kind or "threat-actor"
    elif label in ("Agency", "Organisation", "Person", "Group", "Sector"):
        obj["type"] = "identity"
        classes = {label: kind for kind, label in IDENTITY_CLASSES.items()}
        obj["identity_class"] = classes.get(label, "organization")
    elif label in ("Country", "Region"):
        obj["type"] = "location"
        code = props.get("iso_code") or codes.get(lookup_key(str(props.get("name", ""))))
        if label == "Country" and code:
            obj["country"] = str(code)
        else:
            obj["region"] = lookup_key(str(props.get("name", ""))).replace(" ", "-") or "unknown"
    elif label == "Software":
        kind = props.get("software_type")
        obj["type"] = kind if kind in ("malware", "tool") else "software"
        if obj["type"] == "malware":
            obj["is_family"] = True
        if obj["type"] == "software":
            obj = {"spec_version": "2.1", "type": "software"}
    elif label == "Asset":
        obj["type"] = "infrastructure"
    else:
        obj["type"] = {
            "Incident": "incident",
            "Campaign": "campaign",
            "AttackPattern": "attack-pattern",
            "Vulnerability": "vulnerability",
            "Source": "report",
        }[label]
    obj["id"] = stix_id(obj["type"], our_id)
    obj["name"] = props.get("name") or our_id
    if props.get("description"):
        key = "x_threatgraph_description" if obj["type"] == "software" else "description"
        obj[key] = props["description"]
    if aliases:
        if obj["type"] in ("threat-actor", "intrusion-set", "campaign", "malware", "tool"):
            obj["aliases"] = aliases
        else:
            obj["x_threatgraph_aliases"] = aliases
    if props.get("url") and obj["type"] != "software":
        obj["external_references"] = [{"source_name": "threatgraph", "url": props["url"]}]
    if obj["type"] == "attack-pattern" and props.get("tactics"):
        # STIX's own field carries them, for every consumer; not repeated in `extra`.
        obj["kill_chain_phases"] = kill_chain_phases(list(extra.pop("tactics")))
    _mark(obj, props)
    obj["x_threatgraph_id"] = our_id
    obj["x_threatgraph_label"] = label
    if extra:
        obj["x_threatgraph_properties"] = extra
    return obj


def _mark(obj: dict[str, Any], props: dict[str, Any]) -> None:
    """The TLP markings kept on import, written back as the object's marking refs."""
    refs = [ref for ref in props.get(MARKINGS_PROPERTY) or [] if ref in TLP_DEFINITIONS]
    if refs:
        obj["object_marking_refs"] = refs


# The claim versions known at the end of the day, or today's without one: a withdrawn or
# replaced version exported would come back current on import (graph/model/known.py).
_CLAIM_KNOWN = claim_known("r")


async def _neighbourhood(graph: Graph, ref: str, hops: int, as_of: str | None) -> list[str]:
    rows = await graph.read(
        "MATCH (e:Entity) WHERE e.id = $ref OR $key IN e.lookup_keys RETURN e.id AS id",
        {"ref": ref, "key": lookup_key(ref)},
    )
    ids = sorted({row["id"] for row in rows})
    if not ids:
        raise NotFound(ref)
    if len(ids) > 1 and ref not in ids:
        raise AmbiguousReference(ref, ids)
    start = ref if ref in ids else ids[0]
    rows = await graph.read(
        "MATCH (s:Entity {id: $id}) "
        "OPTIONAL MATCH (s)-[rels*1..10]-(n:Entity) "
        "WHERE size(rels) <= $hops AND none(r IN rels WHERE type(r) = 'MENTIONS') "
        "AND all(r IN rels WHERE " + _CLAIM_KNOWN + ") "
        "RETURN collect(DISTINCT n.id) + [$id] AS ids",
        {"id": start, "hops": hops, "as_of": as_of},
    )
    return sorted(set(rows[0]["ids"]) - {None})


async def export_bundle(
    graph: Graph, ref: str | None = None, hops: int = 1, as_of: str | None = None
) -> dict[str, Any]:
    """The graph, or the entities within `hops` claims of `ref`, as a STIX 2.1 bundle;
    with `as_of` (YYYY-MM-DD), as publicly known at the end of that day."""
    scope: list[str] | None = None
    if ref is not None:
        scope = await _neighbourhood(graph, ref, hops, as_of)
    claims = await graph.read(
        "MATCH (a:Entity)-[r]->(b:Entity) WHERE type(r) <> 'MENTIONS' "
        "AND ($ids IS NULL OR (a.id IN $ids AND b.id IN $ids)) AND " + _CLAIM_KNOWN + " "
        "RETURN a.id AS from, type(r) AS type, b.id AS to, properties(r) AS props",
        {"ids": scope, "as_of": as_of},
    )
    wanted = None if scope is None else set(scope)
    if wanted is not None:
        for claim in claims:
            wanted.update(claim["props"].get("sources") or [])
            if claim["props"].get("assessed_by"):
                wanted.add(claim["props"]["assessed_by"])
    entities = await graph.read(
        "MATCH (e:Entity) WHERE ($ids IS NULL OR e.id IN $ids) AND " + entity_known("e") + " "
        "RETURN [l IN labels(e) WHERE l <> 'Entity'][0] AS label, properties(e) AS props "
        "ORDER BY e.id",
        {"ids": None if wanted is None else sorted(wanted), "as_of": as_of},
    )
    mentions = await graph.read(
        "MATCH (s:Source)-[:MENTIONS]->(e:Entity) "
        "WHERE $ids IS NULL OR (s.id IN $ids AND e.id IN $ids) "
        "RETURN s.id AS source, collect(e.id) AS ids",
        {"ids": None if wanted is None else sorted(wanted)},
    )
    created = export_time()
    codes = _country_codes()
    objects: dict[str, dict[str, Any]] = {}
    by_our_id: dict[str, dict[str, Any]] = {}
    names: dict[str, dict[str, Any]] = {}
    for entity in entities:
        if entity["label"] not in LABELS:
            continue
        obj = _sdo(entity, created, codes)
        objects[obj["id"]] = obj
        by_our_id[entity["props"]["id"]] = obj
        names[entity["props"]["id"]] = entity["props"]
    relationships: list[dict[str, Any]] = []
    for claim in sorted(claims, key=lambda c: str(c["props"].get("id"))):
        props = claim["props"]
        a, b = by_our_id.get(claim["from"]), by_our_id.get(claim["to"])
        if a is None or b is None or claim["type"] not in EXPORT_RELATIONS:
            continue
        term = from_name(props.get("likelihood", "FACT"))
        rel: dict[str, Any] = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": stix_id("relationship", str(props.get("id"))),
            "created": created,
            "modified": created,
            "relationship_type": EXPORT_RELATIONS[claim["type"]],
            "source_ref": a["id"],
            "target_ref": b["id"],
            "x_threatgraph_relation": claim["type"],
            "x_threatgraph_likelihood": term.value,
        }
        confidence = props.get("confidence")
        if not isinstance(confidence, int) or from_confidence(confidence) is not term:
            confidence = to_confidence(term)
        if confidence is not None:
            rel["confidence"] = confidence
        if props.get("quote"):
            rel["description"] = props["quote"]
        sources = [s for s in props.get("sources") or [] if isinstance(s, str)]
        if sources:
            rel["x_threatgraph_sources"] = sources
            refs = []
            for source in sources:
                entry = {"source_name": str(names.get(source, {}).get("name") or source)}
                entry["external_id"] = source
                if names.get(source, {}).get("url"):
                    entry["url"] = names[source]["url"]
                refs.append(entry)
            rel["external_references"] = refs
        if props.get("assessed_by"):
            rel["x_threatgraph_assessed_by"] = props["assessed_by"]
            assessor = by_our_id.get(props["assessed_by"])
            if assessor is not None and assessor["type"] == "identity":
                rel["created_by_ref"] = assessor["id"]
        for key in ("valid_from", "valid_to"):
            if props.get(key):
                rel[f"x_threatgraph_{key}"] = props[key]
        _mark(rel, props)
        relationships.append(rel)
    mentioned = {row["source"]: row["ids"] for row in mentions}
    for our_id, obj in by_our_id.items():
        if obj["type"] != "report":
            continue
        refs = sorted(by_our_id[e]["id"] for e in mentioned.get(our_id, []) if e in by_our_id)
        if not refs:
            refs = [
                r["id"] for r in relationships if obj["id"] in (r["source_ref"], r["target_ref"])
            ]
        if not refs:
            refs = [obj["id"]]
        obj["object_refs"] = refs[:] if refs else []
        published = _timestamp(names[our_id].get("published"))
        if published is None:
            obj["x_threatgraph_published_unknown"] = True
        obj["published"] = published or created
    marked = [*objects.values(), *relationships]
    used = [ref for obj in marked for ref in obj.get("object_marking_refs", [])]
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": [*marking_definitions(used), *marked],
    }


def export_time() -> str:
    """Now as a STIX timestamp (millisecond precision, as the validator requires)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
