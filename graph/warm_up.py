"""Plans for the mutations, made before the first one needs them.

Neo4j plans a statement the first time it runs and caches the plan under the
statement's text and its parameters' types, where a list's or a string's type
includes a size class (an empty list, `refs` of 3 and of 30, an id of 3, 55 and
300 characters each get a plan of their own). The write path's statements are
large (a claim's MERGE that keeps the version it replaces, the change-feed record
with the "linked to" upkeep, the read-back with its evidence fields): on a cold
cache the first `upsertRelation` of an API process takes 1.7-2.2 s, the next ones
tens of ms (bench/README.md, "The slow write at one client, profiled"). An
EXPLAIN, or a rehearsal with made-up entities only, fills other cache entries.

So the API's start rehearses the mutations as they run, on the graph's own data
(graph/writes/single.py builds the same documents): for each claim relation, one
current claim of the graph written again with another quote (so that the change
is recorded, with the upkeep); for each label, one entity written again and one
new entity; each in a transaction rolled back after its last statement
(graph/store/database.py `rehearsal`), then read back as the mutations do.
Nothing is kept, the change feed included. A graph with no claim of a relation
rehearses none for it; a row that fails is skipped and counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, LiteralString

from graph.errors import GraphError
from graph.model.vocabulary import LABELS
from graph.reads.questions import find_claim, find_entity, ref_parameters
from graph.store.database import Graph, rehearsal
from graph.writes.batch_write import CLAIM_RELATIONS
from graph.writes.loading import load_documents
from graph.writes.single import ENTITY_ORIGIN, RELATION_ORIGIN, claim_document, entity_document

# A new entity's id: its label's prefix and this, rolled back with the rest.
NEW_ID_SUFFIX = "threatgraph-rehearsal-new"


def _union(parts: list[LiteralString]) -> LiteralString:
    return " UNION ALL ".join("CALL () { " + part + " LIMIT 1 } RETURN row" for part in parts)


# One current claim of each relation type, one entity of each label; the types and
# labels are the model's fixed lists.
_CLAIMS: LiteralString = _union(
    [
        "MATCH ()-[c:" + relation + "]->() WHERE c.withdrawn_on IS NULL "
        "RETURN {relation: '" + relation + "', from: startNode(c).id, to: endNode(c).id, "
        "id: c.id, likelihood: c.likelihood, quote: c.quote, sources: c.sources, "
        "assessed_by: c.assessed_by, valid_from: c.valid_from, valid_to: c.valid_to} AS row"
        for relation in CLAIM_RELATIONS
    ]
)
_ENTITIES: LiteralString = _union(
    [
        "MATCH (e:" + label + ") RETURN {id: e.id, label: '" + label + "', name: e.name} AS row"
        for label in LABELS
    ]
)


@dataclass
class Rehearsed:
    """What a rehearsal did: the writes rehearsed, those skipped, and its seconds."""

    writes: int = 0
    skipped: int = 0
    seconds: float = 0.0


def _claim(row: dict[str, Any]) -> dict[str, Any]:
    """The claim as upsertRelation's input gives it, with a quote that differs from
    the stored one, so the write changes it and the change feed records it."""
    claim = {key: value for key, value in row.items() if key != "id"}
    claim["quote"] = f"{row['quote'] or ''} (rehearsed)"
    return claim


async def rehearse_writes(graph: Graph) -> Rehearsed:
    """Rehearse the mutations on the graph's own claims and entities, rolled back."""
    began = time.perf_counter()
    done = Rehearsed()
    claims = [row["row"] for row in await graph.read(_CLAIMS)]
    entities = [row["row"] for row in await graph.read(_ENTITIES)]
    new_entities = [
        {
            "id": f"{LABELS[row['label']].id_prefix}:{NEW_ID_SUFFIX}",
            "label": row["label"],
            "name": row["name"],
        }
        for row in entities
    ]
    writes = [(claim_document(_claim(row)), RELATION_ORIGIN) for row in claims] + [
        (entity_document({**row, "aliases": [], "description": ""}), ENTITY_ORIGIN)
        for row in (*entities, *new_entities)
    ]
    with rehearsal():
        for document, origin in writes:
            try:
                await load_documents(graph, [document], replace_source_claims=False, origin=origin)
                done.writes += 1
            except GraphError:
                done.skipped += 1  # changed since it was read, or data the model now refuses
    for row in claims:
        try:
            await find_claim(graph, row["relation"], row["id"])
        except GraphError:
            done.skipped += 1
    for row in entities:
        parameters = {**ref_parameters("target", row["id"]), "as_of": None}
        try:
            await find_entity(graph, parameters, row["id"])
        except GraphError:
            done.skipped += 1
    done.seconds = time.perf_counter() - began
    return done
