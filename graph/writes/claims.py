"""Single-claim writes the API offers besides document loads."""

from __future__ import annotations

import re

from graph.errors import ValidationError
from graph.model.known import VERSION_MARK
from graph.model.vocabulary import RELATION_TYPES
from graph.store.database import Graph
from graph.writes.changes import recorder

_RELATION_IN_ID = re.compile(r"-([A-Z_]+)->")

DELETE_RELATION: dict[str, str] = {
    # One statement per type: the type in the pattern lets Neo4j use that type's id index.
    # The versions a revision replaced or withdrew (graph/model/known.py) go with it: a
    # deletion corrects an error, it records no withdrawal.
    rel: f"MATCH ()-[r:{rel} {{id: $id}}]->() WITH r, r.source AS source "
    f"CALL (r) {{ MATCH ()-[v:{rel}]->() WHERE v.id STARTS WITH $id + '{VERSION_MARK}' "
    "DELETE v } DELETE r "
    "RETURN count(*) AS deleted, collect({kind: 'deleted', relationship_id: $id, "
    f"relation: '{rel}', source_id: source}}) AS changes"
    for rel in RELATION_TYPES
}


async def delete_relation(graph: Graph, relation_id: str) -> bool:
    """Delete one claim by id; False when there was none. MENTIONS cannot be deleted."""
    match = _RELATION_IN_ID.search(relation_id)
    relation = match.group(1) if match else None
    if relation is None or relation not in RELATION_TYPES or relation == "MENTIONS":
        raise ValidationError("deleteRelation", [f"id: {relation_id!r} is not a claim id"])
    statement = (DELETE_RELATION[relation], {"id": relation_id})
    results = await graph.write_in_one_transaction(
        [statement], then=[recorder("mutation:deleteRelation")]
    )
    return bool(results[0] and results[0][0]["deleted"])
