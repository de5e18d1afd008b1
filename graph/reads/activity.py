"""Activity, and activity linked to an entity: incidents() and activity().

Activity is incidents and campaigns (graph/linking/rule.py ActivityKind); a
question asks about some of the kinds, written into its text as a label
expression (rule.ACTIVITY_LABELS), so each plan scans only those labels.
incidents() is the incident-only view. The reference is resolved here
(questions.resolve_prelude); order, totals and evidence paths are
graph/linking/answer.py's.
"""

from __future__ import annotations

from typing import Any, LiteralString

from graph.linking.answer import linked_rows
from graph.linking.rule import ACTIVITY_LABELS, INCIDENTS_ONLY, role_of
from graph.linking.victims import activity_kept
from graph.linking.walked import ranked_chains
from graph.model.dates import ACTIVITY_START
from graph.model.known import entity_known
from graph.reads.fields import literal, path_likelihood, ungraded_steps
from graph.reads.questions import (
    Page,
    entity_map,
    project,
    raise_unless_resolved,
    resolve_prelude,
    step_map,
)
from graph.store.database import Graph, Record

# Each statement exists for every combination of what shows in its text: whether it
# filters on a sector, and which kinds it asks about.
VARIANTS = [(sector, labels) for sector in (False, True) for labels in ACTIVITY_LABELS.values()]


def linked_activity_rows(
    skip: LiteralString,
    first: LiteralString,
    sector: bool = False,
    labels: LiteralString = INCIDENTS_ONLY,
) -> LiteralString:
    """Resolves `target` from $target_key/$target_ref, then graph/linking/answer.py's
    `total` and `rows` for it: activity of the kinds `labels` (of those that targeted
    $target_sector when `sector`)."""
    return resolve_prelude("target") + linked_rows(skip, first, sector, labels)


# The page is $root_skip and $root_first, as in every connection.
LINKED_ACTIVITY_QUERIES = {
    (sector, labels): linked_activity_rows("$root_skip", "$root_first", sector, labels)
    + (
        "RETURN target_candidates AS candidates, total, "
        "[row IN rows[$root_skip..$root_skip + $root_first] | {activity: "
        + project("row.i")
        + ", likelihood: "
        + literal(path_likelihood("relationships(row.best.p)"))
        + ", ungradedSteps: "
        + literal(ungraded_steps("relationships(row.best.p)"))
        + ", role: "
        + role_of("relationships(row.best.p)")
        + ", steps: [q IN relationships(row.best.p) | "
        + step_map("q")
        + "]}] AS page"
    )
    for sector, labels in VARIANTS
}
# incidents(linkedTo:) with no sector: the question the stored closure serves.
LINKED_INCIDENTS_QUERY: LiteralString = LINKED_ACTIVITY_QUERIES[(False, INCIDENTS_ONLY)]


def all_activity_rows(sector: bool, labels: LiteralString = INCIDENTS_ONLY) -> LiteralString:
    """Every activity of the kinds `labels` the date filter (and, when `sector`,
    $target_sector) keeps, newest first, as `rows` of nodes."""
    return (
        "MATCH (i:"
        + labels
        + ") WHERE "
        + activity_kept(sector)
        + " AND "
        + entity_known("i")
        + " "
        "WITH i ORDER BY coalesce(" + ACTIVITY_START + ", '') DESC, i.id "
        "WITH collect(i) AS rows "
    )


ALL_ACTIVITY_QUERIES = {
    (sector, labels): all_activity_rows(sector, labels)
    + "RETURN [] AS candidates, size(rows) AS total, "
    "[i IN rows[$root_skip..$root_skip + $root_first] | {activity: " + entity_map("i") + ", "
    "likelihood: null, steps: null}] AS page"
    for sector, labels in VARIANTS
}


async def activity(
    graph: Graph,
    parameters: dict[str, Any],
    linked_to: str | None,
    labels: LiteralString = INCIDENTS_ONLY,
) -> Page:
    """Activity of the kinds `labels` (rule.ACTIVITY_LABELS), optionally only that
    linked to an entity, each with its strongest link path. `parameters`: $min,
    $ungraded, $since, $until, $role, $as_of, $root_skip, $root_first, $target_sector
    (null: any sector) and, with `linked_to`, its ref_parameters("target", linked_to).
    Each row is {activity, likelihood, ungradedSteps, role, steps}."""
    variant = (parameters.get("target_sector") is not None, labels)
    if linked_to is None:
        rows = await graph.read(ALL_ACTIVITY_QUERIES[variant], parameters)
    else:
        rows = await graph.read(LINKED_ACTIVITY_QUERIES[variant], parameters)
        raise_unless_resolved(linked_to, rows[0]["candidates"] if rows else [])
    if not rows:
        return Page(total=0, rows=[])
    return Page(total=rows[0]["total"], rows=rows[0]["page"])


def evidence_path(rels: LiteralString) -> LiteralString:
    """The evidence path of the linking chain of claims `rels` (a list expression),
    as a map."""
    return (
        "{likelihood: " + literal(path_likelihood(rels)) + ", "
        "role: " + role_of(rels) + ", "
        "ungradedSteps: " + literal(ungraded_steps(rels)) + ", "
        "steps: [q IN " + rels + " | " + step_map("q") + "]}"
    )


# The next strongest chains after the one shown (linkPath), of each activity in $ids
# to the entity $target_key/$target_ref names: $paths_first of them, with $min,
# $ungraded, $as_of and $role as the question that found the activity had them.
LINK_PATHS_QUERY: LiteralString = (
    resolve_prelude("target") + "UNWIND $ids AS id MATCH (i:Entity {id: id}) "
    "RETURN id, [p IN " + ranked_chains("i", "1", "$paths_first") + " | "
    "" + evidence_path("relationships(p)") + "] AS paths"
)


async def link_paths_of(
    graph: Graph, ids: list[str], parameters: dict[str, Any]
) -> dict[str, list[Record]]:
    """For each activity id, the next strongest chains to the entity the linkedTo
    question asked about (LINK_PATHS_QUERY's parameters besides $ids)."""
    rows = await graph.read(LINK_PATHS_QUERY, {**parameters, "ids": ids})
    found = {row["id"]: row["paths"] for row in rows}
    return {entity_id: found.get(entity_id, []) for entity_id in ids}
