"""Write validated graph documents: one transaction per document, UNWIND batches.

A load is checked as a whole first (`check_references`: ids that a document
uses but does not declare must exist in the graph, with a label the relation
allows); only then is anything written. Each document is written in one
transaction, so a failure leaves the graph as it was before that document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

from neo4j.exceptions import ConstraintError

from graph.changes import recorder
from graph.database import Graph, Record, Statement
from graph.documents import GraphDocument, a, combine_failures, wrong_label
from graph.errors import ValidationError
from graph.model import LABELS, RELATION_TYPES
from graph.schema_setup import ensure_schema

# Rows are sorted by id so that concurrent loaders lock nodes in the same order.
# Names that importers added (imported_aliases / imported_lookup_keys, see
# graph/resolution.py) are kept after the document's own, so a reload leaves an
# imported actor findable by its imported names.
#
# Every upsert compares what it found with what it left (properties and
# labels), so the change feed records real changes only: a reload of the same
# file records nothing (see graph/changes.py).
#
# Labels and relationship types are written into the statement text, one
# statement per label or type that a batch uses (they come from the model's
# fixed lists, never from input). Dynamic ones (`e:$(row.label)`,
# `[r:$(row.type)]`) cost the plans their index seeks: a MERGE on a dynamic
# type expanded every relationship between the two ends instead of seeking the
# relationship's id (12,580 db hits for 919 claims, against 2 per claim), and
# removing dynamic labels cost 15 db hits per node (bench/README.md, profiling notes).


def _upsert_entities(label: str, other_labels: list[str]) -> LiteralString:
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
REMOVE e:"""
        + remove
        + """
WITH e, row, before, before_labels, coalesce(e.created, false) AS created
REMOVE e.created
WITH e, row, created, created OR properties(e) <> before
  OR size(labels(e)) <> size(before_labels)
  OR any(l IN labels(e) WHERE NOT l IN before_labels) AS changed
RETURN count(CASE WHEN created THEN 1 END) AS created, count(*) AS written,
       collect(CASE WHEN changed THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         entity_id: e.id, entity_label: '"""
        + label
        + """', source_id: row.source} END) AS changes
"""
    )


UPSERT_ENTITIES: dict[str, LiteralString] = {
    label: _upsert_entities(label, [other for other in LABELS if other != label])
    for label in LABELS
}


def _upsert_claims(relation: str) -> LiteralString:
    return (
        """
UNWIND $rows AS row
MATCH (a:Entity {id: row.from})
MATCH (b:Entity {id: row.to})
MERGE (a)-[r:"""
        + relation
        + """ {id: row.id}]->(b)
  ON CREATE SET r.created = true
WITH r, row, properties(r) AS before
SET r += row.props
WITH r, row, before, coalesce(r.created, false) AS created
REMOVE r.created
WITH r, row, created, created OR properties(r) <> before AS changed
RETURN count(CASE WHEN created THEN 1 END) AS created, count(*) AS written,
       collect(CASE WHEN changed THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         relationship_id: r.id, relation: '"""
        + relation
        + """', source_id: r.source} END) AS changes
"""
    )


UPSERT_CLAIMS: dict[str, LiteralString] = {
    relation: _upsert_claims(relation) for relation in RELATION_TYPES if relation != "MENTIONS"
}

# A source mentions everything its document declares or makes claims about.
# One row per source document: {source, ids}.
UPSERT_MENTIONS = """
UNWIND $rows AS row
MATCH (s:Entity {id: row.source}) WHERE s:Source
UNWIND row.ids AS entity_id
MATCH (e:Entity {id: entity_id})
WHERE e <> s
MERGE (s)-[m:MENTIONS {id: row.source + '-MENTIONS->' + entity_id}]->(e)
  ON CREATE SET m.source = row.source, m.created = true
WITH m, coalesce(m.created, false) AS created
REMOVE m.created
RETURN count(*) AS written,
       collect(CASE WHEN created THEN {
         kind: 'created', relationship_id: m.id, relation: 'MENTIONS', source_id: m.source} END)
         AS changes
"""

# A seed file is the whole word of its source: claims (and mentions) it no
# longer makes are withdrawn. One statement per relationship type, each an index
# seek per source on rel_<type>_source: an untyped `()-[r]->()` scanned every
# relationship of the graph, and `r.source IN $sources` scanned the whole index,
# for every transaction (a bulk load was quadratic); a single UNION of the typed
# seeks took seconds to plan. Sources that the transaction itself created have
# nothing to withdraw, so a first load runs no prune at all.
PRUNE_SOURCE_CLAIMS: dict[str, LiteralString] = {
    rel: "UNWIND $sources AS source MATCH ()-[r:" + rel + " {source: source}]->() "
    "WHERE NOT r.id IN $keep "
    "WITH r, r.id AS id, r.source AS source DELETE r "
    "RETURN count(*) AS deleted, collect({kind: 'withdrawn', relationship_id: id, "
    "relation: '" + rel + "', source_id: source}) AS changes"
    for rel in RELATION_TYPES
}


@dataclass
class LoadSummary:
    """What a load did, document by document."""

    documents: list[str] = field(default_factory=list)
    entities_created: int = 0
    entities_written: int = 0
    claims_created: int = 0
    claims_written: int = 0
    claims_removed: int = 0

    def describe(self) -> str:
        return (
            f"{len(self.documents)} document(s): "
            f"{self.entities_written} entities ({self.entities_created} new), "
            f"{self.claims_written} claims ({self.claims_created} new, "
            f"{self.claims_removed} withdrawn)"
        )


async def check_references(graph: Graph, documents: Sequence[GraphDocument]) -> None:
    """Resolve every id used but not declared, across the whole load and the graph.

    Raises one ValidationError listing every problem of every document; reads only.
    """
    declared: dict[str, str] = {}
    declared_in: dict[str, str] = {}
    failures: list[ValidationError] = []
    conflicts: dict[str, list[str]] = {}
    for document in documents:
        for entity in document.entities:
            first = declared.setdefault(entity.id, entity.label)
            declared_in.setdefault(entity.id, document.origin)
            if first != entity.label:
                conflicts.setdefault(document.origin, []).append(
                    f"{entity.id} is declared as {a(entity.label)} here but as {a(first)} "
                    f"in {declared_in[entity.id]}"
                )
    wanted = sorted({ref for doc in documents for ref in doc.unresolved if ref not in declared})
    found: dict[str, str] = {}
    if wanted:
        rows = await graph.read(
            "MATCH (e:Entity) WHERE e.id IN $ids "
            "RETURN e.id AS id, [l IN labels(e) WHERE l <> 'Entity'][0] AS label",
            {"ids": wanted},
        )
        found = {row["id"]: row["label"] for row in rows}
    labels = {**found, **declared}
    for document in documents:
        problems = list(conflicts.get(document.origin, []))
        for ref, uses in document.unresolved.items():
            label = labels.get(ref)
            for use in uses:
                if label is None:
                    problems.append(
                        f"{use.place}: {ref!r} is not declared in this load nor present "
                        "in the graph"
                    )
                elif label not in use.allowed:
                    wrong = wrong_label(ref, label, use.role, use.allowed)
                    problems.append(f"{use.place}: {wrong}")
        if problems:
            failures.append(ValidationError(document.origin, problems))
    if failures:
        raise combine_failures(failures)


def _by_id(row: dict[str, Any]) -> str:
    return str(row["id"])


@dataclass(frozen=True)
class BatchWrite:
    """What one transaction writes for a batch of documents.

    `statements` are the upserts: entities (one statement per label), claims
    (one per relation type), then mentions. The prune of withdrawn claims is
    decided inside the transaction (`prune_statements`), once the upserts have
    said which sources are new.
    """

    statements: list[tuple[str, Statement]]  # (kind, statement); kind: entities/claims/mentions
    sources: list[str]  # the batch's documents' sources, in document order
    keep: list[str]  # the claim and mention ids those sources still make
    replace_source_claims: bool

    def prune_statements(self, results: Sequence[list[Record]]) -> list[Statement]:
        """The prune for the sources that existed before this transaction (none on a first load)."""
        if not self.replace_source_claims or not self.sources:
            return []
        created = {
            change["entity_id"]
            for rows in results[: self.entity_statement_count]
            for row in rows
            for change in row["changes"]
            if change["kind"] == "created"
        }
        existing = [source for source in self.sources if source not in created]
        if not existing:
            return []
        parameters = {"sources": existing, "keep": self.keep}
        return [(prune, parameters) for prune in PRUNE_SOURCE_CLAIMS.values()]

    @property
    def entity_statement_count(self) -> int:
        return sum(1 for kind, _ in self.statements if kind == "entities")


def batch_write(documents: Sequence[GraphDocument], replace_source_claims: bool) -> BatchWrite:
    """The statements that write several documents in one transaction, as UNWIND batches."""
    entity_rows: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        for entity in document.entities:
            row = entity.row()
            entity_rows.setdefault(row["label"], []).append(
                {"id": row["id"], "props": row["props"], "source": document.source_id}
            )
    claim_rows: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        for claim in document.claims:
            claim_rows.setdefault(claim.relation, []).append(claim.row())
    # Labels and types in the model's order, so every loader takes locks in one order.
    statements: list[tuple[str, Statement]] = [
        ("entities", (UPSERT_ENTITIES[label], {"rows": sorted(entity_rows[label], key=_by_id)}))
        for label in LABELS
        if label in entity_rows
    ]
    statements += [
        ("claims", (UPSERT_CLAIMS[relation], {"rows": sorted(claim_rows[relation], key=_by_id)}))
        for relation in UPSERT_CLAIMS
        if relation in claim_rows
    ]
    mention_rows: list[dict[str, Any]] = []
    keep: list[str] = []
    for document in documents:
        if document.source_id is None:
            continue
        source_id = document.source_id
        mentioned = {e.id for e in document.entities}
        mentioned.update(c.from_id for c in document.claims if source_id in c.sources)
        mentioned.update(c.to_id for c in document.claims if source_id in c.sources)
        mention_rows.append({"source": source_id, "ids": sorted(mentioned)})
        keep += [c.id for c in document.claims if c.source == source_id]
        keep += [f"{source_id}-MENTIONS->{ref}" for ref in sorted(mentioned)]
    if mention_rows:
        statements.append(("mentions", (UPSERT_MENTIONS, {"rows": mention_rows})))
    return BatchWrite(
        statements=statements,
        sources=[row["source"] for row in mention_rows],
        keep=keep,
        replace_source_claims=replace_source_claims,
    )


async def load_documents(
    graph: Graph,
    documents: Sequence[GraphDocument],
    replace_source_claims: bool = True,
    origin: str | None = None,
    *,
    documents_per_transaction: int = 1,
) -> LoadSummary:
    """Check the whole load (reading only), then write the documents.

    By default each document is one transaction, so a failure leaves the graph as
    it was before that document. Bulk loads pass documents_per_transaction > 1:
    that many documents then share one transaction (and one UNWIND per statement),
    all or none of them written.

    Each transaction also records its changes for the change feed, with
    `origin` ("mutation:ingest"; by default "seed:" and the file's name).
    """
    if documents_per_transaction < 1:
        raise ValueError(f"documents_per_transaction: at least 1, not {documents_per_transaction}")
    await check_references(graph, documents)
    await ensure_schema(graph)
    summary = LoadSummary()
    for start in range(0, len(documents), documents_per_transaction):
        batch = documents[start : start + documents_per_transaction]
        write = batch_write(batch, replace_source_claims)
        results = await _write_batch(graph, write, origin or _seed_origin(batch))
        summary.documents.extend(document.origin for document in batch)
        for (kind, _), rows in zip(write.statements, results, strict=False):
            if kind == "entities":
                summary.entities_created += rows[0]["created"]
                summary.entities_written += rows[0]["written"]
            elif kind == "claims":
                summary.claims_created += rows[0]["created"]
                summary.claims_written += rows[0]["written"]
        # Then come the prunes (none when every source is new), one per relationship
        # type, and the change record (when anything changed); MENTIONS are no claims.
        pruned = [rows for rows in results[len(write.statements) :] if "deleted" in rows[0]]
        summary.claims_removed += sum(
            rows[0]["deleted"]
            for rel, rows in zip(PRUNE_SOURCE_CLAIMS, pruned, strict=False)
            if rel != "MENTIONS"
        )
    return summary


def _seed_origin(batch: Sequence[GraphDocument]) -> str:
    """The change feed's origin for a batch of seed files: the file, or the first of several."""
    first = f"seed:{Path(batch[0].origin).name}"
    return first if len(batch) == 1 else f"{first} (+{len(batch) - 1} more)"


CONSTRAINT_RETRIES = 5


async def _write_batch(graph: Graph, write: BatchWrite, origin: str) -> list[list[Record]]:
    """One transaction for the batch, retried when a concurrent loader won a MERGE race.

    MERGE on a uniquely constrained id can fail with ConstraintValidationFailed when
    another transaction created the same node or relationship after this one looked
    for it; the whole transaction rolled back, and running it again finds (and
    updates) what the other loader created.
    """
    statements = [statement for _, statement in write.statements]
    for attempt in range(CONSTRAINT_RETRIES):
        try:
            return await graph.write_in_one_transaction(
                statements, then=[write.prune_statements, recorder(origin)]
            )
        except ConstraintError:
            if attempt == CONSTRAINT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
