"""Every entity of one kind, by name: entities(kind:)."""

from __future__ import annotations

from typing import Any, LiteralString

from graph.model.known import entity_known
from graph.model.vocabulary import LABELS
from graph.reads.questions import Page, entity_map
from graph.store.database import Graph


def kind_rows(label: str) -> LiteralString:
    """Binds `total`, how many entities of the kind `label` (one of LABELS) were
    known on $as_of, and `rows`: the first $root_skip + $root_first of them by name,
    then id. The label is written into the text (from the model's fixed list), so
    the plan scans that label alone."""
    known = entity_known("e")
    match: LiteralString = {name: "MATCH (e:" + name + ") " for name in LABELS}[label]
    return (
        "CALL () { " + match + "WHERE " + known + " RETURN count(e) AS total } "
        "CALL () { " + match + "WHERE " + known + " "
        "WITH e ORDER BY e.name, e.id LIMIT $root_skip + $root_first "
        "RETURN collect(e) AS rows } "
    )


ENTITIES_OF_KIND_QUERIES: dict[str, LiteralString] = {
    label: kind_rows(label) + "RETURN total, "
    "[e IN rows[$root_skip..] | " + entity_map("e") + "] AS page"
    for label in LABELS
}


async def entities_of_kind(graph: Graph, parameters: dict[str, Any], label: str) -> Page:
    """One page of the entities of a kind, by name: {total, rows}. `parameters`:
    $root_skip, $root_first and $as_of."""
    rows = await graph.read(ENTITIES_OF_KIND_QUERIES[label], parameters)
    return Page(total=rows[0]["total"], rows=rows[0]["page"])
