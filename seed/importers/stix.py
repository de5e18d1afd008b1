"""STIX 2.1 import: bundles read (streamed with ijson, validated with stix2) into batches.

Each bundle becomes one `ImportBatch` (one transaction). A bundle is refused
whole, with every problem listed, when it is not JSON, truncated, not a bundle,
of another spec_version, holds an object stix2 rejects, repeats an id (same id
and `modified`), or has a relationship whose ends are neither in the bundle nor
in the graph. Object types threatgraph does not map, and custom (x-...)
objects, are skipped and counted; TLP markings are kept (seed.importers.stix_markings).
The mappings, shared with the exporter
(seed.importers.stix_export), are in seed.importers.stix_mapping and
docs/importers.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import ijson  # type: ignore[import-untyped,unused-ignore]
import stix2  # type: ignore[import-untyped,unused-ignore]
import stix2.exceptions  # type: ignore[import-untyped,unused-ignore]

from graph.errors import ValidationError
from graph.model.field_checks import ID_PATTERN
from graph.model.likelihood import Likelihood
from graph.model.markings import MARKINGS_PROPERTY
from graph.model.vocabulary import LABELS, RELATION_TYPES, lookup_key
from graph.writes.batches import Candidate, ImportBatch, ImportClaim, Mention
from seed.importers.misp import url_source_id
from seed.importers.stix_mapping import (
    ID_SOURCES,
    SCO_TYPES,
    SDO_LABELS,
    UNMAPPED_TYPES,
    label_of,
    likelihood_of,
    relation_of,
    tactics_of,
)
from seed.importers.stix_markings import TLP_DEFINITIONS, kept_markings

MAX_PROBLEMS = 50
# A bundle is held in memory while it is checked: refuse what would exhaust it.
MAX_BUNDLE_BYTES = 200 * 2**20
MAX_JSON_DEPTH = 32


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
        # see one, so a default-sized buffer of "[" would cost far more time and memory
        # than the depth check lets through (bench/README.md).
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
            if kind == "marking-definition" and object_id in TLP_DEFINITIONS:
                continue  # known by its id: the markings that name it are kept
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


def _candidate(obj: dict[str, Any], skipped: Any) -> Candidate:
    label = label_of(obj)
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
    elif label == "AttackPattern":
        tactics, other_phases = tactics_of(obj)
        props["tactics"] = tactics or None
        if other_phases:
            skipped["kill-chain phases of chains other than ATT&CK's"] += other_phases
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


def _sector_claims(
    obj: dict[str, Any],
    source_keys: list[str],
    assessed_by: Any,
    sectors: dict[str, str],
    skipped: Any,
) -> list[tuple[Candidate | None, ImportClaim]]:
    """An identity's `sectors` (the industry-sector vocabulary, e.g. government-national):
    each the claim that the identity is IN_SECTOR it, and the Sector (id sector:<term>),
    None when the bundle has it already (`sectors`, by lookup key). The identity states
    its sectors outright, as a description, not a judgment: FACT."""
    label = label_of(obj)
    if label not in RELATION_TYPES["IN_SECTOR"].from_labels:
        skipped[f"sectors of a {label} identity"] += 1
        return []
    found: list[tuple[Candidate | None, ImportClaim]] = []
    for term in dict.fromkeys(str(t).strip() for t in obj["sectors"] if str(t).strip()):
        slug = "-".join(lookup_key(term).split())
        preferred = f"sector:{slug}"
        name = term.replace("-", " ").capitalize()
        known = sectors.get(lookup_key(term)) or sectors.get(lookup_key(name))
        sector = None
        if known is None:
            sector = Candidate(
                key=f"stix-sector:{slug}",
                label="Sector",
                name=name,
                aliases=(term,),
                preferred_id=preferred if ID_PATTERN.match(preferred) else None,
            )
        claim = ImportClaim(
            from_key=obj["id"],
            relation="IN_SECTOR",
            to_key=known or f"stix-sector:{slug}",
            likelihood=Likelihood.FACT,
            source_key=source_keys[0],
            source_ref=f"{obj['id']}/sectors/{term}",
            extra_source_keys=tuple(source_keys[1:]),
            assessed_by_key=str(assessed_by) if isinstance(assessed_by, str) else None,
            reported_on=_date(obj.get("created")),
            changed_on=_date(obj.get("modified")),
        )
        found.append((sector, claim))
    return found


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
            candidate = _candidate(obj, skipped)
            markings = kept_markings(obj, skipped)
            if markings:
                candidate.properties[MARKINGS_PROPERTY] = markings
            candidate = batch.add(candidate)
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

    # The bundle's own sectors (class identities), by name and alias.
    sectors = {
        lookup_key(name): c.key
        for c in batch.candidates.values()
        if c.label == "Sector"
        for name in (c.name, *c.aliases)
    }
    for obj in kept.values():
        if obj["type"] == "identity" and obj.get("sectors"):
            said_by = reports_of.get(obj["id"]) or [bundle_source()]
            creator = obj.get("created_by_ref")
            assessed = creator if creator in batch.candidates else None
            for sector, claim in _sector_claims(obj, said_by, assessed, sectors, skipped):
                if sector is not None:
                    batch.add(sector)
                batch.claims.append(claim)

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
        relation, fell_back = relation_of(obj, labels[0], labels[1])
        del fell_back  # kept as RELATED_TO with stix_relationship_type
        term, confidence = likelihood_of(obj)
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
        markings = kept_markings(obj, skipped)
        if markings:
            props[MARKINGS_PROPERTY] = markings
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
                reported_on=_date(obj.get("created")),
                changed_on=_date(obj.get("modified")),
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
