"""The read questions threatgraph answers, each as one Cypher statement.

Every function here makes exactly one round-trip, whatever the size of its
answer: entity references are resolved inside the statement (the
`RESOLVE_*` preludes), and evidence (quotes, sources, who assessed) is
gathered with pattern comprehensions in the same statement. Results are plain
dicts of the graph's own field names, which the schema layer wraps.

Activity linked to an entity (incidents(linkedTo:), activity(linkedTo:)) is
activity.py's, on this module's reference preludes; what "linked to" means is
graph/linking/'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

from graph.errors import AmbiguousReference, NotFound
from graph.linking.disputes import attributions, disputed
from graph.model.known import claim_known, entity_known
from graph.model.likelihood import PATH_STRENGTH, at_least_min, step_allowed
from graph.model.vocabulary import CLAIM_TYPE_PATTERN, RELATION_TYPES
from graph.reads.fields import (
    claims_of,
    entity_row,
    entity_row_at,
    literal,
    mentioning_sources,
    path_likelihood,
    step_row,
    ungraded_steps,
)
from graph.reads.lookup import exact_key_query
from graph.store.database import Graph, Record
from graph.store.indexes import LOOKUP_INDEX, SEARCH_INDEX

MAX_PATH_HOPS = 8
MAX_NEIGHBOURHOOD_HOPS = 3


def entity_map(variable: LiteralString) -> LiteralString:
    """Every field an entity row shows of the entity bound to `variable`, and its kind."""
    return literal(entity_row(variable))


def project(expression: LiteralString) -> LiteralString:
    """entity_map of any node expression; null stays null."""
    return literal(entity_row_at(expression))


def step_map(rel: LiteralString) -> LiteralString:
    """One claim as an evidence step: endpoints, grade, quote, sources and assessor."""
    return literal(step_row(rel))


def resolve_prelude(name: LiteralString) -> LiteralString:
    """Cypher binding `name` to the single entity a reference names (or null).

    It also binds `name_candidates`: the ids that matched, so the caller can
    say "ambiguous" or "not found" from the same round-trip. An exact id wins
    over a name or alias that happens to equal it.
    """
    return (
        "CALL () { CALL db.index.fulltext.queryNodes('" + LOOKUP_INDEX + "', $" + name + "_key) "
        "YIELD node WITH node ORDER BY node.id LIMIT 20 "
        "RETURN collect(node) AS " + name + "_found } "
        "WITH *, [n IN " + name + "_found WHERE n.id = $" + name + "_ref] AS " + name + "_exact "
        "WITH *, CASE WHEN size(" + name + "_exact) = 1 THEN " + name + "_exact "
        "ELSE " + name + "_found END AS " + name + "_matches "
        "WITH *, CASE WHEN size(" + name + "_matches) = 1 THEN " + name + "_matches[0] "
        "END AS " + name + ", [n IN " + name + "_matches | n.id] AS " + name + "_candidates "
    )


def ref_parameters(name: str, ref: str) -> dict[str, str]:
    return {f"{name}_key": exact_key_query(ref), f"{name}_ref": ref.strip()}


def raise_unless_resolved(ref: str, candidates: list[str]) -> None:
    if not candidates:
        raise NotFound(ref)
    if len(candidates) > 1:
        raise AmbiguousReference(ref, candidates)


# -- entity ---------------------------------------------------------------

ENTITY_QUERY: LiteralString = (
    resolve_prelude("target") + "RETURN target_candidates AS candidates, "
    "CASE WHEN target IS NULL OR NOT " + entity_known("target") + " THEN null "
    "ELSE " + entity_map("target") + " END AS entity"
)


async def find_entity(graph: Graph, parameters: dict[str, Any], ref: str) -> Record | None:
    """The entity a reference (id, name or alias; any case) names, or None (also
    when it was not yet known on $as_of).

    `parameters` are ref_parameters("target", ref) and $as_of. Raises
    AmbiguousReference when the reference names several entities.
    """
    rows = await graph.read(ENTITY_QUERY, parameters)
    row = rows[0]
    if len(row["candidates"]) > 1:
        raise AmbiguousReference(ref, row["candidates"])
    return row["entity"]  # type: ignore[no-any-return]


# -- search ---------------------------------------------------------------


def search_hits(after: bool) -> LiteralString:
    """Binds `node` and `score` for the best $first hits of the Lucene query $query known
    on $as_of, of the kinds (labels) $kinds (null: any), best first, then by id; `after`
    a cursor, those after the first $skip. The index stops at the hits asked for only
    when nothing filters them: otherwise the hits it would stop at may be dropped."""
    wanted, skip = ("$skip + $first", "SKIP $skip ") if after else ("$first", "")
    return (
        "CALL db.index.fulltext.queryNodes('" + SEARCH_INDEX + "', $query, "
        "{limit: CASE WHEN $as_of IS NULL AND $kinds IS NULL THEN " + wanted + " "
        "ELSE " + str(2**31 - 1) + " END}) "
        "YIELD node, score WITH node, score WHERE " + entity_known("node") + " "
        "AND ($kinds IS NULL OR any(tg_l IN labels(node) WHERE tg_l IN $kinds)) "
        "WITH node, score ORDER BY score DESC, node.id " + skip + "LIMIT $first "
    )


SEARCH_QUERIES = {
    after: search_hits(after) + "RETURN " + entity_map("node") + " AS entity, score"
    for after in (False, True)
}
SEARCH_QUERY: LiteralString = SEARCH_QUERIES[False]


async def search(graph: Graph, parameters: dict[str, Any]) -> list[Record]:
    """The best $first hits for the Lucene query $query (lookup.search_query), after
    the first $skip."""
    return await graph.read(SEARCH_QUERIES[parameters["skip"] > 0], parameters)


@dataclass(frozen=True)
class Page:
    """One page of a paged question: every match counted, the page's rows."""

    total: int
    rows: list[Record]


# -- shortest path ------------------------------------------------------------


def path_core(max_hops: int) -> LiteralString:
    """Binds origin/destination (and their candidates), `best` (the path or null), `strength`."""
    hops: LiteralString = {n: str(n) for n in range(1, MAX_PATH_HOPS + 1)}[max_hops]
    return (
        resolve_prelude("origin")
        + resolve_prelude("destination")
        + "OPTIONAL CALL (origin, destination) { "
        "  WITH origin, destination WHERE origin IS NOT NULL AND destination IS NOT NULL "
        "    AND origin <> destination "
        # allShortestPaths, not `ALL SHORTEST`: both find the same paths, and Neo4j 5.26
        # plans the latter as a StatefulShortestPath that is many times slower on large
        # graphs (bench/README.md).
        "  MATCH p = allShortestPaths((origin)-[rs:" + CLAIM_TYPE_PATTERN + "*1.." + hops + "]-"
        "(destination)) WHERE all(r IN rs WHERE " + step_allowed("r") + ") "
        "  WITH p, " + PATH_STRENGTH + " AS strength "
        "  ORDER BY strength DESC, [r IN relationships(p) | r.id] LIMIT 1 "
        "  RETURN p AS best, strength "
        "} "
    )


def _path_query(max_hops: int) -> LiteralString:
    return (
        path_core(max_hops) + "RETURN origin_candidates, destination_candidates, "
        "CASE WHEN best IS NULL THEN null ELSE "
        + literal(path_likelihood("relationships(best)"))
        + " END AS likelihood, "
        "CASE WHEN best IS NULL THEN null ELSE "
        + literal(ungraded_steps("relationships(best)"))
        + " END AS ungradedSteps, "
        "CASE WHEN best IS NULL THEN null ELSE "
        "[q IN relationships(best) | " + step_map("q") + "] "
        "END AS steps"
    )


PATH_QUERIES = {hops: _path_query(hops) for hops in range(1, MAX_PATH_HOPS + 1)}


async def shortest_path(
    graph: Graph, parameters: dict[str, Any], max_hops: int, origin: str, destination: str
) -> Record | None:
    """The shortest chain of claims between two entities (either direction per step),
    the strongest of equally short ones, then the first by claim ids: {likelihood,
    steps}; None when there is none within max_hops. `parameters`: $min and the
    ref_parameters of "origin" and "destination"."""
    rows = await graph.read(PATH_QUERIES[max_hops], parameters)
    row = rows[0]
    raise_unless_resolved(origin, row["origin_candidates"])
    raise_unless_resolved(destination, row["destination_candidates"])
    if row["steps"] is None:
        return None
    return {
        "likelihood": row["likelihood"],
        "ungradedSteps": row["ungradedSteps"],
        "steps": row["steps"],
    }


# -- neighbourhood -------------------------------------------------------------


def neighbourhood_core(hops: int) -> LiteralString:
    """Binds centre, centre_candidates and `members`: the centre first, then its ring,
    nearest first (then by id), at most `$first` of it."""
    depth: LiteralString = {n: str(n) for n in range(1, MAX_NEIGHBOURHOOD_HOPS + 1)}[hops]
    return (
        resolve_prelude("centre") + "OPTIONAL CALL (centre) { "
        "  WITH centre WHERE centre IS NOT NULL "
        "  MATCH (centre)-[rs:" + CLAIM_TYPE_PATTERN + "*1.." + depth + "]-(n) "
        "  WHERE all(r IN rs WHERE " + at_least_min("r") + " AND " + claim_known("r") + ") "
        # Nearest first: by id alone, a 2-hop ring of `first` could be all second-hop
        # nodes (siblings sort before the centre's own agency) and keep no claim at all.
        # min(size(rs)) keeps the planner's pruning breadth-first expand.
        "  WITH n, min(size(rs)) AS distance ORDER BY distance, n.id LIMIT $first "
        "  RETURN collect(n) AS ring "
        "} "
        "WITH centre, centre_candidates, "
        "CASE WHEN centre IS NULL OR NOT " + entity_known("centre") + " THEN [] "
        "ELSE [centre] + coalesce(ring, []) END AS members "
    )


def neighbourhood_relationships(step: LiteralString, rel: LiteralString = "q") -> LiteralString:
    """The claims between a neighbourhood's `members`, each shaped by `step` (a map over `rel`).

    In one stable order, by claim id, so the same graph always gives the same answer;
    expanded from the members, never a scan of all relationships.
    """
    return (
        "COLLECT { UNWIND members AS tg_from "
        "MATCH (tg_from)-[" + rel + ":" + CLAIM_TYPE_PATTERN + "]->(tg_to) "
        "WHERE tg_to IN members AND " + at_least_min(rel) + " AND " + claim_known(rel) + " "
        "WITH " + rel + " ORDER BY " + rel + ".id RETURN " + step + " }"
    )


def _neighbourhood_query(hops: int) -> LiteralString:
    return (
        neighbourhood_core(hops) + "RETURN centre_candidates, "
        "[n IN members | "
        + entity_map("n")
        + "] AS nodes, "
        + neighbourhood_relationships(step_map("q"))
        + " AS relationships"
    )


NEIGHBOURHOOD_QUERIES = {
    hops: _neighbourhood_query(hops) for hops in range(1, MAX_NEIGHBOURHOOD_HOPS + 1)
}


async def neighbourhood(graph: Graph, parameters: dict[str, Any], hops: int, ref: str) -> Record:
    """{nodes, relationships} within `hops` of `ref`. `parameters`: $min, $first and
    ref_parameters("centre", ref)."""
    rows = await graph.read(NEIGHBOURHOOD_QUERIES[hops], parameters)
    row = rows[0]
    raise_unless_resolved(ref, row["centre_candidates"])
    return {"nodes": row["nodes"], "relationships": row["relationships"]}


# -- batched per-entity reads (DataLoaders call these once per query level) ----

SOURCES_OF_QUERY: LiteralString = literal(
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
    f"RETURN id, [s IN {mentioning_sources('e', 'tg_source')} | {entity_row('s')}] AS sources"
)


async def sources_of(graph: Graph, ids: list[str]) -> dict[str, list[Record]]:
    rows = await graph.read(SOURCES_OF_QUERY, {"ids": ids})
    found = {row["id"]: row["sources"] for row in rows}
    return {entity_id: found.get(entity_id, []) for entity_id in ids}


ENTITIES_BY_ID_QUERY: LiteralString = (
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) RETURN id, " + entity_map("e") + " AS entity"
)


async def entities_by_id(graph: Graph, ids: list[str]) -> dict[str, Record | None]:
    """Entities by exact id, in one round-trip (None for an id nothing has)."""
    rows = await graph.read(ENTITIES_BY_ID_QUERY, {"ids": ids})
    found = {row["id"]: row["entity"] for row in rows}
    return {entity_id: found.get(entity_id) for entity_id in ids}


# An entity's claims, paged: parameters $rel_types, $rel_direction, $rel_min, $rel_skip
# and $rel_first (RelationFilter.parameters).
RELATIONS_OF_QUERY: LiteralString = literal(
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
    f"WITH id, {claims_of('e', 'tg_r', 'rel', '$rel_as_of')} AS rels "
    "RETURN id, size(rels) AS total, "
    f"[q IN rels[$rel_skip..$rel_skip + $rel_first] | {step_row('q', '$rel_as_of')}] AS page"
)


@dataclass(frozen=True)
class RelationFilter:
    """Which of an entity's claims, and which page of them (fields.claims_of)."""

    types: tuple[str, ...] | None
    direction: str  # OUT, IN or BOTH
    min_rank: int
    skip: int
    first: int
    as_of: str | None = None  # the day asked about (graph/model/known.py); None: today

    def parameters(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}_as_of": self.as_of,
            f"{prefix}_types": list(self.types) if self.types else None,
            f"{prefix}_direction": self.direction,
            f"{prefix}_min": self.min_rank,
            f"{prefix}_skip": self.skip,
            f"{prefix}_first": self.first,
        }


async def relations_of(
    graph: Graph, ids: list[str], filters: RelationFilter
) -> dict[str, tuple[int, list[Record]]]:
    rows = await graph.read(RELATIONS_OF_QUERY, {"ids": ids, **filters.parameters("rel")})
    found = {row["id"]: (row["total"], row["page"]) for row in rows}
    return {entity_id: found.get(entity_id, (0, [])) for entity_id in ids}


# -- competing claims -----------------------------------------------------------------

# Binds origin and destination (and their candidates) from their references.
CLAIMS_BETWEEN_ENDS: LiteralString = resolve_prelude("origin") + resolve_prelude("destination")


def claims_between_list(rel: str) -> str:
    """Every claim from `origin` to `destination` (of type $relation unless null), by
    type, then source, as a list of relationships bound to `rel` in turn."""
    return (
        "CASE WHEN origin IS NULL OR destination IS NULL THEN [] ELSE "
        f"COLLECT {{ MATCH (origin)-[{rel}:{CLAIM_TYPE_PATTERN}]->(destination) "
        f"WHERE ($relation IS NULL OR type({rel}) = $relation) "
        f"AND {claim_known(literal(rel))} "
        f"RETURN {rel} ORDER BY type({rel}), {rel}.source, {rel}.id }} END"
    )


CLAIMS_BETWEEN_QUERY: LiteralString = CLAIMS_BETWEEN_ENDS + literal(
    "RETURN origin_candidates, destination_candidates, "
    f"[q IN {claims_between_list('tg_c')} | {step_row('q')}] AS steps"
)


async def claims_between(
    graph: Graph, parameters: dict[str, Any], origin: str, destination: str
) -> list[Record]:
    """Every source's claim from one entity to another, each with its own grade, quote
    and date: by type, then by source. `parameters`: $relation (null: every type) and
    the ref_parameters of "origin" and "destination"."""
    rows = await graph.read(CLAIMS_BETWEEN_QUERY, parameters)
    row = rows[0]
    raise_unless_resolved(origin, row["origin_candidates"])
    raise_unless_resolved(destination, row["destination_candidates"])
    return row["steps"]  # type: ignore[no-any-return]


ATTRIBUTIONS_OF_QUERY: LiteralString = literal(
    "UNWIND $ids AS id MATCH (i:Entity {id: id}) "
    f"RETURN id, [q IN {attributions('i', 'tg_r')} | {step_row('q')}] AS attributions, "
    f"{disputed('i')} AS disputed"
)


async def attributions_of(
    graph: Graph, ids: list[str], as_of: str | None = None
) -> dict[str, tuple[list[Record], bool]]:
    """For each incident id: its attributions from every source known on `as_of`
    (None: today), and whether they dispute each other (graph/linking/disputes.py)."""
    rows = await graph.read(ATTRIBUTIONS_OF_QUERY, {"ids": ids, "as_of": as_of})
    found = {row["id"]: (row["attributions"], row["disputed"]) for row in rows}
    return {entity_id: found.get(entity_id, ([], False)) for entity_id in ids}


async def find_claim(graph: Graph, relation: str, claim_id: str) -> Record:
    """One claim by id as an evidence step (its type is given so the id index is used)."""
    if relation not in RELATION_TYPES:
        raise NotFound(claim_id)
    query = "MATCH ()-[q:" + relation + " {id: $id}]->() RETURN " + step_map("q") + " AS step"
    rows = await graph.read(query, {"id": claim_id, "as_of": None})
    if not rows:
        raise NotFound(claim_id)
    return rows[0]["step"]  # type: ignore[no-any-return]
