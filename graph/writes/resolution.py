"""Entity resolution: which entity of the graph, if any, each candidate of an import batch is.

`resolve` reads every candidate's possible matches in ONE read (the
`entity_lookup` full-text index over normalised ids, names, aliases and
external ids) and decides per candidate: merge into an existing entity, or
create a new one.

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
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graph.errors import ValidationError
from graph.model.field_checks import ID_PATTERN
from graph.model.vocabulary import id_prefix, lookup_key
from graph.store.database import Graph
from graph.store.indexes import LOOKUP_INDEX
from graph.writes.batches import Candidate, ImportBatch, short_hash, slug


def _lucene_phrase(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


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

# Many keys (a whole galaxy): one pass over the entities' lookup_keys costs less
# than thousands of index look-ups (bench/README.md).
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


def resolve_references(batch: ImportBatch, res: Resolution) -> None:
    """Map the batch's references to the entities they name; references that are
    neither candidates nor in the graph fail the whole batch."""
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
