"""MISP galaxies (the `pymispgalaxies` package's offline cluster files) as import batches.

Three batches, each its own source and transaction, in this order:
the country cluster, the sector cluster, the threat-actor cluster (whose
claims point at the countries and sectors by their MISP uuids). The mapping
is documented in docs/importers.md.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from graph.errors import ValidationError
from graph.model.likelihood import Likelihood
from graph.model.reliability import CLAIM_RELIABILITY_PROPERTY
from graph.model.vocabulary import lookup_key
from graph.writes.batches import Candidate, ImportBatch, ImportClaim, Mention, short_hash, slug
from seed.importers.common import from_admiralty_tags, from_confidence, from_estimative_tags

DEFAULT_CLUSTERS = ("threat-actor",)

# Country names the CFR fields use that geonames spells differently.
COUNTRY_SYNONYMS = {
    "iran (islamic republic of)": "IR",
    "russian federation": "RU",
    "korea (democratic people's republic of)": "KP",
    "korea (republic of)": "KR",
    "people's republic of china": "CN",
    "united states": "US",
    "us": "US",
    "usa": "US",
    "uk": "GB",
    "palestine": "PS",
    "palestine, state of": "PS",
    "viet nam": "VN",
    "syrian arab republic": "SY",
    "taiwan, province of china": "TW",
    "republic of korea": "KR",
    "north korea": "KP",
    "south korea": "KR",
}

# MISP `related` types -> our relation (RELATED_TO when the model does not
# allow the relation between the two labels).
RELATED_TYPES = {
    "targets": "TARGETED",
    "uses": "USES",
    "part-of": "PART_OF",
    "attributed-to": "ATTRIBUTED_TO",
}

SUSPECTED = Likelihood.REALISTIC_POSSIBILITY


def clusters_dir() -> Path:
    """Where pymispgalaxies keeps its cluster files (shipped in the wheel).

    Found without importing the package: its import pulls in jsonschema, which is
    slow to import (bench/README.md).
    """
    spec = importlib.util.find_spec("pymispgalaxies")
    if spec is None or not spec.submodule_search_locations:
        raise ValidationError("misp-galaxy", ["the pymispgalaxies package is not installed"])
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "data" / "misp-galaxy" / "clusters"


def read_cluster(directory: Path, name: str) -> dict[str, Any]:
    path = directory / f"{name}.json"
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as error:
        raise ValidationError(str(path), [f"cannot read the cluster: {error.strerror}"]) from None
    except orjson.JSONDecodeError as error:
        raise ValidationError(str(path), [f"invalid JSON: {error}"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("values"), list):
        raise ValidationError(str(path), ["not a MISP galaxy cluster (no 'values' list)"])
    return data


def _source(cluster: dict[str, Any], name: str) -> Candidate:
    key = f"source:misp-galaxy-{slug(name)}"
    return Candidate(
        key=key,
        label="Source",
        name=f"MISP galaxy cluster: {cluster.get('name', name)}",
        description=str(cluster.get("description") or ""),
        external_ids=(f"misp-galaxy:{cluster.get('uuid', name)}",),
        properties={
            "url": "https://github.com/MISP/misp-galaxy",
            "publisher_name": str(cluster.get("source") or "MISP Project"),
            "version": cluster.get("version"),
        },
        preferred_id=key,
    )


def _view(value: dict[str, Any]) -> dict[str, Any]:
    meta = value.get("meta") or {}
    return {
        "name": str(value.get("value", "")),
        "aliases": [str(s) for s in meta.get("synonyms") or []],
        "description": str(value.get("description") or ""),
    }


def _text_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and str(v).strip()]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):  # "['Denial of service']" in a few entries
        return [t.strip(" '\"") for t in text[1:-1].split(",") if t.strip(" '\"")]
    return [text] if text else []


def country_batch(cluster: dict[str, Any], origin: str) -> ImportBatch:
    batch = ImportBatch(origin=origin)
    source = batch.add(_source(cluster, "country"))
    for value in cluster["values"]:
        meta = value.get("meta") or {}
        name = str(value.get("description") or value.get("value") or "").strip()
        if not name or not value.get("uuid"):
            batch.skipped["country entries without a name or uuid"] += 1
            continue
        iso = str(meta.get("ISO") or "").upper() or None
        aliases = [str(value.get("value", "")), *(x for x in (iso, meta.get("ISO3")) if x)]
        key = f"misp:{value['uuid']}"
        batch.add(
            Candidate(
                key=key,
                label="Country",
                name=name,
                aliases=tuple(str(a) for a in aliases),
                external_ids=(key, *([f"iso:{iso}"] if iso else [])),
                properties={"iso_code": iso},
            )
        )
        batch.mentions.append(Mention(source.key, key, str(value["uuid"]), _view(value)))
    return batch


def sector_batch(cluster: dict[str, Any], origin: str) -> ImportBatch:
    batch = ImportBatch(origin=origin)
    source = batch.add(_source(cluster, "sector"))
    for value in cluster["values"]:
        meta = value.get("meta") or {}
        name = str(value.get("value") or "").strip()
        if not name or not value.get("uuid"):
            batch.skipped["sector entries without a name or uuid"] += 1
            continue
        key = f"misp:{value['uuid']}"
        batch.add(
            Candidate(
                key=key,
                label="Sector",
                name=name,
                aliases=tuple(str(s) for s in meta.get("synonyms") or []),
                description=str(value.get("description") or ""),
                external_ids=(key,),
            )
        )
        batch.mentions.append(Mention(source.key, key, str(value["uuid"]), _view(value)))
    return batch


class _Index:
    """Names -> MISP uuid, for fields that name countries and sectors in free text."""

    def __init__(self, entries: Iterable[tuple[str, Iterable[str]]]) -> None:
        self.by_key: dict[str, str] = {}
        for uuid, names in entries:
            for name in names:
                self.by_key.setdefault(lookup_key(name), uuid)

    def find(self, name: str) -> str | None:
        key = lookup_key(name)
        if key in self.by_key:
            return self.by_key[key]
        stripped = lookup_key(re.sub(r"\(.*?\)", "", name))
        return self.by_key.get(stripped)


def country_index(cluster: dict[str, Any]) -> _Index:
    entries: list[tuple[str, list[str]]] = []
    iso_to_uuid: dict[str, str] = {}
    for value in cluster["values"]:
        meta = value.get("meta") or {}
        iso = str(meta.get("ISO") or "").upper()
        names = [str(value.get("value", "")), str(value.get("description", "")), iso]
        names.append(str(meta.get("ISO3") or ""))
        entries.append((str(value["uuid"]), [n for n in names if n]))
        if iso:
            iso_to_uuid[iso] = str(value["uuid"])
    for synonym, iso in COUNTRY_SYNONYMS.items():
        if iso in iso_to_uuid:
            entries.append((iso_to_uuid[iso], [synonym]))
    return _Index(entries)


def sector_index(cluster: dict[str, Any]) -> _Index:
    return _Index(
        (
            str(v["uuid"]),
            [str(v.get("value", "")), *((v.get("meta") or {}).get("synonyms") or [])],
        )
        for v in cluster["values"]
        if v.get("uuid")
    )


def threat_actor_batch(
    cluster: dict[str, Any], origin: str, countries: _Index, sectors: _Index
) -> ImportBatch:
    batch = ImportBatch(origin=origin)
    source = batch.add(_source(cluster, str(cluster.get("type") or "threat-actor")))
    values = [v for v in cluster["values"] if isinstance(v, dict)]
    local = {str(v.get("uuid")) for v in values}
    country_keys = set(countries.by_key.values())
    sector_keys = set(sectors.by_key.values())

    def claim(
        actor: str, relation: str, target: str, term: Likelihood, ref: str, quote: str, **props: Any
    ) -> None:
        batch.claims.append(
            ImportClaim(actor, relation, target, term, source.key, ref, quote, properties=props)
        )

    for value in values:
        uuid = str(value.get("uuid") or "")
        name = str(value.get("value") or "").strip()
        if not uuid or not name:
            batch.skipped["threat-actor entries without a name or uuid"] += 1
            continue
        meta = value.get("meta") or {}
        key = f"misp:{uuid}"
        confidence: int | None = None
        raw_confidence = meta.get("attribution-confidence")
        if raw_confidence is not None:
            try:
                confidence = int(str(raw_confidence))
                from_confidence(confidence)
            except ValueError:
                batch.skipped["attribution-confidence values that are not 0-100"] += 1
                confidence = None
        batch.add(
            Candidate(
                key=key,
                label="ThreatActor",
                name=name,
                aliases=tuple(str(s) for s in meta.get("synonyms") or []),
                description=str(value.get("description") or ""),
                external_ids=(key,),
                properties={
                    "attribution_confidence": confidence,
                    "incident_types": _text_list(meta.get("cfr-type-of-incident")),
                    "motivation": ", ".join(_text_list(meta.get("motive"))) or None,
                },
            )
        )
        batch.mentions.append(Mention(source.key, key, uuid, _view(value)))
        attributed = from_confidence(confidence) if confidence is not None else None
        conf_props = {"attribution_confidence": confidence} if confidence is not None else {}

        for iso in _text_list(meta.get("country")):
            target = countries.find(iso)
            if target is None:
                batch.skipped["country values that name no known country"] += 1
                continue
            claim(
                key,
                "LOCATED_IN",
                f"misp:{target}",
                attributed or Likelihood.UNGRADED,
                f"{uuid}#country",
                f"country: {iso}",
                **conf_props,
            )
        for sponsor in _text_list(meta.get("cfr-suspected-state-sponsor")):
            target = countries.find(sponsor)
            if target is None:
                batch.skipped["cfr-suspected-state-sponsor values that name no known country"] += 1
                continue
            claim(
                key,
                "AFFILIATED_WITH",
                f"misp:{target}",
                attributed or SUSPECTED,
                f"{uuid}#cfr-suspected-state-sponsor",
                f"cfr-suspected-state-sponsor: {sponsor}",
                **conf_props,
            )
        for victim in _text_list(meta.get("cfr-suspected-victims")):
            target = countries.find(victim)
            if target is None:
                batch.skipped["cfr-suspected-victims values that name no known country"] += 1
                continue
            claim(
                key,
                "TARGETED",
                f"misp:{target}",
                SUSPECTED,
                f"{uuid}#cfr-suspected-victims",
                f"cfr-suspected-victims: {victim}",
            )
        for field_name in ("cfr-target-category", "targeted-sector"):
            for category in _text_list(meta.get(field_name)):
                found = sectors.find(category)
                if found is not None:
                    target_key = f"misp:{found}"
                else:
                    target_key = f"misp-sector-name:{lookup_key(category)}"
                    batch.add(
                        Candidate(
                            key=target_key,
                            label="Sector",
                            name=category.strip(),
                            external_ids=(target_key,),
                        )
                    )
                    batch.mentions.append(Mention(source.key, target_key, target_key))
                claim(
                    key,
                    "TARGETED",
                    target_key,
                    Likelihood.UNGRADED,
                    f"{uuid}#{field_name}",
                    f"{field_name}: {category}",
                )
        for url in _text_list(meta.get("refs")):
            ref_key = f"url:{url}"
            batch.add(
                Candidate(
                    key=ref_key,
                    label="Source",
                    name=url,
                    external_ids=(url,),
                    properties={"url": url},
                    preferred_id=url_source_id(url),
                )
            )
            batch.mentions.append(Mention(ref_key, key, url, {"cited_by": source.key}))
            claim(source.key, "CITES", ref_key, Likelihood.FACT, f"{uuid}#refs", url)
        for related in value.get("related") or []:
            dest = str(related.get("dest-uuid") or "")
            kind = str(related.get("type") or "related-to")
            if dest in local:
                dest_key, dest_label = f"misp:{dest}", "ThreatActor"
            elif dest in country_keys:
                dest_key, dest_label = f"misp:{dest}", "Country"
            elif dest in sector_keys:
                dest_key, dest_label = f"misp:{dest}", "Sector"
            else:
                batch.skipped["related entries in galaxies not imported"] += 1
                continue
            relation = RELATED_TYPES.get(kind, "RELATED_TO")
            if relation != "RELATED_TO" and not _allowed(relation, "ThreatActor", dest_label):
                relation = "RELATED_TO"
            tags = [str(t) for t in related.get("tags") or []]
            term = from_estimative_tags(tags)
            reliability = from_admiralty_tags(tags)
            claim(
                key,
                relation,
                dest_key,
                term or Likelihood.UNGRADED,
                f"{uuid}#related:{dest}",
                f"{kind}: {dest}" + (f" ({', '.join(related.get('tags') or [])})" if term else ""),
                misp_type=kind,
                **({CLAIM_RELIABILITY_PROPERTY: reliability} if reliability else {}),
            )
        # Claims to countries and sectors in the other clusters are graph references.
    for c in batch.claims:
        if c.to_key.startswith("misp:") and c.to_key not in batch.candidates:
            batch.references.add(c.to_key)
    return batch


def url_source_id(url: str) -> str:
    """A stable, readable id for a Source known only by its URL."""
    return f"source:url-{slug(url.split('://', 1)[-1], 60)}-{short_hash(url, 8)}"


def _allowed(relation: str, from_label: str, to_label: str) -> bool:
    from graph.model.vocabulary import RELATION_TYPES

    rel = RELATION_TYPES[relation]
    return from_label in rel.from_labels and to_label in rel.to_labels


def galaxy_batches(
    directory: Path | None = None, clusters: Iterable[str] = DEFAULT_CLUSTERS
) -> list[ImportBatch]:
    """Country and sector batches, then one batch per threat-actor-like cluster."""
    where = directory or clusters_dir()
    country = read_cluster(where, "country")
    sector = read_cluster(where, "sector")
    batches = [
        country_batch(country, str(where / "country.json")),
        sector_batch(sector, str(where / "sector.json")),
    ]
    countries, sectors = country_index(country), sector_index(sector)
    for name in clusters:
        if name in ("country", "sector"):
            continue
        cluster = read_cluster(where, name)
        batches.append(threat_actor_batch(cluster, str(where / f"{name}.json"), countries, sectors))
    return batches
