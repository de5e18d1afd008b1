"""Write validated graph documents: one transaction per document, UNWIND batches.

A load is checked as a whole first (`check_references`: ids that a document
uses but does not declare must exist in the graph, with a label the relation
allows); only then is anything written. Each document is written in one
transaction, so a failure leaves the graph as it was before that document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from graph.database import Graph, Statement
from graph.documents import GraphDocument
from graph.errors import ValidationError
from graph.model import RELATION_TYPES
from graph.schema_setup import ensure_schema

UPSERT_ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {id: row.id})
  ON CREATE SET e.created = true
SET e += row.props, e:$(row.label)
WITH e, e.created AS created
REMOVE e.created
RETURN count(CASE WHEN created THEN 1 END) AS created, count(*) AS written
"""

UPSERT_CLAIMS = """
UNWIND $rows AS row
MATCH (a:Entity {id: row.from})
MATCH (b:Entity {id: row.to})
MERGE (a)-[r:$(row.type) {id: row.id}]->(b)
  ON CREATE SET r.created = true
SET r += row.props
WITH r, r.created AS created
REMOVE r.created
RETURN count(CASE WHEN created THEN 1 END) AS created, count(*) AS written
"""

# A source mentions everything its document declares or makes claims about.
UPSERT_MENTIONS = """
MATCH (s:Source {id: $source})
UNWIND $ids AS entity_id
MATCH (e:Entity {id: entity_id})
WHERE e <> s
MERGE (s)-[m:MENTIONS {id: $source + '-MENTIONS->' + entity_id}]->(e)
  ON CREATE SET m.source = $source
RETURN count(*) AS written
"""

# A seed file is the whole word of its source: claims (and mentions) it no
# longer makes are withdrawn.
PRUNE_SOURCE_CLAIMS = """
MATCH ()-[r {source: $source}]->()
WHERE NOT r.id IN $keep
DELETE r
RETURN count(CASE WHEN type(r) <> 'MENTIONS' THEN 1 END) AS deleted
"""


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
    """Resolve every id used but not declared, across the whole load and the graph."""
    declared: dict[str, str] = {}
    for document in documents:
        for entity in document.entities:
            declared[entity.id] = entity.label
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
        problems = [
            f"{place}: {ref!r} is not declared in this load nor present in the graph"
            for ref, places in document.unresolved.items()
            if ref not in labels
            for place in places
        ]
        for claim in document.claims:
            rel = RELATION_TYPES[claim.relation]
            for end, ref, allowed in (
                ("from", claim.from_id, rel.from_labels),
                ("to", claim.to_id, rel.to_labels),
            ):
                label = labels.get(ref)
                if ref in document.unresolved and label is not None and label not in allowed:
                    problems.append(
                        f"claim {claim.id}: {claim.relation} cannot have a {label} ({ref}) "
                        f"as its '{end}' end"
                    )
        if problems:
            raise ValidationError(document.origin, problems)


def document_statements(document: GraphDocument, replace_source_claims: bool) -> list[Statement]:
    statements: list[Statement] = [
        (UPSERT_ENTITIES, {"rows": [entity.row() for entity in document.entities]}),
        (UPSERT_CLAIMS, {"rows": [claim.row() for claim in document.claims]}),
    ]
    if document.source_id is not None:
        mentioned = {e.id for e in document.entities}
        mentioned.update(c.from_id for c in document.claims if document.source_id in c.sources)
        mentioned.update(c.to_id for c in document.claims if document.source_id in c.sources)
        statements.append(
            (UPSERT_MENTIONS, {"source": document.source_id, "ids": sorted(mentioned)})
        )
        if replace_source_claims:
            keep = [c.id for c in document.claims if c.source == document.source_id]
            keep += [f"{document.source_id}-MENTIONS->{ref}" for ref in sorted(mentioned)]
            statements.append((PRUNE_SOURCE_CLAIMS, {"source": document.source_id, "keep": keep}))
    return statements


async def load_documents(
    graph: Graph, documents: Sequence[GraphDocument], replace_source_claims: bool = True
) -> LoadSummary:
    """Check the whole load, then write each document in one transaction."""
    await ensure_schema(graph)
    await check_references(graph, documents)
    summary = LoadSummary()
    for document in documents:
        results = await graph.write_in_one_transaction(
            document_statements(document, replace_source_claims)
        )
        summary.documents.append(document.origin)
        summary.entities_created += results[0][0]["created"]
        summary.entities_written += results[0][0]["written"]
        summary.claims_created += results[1][0]["created"]
        summary.claims_written += results[1][0]["written"]
        if replace_source_claims and document.source_id is not None:
            summary.claims_removed += results[3][0]["deleted"]
    return summary
