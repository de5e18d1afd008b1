"""What the imports know of an entity: its ids, each source's name for it, its possible
duplicates, and the techniques and software it uses.

Defined once as Cypher for both ways of answering: the batched reads below (which
the resolvers' DataLoaders call) and the compiled executor (compiled/cypher.py),
which builds the same lists into its own maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

from graph.model.identifiers import attack_id, external_ids
from graph.model.known import claim_known, entity_known, mention_known
from graph.reads.fields import entity_row, literal, step_row
from graph.store.database import Graph, Record

# What an actor, campaign or piece of software uses, by what `techniques` and
# `software` list: ATT&CK's `uses` is USES from the user; a source may say it the
# other way round (USED_BY to the user).
USE_RELATIONS: LiteralString = "USES|USED_BY"
USED_KINDS = {"techniques": "AttackPattern", "software": "Software"}


def names_by_source(node: str, mention: str, as_of: str) -> str:
    """Cypher: the MENTIONS of the entity `node` that carry the source's own name for
    it, known on the day `as_of`, by source id, as a list of relationships."""
    source = f"{mention}_src"
    known = mention_known(literal(mention), literal(source), literal(as_of))
    return (
        f"COLLECT {{ MATCH ({source}:Source)-[{mention}:MENTIONS]->({node}) "
        f"WHERE {mention}.name IS NOT NULL AND {known} "
        f"RETURN {mention} ORDER BY {source}.id, {mention}.id }}"
    )


def possible_duplicates(node: str, other: str, as_of: str) -> str:
    """Cypher: the entities an import recorded as possibly the same as `node` (its
    `ambiguous_with`: names shared but never merged), known on the day `as_of`, by id,
    as a list of nodes."""
    return (
        f"COLLECT {{ MATCH ({other}:Entity) "
        f"WHERE {other}.id IN coalesce({node}.ambiguous_with, []) "
        f"AND {entity_known(literal(other), literal(as_of))} RETURN {other} ORDER BY {other}.id }}"
    )


def _use_claims(node: str, rel: str, used: str, as_of: str) -> str:
    # A pattern and condition: the claims known on `as_of` that `node` uses `used`.
    return (
        f"({node})-[{rel}:{USE_RELATIONS}]-({used}) "
        f"WHERE (type({rel}) = 'USES') = (startNode({rel}) = {node}) "
        f"AND {claim_known(literal(rel), literal(as_of))} "
    )


def uses_of(node: str, label: str, rel: str, as_of: str) -> str:
    """Cypher: the entities of the kind `label` that `node` uses, each as a map {used,
    claims} (its claims known on the day `as_of`, strongest first, then by source and
    id), ordered by ATT&CK id (those without one last), then name and id.

    Without aggregation: a compiled statement builds it inside list expressions."""
    used = f"{rel}_used"
    return (
        f"COLLECT {{ MATCH {_use_claims(node, rel, used + ':' + label, as_of)}"
        f"AND {entity_known(literal(used), literal(as_of))} "
        f"WITH DISTINCT {used} WITH {used}, {attack_id(used)} AS {rel}_aid "
        f"ORDER BY {rel}_aid IS NULL, {rel}_aid, {used}.name, {used}.id "
        f"RETURN {{used: {used}, claims: COLLECT {{ "
        f"MATCH {_use_claims(node, rel + '_c', used, as_of)}"
        f"RETURN {rel}_c ORDER BY coalesce({rel}_c.likelihood_rank, -1) DESC, "
        f"{rel}_c.source, {rel}_c.id }}}} }}"
    )


def use_leaf(use: str, field: str) -> str | None:
    """One scalar field of a use (a map of uses_of), or None when `field` is not one."""
    leaves = {
        "external_id": attack_id(f"{use}.used"),
        "name": f"{use}.used.name",
        "tactics": f"coalesce({use}.used.tactics, [])",
        "software_type": f"{use}.used.software_type",
    }
    return leaves.get(field)


def mention_leaf(mention: str, field: str) -> str | None:
    """One scalar field of a source's name for an entity (a MENTIONS of
    names_by_source), or None when `field` is not one."""
    leaves = {
        "name": f"{mention}.name",
        "aliases": f"coalesce({mention}.aliases, [])",
        "ref": f"{mention}.source_ref",
        "url": f"{mention}.url",
    }
    return leaves.get(field)


# -- batched reads for the resolvers -------------------------------------------------

IDENTITIES_OF_QUERY: LiteralString = literal(
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
    f"RETURN id, {external_ids('e')} AS externalIds, "
    f"[m IN {names_by_source('e', 'tg_m', '$as_of')} | {{source: "
    f"{entity_row('startNode(m)')}, name: {mention_leaf('m', 'name')}, "
    f"aliases: {mention_leaf('m', 'aliases')}, ref: {mention_leaf('m', 'ref')}, "
    f"url: {mention_leaf('m', 'url')}}}] AS names, "
    f"[d IN {possible_duplicates('e', 'tg_d', '$as_of')} | {entity_row('d')}] AS duplicates"
)


async def identities_of(
    graph: Graph, ids: list[str], as_of: str | None
) -> dict[str, Record | None]:
    """For each entity id: {externalIds, names, duplicates} as known on `as_of` (None:
    today); None for an id nothing has."""
    rows = await graph.read(IDENTITIES_OF_QUERY, {"ids": ids, "as_of": as_of})
    found = {row["id"]: row for row in rows}
    return {entity_id: found.get(entity_id) for entity_id in ids}


@dataclass(frozen=True)
class UseFilter:
    """Which uses of an entity (`techniques` or `software`), which page, which day."""

    used: str  # a key of USED_KINDS
    skip: int
    first: int
    as_of: str | None = None


def _uses_query(label: str) -> LiteralString:
    return literal(
        "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
        f"WITH id, {uses_of('e', label, 'tg_u', '$as_of')} AS uses "
        "RETURN id, size(uses) AS total, [u IN uses[$skip..$skip + $first] | "
        f"{{used: {entity_row('u.used')}, externalId: {use_leaf('u', 'external_id')}, "
        f"claims: [q IN u.claims | {step_row('q')}]}}] AS page"
    )


USES_OF_QUERIES = {used: _uses_query(label) for used, label in USED_KINDS.items()}


async def uses_of_entities(
    graph: Graph, ids: list[str], filters: UseFilter
) -> dict[str, tuple[int, list[Record]]]:
    """For each entity id: how many it uses of the kind asked, and the page asked."""
    parameters: dict[str, Any] = {
        "ids": ids,
        "skip": filters.skip,
        "first": filters.first,
        "as_of": filters.as_of,
    }
    rows = await graph.read(USES_OF_QUERIES[filters.used], parameters)
    found = {row["id"]: (row["total"], row["page"]) for row in rows}
    return {entity_id: found.get(entity_id, (0, [])) for entity_id in ids}
