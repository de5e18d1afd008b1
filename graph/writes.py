"""Single-claim writes the API offers besides document loads."""

from __future__ import annotations

import re

from graph.database import Graph
from graph.errors import ValidationError
from graph.model import RELATION_TYPES

_RELATION_IN_ID = re.compile(r"-([A-Z_]+)->")

DELETE_RELATION: dict[str, str] = {
    # One statement per type: the type in the pattern lets Neo4j use that type's id index.
    rel: f"MATCH ()-[r:{rel} {{id: $id}}]->() DELETE r RETURN count(*) AS deleted"
    for rel in RELATION_TYPES
}


async def delete_relation(graph: Graph, relation_id: str) -> bool:
    """Delete one claim by id; False when there was none. MENTIONS cannot be deleted."""
    match = _RELATION_IN_ID.search(relation_id)
    relation = match.group(1) if match else None
    if relation is None or relation not in RELATION_TYPES or relation == "MENTIONS":
        raise ValidationError("deleteRelation", [f"id: {relation_id!r} is not a claim id"])
    rows = await graph.write(DELETE_RELATION[relation], {"id": relation_id})
    return bool(rows and rows[0]["deleted"])
