"""Victims' sectors and country, batched for the resolvers (graph/linking/victims.py
says what they are)."""

from __future__ import annotations

from typing import LiteralString

from graph.linking.victims import country_of, sectors_of
from graph.reads.fields import entity_row, literal
from graph.store.database import Graph, Record

VICTIMS_OF_QUERY: LiteralString = literal(
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
    f"RETURN id, [s IN {sectors_of('e', 'tg_s')} | {entity_row('s')}] AS sectors, "
    f"head([c IN {country_of('e', 'tg_c')} | {entity_row('c')}]) AS country"
)


async def victims_of(graph: Graph, ids: list[str], as_of: str | None) -> dict[str, Record]:
    """For each entity id: {sectors, country} as known on `as_of` (None: today)."""
    rows = await graph.read(VICTIMS_OF_QUERY, {"ids": ids, "as_of": as_of})
    found = {row["id"]: row for row in rows}
    return {i: found.get(i) or {"sectors": [], "country": None} for i in ids}
