"""STIX 2.1 bundles in (streamed with ijson, validated with stix2) and out.

Import: each bundle becomes one `ImportBatch` (one transaction). A bundle is
refused whole, with every problem listed, when it is not JSON, truncated, not
a bundle, of another spec_version, holds an object stix2 rejects, repeats an
id (same id and `modified`), or has a relationship whose ends are neither in
the bundle nor in the graph. Object types threatgraph does not map, and custom
(x-...) objects, are skipped and counted. The mappings are in docs/importers.md.

Export: the graph (or a neighbourhood) as a bundle that round-trips: every
object carries x_threatgraph_* properties with the ids, labels and likelihood
terms STIX has no place for.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import ijson  # type: ignore[import-untyped,unused-ignore]
import stix2  # type: ignore[import-untyped,unused-ignore]
import stix2.exceptions  # type: ignore[import-untyped,unused-ignore]

from graph.errors import AmbiguousReference, NotFound, ValidationError
from graph.model import likelihood as phia
from graph.model.documents import ID_PATTERN
from graph.model.likelihood import Likelihood
from graph.model.vocabulary import LABELS, RELATION_TYPES, lookup_key
from graph.store.database import Graph
from graph.writes.resolution import Candidate, ImportBatch, ImportClaim, Mention
from seed.importers.common import from_confidence, to_confidence
from seed.importers.misp import url_source_id

MAX_PROBLEMS = 50
# A bundle is held in memory while it is checked: refuse what would exhaust it.
MAX_BUNDLE_BYTES = 200 * 2**20
MAX_JSON_DEPTH = 32

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
    "PUBLISHED_BY": "authored-by",
    "CITES": "cites",
    "RELATED_TO": "related-to",
}
NAMESPACE = uuid.UUID("6f1c4b0e-6a55-4a7e-9b59-1f3e0c9a2d41")


# --------------------------------------------------------------------------- reading


def _iter_paths(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.json") if p.is_file())
        else:
            yield path


def bundle_files(paths: Sequence[Path]) -> list[Path]:
    """The bundle files named, folders expanded to their *.json files."""
    files = list(_iter_paths(paths))
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        raise ValidationError("import stix", [f"{m}: no such file or folder" for m in missing])
    return files


def _stream(handle: IO[bytes], origin: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The bundle's top-level scalars and its objects, parsed one object at a time."""
    header: dict[str, Any] = {}
    objects: list[dict[str, Any]] = []
    builder: Any = None
    seen_objects = False
    depth = 0
    try:
        # Small reads: ijson builds every event's prefix for a whole buffer before we
        # see one, and 64 kB of "[" would cost minutes and gigabytes before the depth check.
        for prefix, event, value in ijson.parse(handle, use_float=True, buf_size=1024):
            # Refuse deep nesting as it streams in, before anything recurses over it.
            if event in ("start_map", "start_array"):
                depth += 1
                if depth > MAX_JSON_DEPTH:
                    raise ValidationError(
                        origin, [f"{prefix}: nested deeper than {MAX_JSON_DEPTH} levels"]
                    )
            elif event in ("end_map", "end_array"):
                depth -= 1
            if builder is not None:
                builder.event(event, value)
                if prefix == "objects.item" and event in ("end_map", "end_array"):
                    objects.append(builder.value)
                    builder = None
                continue
            if prefix == "objects.item" and event in ("start_map", "start_array"):
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
            elif prefix == "objects.item":
                objects.append(value)  # a scalar where an object should be
            elif prefix == "objects" and event == "start_array":
                seen_objects = True
            elif prefix == "objects" and event not in ("end_array",):
                header["objects"] = value
            elif prefix == "" and event not in ("start_map", "end_map", "map_key"):
                raise ValidationError(origin, ["a STIX bundle is a JSON object"])
            elif "." not in prefix and prefix and event in ("string", "number", "boolean", "null"):
                header[prefix] = value
    except ijson.JSONError as error:
        message = " ".join(str(error).split())
        if "premature EOF" in message or not message:
            raise ValidationError(
                origin, ["truncated JSON: the file ends before the bundle does"]
            ) from None
        raise ValidationError(origin, [f"invalid JSON: {message}"]) from None
    except UnicodeDecodeError as error:
        raise ValidationError(origin, [f"not UTF-8 text: {error}"]) from None
    if seen_objects:
        header.setdefault("objects", None)
    return header, objects


def read_bundle(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        size = path.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise ValidationError(
                str(path),
                [
                    f"bundle is {size} bytes, over the limit of {MAX_BUNDLE_BYTES} bytes "
                    f"({MAX_BUNDLE_BYTES // 2**20} MB); split it into several bundles"
                ],
            )
        with path.open("rb") as handle:
            return _stream(handle, str(path))
    except OSError as error:
        raise ValidationError(str(path), [f"cannot read: {error.strerror}"]) from None


def _label_of(obj: dict[str, Any]) -> str:
    declared = obj.get("x_threatgraph_label")
    if isinstance(declared, str) and declared in LABELS:
        return declared
    kind = obj["type"]
    if kind == "identity":
        return IDENTITY_CLASSES.get(str(obj.get("identity_class", "")), "Organisation")
    if kind == "location":
        return "Country" if obj.get("country") else "Region"
    return SDO_LABELS[kind]


def _date(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[:10] if len(text) >= 10 else None


def validate_objects(
    header: dict[str, Any], objects: list[dict[str, Any]], origin: str, skipped: Any
) -> dict[str, dict[str, Any]]:
    """Check a bundle; return its mapped objects by id. Raises listing every problem."""
    problems: list[str] = []
    if header.get("type") != "bundle":
        problems.append(f"not a STIX bundle (type is {header.get('type')!r}, not 'bundle')")
    if "spec_version" in header:
        problems.append(
            f"bundle spec_version {header['spec_version']!r}: this is a STIX 2.0 bundle; "
            "only STIX 2.1 is supported"
        )
    if not isinstance(header.get("id"), str) or not str(header.get("id")).startswith("bundle--"):
        problems.append(f"bundle id {header.get('id')!r} is not a bundle--<uuid> id")
    if "objects" in header and header["objects"] is not None:
        problems.append("objects must be a list")
    kept: dict[str, dict[str, Any]] = {}
    for index, obj in enumerate(objects):
        where = f"objects[{index}]"
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            problems.append(f"{where}: not a STIX object (no type)")
            continue
        kind, object_id = obj["type"], obj.get("id")
        where = f"{where} ({object_id or kind})"
        if kind not in SDO_LABELS and kind != "relationship":
            if kind.startswith("x-"):
                skipped["custom objects (x-... types)"] += 1
            elif kind in UNMAPPED_TYPES:
                skipped[f"STIX {kind} objects (not mapped)"] += 1
            else:
                skipped["objects of unknown types"] += 1
            continue
        version = obj.get("spec_version")
        if kind not in SCO_TYPES and version != "2.1":
            problems.append(f"{where}: spec_version {version!r}; STIX 2.1 objects carry '2.1'")
            continue
        try:
            stix2.parse(obj, allow_custom=True, version="2.1")
        except (stix2.exceptions.STIXError, ValueError, TypeError, KeyError) as error:
            problems.append(f"{where}: {' '.join(str(error).split())}")
            continue
        previous = kept.get(str(object_id))
        if previous is not None:
            if previous.get("modified") == obj.get("modified"):
                problems.append(f"{where}: duplicate id {object_id!r} (same 'modified')")
                continue
            skipped["older versions of an object (a later 'modified' was kept)"] += 1
            if str(previous.get("modified", "")) > str(obj.get("modified", "")):
                continue
        kept[str(object_id)] = obj
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more problems")
        raise ValidationError(origin, shown)
    return kept


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and ID_PATTERN.match(value) is not None


def _candidate(obj: dict[str, Any]) -> Candidate:
    label = _label_of(obj)
    kind = obj["type"]
    name = str(obj.get("name") or obj.get("country") or obj.get("region") or obj["id"]).strip()
    aliases = [
        str(a) for a in (obj.get("aliases") or []) + (obj.get("x_threatgraph_aliases") or [])
    ]
    external_ids = [obj["id"]]
    for ref in obj.get("external_references") or []:
        if ref.get("source_name") in ID_SOURCES and ref.get("external_id"):
            external_ids.append(str(ref["external_id"]))
    props: dict[str, Any] = {}
    if label == "ThreatActor" and kind in ("threat-actor", "intrusion-set"):
        props["stix_type"] = kind
        props["first_seen"] = _date(obj.get("first_seen"))
        props["last_seen"] = _date(obj.get("last_seen"))
        props["motivation"] = obj.get("primary_motivation")
        props["sophistication"] = obj.get("sophistication")
    elif label == "Campaign":
        props["first_seen"] = _date(obj.get("first_seen"))
        props["last_seen"] = _date(obj.get("last_seen"))
    elif label == "Software" and kind in ("malware", "tool"):
        props["software_type"] = kind
    elif label == "Country" and obj.get("country"):
        props["iso_code"] = str(obj["country"]).upper()
    elif label == "Source":
        props["published"] = _date(obj.get("published"))
        urls = [r.get("url") for r in obj.get("external_references") or [] if r.get("url")]
        props["url"] = urls[0] if urls else None
    if obj.get("x_threatgraph_published_unknown"):
        props.pop("published", None)
    extra = obj.get("x_threatgraph_properties")
    if isinstance(extra, dict):
        allowed = set(LABELS[label].extra_properties)
        props.update({k: v for k, v in extra.items() if k in allowed})
    preferred = obj.get("x_threatgraph_id")
    return Candidate(
        key=obj["id"],
        label=label,
        name=name,
        aliases=tuple(aliases),
        description=str(obj.get("description") or obj.get("x_threatgraph_description") or ""),
        external_ids=tuple(dict.fromkeys(external_ids)),
        properties={k: v for k, v in props.items() if v is not None},
        stix_id=obj["id"],
        preferred_id=preferred
        if isinstance(preferred, str) and ID_PATTERN.match(preferred)
        else None,
    )


def _relation(
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


def _likelihood(obj: dict[str, Any]) -> tuple[Likelihood, int | None]:
    declared = obj.get("x_threatgraph_likelihood")
    confidence = obj.get("confidence")
    number = (
        confidence if isinstance(confidence, int) and not isinstance(confidence, bool) else None
    )
    if isinstance(declared, str):
        try:
            return phia.parse(declared), number
        except ValueError:
            pass
    if number is not None:
        return from_confidence(number), number
    return Likelihood.FACT, None


def bundle_batch(
    header: dict[str, Any], kept: dict[str, dict[str, Any]], origin: str, skipped: Any
) -> ImportBatch:
    """Map a validated bundle onto candidates, claims and mentions."""
    batch = ImportBatch(origin=origin)
    batch.skipped = skipped
    bundle_id = str(header["id"])
    bundle_key = f"stix-bundle:{bundle_id}"
    by_preferred: dict[str, str] = {}
    for obj in kept.values():
        if obj["type"] != "relationship":
            candidate = batch.add(_candidate(obj))
            if candidate.preferred_id:
                by_preferred[candidate.preferred_id] = candidate.key

    def bundle_source() -> str:
        if bundle_key not in batch.candidates:
            batch.add(
                Candidate(
                    key=bundle_key,
                    label="Source",
                    name=f"STIX bundle {bundle_id}",
                    description=f"Imported from {Path(origin).name}.",
                    external_ids=(bundle_id,),
                    preferred_id=f"source:stix-{bundle_id.removeprefix('bundle--')}",
                )
            )
        return bundle_key

    def url_source(ref: dict[str, Any]) -> str:
        url = str(ref["url"])
        key = f"url:{url}"
        if key not in batch.candidates:
            batch.add(
                Candidate(
                    key=key,
                    label="Source",
                    name=str(ref.get("description") or ref.get("source_name") or url),
                    external_ids=(url,),
                    properties={"url": url},
                    preferred_id=url_source_id(url),
                )
            )
        return key

    def our_ref(ref: str) -> str:
        """An id threatgraph exported: the candidate that carries it, or a graph reference."""
        if ref in by_preferred:
            return by_preferred[ref]
        batch.references.add(ref)
        return ref

    reports_of: dict[str, list[str]] = {}
    mentioned: set[str] = set()
    for obj in kept.values():
        if obj["type"] != "report":
            continue
        for ref in obj.get("object_refs") or []:
            reports_of.setdefault(ref, []).append(obj["id"])
            if ref in batch.candidates and ref != obj["id"]:
                target = kept.get(ref, {})
                view = {"name": target.get("name"), "description": target.get("description")}
                batch.mentions.append(
                    Mention(obj["id"], ref, obj["id"], {k: v for k, v in view.items() if v})
                )
                mentioned.add(ref)
            elif ref not in kept and not ref.startswith("relationship--"):
                skipped["report references to objects not in the bundle"] += 1
    for obj in kept.values():
        if obj["type"] == "relationship" or obj["type"] == "report":
            continue
        for ref in obj.get("external_references") or []:
            if ref.get("url") and ref.get("source_name") not in ID_SOURCES:
                batch.mentions.append(Mention(url_source(ref), obj["id"], str(ref["url"])))
                mentioned.add(obj["id"])
        if obj["id"] not in mentioned:
            batch.mentions.append(Mention(bundle_source(), obj["id"], obj["id"]))

    for obj in kept.values():
        if obj["type"] != "relationship":
            continue
        ends: list[str] = []
        for end in ("source_ref", "target_ref"):
            ref = str(obj[end])
            if ref in batch.candidates:
                ends.append(ref)
            elif ref.split("--", 1)[0] in UNMAPPED_TYPES or ref.startswith("x-"):
                ends = []
                break
            else:
                batch.references.add(ref)
                ends.append(ref)
        if not ends:
            skipped["relationships to objects that are not imported"] += 1
            continue
        labels = [batch.candidates[e].label if e in batch.candidates else None for e in ends]
        relation, fell_back = _relation(obj, labels[0], labels[1])
        del fell_back  # kept as RELATED_TO with stix_relationship_type
        term, confidence = _likelihood(obj)
        sources = obj.get("x_threatgraph_sources")
        if isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources):
            source_keys = [our_ref(s) for s in sources]
        elif obj["id"] in reports_of:
            source_keys = reports_of[obj["id"]]
        else:
            urls = [r for r in obj.get("external_references") or [] if r.get("url")]
            source_keys = [url_source(urls[0])] if urls else [bundle_source()]
        assessed = obj.get("x_threatgraph_assessed_by")
        assessed_key = None
        if isinstance(assessed, str):
            assessed_key = our_ref(assessed)
        elif obj.get("created_by_ref") in batch.candidates:
            assessed_key = str(obj["created_by_ref"])
        props: dict[str, Any] = {"stix_id": obj["id"]}
        if confidence is not None:
            props["confidence"] = confidence
        if relation == "RELATED_TO" and obj.get("relationship_type") != "related-to":
            props["stix_relationship_type"] = obj.get("relationship_type")
        batch.claims.append(
            ImportClaim(
                from_key=ends[0],
                relation=relation,
                to_key=ends[1],
                likelihood=term,
                source_key=source_keys[0],
                source_ref=obj["id"],
                quote=" ".join(str(obj["description"]).split()) if obj.get("description") else None,
                extra_source_keys=tuple(source_keys[1:]),
                assessed_by_key=assessed_key,
                valid_from=obj.get("x_threatgraph_valid_from") or _date(obj.get("start_time")),
                valid_to=obj.get("x_threatgraph_valid_to") or _date(obj.get("stop_time")),
                properties=props,
            )
        )
    for key in list(batch.references):
        if key in batch.candidates:
            batch.references.discard(key)
    return batch


def stix_batches(paths: Sequence[Path]) -> list[ImportBatch]:
    """Read and validate every bundle before returning any; all problems at once."""
    from collections import Counter

    batches: list[ImportBatch] = []
    failures: list[ValidationError] = []
    for path in bundle_files(paths):
        skipped: Counter[str] = Counter()
        try:
            header, objects = read_bundle(path)
            kept = validate_objects(header, objects, str(path), skipped)
            batches.append(bundle_batch(header, kept, str(path), skipped))
        except ValidationError as error:
            failures.append(error)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise ValidationError(
            f"{len(failures)} bundles", [f"{f.origin}: {p}" for f in failures for p in f.problems]
        )
    return batches


# --------------------------------------------------------------------------- export


def stix_id(kind: str, our_id: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, our_id)}"


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
        obj["identity_class"] = {
            "Person": "individual",
            "Group": "group",
            "Sector": "class",
        }.get(label, "organization")
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
    obj["x_threatgraph_id"] = our_id
    obj["x_threatgraph_label"] = label
    if extra:
        obj["x_threatgraph_properties"] = extra
    return obj


async def _neighbourhood(graph: Graph, ref: str, hops: int) -> list[str]:
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
        "RETURN collect(DISTINCT n.id) + [$id] AS ids",
        {"id": start, "hops": hops},
    )
    return sorted(set(rows[0]["ids"]) - {None})


async def export_bundle(graph: Graph, ref: str | None = None, hops: int = 1) -> dict[str, Any]:
    """The graph, or the entities within `hops` claims of `ref`, as a STIX 2.1 bundle."""
    scope: list[str] | None = None
    if ref is not None:
        scope = await _neighbourhood(graph, ref, hops)
    claims = await graph.read(
        "MATCH (a:Entity)-[r]->(b:Entity) WHERE type(r) <> 'MENTIONS' "
        "AND ($ids IS NULL OR (a.id IN $ids AND b.id IN $ids)) "
        "RETURN a.id AS from, type(r) AS type, b.id AS to, properties(r) AS props",
        {"ids": scope},
    )
    wanted = None if scope is None else set(scope)
    if wanted is not None:
        for claim in claims:
            wanted.update(claim["props"].get("sources") or [])
            if claim["props"].get("assessed_by"):
                wanted.add(claim["props"]["assessed_by"])
    entities = await graph.read(
        "MATCH (e:Entity) WHERE $ids IS NULL OR e.id IN $ids "
        "RETURN [l IN labels(e) WHERE l <> 'Entity'][0] AS label, properties(e) AS props "
        "ORDER BY e.id",
        {"ids": None if wanted is None else sorted(wanted)},
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
        term = phia.parse(props.get("likelihood", "FACT"))
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
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": [*objects.values(), *relationships],
    }


def export_time() -> str:
    """Now as a STIX timestamp (millisecond precision, as the validator requires)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
