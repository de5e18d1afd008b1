"""One transaction's write of a batch of documents: `BatchWrite` and its statements.

`batch_write` turns documents into UNWIND rows; a `BatchWrite` probes what the
graph already holds of them, plans CREATE for what is new and MERGE (with change
detection) for the rest, prunes what a source no longer says, and returns the
change records for the feed. graph/writes/loading.py runs it in a transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString

from graph.errors import WriteConflict
from graph.model.change_kinds import CREATED
from graph.model.records import GraphDocument
from graph.model.vocabulary import LABELS, RELATION_TYPES
from graph.store.database import Record, Statement
from graph.writes.changes import change_sort_key, collect_changes
from graph.writes.versions import keep_replaced_version

# Rows are sorted by id so that concurrent loaders lock nodes in the same order.
# Names that importers added (imported_aliases / imported_lookup_keys, see
# graph/writes/importing.py) are kept after the document's own, so a reload leaves an
# imported actor findable by its imported names.
#
# Entities new to the graph are CREATEd (see PROBE); every MERGE
# compares what it found with what it left (properties and labels), so the
# change feed records real changes only: a reload of the same file records
# nothing (see graph/writes/changes.py).
#
# Labels and relationship types are written into the statement text, one
# statement per label or type that a batch uses (they come from the model's
# fixed lists, never from input). Dynamic ones (`e:$(row.label)`,
# `[r:$(row.type)]`) cost the plans their index seeks: a MERGE on a dynamic
# type expands every relationship between the two ends instead of seeking the
# relationship's id, and removing dynamic labels adds label-conflict Eagers
# (bench/README.md, profiling notes).


# The kinds of the ids a load uses but does not declare (its references).
REFERENCED_LABELS = (
    "MATCH (e:Entity) WHERE e.id IN $refs "
    "RETURN collect({id: e.id, label: [l IN labels(e) WHERE l <> 'Entity'][0]}) AS referenced"
)


# What the graph already holds of a batch's entities. Everything else is new to
# this transaction and is written with CREATE, which skips MERGE's look-up and
# the before/after comparison: all of it is a change of kind 'created'. So is
# every claim with a new end and every mention of a new source (a relationship
# cannot exist before both of its ends do). Those changes are known before the
# write, so the loader makes their change records itself and the CREATE only
# counts its rows, sparing a bulk load a map per row built in Cypher and decoded
# in Python (bench/README.md, Ingest, second round). Should a concurrent loader
# create one of those ids between this probe and the CREATE, the uniqueness
# constraint refuses the CREATE and the transaction is retried (graph/writes/loading.py
# `_write_batch`), probing again.
# With it, in the same read, the kinds of the load's references when the load is
# one transaction: the check then needs no round trip of its own.
PROBE = (
    "CALL () { UNWIND $ids AS id MATCH (e:Entity {id: id}) RETURN collect(e.id) AS existing } "
    "CALL () { " + REFERENCED_LABELS + " } RETURN existing, referenced"
)


def _create_entities(label: str) -> LiteralString:
    return (
        "UNWIND $rows AS row CREATE (e:Entity:"
        + label
        + """ {id: row.id})
SET e += row.props, e.reported_on = coalesce(row.reported_on, toString(date()))
RETURN count(*) AS created
"""
    )


def _merge_entities(label: str, other_labels: list[str]) -> LiteralString:
    remove = ":".join(other_labels)
    return (
        """
UNWIND $rows AS row
MERGE (e:Entity {id: row.id})
  ON CREATE SET e.created = true
WITH e, row, properties(e) AS before, labels(e) AS before_labels
SET e += row.props, e:"""
        + label
        + """
SET e.aliases = row.props.aliases
      + [a IN coalesce(e.imported_aliases, []) WHERE NOT a IN row.props.aliases],
    e.lookup_keys = row.props.lookup_keys
      + [k IN coalesce(e.imported_lookup_keys, []) WHERE NOT k IN row.props.lookup_keys]
WITH e, row, before, before_labels, coalesce(row.reported_on, toString(date())) AS day
SET e.reported_on = CASE WHEN e.reported_on IS NULL OR day < e.reported_on THEN day
      ELSE e.reported_on END
REMOVE e:"""
        + remove
        + """
WITH e, row, before, before_labels, coalesce(e.created, false) AS created
REMOVE e.created
WITH e, row, created, created OR properties(e) <> before
  OR size(labels(e)) <> size(before_labels)
  OR any(l IN labels(e) WHERE NOT l IN before_labels) AS changed
RETURN collect(CASE WHEN changed THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         entity_id: e.id, entity_label: '"""
        + label
        + """', source_id: row.source} END) AS changes
"""
    )


CREATE_ENTITIES: dict[str, LiteralString] = {label: _create_entities(label) for label in LABELS}
MERGE_ENTITIES: dict[str, LiteralString] = {
    label: _merge_entities(label, [other for other in LABELS if other != label]) for label in LABELS
}


# Both ends of each claim, by the unique id (check_references made sure they exist).
_CLAIM_ENDS = """
UNWIND $rows AS row
MATCH (a:Entity {id: row.from})
MATCH (b:Entity {id: row.to})
"""


def _create_claims(relation: str) -> LiteralString:
    return (
        _CLAIM_ENDS
        + """CREATE (a)-[r:"""
        + relation
        + """ {id: row.id}]->(b)
SET r += row.props, r.reported_on = coalesce(row.reported_on, toString(date()))
RETURN count(*) AS created
"""
    )


def _merge_claims(relation: LiteralString) -> LiteralString:
    """MERGE each claim; one the source regrades, or makes again after a revision
    withdrew it, first has its standing version kept (graph/writes/versions.py)."""
    return (
        _CLAIM_ENDS
        + """MERGE (a)-[r:"""
        + relation
        + """ {id: row.id}]->(b)
  ON CREATE SET r.created = true
WITH a, b, r, row, properties(r) AS before, coalesce(row.changed_on, toString(date())) AS day
WITH a, b, r, row, before, day, coalesce(r.created, false) AS created
"""
        + keep_replaced_version(relation)
        + """
SET r += row.props
SET r.reported_on = coalesce(r.reported_on, row.reported_on, toString(date()))
REMOVE r.withdrawn_on
WITH r, row, before, created
REMOVE r.created
WITH r, row, created, created OR properties(r) <> before AS changed
RETURN collect(CASE WHEN changed THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         relationship_id: r.id, relation: '"""
        + relation
        + """', source_id: r.source} END) AS changes
"""
    )


CLAIM_RELATIONS = [relation for relation in RELATION_TYPES if relation != "MENTIONS"]
CREATE_CLAIMS: dict[str, LiteralString] = {rel: _create_claims(rel) for rel in CLAIM_RELATIONS}
MERGE_CLAIMS: dict[str, LiteralString] = {rel: _merge_claims(rel) for rel in CLAIM_RELATIONS}

# A source mentions everything its document declares or makes claims about.
# One row per source document: {source, ids}.
_MENTIONS = """
UNWIND $rows AS row
MATCH (s:Entity {id: row.source}) WHERE s:Source
UNWIND row.ids AS entity_id
MATCH (e:Entity {id: entity_id})
WHERE e <> s
"""
CREATE_MENTIONS = (
    _MENTIONS
    + """CREATE (s)-[m:MENTIONS {id: row.source + '-MENTIONS->' + entity_id}]->(e)
SET m.source = row.source
RETURN count(*) AS created
"""
)
MERGE_MENTIONS = (
    _MENTIONS
    + """MERGE (s)-[m:MENTIONS {id: row.source + '-MENTIONS->' + entity_id}]->(e)
  ON CREATE SET m.source = row.source, m.created = true
WITH m, coalesce(m.created, false) AS created
REMOVE m.created
RETURN collect(CASE WHEN created THEN {
         kind: 'created', relationship_id: m.id, relation: 'MENTIONS', source_id: m.source} END)
         AS changes
"""
)

# A seed file is the whole word of its source: claims it no longer makes are
# withdrawn (kept, with `withdrawn_on` the revision's date, else the load's:
# graph/model/known.py), mentions it no longer makes are removed. One statement
# per relationship type, each an index
# seek per source on rel_<type>_source: an untyped `()-[r]->()` scans every
# relationship of the graph, and `r.source IN $sources` the whole index, in every
# transaction (which makes a bulk load quadratic), and a single UNION of the typed
# seeks is slow to plan (bench/README.md). Sources new to the transaction have
# nothing to withdraw, so a first load runs no prune at all.
PRUNE_SOURCE_CLAIMS: dict[str, LiteralString] = {
    rel: "UNWIND $sources AS source MATCH ()-[r:" + rel + " {source: source.id}]->() "
    "WHERE NOT r.id IN $keep AND r.withdrawn_on IS NULL "
    + (
        "WITH r, r.id AS id, r.source AS source DELETE r "
        if rel == "MENTIONS"
        else "SET r.withdrawn_on = coalesce(source.on, toString(date())) "
        "WITH r, r.id AS id, r.source AS source "
    )
    + "RETURN collect({kind: 'withdrawn', relationship_id: id, "
    "relation: '" + rel + "', source_id: source}) AS changes"
    for rel in RELATION_TYPES
}


# A change as the write statements return it and RECORD_CHANGES takes it (graph/writes/changes.py).
ChangeRecord = dict[str, Any]
Plan = list[tuple[Statement, list[ChangeRecord] | None]]


def _created(**fields: str) -> ChangeRecord:
    return {"kind": CREATED, **fields}


def _by_id(row: dict[str, Any]) -> str:
    return str(row["id"])


def _sorted(changes: list[ChangeRecord]) -> list[ChangeRecord]:
    return sorted(changes, key=change_sort_key)


def _split(
    rows: list[dict[str, Any]], new: Callable[[dict[str, Any]], bool]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows to CREATE, rows to MERGE), each sorted by id."""
    fresh = [row for row in rows if new(row)]
    rest = [row for row in rows if not new(row)]
    return sorted(fresh, key=_by_id), sorted(rest, key=_by_id)


@dataclass(frozen=True)
class BatchWrite:
    """What one transaction writes for a batch of documents, in three stages.

    1. `probe`: which of the batch's entities the graph already holds.
    2. `upserts`: entities (per label), claims (per relation type), mentions;
       CREATE for what the probe says is new (and claims with a new end,
       mentions by a new source), MERGE with change detection for the rest.
    3. `prune`: claims and mentions the batch's existing sources no longer make.
    Then the change feed records what every stage changed (graph/writes/changes.py).
    """

    entity_rows: dict[str, list[dict[str, Any]]]  # label -> {id, props, source}
    claim_rows: dict[str, list[dict[str, Any]]]  # relation -> ClaimRecord.row()
    mention_rows: list[dict[str, Any]]  # {source, ids}, one per source
    keep: list[str]  # the claim and mention ids those sources still make
    replace_source_claims: bool
    revised: dict[str, str]  # source id -> the date of the revision loaded, if one is
    # Plans by the probe's answer: each stage and the summary ask for the same one.
    _plans: dict[frozenset[str], Plan] = field(default_factory=dict, compare=False, repr=False)

    def probe(self, refs: Sequence[str] = ()) -> Statement:
        """What the graph holds of the batch's entities and, of `refs`, their kinds."""
        ids = sorted({row["id"] for rows in self.entity_rows.values() for row in rows})
        return PROBE, {"ids": ids, "refs": list(refs)}

    @staticmethod
    def _existing(results: Sequence[list[Record]]) -> set[str]:
        return set(results[0][0]["existing"])

    def _plan(self, results: Sequence[list[Record]]) -> Plan:
        return self.plan_for(frozenset(self._existing(results)))

    def plan_for(self, existing: frozenset[str]) -> Plan:
        """The upserts when the graph already holds `existing` of the batch's entities,
        each with the changes it makes when they are known beforehand (CREATE, sorted
        as the feed numbers them), or None when the statement reports its own (MERGE)."""
        if existing not in self._plans:
            self._plans[existing] = self._make_plan(existing)
        return self._plans[existing]

    def _make_plan(self, existing: frozenset[str]) -> Plan:
        new_ids = {
            row["id"]
            for rows in self.entity_rows.values()
            for row in rows
            if row["id"] not in existing
        }

        def new_entity(row: dict[str, Any]) -> bool:
            return row["id"] in new_ids

        def new_claim(row: dict[str, Any]) -> bool:
            return row["from"] in new_ids or row["to"] in new_ids

        plan: Plan = []
        # Labels and types in the model's order, so every loader takes locks in one order.
        for label in LABELS:
            fresh, rest = _split(self.entity_rows.get(label, []), new_entity)
            if fresh:
                created = [
                    _created(entity_id=row["id"], entity_label=label, source_id=row["source"])
                    for row in fresh
                ]
                plan.append(((CREATE_ENTITIES[label], {"rows": fresh}), _sorted(created)))
            if rest:
                plan.append(((MERGE_ENTITIES[label], {"rows": rest}), None))
        for relation in CLAIM_RELATIONS:
            fresh, rest = _split(self.claim_rows.get(relation, []), new_claim)
            if fresh:
                created = [
                    _created(
                        relationship_id=row["id"],
                        relation=relation,
                        source_id=row["props"]["source"],
                    )
                    for row in fresh
                ]
                plan.append(((CREATE_CLAIMS[relation], {"rows": fresh}), _sorted(created)))
            if rest:
                plan.append(((MERGE_CLAIMS[relation], {"rows": rest}), None))
        fresh_sources = [row for row in self.mention_rows if row["source"] not in existing]
        old_sources = [row for row in self.mention_rows if row["source"] in existing]
        if fresh_sources:
            created = [
                _created(
                    relationship_id=f"{row['source']}-MENTIONS->{ref}",
                    relation="MENTIONS",
                    source_id=row["source"],
                )
                for row in fresh_sources
                for ref in row["ids"]
                if ref != row["source"]
            ]
            plan.append(((CREATE_MENTIONS, {"rows": fresh_sources}), _sorted(created)))
        if old_sources:
            plan.append(((MERGE_MENTIONS, {"rows": old_sources}), None))
        return plan

    def upserts(self, results: Sequence[list[Record]]) -> list[Statement]:
        return [statement for statement, _ in self._plan(results)]

    def changes(self, results: Sequence[list[Record]]) -> list[ChangeRecord]:
        """Every change the upserts and the prune made, in statement order.

        Raises WriteConflict (rolling the transaction back) when a CREATE wrote
        fewer rows than planned: an entity it needed was deleted meanwhile.
        """
        plan = self._plan(results)
        upserted = results[1 : 1 + len(plan)]
        changes: list[ChangeRecord] = []
        for (_, known), rows in zip(plan, upserted, strict=True):
            if known is None:
                changes += collect_changes([rows])
            elif rows[0]["created"] == len(known):
                changes += known
            else:
                raise WriteConflict(
                    f"{len(known) - rows[0]['created']} of {len(known)} new entities or "
                    "relationships lost an end to another writer while loading; nothing of "
                    "this batch was written: load it again"
                )
        return changes + collect_changes(results[1 + len(plan) :])

    def prune(self, results: Sequence[list[Record]]) -> list[Statement]:
        """The prune for the sources that existed before this transaction (none on a first load)."""
        if not self.replace_source_claims:
            return []
        existing = self._existing(results)
        sources = [
            {"id": row["source"], "on": self.revised.get(row["source"])}
            for row in self.mention_rows
            if row["source"] in existing
        ]
        if not sources:
            return []
        parameters = {"sources": sources, "keep": self.keep}
        return [(prune, parameters) for prune in PRUNE_SOURCE_CLAIMS.values()]


def batch_write(documents: Sequence[GraphDocument], replace_source_claims: bool) -> BatchWrite:
    """The rows that write several documents in one transaction, as UNWIND batches.

    An entity or claim declared by several of the documents is written once, as
    its last declaration says (every row sets every property its label or type
    knows, so that is what writing them in turn would leave), and recorded as
    one change; a source cited by several mentions everything any of them declares.
    """
    entities: dict[str, dict[str, Any]] = {}
    for document in documents:
        for entity in document.entities:
            row = entity.row()
            entities.pop(row["id"], None)  # the last declaration, in its place
            entities[row["id"]] = {
                "id": row["id"],
                "label": row["label"],
                "props": row["props"],
                "source": document.source_id,
                "reported_on": document.reported_on,
            }
    entity_rows: dict[str, list[dict[str, Any]]] = {}
    for row in entities.values():
        entity_rows.setdefault(row.pop("label"), []).append(row)
    claims = {
        claim.id: {**claim.row(), "changed_on": document.revised}
        for document in documents
        for claim in document.claims
    }
    claim_rows: dict[str, list[dict[str, Any]]] = {}
    for row in claims.values():
        claim_rows.setdefault(row["type"], []).append(row)
    mentions: dict[str, set[str]] = {}
    keep: list[str] = []
    for document in documents:
        if document.source_id is None:
            continue
        source_id = document.source_id
        mentioned = {e.id for e in document.entities}
        mentioned.update(c.from_id for c in document.claims if source_id in c.sources)
        mentioned.update(c.to_id for c in document.claims if source_id in c.sources)
        mentions.setdefault(source_id, set()).update(mentioned)
        keep += [c.id for c in document.claims if c.source == source_id]
        keep += [f"{source_id}-MENTIONS->{ref}" for ref in sorted(mentioned)]
    return BatchWrite(
        entity_rows=entity_rows,
        claim_rows=claim_rows,
        mention_rows=[{"source": source, "ids": sorted(ids)} for source, ids in mentions.items()],
        keep=keep,
        replace_source_claims=replace_source_claims,
        revised={
            document.source_id: document.revised
            for document in documents
            if document.source_id is not None and document.revised is not None
        },
    )


def prepare_batch(documents: Sequence[GraphDocument], replace_source_claims: bool) -> BatchWrite:
    """batch_write, with the plan made ahead for a batch the graph holds none of
    (a first load's case); when the probe finds some, the transaction makes its own."""
    write = batch_write(documents, replace_source_claims)
    write.plan_for(frozenset())
    return write
