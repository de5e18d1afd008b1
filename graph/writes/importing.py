"""The importers' write path: `import_batch` resolves a batch (graph/writes/resolution.py)
and writes the whole of it in ONE transaction (UNWIND batches): all or nothing.

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
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, LiteralString

from graph.errors import ValidationError
from graph.model.field_checks import MAX_NAME_CHARS, MAX_STRING_CHARS
from graph.model.vocabulary import RELATION_TYPES, lookup_key, relation_id
from graph.store.database import Graph, Statement
from graph.writes.batches import Candidate, ImportBatch, ImportSummary
from graph.writes.changes import recorder
from graph.writes.resolution import Resolution, resolve, resolve_references
from graph.writes.versions import keep_replaced_version


def _fingerprint(props: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(props, sort_keys=True, default=str).encode()).hexdigest()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


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
WITH a, b, r, row, coalesce(r.created_by_import, false) AS created,
     coalesce(r.import_hash = row.hash, false) AS same, properties(r) AS before,
     coalesce(row.changed_on, left($now, 10)) AS day
KEEP_VERSION
FOREACH (_ IN CASE WHEN same THEN [] ELSE [1] END |
  SET r += row.props, r.import_hash = row.hash, r.imported_at = $now,
      r.reported_on = coalesce(r.reported_on, row.reported_on, left($now, 10))
  REMOVE r.withdrawn_on)
REMOVE r.created_by_import
RETURN count(CASE WHEN created THEN 1 END) AS created,
       count(CASE WHEN NOT created AND NOT same THEN 1 END) AS updated,
       count(CASE WHEN same THEN 1 END) AS unchanged,
       collect(CASE WHEN NOT same THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         relationship_id: r.id, relation: row.type, source_id: row.props.source} END) AS changes
"""
UPSERT_RELATIONS: dict[str, LiteralString] = {
    rel: _UPSERT_RELS.replace("`{type}`", rel).replace(
        "KEEP_VERSION",
        # Mentions carry no grade: they have no versions.
        "" if rel == "MENTIONS" else keep_replaced_version(rel, "NOT same"),
    )
    for rel in RELATION_TYPES
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
            "reported_on": claim.reported_on,
            "changed_on": claim.changed_on,
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
    res = await resolve(graph, batch)
    resolve_references(batch, res)
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
