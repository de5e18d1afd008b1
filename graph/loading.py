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
from graph.model import RELATION_TYPES
from graph.schema_setup import ensure_schema

# Rows are sorted by id so that concurrent loaders lock nodes in the same order.
# Names that importers added (imported_aliases / imported_lookup_keys, see
# graph/resolution.py) are kept after the document's own, so a reload leaves an
# imported actor findable by its imported names.
#
# Every upsert compares what it found with what it left (properties and
# labels), so the change feed records real changes only: a reload of the same
# file records nothing (see graph/changes.py).
UPSERT_ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {id: row.id})
  ON CREATE SET e.created = true
WITH e, row, properties(e) AS before, labels(e) AS before_labels
SET e += row.props, e:$(row.label)
SET e.aliases = row.props.aliases
      + [a IN coalesce(e.imported_aliases, []) WHERE NOT a IN row.props.aliases],
    e.lookup_keys = row.props.lookup_keys
      + [k IN coalesce(e.imported_lookup_keys, []) WHERE NOT k IN row.props.lookup_keys]
REMOVE e:$(row.other_labels)
WITH e, row, before, before_labels, coalesce(e.created, false) AS created
REMOVE e.created
WITH e, row, created, created OR properties(e) <> before
  OR size(labels(e)) <> size(before_labels)
  OR any(l IN labels(e) WHERE NOT l IN before_labels) AS changed
RETURN count(CASE WHEN created THEN 1 END) AS created, count(*) AS written,
       collect(CASE WHEN changed THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         entity_id: e.id, entity_label: row.label, source_id: row.source} END) AS changes
"""

UPSERT_CLAIMS = """
UNWIND $rows AS row
MATCH (a:Entity {id: row.from})
MATCH (b:Entity {id: row.to})
MERGE (a)-[r:$(row.type) {id: row.id}]->(b)
  ON CREATE SET r.created = true
WITH r, row, properties(r) AS before
SET r += row.props
WITH r, row, before, coalesce(r.created, false) AS created
REMOVE r.created
WITH r, row, created, created OR properties(r) <> before AS changed
RETURN count(CASE WHEN created THEN 1 END) AS created, count(*) AS written,
       collect(CASE WHEN changed THEN {
         kind: CASE WHEN created THEN 'created' ELSE 'updated' END,
         relationship_id: r.id, relation: row.type, source_id: r.source} END) AS changes
"""

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
# seek on rel_<type>_source: an untyped `()-[r]->()` scanned every relationship
# of the graph for every transaction (a bulk load was quadratic), and a single
# UNION of the typed seeks took seconds to plan.
PRUNE_SOURCE_CLAIMS: dict[str, LiteralString] = {
    rel: "MATCH ()-[r:" + rel + "]->() WHERE r.source IN $sources AND NOT r.id IN $keep "
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


def document_statements(document: GraphDocument, replace_source_claims: bool) -> list[Statement]:
    """The statements that write one document (one transaction)."""
    return batch_statements([document], replace_source_claims)


def batch_statements(
    documents: Sequence[GraphDocument], replace_source_claims: bool
) -> list[Statement]:
    """The statements that write several documents in one transaction, as UNWIND batches.

    Always entities, then claims; then, when any document has a source, its
    mentions and (with replace_source_claims) the prune of what it no longer says.
    """
    entity_rows = [
        {**e.row(), "source": document.source_id}
        for document in documents
        for e in document.entities
    ]
    claim_rows = [c.row() for document in documents for c in document.claims]
    statements: list[Statement] = [
        (UPSERT_ENTITIES, {"rows": sorted(entity_rows, key=_by_id)}),
        (UPSERT_CLAIMS, {"rows": sorted(claim_rows, key=_by_id)}),
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
        statements.append((UPSERT_MENTIONS, {"rows": mention_rows}))
        if replace_source_claims:
            parameters = {"sources": [row["source"] for row in mention_rows], "keep": keep}
            statements += [(prune, parameters) for prune in PRUNE_SOURCE_CLAIMS.values()]
    return statements


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
        results = await _write_document(
            graph, batch_statements(batch, replace_source_claims), origin or _seed_origin(batch)
        )
        summary.documents.extend(document.origin for document in batch)
        summary.entities_created += results[0][0]["created"]
        summary.entities_written += results[0][0]["written"]
        summary.claims_created += results[1][0]["created"]
        summary.claims_written += results[1][0]["written"]
        # results[3:] are the prunes, one per relationship type; MENTIONS are no claims.
        pruned = dict(zip(PRUNE_SOURCE_CLAIMS, results[3:], strict=False))
        summary.claims_removed += sum(
            rows[0]["deleted"] for rel, rows in pruned.items() if rel != "MENTIONS"
        )
    return summary


def _seed_origin(batch: Sequence[GraphDocument]) -> str:
    """The change feed's origin for a batch of seed files: the file, or the first of several."""
    first = f"seed:{Path(batch[0].origin).name}"
    return first if len(batch) == 1 else f"{first} (+{len(batch) - 1} more)"


CONSTRAINT_RETRIES = 5


async def _write_document(
    graph: Graph, statements: list[Statement], origin: str
) -> list[list[Record]]:
    """One transaction for the document, retried when a concurrent loader won a MERGE race.

    MERGE on a uniquely constrained id can fail with ConstraintValidationFailed when
    another transaction created the same node or relationship after this one looked
    for it; the whole transaction rolled back, and running it again finds (and
    updates) what the other loader created.
    """
    for attempt in range(CONSTRAINT_RETRIES):
        try:
            return await graph.write_in_one_transaction(statements, then=recorder(origin))
        except ConstraintError:
            if attempt == CONSTRAINT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
