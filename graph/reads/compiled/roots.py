"""The statement of each root field: one per root field, its RETURN the response.

Each question's reads are graph/reads/questions.py's (and kinds.py's), and each
object's map is cypher.py's CypherBuilder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

from graph.linking.rule import INCIDENTS_ONLY
from graph.model.known import entity_known
from graph.reads import activity, kinds, questions
from graph.reads.compiled.cypher import (
    CypherBuilder,
    UncoveredField,
    entity_shape,
    object_shape,
    type_name,
)
from graph.reads.compiled.plan import TYPENAME, RootField
from graph.reads.fields import key, literal

# The root fields that list activity: the incident-only view and every kind.
ACTIVITY_ROOTS = ("incidents", "activity")


@dataclass(frozen=True)
class RootStatement:
    """One root field's statement. `candidates` names the RETURN columns holding the
    ids a reference matched (each must be exactly one); `value` holds the answer."""

    text: LiteralString
    candidates: tuple[str, ...]


def root_statement(
    root: RootField,
    hops: int | None = None,
    linked: bool = False,
    kind: str | None = None,
    sector: bool = False,
    after: bool = False,
    labels: LiteralString = INCIDENTS_ONLY,
) -> RootStatement:
    """The statement for one root field.

    `hops` is path's maxHops or neighbourhood's hops (they shape the pattern's
    text); `linked` says whether incidents or activity has linkedTo (a different
    read), `labels` which kinds of activity it asks about (rule.ACTIVITY_LABELS;
    incidents: Incident), and `sector` whether it has targetSector (a filter
    written only when asked); `kind` is entities' label (the label it scans);
    `after` whether search continues after a hit (it skips).
    """
    build = CypherBuilder()
    a = root.arguments
    if root.field == "entity":
        shape = entity_shape(root)
        text = (
            questions.resolve_prelude("target")
            + "RETURN target_candidates AS candidates, CASE WHEN target IS NULL OR NOT "
            + entity_known("target")
            + f" THEN null ELSE {build.entity('target', shape)} END AS value"
        )
        return RootStatement(literal(text), ("candidates",))
    if root.field == "search":
        return RootStatement(literal(_search(build, root, after)), ())
    if root.field in ACTIVITY_ROOTS and linked:
        page = object_shape(root)
        body = build.connection(
            "rows",
            a,
            page,
            entity_item=lambda row, sub: build.entity_at(
                f"{row}.i", sub, link_path=f"relationships({row}.best.p)"
            ),
            total="total",
        )
        rows = activity.linked_activity_rows(
            literal(f"${a}_skip"), literal(f"${a}_first"), sector, labels
        )
        text = rows + f"RETURN target_candidates AS candidates, {body} AS value"
        return RootStatement(literal(text), ("candidates",))
    if root.field == "entities":
        assert kind is not None
        page = object_shape(root)
        body = build.connection("rows", a, page, entity_item=build.entity, total="total")
        text = kinds.kind_rows(kind) + f"RETURN {body} AS value"
        return RootStatement(literal(text), ())
    if root.field in ACTIVITY_ROOTS:
        page = object_shape(root)
        body = build.connection("rows", a, page, entity_item=build.entity)
        text = activity.all_activity_rows(sector, labels) + f"RETURN {body} AS value"
        return RootStatement(literal(text), ())
    if root.field == "path":
        assert hops is not None
        page = object_shape(root)
        text = (
            questions.path_core(hops)
            + "RETURN origin_candidates, destination_candidates, CASE WHEN best IS NULL "
            f"THEN null ELSE {build.path('relationships(best)', page)} END AS value"
        )
        return RootStatement(literal(text), ("origin_candidates", "destination_candidates"))
    if root.field == "claims":
        step = object_shape(root)
        q = build.fresh("q")
        text = (
            questions.CLAIMS_BETWEEN_ENDS + "RETURN origin_candidates, destination_candidates, "
            f"[{q} IN {questions.claims_between_list(build.fresh('c'))} | {build.step(q, step)}] "
            "AS value"
        )
        return RootStatement(literal(text), ("origin_candidates", "destination_candidates"))
    if root.field == "neighbourhood":
        assert hops is not None
        page = object_shape(root)
        entries = []
        for s in page.selections:
            if s.field == "nodes":
                value = build.entities("members", entity_shape(s))
            elif s.field == "relationships":
                q = build.fresh("q")
                value = questions.neighbourhood_relationships(
                    literal(build.step(q, object_shape(s))), literal(q)
                )
            elif s.field == TYPENAME:
                value = type_name(page)
            else:
                raise UncoveredField(s.field)
            entries.append(f"{key(s.key)}: {value}")
        text = (
            questions.neighbourhood_core(hops)
            + "RETURN centre_candidates, {"
            + ", ".join(entries)
            + "} AS value"
        )
        return RootStatement(literal(text), ("centre_candidates",))
    raise UncoveredField(root.field)


def _search(build: CypherBuilder, root: RootField, after: bool) -> str:
    """search's hits, best first: each hit's `cursor` is its place in the whole
    answer, from $cursors (one per hit asked for, the resolvers' own)."""
    hit = object_shape(root)
    entries = []
    for s in hit.selections:
        if s.field == "entity":
            value = build.entity_at("tg_hit.node", entity_shape(s))
        elif s.field == "score":
            value = "tg_hit.score"
        elif s.field == "cursor":
            value = "$cursors[tg_i]"
        elif s.field == TYPENAME:
            value = type_name(hit)
        else:
            raise UncoveredField(s.field)
        entries.append(f"{key(s.key)}: {value}")
    return (
        questions.search_hits(after)
        + "WITH collect({node: node, score: score}) AS tg_hits "
        + "RETURN [tg_i IN range(0, size(tg_hits) - 1) | head([tg_hit IN [tg_hits[tg_i]] | {"
        + ", ".join(entries)
        + "}])] AS value"
    )
