"""The read questions threatgraph answers, each as one Cypher statement.

Every function here makes exactly one round-trip, whatever the size of its
answer: entity references are resolved inside the statement (the
`RESOLVE_*` preludes), and evidence (quotes, sources, who assessed) is
gathered with pattern comprehensions in the same statement. Results are plain
dicts of the graph's own field names, which the schema layer wraps.

What "linked to" means is graph/linking/'s: incidents(linkedTo:) resolves its
reference here and takes the rest from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

from graph.errors import AmbiguousReference, NotFound
from graph.linking.answer import linked_rows
from graph.model.dates import INCIDENT_IN_WINDOW
from graph.model.likelihood import PATH_STRENGTH, at_least_min
from graph.model.vocabulary import CLAIM_TYPE_PATTERN, RELATION_TYPES
from graph.reads.lookup import exact_key_query, search_query
from graph.store.database import Graph, Record

MAX_PATH_HOPS = 8
MAX_NEIGHBOURHOOD_HOPS = 3

ENTITY_MAP: LiteralString = (
    "{.id, .name, .aliases, .description, .started, .ended, .status, .outcome, .disclosed, "
    ".url, .publisher, .published, .title, .role, .iso_code, .stix_type, .first_seen, "
    ".last_seen, .software_type, kind: [l IN labels(NODE) WHERE l <> 'Entity'][0]}"
)


def entity_map(variable: LiteralString) -> LiteralString:
    """`variable {...}`: the properties every Entity type can show, plus its kind."""
    return variable + " " + ENTITY_MAP.replace("NODE", variable)


def project(expression: LiteralString) -> LiteralString:
    """entity_map for any node expression (map projection needs a plain variable)."""
    return "head([tg_node IN [" + expression + "] | " + entity_map("tg_node") + "])"


def step_map(rel: LiteralString) -> LiteralString:
    """One claim as an evidence step: endpoints, grade, quote, sources and assessor."""
    start: LiteralString = "startNode(" + rel + ")"
    end: LiteralString = "endNode(" + rel + ")"
    return (
        "{id: " + rel + ".id, relation: type(" + rel + "), likelihood: " + rel + ".likelihood, "
        "quote: "
        + rel
        + ".quote, validFrom: "
        + rel
        + ".valid_from, validTo: "
        + rel
        + ".valid_to, "
        "from: " + project(start) + ", to: " + project(end) + ", "
        "sources: COLLECT { MATCH (tg_source:Entity) WHERE tg_source.id IN " + rel + ".sources "
        "RETURN " + entity_map("tg_source") + " ORDER BY tg_source.id }, "
        "assessedBy: COLLECT { MATCH (tg_assessor:Entity {id: " + rel + ".assessed_by}) "
        "RETURN " + entity_map("tg_assessor") + " }[0]}"
    )


def resolve_prelude(name: LiteralString) -> LiteralString:
    """Cypher binding `name` to the single entity a reference names (or null).

    It also binds `name_candidates`: the ids that matched, so the caller can
    say "ambiguous" or "not found" from the same round-trip. An exact id wins
    over a name or alias that happens to equal it.
    """
    return (
        "CALL () { CALL db.index.fulltext.queryNodes('entity_lookup', $" + name + "_key) "
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
    "CASE WHEN target IS NULL THEN null ELSE " + entity_map("target") + " END AS entity"
)


async def find_entity(graph: Graph, ref: str) -> Record | None:
    """The entity a reference (id, name or alias; any case) names, or None.

    Raises AmbiguousReference when the reference names several entities.
    """
    rows = await graph.read(ENTITY_QUERY, ref_parameters("target", ref))
    row = rows[0]
    if len(row["candidates"]) > 1:
        raise AmbiguousReference(ref, row["candidates"])
    return row["entity"]  # type: ignore[no-any-return]


# -- search ---------------------------------------------------------------

SEARCH_QUERY: LiteralString = (
    "CALL db.index.fulltext.queryNodes('entity_search', $query, {limit: $first}) "
    "YIELD node, score RETURN " + entity_map("node") + " AS entity, score "
    "ORDER BY score DESC, node.id LIMIT $first"
)


async def search(graph: Graph, text: str, first: int) -> list[Record]:
    query = search_query(text)
    if not query:
        return []
    return await graph.read(SEARCH_QUERY, {"query": query, "first": first})


# -- incidents --------------------------------------------------------------


def linked_incident_rows(skip: LiteralString, first: LiteralString) -> LiteralString:
    """Resolves `target` from $target_key/$target_ref, then graph/linking/answer.py's
    `total` and `rows` for it."""
    return resolve_prelude("target") + linked_rows(skip, first)


LINKED_INCIDENTS_QUERY: LiteralString = linked_incident_rows("$skip", "$first") + (
    "RETURN target_candidates AS candidates, total, "
    "[row IN rows[$skip..$skip + $first] | {incident: " + project("row.i") + ", "
    "strength: row.best.strength, "
    "steps: [q IN relationships(row.best.p) | " + step_map("q") + "]}] AS page"
)

# Every incident the date filter keeps, newest first, as `rows` of nodes.
ALL_INCIDENT_ROWS: LiteralString = (
    "MATCH (i:Incident) WHERE " + INCIDENT_IN_WINDOW + " "
    "WITH i ORDER BY coalesce(i.started, '') DESC, i.id "
    "WITH collect(i) AS rows "
)

ALL_INCIDENTS_QUERY: LiteralString = (
    ALL_INCIDENT_ROWS + "RETURN [] AS candidates, size(rows) AS total, "
    "[i IN rows[$skip..$skip + $first] | {incident: " + entity_map("i") + ", "
    "strength: null, steps: null}] AS page"
)


@dataclass(frozen=True)
class IncidentPage:
    total: int
    rows: list[Record]  # {incident, strength, steps}


async def incidents(
    graph: Graph,
    linked_to: str | None,
    min_rank: int,
    since: str | None,
    until: str | None,
    skip: int,
    first: int,
) -> IncidentPage:
    """Incidents, optionally only those linked to an entity, each with its strongest link path."""
    parameters: dict[str, Any] = {
        "min": min_rank,
        "since": since,
        "until": until,
        "skip": skip,
        "first": first,
    }
    if linked_to is None:
        rows = await graph.read(ALL_INCIDENTS_QUERY, parameters)
    else:
        parameters.update(ref_parameters("target", linked_to))
        rows = await graph.read(LINKED_INCIDENTS_QUERY, parameters)
        raise_unless_resolved(linked_to, rows[0]["candidates"] if rows else [])
    if not rows:
        return IncidentPage(total=0, rows=[])
    return IncidentPage(total=rows[0]["total"], rows=rows[0]["page"])


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
        # allShortestPaths, not `ALL SHORTEST`: the same lengths and strengths for 190
        # pairs compared (and, for the pair profiled, the same db hits), but Neo4j 5.26's
        # StatefulShortestPath took 2-20 times as long for the benchmark's far pairs at
        # 1M nodes, and 100 times for random pairs.
        "  MATCH p = allShortestPaths((origin)-[rs:" + CLAIM_TYPE_PATTERN + "*1.." + hops + "]-"
        "(destination)) WHERE all(r IN rs WHERE " + at_least_min("r") + ") "
        "  WITH p, " + PATH_STRENGTH + " AS strength "
        "  ORDER BY strength DESC, [r IN relationships(p) | r.id] LIMIT 1 "
        "  RETURN p AS best, strength "
        "} "
    )


def _path_query(max_hops: int) -> LiteralString:
    return (
        path_core(max_hops) + "RETURN origin_candidates, destination_candidates, strength, "
        "CASE WHEN best IS NULL THEN null ELSE "
        "[q IN relationships(best) | " + step_map("q") + "] "
        "END AS steps"
    )


PATH_QUERIES = {hops: _path_query(hops) for hops in range(1, MAX_PATH_HOPS + 1)}


async def shortest_path(
    graph: Graph, origin: str, destination: str, max_hops: int, min_rank: int
) -> Record | None:
    """The shortest chain of claims between two entities (either direction per step),
    the strongest of equally short ones, then the first by claim ids; None when there is
    none within max_hops."""
    parameters = {**ref_parameters("origin", origin), **ref_parameters("destination", destination)}
    rows = await graph.read(PATH_QUERIES[max_hops], {**parameters, "min": min_rank})
    row = rows[0]
    raise_unless_resolved(origin, row["origin_candidates"])
    raise_unless_resolved(destination, row["destination_candidates"])
    if row["steps"] is None:
        return None
    return {"strength": row["strength"], "steps": row["steps"]}


# -- neighbourhood -------------------------------------------------------------


def neighbourhood_core(hops: int) -> LiteralString:
    """Binds centre, centre_candidates and `members`: the centre first, then its ring,
    nearest first (then by id), at most `$first` of it."""
    depth: LiteralString = {n: str(n) for n in range(1, MAX_NEIGHBOURHOOD_HOPS + 1)}[hops]
    return (
        resolve_prelude("centre") + "OPTIONAL CALL (centre) { "
        "  WITH centre WHERE centre IS NOT NULL "
        "  MATCH (centre)-[rs:" + CLAIM_TYPE_PATTERN + "*1.." + depth + "]-(n) "
        "  WHERE all(r IN rs WHERE " + at_least_min("r") + ") "
        # Nearest first: by id alone, a 2-hop ring of `first` could be all second-hop
        # nodes (siblings sort before the centre's own agency) and keep no claim at all.
        # min(size(rs)) keeps the planner's pruning breadth-first expand.
        "  WITH n, min(size(rs)) AS distance ORDER BY distance, n.id LIMIT $first "
        "  RETURN collect(n) AS ring "
        "} "
        "WITH centre, centre_candidates, CASE WHEN centre IS NULL THEN [] "
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
        "WHERE tg_to IN members AND " + at_least_min(rel) + " "
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


async def neighbourhood(graph: Graph, ref: str, hops: int, min_rank: int, first: int) -> Record:
    rows = await graph.read(
        NEIGHBOURHOOD_QUERIES[hops],
        {**ref_parameters("centre", ref), "min": min_rank, "first": first},
    )
    row = rows[0]
    raise_unless_resolved(ref, row["centre_candidates"])
    return {"nodes": row["nodes"], "relationships": row["relationships"]}


# -- batched per-entity reads (DataLoaders call these once per query level) ----

SOURCES_OF_QUERY: LiteralString = (
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
    "RETURN id, [(s:Source)-[:MENTIONS]->(e) | " + entity_map("s") + "] AS sources"
)


async def sources_of(graph: Graph, ids: list[str]) -> dict[str, list[Record]]:
    rows = await graph.read(SOURCES_OF_QUERY, {"ids": ids})
    found = {row["id"]: sorted(row["sources"], key=lambda s: s["id"]) for row in rows}
    return {entity_id: found.get(entity_id, []) for entity_id in ids}


ENTITIES_BY_ID_QUERY: LiteralString = (
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) RETURN id, " + entity_map("e") + " AS entity"
)


async def entities_by_id(graph: Graph, ids: list[str]) -> dict[str, Record | None]:
    """Entities by exact id, in one round-trip (None for an id nothing has)."""
    rows = await graph.read(ENTITIES_BY_ID_QUERY, {"ids": ids})
    found = {row["id"]: row["entity"] for row in rows}
    return {entity_id: found.get(entity_id) for entity_id in ids}


RELATIONS_OF_QUERY: LiteralString = (
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
    "CALL (e) { "
    "  OPTIONAL MATCH (e)-[r:" + CLAIM_TYPE_PATTERN + "]-(other) "
    "  WHERE r IS NULL OR (($types IS NULL OR type(r) IN $types) "
    "    AND " + at_least_min("r") + " "
    "    AND ($direction = 'BOTH' OR ($direction = 'OUT' AND startNode(r) = e) "
    "         OR ($direction = 'IN' AND endNode(r) = e))) "
    "  WITH r ORDER BY r.likelihood_rank DESC, type(r), r.id "
    "  RETURN collect(r) AS rels "
    "} "
    "RETURN id, size(rels) AS total, "
    "[q IN rels[$skip..$skip + $first] | " + step_map("q") + "] "
    "AS page"
)


@dataclass(frozen=True)
class RelationFilter:
    types: tuple[str, ...] | None
    direction: str  # OUT, IN or BOTH
    min_rank: int
    skip: int
    first: int


async def relations_of(
    graph: Graph, ids: list[str], filters: RelationFilter
) -> dict[str, tuple[int, list[Record]]]:
    rows = await graph.read(
        RELATIONS_OF_QUERY,
        {
            "ids": ids,
            "types": list(filters.types) if filters.types else None,
            "direction": filters.direction,
            "min": filters.min_rank,
            "skip": filters.skip,
            "first": filters.first,
        },
    )
    found = {row["id"]: (row["total"], row["page"]) for row in rows}
    return {entity_id: found.get(entity_id, (0, [])) for entity_id in ids}


async def find_claim(graph: Graph, relation: str, claim_id: str) -> Record:
    """One claim by id as an evidence step (its type is given so the id index is used)."""
    if relation not in RELATION_TYPES:
        raise NotFound(claim_id)
    query = "MATCH ()-[q:" + relation + " {id: $id}]->() RETURN " + step_map("q") + " AS step"
    rows = await graph.read(query, {"id": claim_id})
    if not rows:
        raise NotFound(claim_id)
    return rows[0]["step"]  # type: ignore[no-any-return]
