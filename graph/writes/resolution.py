"""Entity resolution and the importers' write path.

Importers (STIX bundles, MISP galaxies, MITRE ATT&CK) describe what a source
says as an `ImportBatch`: candidate entities keyed by the source's own ids,
claims between them, and which sources mention which entities. `import_batch`
then

1. resolves every candidate against the graph in ONE read (the `entity_lookup`
   full-text index over normalised ids, names, aliases and external ids),
2. decides per candidate: merge into an existing entity, or create a new one,
3. writes the whole batch in ONE transaction (UNWIND batches): all or nothing.

Matching rules (per label; a ThreatActor only ever matches a ThreatActor):

- tier E: an external id (STIX id, ATT&CK id, MISP uuid, a threatgraph id)
  the candidate carries is already on an entity -> merge;
- tier N: the candidate's primary name equals an entity's primary name -> merge;
- tier M: the candidate's name is an entity's alias, or one of its aliases is
  an entity's primary name -> merge when exactly one entity matches;
- tier W: only aliases are shared -> never merged; recorded as an ambiguity.

The first tier with any match decides. Several matches in the deciding tier
never merge: a new entity is created and the ambiguity recorded (on the entity
as `ambiguous_with` and in the summary). An entity that another entry of the
same source already stands for (a MENTIONS edge from the same source with a
different `source_ref`), or that another candidate of the batch claimed in
tier E/N, is not merged into on a name/alias match.

Merging never overwrites what is there: name and description are kept (a
missing description is filled), aliases, external ids and lookup keys are
unioned, label properties are only added where absent. What imports added to
`aliases` and `lookup_keys` is also kept in `imported_aliases` and
`imported_lookup_keys`, so a seed reload can keep it (see docs/importers.md).
Each source's own view of an entity (its name, aliases, description, its id
for it) is kept on the source's MENTIONS edge. Claims and mentions carry an `import_hash`; a
re-import of unchanged data writes nothing and counts everything unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

from graph.errors import ValidationError
from graph.model import likelihood as phia
from graph.model.documents import ID_PATTERN, MAX_NAME_CHARS, MAX_STRING_CHARS
from graph.model.vocabulary import LABELS, RELATION_TYPES, id_prefix, lookup_key, relation_id
from graph.setup import LOOKUP_INDEX, ensure_schema
from graph.store.database import Graph, Statement
from graph.writes.changes import recorder

# --------------------------------------------------------------------------- data


@dataclass
class Candidate:
    """One entity as a source describes it. `key` is unique within its batch."""

    key: str
    label: str
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    external_ids: tuple[str, ...] = ()
    properties: dict[str, Any] = field(default_factory=dict)
    stix_id: str | None = None
    preferred_id: str | None = None


@dataclass
class ImportClaim:
    """One claim a source makes. Endpoints are candidate keys or graph references."""

    from_key: str
    relation: str
    to_key: str
    likelihood: phia.Likelihood
    source_key: str
    source_ref: str
    quote: str | None = None
    extra_source_keys: tuple[str, ...] = ()
    assessed_by_key: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Mention:
    """A source mentions an entity; `view` is how the source describes it."""

    source_key: str
    entity_key: str
    source_ref: str
    view: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportBatch:
    """Everything one bundle / galaxy says, written in one transaction."""

    origin: str
    candidates: dict[str, Candidate] = field(default_factory=dict)
    claims: list[ImportClaim] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    # Keys used by claims/mentions that are not candidates: ids (or external
    # ids) of entities that must already be in the graph.
    references: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, candidate: Candidate) -> Candidate:
        """Add a candidate; a second one with the same key is merged into the first."""
        existing = self.candidates.get(candidate.key)
        if existing is None:
            self.candidates[candidate.key] = candidate
            return candidate
        existing.aliases = _union_names(existing.name, existing.aliases, candidate.aliases)
        existing.external_ids = tuple(
            dict.fromkeys((*existing.external_ids, *candidate.external_ids))
        )
        if not existing.description:
            existing.description = candidate.description
        for key, value in candidate.properties.items():
            existing.properties.setdefault(key, value)
        return existing


def _zero_counts() -> Counter[str]:
    return Counter({"created": 0, "updated": 0, "unchanged": 0})


@dataclass
class ImportSummary:
    """What imports did: counts, skips with reasons, ambiguities."""

    origins: list[str] = field(default_factory=list)
    entities: Counter[str] = field(default_factory=lambda: _zero_counts())
    claims: Counter[str] = field(default_factory=lambda: _zero_counts())
    mentions: Counter[str] = field(default_factory=lambda: _zero_counts())
    merged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    ambiguities: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: ImportSummary) -> None:
        self.origins += other.origins
        self.entities.update(other.entities)
        self.claims.update(other.claims)
        self.mentions.update(other.mentions)
        self.merged += other.merged
        self.skipped.update(other.skipped)
        self.ambiguities += other.ambiguities
        self.seconds += other.seconds

    @staticmethod
    def _counts(counter: Counter[str]) -> str:
        return ", ".join(f"{counter[k]} {k}" for k in ("created", "updated", "unchanged"))

    def describe(self, max_ambiguities: int = 20) -> str:
        lines = [
            f"imported {len(self.origins)} batch(es) in {self.seconds:.1f} s",
            f"  entities: {self._counts(self.entities)} "
            f"({self.merged} matched an entity already in the graph)",
            f"  claims:   {self._counts(self.claims)}",
            f"  mentions: {self._counts(self.mentions)}",
        ]
        if self.skipped:
            lines.append(f"  skipped:  {sum(self.skipped.values())}")
            lines += [f"    {n} {reason}" for reason, n in sorted(self.skipped.items())]
        if self.ambiguities:
            lines.append(f"  ambiguities: {len(self.ambiguities)} (not merged)")
            lines += [f"    {a}" for a in self.ambiguities[:max_ambiguities]]
            if len(self.ambiguities) > max_ambiguities:
                lines.append(f"    ... and {len(self.ambiguities) - max_ambiguities} more")
        return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _union_names(name: str, first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    seen = {lookup_key(name)}
    out: list[str] = []
    for alias in (*first, *second):
        key = lookup_key(alias)
        if key and key not in seen:
            seen.add(key)
            out.append(alias.strip())
    return tuple(out)


def slug(text: str, limit: int = 80) -> str:
    """A lower-case id slug of a name ('APT 31 (China)' -> 'apt-31-china')."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9._/]+", "-", ascii_text.lower()).strip("-._/")
    cleaned = re.sub(r"-{2,}", "-", cleaned)[:limit].strip("-._/")
    return cleaned


def short_hash(text: str, length: int = 10) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def _fingerprint(props: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(props, sort_keys=True, default=str).encode()).hexdigest()


def _lucene_phrase(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class _Node:
    id: str
    label: str
    name_key: str
    alias_keys: frozenset[str]
    ext_keys: frozenset[str]
    aliases: tuple[str, ...]
    external_ids: tuple[str, ...]
    lookup_keys: frozenset[str]
    description: str
    props: dict[str, Any]
    refs: frozenset[tuple[str, str]]


@dataclass
class Resolution:
    """Candidate key -> entity id, and what the decision was."""

    ids: dict[str, str] = field(default_factory=dict)
    existing: dict[str, _Node] = field(default_factory=dict)  # entity id -> node as read
    merged: set[str] = field(default_factory=set)  # candidate keys merged into existing entities
    ambiguous_with: dict[str, list[str]] = field(default_factory=dict)
    ambiguities: list[str] = field(default_factory=list)


_NODE_FIELDS = """
RETURN node.id AS id,
       [l IN labels(node) WHERE l <> 'Entity'][0] AS label,
       node.name AS name,
       coalesce(node.aliases, []) AS aliases,
       coalesce(node.external_ids, []) AS external_ids,
       coalesce(node.lookup_keys, []) AS lookup_keys,
       coalesce(node.description, '') AS description,
       properties(node) AS props,
       [(s:Source)-[m:MENTIONS]->(node) WHERE m.source_ref IS NOT NULL | [s.id, m.source_ref]]
         AS refs
"""

# Few keys: one full-text (keyword analyzer) look-up per key.
RESOLVE_BY_INDEX = (
    """
CALL () {
  UNWIND $queries AS q
  CALL db.index.fulltext.queryNodes($index, q) YIELD node
  RETURN node
  UNION
  MATCH (node:Entity) WHERE node.id IN $ids
  RETURN node
}
"""
    + _NODE_FIELDS
)

# Many keys (a whole galaxy): one pass over the entities' lookup_keys is ~10x
# faster than thousands of index look-ups.
RESOLVE_BY_SCAN = (
    """
MATCH (node:Entity)
WHERE node.id IN $ids OR any(k IN node.lookup_keys WHERE k IN $keys)
"""
    + _NODE_FIELDS
)
SCAN_FROM_KEYS = 500


def _candidate_keys(c: Candidate) -> tuple[str, set[str], set[str]]:
    name_key = lookup_key(c.name)
    alias_keys = {lookup_key(a) for a in c.aliases} - {name_key, ""}
    ext_keys = {lookup_key(x) for x in c.external_ids if x}
    if c.preferred_id:
        ext_keys.add(lookup_key(c.preferred_id))
    return name_key, alias_keys, ext_keys


async def resolve(graph: Graph, batch: ImportBatch) -> Resolution:
    """Decide, for every candidate, which entity it is (one read for the whole batch)."""
    keys: set[str] = set()
    proposed: dict[str, str] = {}
    for c in batch.candidates.values():
        name_key, alias_keys, ext_keys = _candidate_keys(c)
        keys |= {name_key, *alias_keys, *ext_keys}
        proposed[c.key] = _proposed_id(c)
    keys |= {lookup_key(ref) for ref in batch.references}
    keys.discard("")
    ids = sorted(set(proposed.values()) | batch.references)
    if len(keys) >= SCAN_FROM_KEYS:
        rows = await graph.read(RESOLVE_BY_SCAN, {"keys": sorted(keys), "ids": ids})
    else:
        queries = [_lucene_phrase(k) for k in sorted(keys)]
        rows = await graph.read(
            RESOLVE_BY_INDEX, {"queries": queries, "index": LOOKUP_INDEX, "ids": ids}
        )
    nodes: dict[str, _Node] = {}
    for row in rows:
        nodes[row["id"]] = _Node(
            id=row["id"],
            label=row["label"],
            name_key=lookup_key(row["name"] or ""),
            alias_keys=frozenset(lookup_key(a) for a in row["aliases"]),
            ext_keys=frozenset({lookup_key(x) for x in row["external_ids"]} | {row["id"]}),
            aliases=tuple(row["aliases"]),
            external_ids=tuple(row["external_ids"]),
            lookup_keys=frozenset(row["lookup_keys"]),
            description=row["description"],
            props=row["props"],
            refs=frozenset((s, r) for s, r in row["refs"]),
        )
    return _decide(batch, nodes, proposed)


def _proposed_id(c: Candidate) -> str:
    prefix = id_prefix(c.label)
    if (
        c.preferred_id
        and c.preferred_id.startswith(prefix + ":")
        and ID_PATTERN.match(c.preferred_id)
    ):
        return c.preferred_id
    base = slug(c.name) or short_hash(c.key)
    if not re.match(r"[a-z0-9]", base):
        base = "x" + base
    return f"{prefix}:{base}"


def _decide(batch: ImportBatch, nodes: dict[str, _Node], proposed: dict[str, str]) -> Resolution:
    res = Resolution(existing=nodes)
    by_ext: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_name: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_alias: dict[tuple[str, str], set[str]] = defaultdict(set)
    for node in nodes.values():
        for k in node.ext_keys:
            by_ext[(node.label, k)].add(node.id)
        by_name[(node.label, node.name_key)].add(node.id)
        for k in node.alias_keys:
            by_alias[(node.label, k)].add(node.id)

    def look(index: dict[tuple[str, str], set[str]], label: str, ks: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for k in ks:
            found |= index.get((label, k), set())
        return found

    # Mentions by the same source under another ref: that entity is another entry.
    own_refs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for m in batch.mentions:
        own_refs[m.entity_key].add((m.source_key, m.source_ref))

    candidates = list(batch.candidates.values())
    keys = {c.key: _candidate_keys(c) for c in candidates}
    pending: list[Candidate] = []
    owned: set[str] = set()

    def blocked(c: Candidate, node_id: str) -> bool:
        # Sources are resolved first, so their entity ids are known here.
        mine = own_refs.get(c.key, set())
        for source_id, ref in nodes[node_id].refs:
            for s_key, my_ref in mine:
                if res.ids.get(s_key, s_key) == source_id and ref != my_ref:
                    return True
        return False

    # Sources first (so blocked() can compare resolved source ids), then the rest.
    ordered = sorted(candidates, key=lambda c: c.label != "Source")
    # Phase 1: external ids and primary names.
    for c in ordered:
        name_key, alias_keys, ext_keys = keys[c.key]
        ext = look(by_ext, c.label, ext_keys)
        if len(ext) == 1:
            res.ids[c.key] = next(iter(ext))
            owned |= ext
            continue
        if len(ext) > 1:
            _ambiguous(res, c, sorted(ext), "external ids")
            continue
        named = {n for n in look(by_name, c.label, [name_key]) if not blocked(c, n)}
        if len(named) == 1:
            res.ids[c.key] = next(iter(named))
            owned |= named
            continue
        if len(named) > 1:
            _ambiguous(res, c, sorted(named), f"name {c.name!r}")
            continue
        pending.append(c)
    # Phase 2: name <-> alias, then alias <-> alias (never merged).
    for c in pending:
        name_key, alias_keys, _ = keys[c.key]
        cross = look(by_alias, c.label, [name_key]) | look(by_name, c.label, alias_keys)
        cross = {n for n in cross if n not in owned and not blocked(c, n)}
        if len(cross) == 1:
            res.ids[c.key] = next(iter(cross))
            owned |= cross
            continue
        if len(cross) > 1:
            _ambiguous(res, c, sorted(cross), "a name or alias")
            continue
        shared = look(by_alias, c.label, alias_keys)
        if shared:
            _ambiguous(res, c, sorted(shared), "an alias only")
    # New entities get ids that are free in the graph and in the batch.
    taken = set(nodes) | set(res.ids.values())
    for c in candidates:
        if c.key in res.ids:
            if res.ids[c.key] in nodes:
                res.merged.add(c.key)
            continue
        new_id = proposed[c.key]
        if new_id in taken:
            new_id = f"{new_id[:180]}-{short_hash(c.key, 8)}"
        taken.add(new_id)
        res.ids[c.key] = new_id
    # Ambiguities inside the batch: one alias, several new entities of a label.
    inside: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in candidates:
        if c.key in res.merged:
            continue
        name_key, alias_keys, _ = keys[c.key]
        for k in {name_key, *alias_keys}:
            inside[(c.label, k)].add(res.ids[c.key])
    for (label, k), ids in sorted(inside.items()):
        if len(ids) > 1 and label != "Source":
            res.ambiguities.append(
                f"{k!r} names {len(ids)} {label} entities: {', '.join(sorted(ids))}"
            )
            for entity_id in ids:
                others = sorted(ids - {entity_id})
                res.ambiguous_with.setdefault(entity_id, [])
                res.ambiguous_with[entity_id] = sorted(
                    set(res.ambiguous_with[entity_id]) | set(others)
                )
    # Record the decided ambiguities against the new ids.
    for c in candidates:
        pending_key = f"\x00{c.key}"
        if pending_key in res.ambiguous_with:
            others = res.ambiguous_with.pop(pending_key)
            new_id = res.ids[c.key]
            res.ambiguous_with[new_id] = sorted(
                set(res.ambiguous_with.get(new_id, [])) | set(others)
            )
    return res


def _ambiguous(res: Resolution, c: Candidate, ids: list[str], how: str) -> None:
    res.ambiguities.append(
        f"{c.label} {c.name!r} ({c.key}) matches {len(ids)} entities by {how}: "
        f"{', '.join(ids)}; kept apart"
    )
    res.ambiguous_with[f"\x00{c.key}"] = ids


# --------------------------------------------------------------------------- writing

# Like the loader's, these upserts compare what they found with what they left
# and return what really changed for the change feed (graph/writes/changes.py).
UPSERT_ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {id: row.id})
  ON CREATE SET e.name = row.name, e.description = row.description,
                e.aliases = [], e.external_ids = [], e.lookup_keys = [],
                e.imported_aliases = [], e.imported_lookup_keys = [],
                e.created_by_import = true
WITH e, row, properties(e) AS before, labels(e) AS before_labels
SET e:$(row.label)
SET e.aliases = coalesce(e.aliases, []) + [a IN row.aliases WHERE NOT a IN coalesce(e.aliases, [])],
    e.external_ids = coalesce(e.external_ids, [])
      + [x IN row.external_ids WHERE NOT x IN coalesce(e.external_ids, [])],
    e.lookup_keys = coalesce(e.lookup_keys, [])
      + [k IN row.lookup_keys WHERE NOT k IN coalesce(e.lookup_keys, [])],
    e.imported_aliases = coalesce(e.imported_aliases, [])
      + [a IN row.aliases WHERE NOT a IN coalesce(e.imported_aliases, [])],
    e.imported_lookup_keys = coalesce(e.imported_lookup_keys, [])
      + [k IN row.lookup_keys WHERE NOT k IN coalesce(e.imported_lookup_keys, [])],
    e.description = CASE WHEN coalesce(e.description, '') = '' THEN row.description
                         ELSE e.description END,
    e.stix_id = coalesce(e.stix_id, row.stix_id),
    e.ambiguous_with = CASE WHEN size(row.ambiguous_with) = 0 THEN e.ambiguous_with
      ELSE coalesce(e.ambiguous_with, [])
        + [x IN row.ambiguous_with WHERE NOT x IN coalesce(e.ambiguous_with, [])] END
SET e += row.props
WITH e, row, before, before_labels, coalesce(e.created_by_import, false) AS created
REMOVE e.created_by_import
WITH e, row, created, created OR properties(e) <> before
  OR size(labels(e)) <> size(before_labels) AS changed
RETURN count(*) AS written,
       collect(CASE WHEN changed THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         entity_id: e.id, entity_label: row.label, source_id: row.source} END) AS changes
"""

# Relationship upsert shared by claims and mentions: unchanged rows (same
# import_hash) are left alone, so a re-import writes nothing. One statement per
# relationship type (a static type lets MERGE use the type's id index; the
# types come from the model's fixed list, never from input).
_UPSERT_RELS = """
UNWIND $rows AS row
MATCH (a:Entity {id: row.from})
MATCH (b:Entity {id: row.to})
MERGE (a)-[r:`{type}` {id: row.id}]->(b)
  ON CREATE SET r.created_by_import = true
WITH r, row, coalesce(r.created_by_import, false) AS created,
     coalesce(r.import_hash = row.hash, false) AS same
FOREACH (_ IN CASE WHEN same THEN [] ELSE [1] END |
  SET r += row.props, r.import_hash = row.hash, r.imported_at = $now)
REMOVE r.created_by_import
RETURN count(CASE WHEN created THEN 1 END) AS created,
       count(CASE WHEN NOT created AND NOT same THEN 1 END) AS updated,
       count(CASE WHEN same THEN 1 END) AS unchanged,
       collect(CASE WHEN NOT same THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         relationship_id: r.id, relation: row.type, source_id: row.props.source} END) AS changes
"""
UPSERT_RELATIONS: dict[str, LiteralString] = {
    rel: _UPSERT_RELS.replace("`{type}`", rel) for rel in RELATION_TYPES
}


CHUNK = 5000


def _entity_rows(
    batch: ImportBatch, res: Resolution, summary: ImportSummary
) -> list[dict[str, Any]]:
    """Rows for entities that are new or gain something; counts the rest unchanged."""
    grouped: dict[str, list[Candidate]] = defaultdict(list)
    for c in batch.candidates.values():
        grouped[res.ids[c.key]].append(c)
    rows: list[dict[str, Any]] = []
    for entity_id, cands in grouped.items():
        node = res.existing.get(entity_id)
        first = cands[0]
        seen = {lookup_key(first.name)} if node is None else {node.name_key, *node.alias_keys}
        aliases: list[str] = []
        ext: list[str] = []
        ext_have = set() if node is None else set(node.external_ids)
        props: dict[str, Any] = {}
        stix_id: str | None = None
        description = "" if node is None else node.description
        for c in cands:
            for alias in (c.name, *c.aliases):
                k = lookup_key(alias)
                if k and k not in seen:
                    seen.add(k)
                    aliases.append(alias.strip())
            for x in c.external_ids:
                if x and x not in ext_have:
                    ext_have.add(x)
                    ext.append(x)
            stix_id = stix_id or c.stix_id
            description = description or c.description
            for key, value in c.properties.items():
                if value is None or value == [] or value == "":
                    continue
                if (node is None or key not in node.props) and key not in props:
                    props[key] = value
        have_keys = set() if node is None else set(node.lookup_keys)
        lookup: list[str] = []
        for text in (entity_id, first.name, *aliases, *ext):
            k = lookup_key(text)
            if k and k not in have_keys and k not in lookup:
                lookup.append(k)
        ambiguous = [x for x in res.ambiguous_with.get(entity_id, []) if x != entity_id]
        if node is not None:
            ambiguous = [x for x in ambiguous if x not in (node.props.get("ambiguous_with") or [])]
            if node.props.get("stix_id") is not None:
                stix_id = None
            filled = bool(description) and not node.description
            changed = bool(aliases or ext or lookup or props or stix_id or filled or ambiguous)
            summary.entities["updated" if changed else "unchanged"] += 1
            if not changed:
                continue
        else:
            summary.entities["created"] += 1
        rows.append(
            {
                "id": entity_id,
                "label": first.label,
                "name": first.name,
                "description": description,
                "aliases": aliases,
                "external_ids": ext,
                "lookup_keys": lookup,
                "stix_id": stix_id,
                "ambiguous_with": ambiguous,
                "props": props,
            }
        )
    return rows


def _claim_rows(
    batch: ImportBatch, res: Resolution, labels: dict[str, str], imported_at: str
) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for claim in batch.claims:
        ends = [res.ids.get(claim.from_key), res.ids.get(claim.to_key)]
        source = res.ids.get(claim.source_key)
        if ends[0] is None or ends[1] is None or source is None:
            batch.skipped["claims whose ends could not be resolved"] += 1
            continue
        rel = RELATION_TYPES[claim.relation]
        from_label, to_label = labels.get(ends[0], ""), labels.get(ends[1], "")
        if from_label not in rel.from_labels or to_label not in rel.to_labels:
            batch.skipped[
                f"{claim.relation} claims from a {from_label} to a {to_label} (not in the model)"
            ] += 1
            continue
        sources = [source] + [
            res.ids[k] for k in claim.extra_source_keys if k in res.ids and res.ids[k] != source
        ]
        claim_id = relation_id(ends[0], claim.relation, ends[1], source)
        props = {
            "id": claim_id,
            "source": source,
            "source_ref": claim.source_ref,
            "likelihood": claim.likelihood.value,
            "likelihood_rank": claim.likelihood.rank,
            "sources": list(dict.fromkeys(sources)),
            "quote": claim.quote,
            "assessed_by": res.ids.get(claim.assessed_by_key) if claim.assessed_by_key else None,
            "valid_from": claim.valid_from,
            "valid_to": claim.valid_to,
            **claim.properties,
        }
        if claim_id in rows:
            batch.skipped["duplicate claims (same source, ends and relation)"] += 1
            continue
        rows[claim_id] = {
            "id": claim_id,
            "from": ends[0],
            "to": ends[1],
            "type": claim.relation,
            "props": props,
            "hash": _fingerprint(props),
        }
    del imported_at
    return list(rows.values())


def _mention_rows(batch: ImportBatch, res: Resolution) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for m in batch.mentions:
        source, entity = res.ids.get(m.source_key), res.ids.get(m.entity_key)
        if source is None or entity is None or source == entity:
            continue
        mention_id = f"{source}-MENTIONS->{entity}"
        props = {"id": mention_id, "source": source, "source_ref": m.source_ref, **m.view}
        if mention_id in rows:
            continue
        rows[mention_id] = {
            "id": mention_id,
            "from": source,
            "to": entity,
            "type": "MENTIONS",
            "props": props,
            "hash": _fingerprint(props),
        }
    return list(rows.values())


def _check_sizes(batch: ImportBatch) -> None:
    """Texts a seed file could not hold fail the whole batch, before any read
    (Neo4j refuses to index a name or alias of more than about 8 kB)."""
    problems: list[str] = []
    for c in batch.candidates.values():
        texts = [("name", c.name, MAX_NAME_CHARS), ("description", c.description, MAX_STRING_CHARS)]
        texts += [("alias", alias, MAX_NAME_CHARS) for alias in c.aliases]
        texts += [(k, v, MAX_STRING_CHARS) for k, v in c.properties.items() if isinstance(v, str)]
        for what, text, limit in texts:
            if len(text) > limit:
                problems.append(
                    f"{c.key}: {what} is {len(text)} characters long, over the limit of {limit}"
                )
    if problems:
        raise ValidationError(batch.origin, problems[:50])


def _check(batch: ImportBatch, res: Resolution) -> None:
    """References that are neither candidates nor in the graph fail the whole batch."""
    problems: list[str] = []
    for ref in sorted(batch.references):
        key = lookup_key(ref)
        found = [n.id for n in res.existing.values() if key in n.ext_keys]
        if len(found) == 1:
            res.ids[ref] = found[0]
        elif not found:
            problems.append(f"{ref!r} is neither in this input nor in the graph")
        else:
            problems.append(f"{ref!r} matches several entities: {', '.join(sorted(found))}")
    if problems:
        raise ValidationError(batch.origin, problems)


def batch_statements(
    batch: ImportBatch, res: Resolution, summary: ImportSummary, imported_at: str
) -> tuple[list[Statement], list[str]]:
    labels = {n.id: n.label for n in res.existing.values()}
    for c in batch.candidates.values():
        labels.setdefault(res.ids[c.key], c.label)
    entity_rows = _entity_rows(batch, res, summary)
    mentioned_by = _first_mentioning_source(batch, res)
    for row in entity_rows:
        # A source's own change is on its own word, as in the seed loader.
        own = row["id"] if row["label"] == "Source" else None
        row["source"] = mentioned_by.get(row["id"], own)
    statements: list[Statement] = []
    kinds: list[str] = []
    entity_rows.sort(key=lambda r: str(r["id"]))
    for start in range(0, len(entity_rows), CHUNK):
        statements.append((UPSERT_ENTITIES, {"rows": entity_rows[start : start + CHUNK]}))
        kinds.append("entities")
    claim_rows = _claim_rows(batch, res, labels, imported_at)
    mention_rows = _mention_rows(batch, res)
    for kind, rows in (("claims", claim_rows), ("mentions", mention_rows)):
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: str(r["id"])):  # one lock order for all writers
            by_type[row["type"]].append(row)
        for rel, typed in sorted(by_type.items()):
            for start in range(0, len(typed), CHUNK):
                chunk = typed[start : start + CHUNK]
                statements.append((UPSERT_RELATIONS[rel], {"rows": chunk, "now": imported_at}))
                kinds.append(kind)
    return statements, kinds


def _first_mentioning_source(batch: ImportBatch, res: Resolution) -> dict[str, str]:
    """Entity id -> the (alphabetically first) source of the batch that mentions it."""
    found: dict[str, str] = {}
    for m in batch.mentions:
        source, entity = res.ids.get(m.source_key), res.ids.get(m.entity_key)
        if source is not None and entity is not None and source < found.get(entity, "\uffff"):
            found[entity] = source
    return found


async def import_batch(graph: Graph, batch: ImportBatch) -> ImportSummary:
    """Resolve and write one batch in one transaction; a summary of what changed."""
    started = dt.datetime.now(dt.UTC)
    _check_sizes(batch)
    await ensure_schema(graph)
    res = await resolve(graph, batch)
    _check(batch, res)
    summary = ImportSummary(origins=[batch.origin])
    statements, kinds = batch_statements(batch, res, summary, now_iso())
    record = recorder(f"import:{Path(batch.origin).name}")
    results = await graph.write_in_one_transaction(statements, then=[record]) if statements else []
    results = results[: len(kinds)]  # what follows is the change feed's record
    for kind, result in zip(kinds, results, strict=True):
        if kind == "entities":
            continue
        counter = summary.claims if kind == "claims" else summary.mentions
        for column in ("created", "updated", "unchanged"):
            counter[column] += result[0][column]
    summary.merged = len({res.ids[k] for k in res.merged if batch.candidates[k].label != "Source"})
    summary.skipped.update(batch.skipped)
    summary.ambiguities = res.ambiguities
    summary.seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return summary


async def import_batches(graph: Graph, batches: Sequence[ImportBatch]) -> ImportSummary:
    total = ImportSummary()
    for batch in batches:
        total.add(await import_batch(graph, batch))
    return total


def check_label(label: str) -> str:
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}")
    return label
