"""The Cypher behind each field of an entity and of a claim, defined once.

Both ways of answering build their maps from these: the whole-entity rows of
questions.py (which the resolvers wrap) and the per-selection maps of
compiled/cypher.py. Change what a field means here, and both follow.

Functions take and return Cypher text built only from this package's own text
and generated variable names; user values always travel as parameters.
"""

from __future__ import annotations

from typing import LiteralString

from graph.model.known import AS_OF, claim_known
from graph.model.likelihood import NO_GRADE, Likelihood, at_least_min, ungraded_count, weakest_rank
from graph.model.markings import marking_names
from graph.model.vocabulary import CLAIM_TYPE_PATTERN, ENTITY_CORE_PROPERTIES, LABELS
from graph.reads.compiled.plan import TYPENAME

# The kinds' own properties an entity row carries besides the core ones.
ENTITY_ROW_FIELDS: tuple[str, ...] = (
    *ENTITY_CORE_PROPERTIES,
    *dict.fromkeys(p for label in LABELS.values() for p in label.extra_properties),
    "kind",
    "markings",
)
# Properties that hold lists: an entity without one shows an empty list.
_LIST_PROPERTIES = frozenset({"aliases", "tactics"})

LIKELIHOOD_NAMES = "[" + ", ".join(f"'{term.value}'" for term in Likelihood) + "]"


def literal(text: str) -> LiteralString:
    """Mark Cypher built by this package as a literal (it holds no user value)."""
    return text


def key(name: str) -> str:
    """A name as a Cypher map key or property name (backtick-quoted, backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def kind_of(node: str) -> str:
    """The kind label of the entity `node`."""
    return f"[tg_l IN labels({node}) WHERE tg_l <> 'Entity'][0]"


# -- entities -------------------------------------------------------------------


def entity_leaf(node: str, field: str) -> str:
    """One scalar field of the entity `node`: a stored property, its kind, or its
    markings by name."""
    if field in ("kind", TYPENAME):
        return kind_of(node)
    if field == "markings":
        return marking_names(node)
    if field in _LIST_PROPERTIES:
        return f"coalesce({node}.{field}, [])"
    if field == "description":
        return f"coalesce({node}.description, '')"
    return f"{node}.{key(field)}"


def entity_row(node: str) -> str:
    """Every field of ENTITY_ROW_FIELDS of the entity `node`, as a map."""
    return "{" + ", ".join(f"{f}: {entity_leaf(node, f)}" for f in ENTITY_ROW_FIELDS) + "}"


def entity_row_at(expression: str) -> str:
    """entity_row of any node expression; null stays null."""
    return f"head([tg_e IN [{expression}] WHERE tg_e IS NOT NULL | {entity_row('tg_e')}])"


def mentioning_sources(node: str, source: str) -> str:
    """The sources that mention the entity `node`, by id, as a list of nodes."""
    return (
        f"COLLECT {{ MATCH ({source}:Source)-[:MENTIONS]->({node}) "
        f"RETURN {source} ORDER BY {source}.id }}"
    )


def claims_of(node: str, rel: str, prefix: str, as_of: str) -> str:
    """The claims of the entity `node`, strongest first (ungraded after every graded
    one), then by type and id, as a list of relationships, filtered by the
    parameters $<prefix>_types (null: all), $<prefix>_direction (OUT, IN or BOTH)
    and $<prefix>_min (a rank), and known on the day `as_of` (an expression)."""
    return (
        f"COLLECT {{ MATCH ({node})-[{rel}:{CLAIM_TYPE_PATTERN}]-() "
        f"WHERE (${prefix}_types IS NULL OR type({rel}) IN ${prefix}_types) "
        f"AND {at_least_min(literal(rel), literal(f'${prefix}_min'))} "
        f"AND {claim_known(literal(rel), literal(as_of))} "
        f"AND (${prefix}_direction = 'BOTH' "
        f"OR (${prefix}_direction = 'OUT' AND startNode({rel}) = {node}) "
        f"OR (${prefix}_direction = 'IN' AND endNode({rel}) = {node})) "
        f"WITH {rel} ORDER BY coalesce({rel}.likelihood_rank, -1) DESC, type({rel}), {rel}.id "
        f"RETURN {rel} }}"
    )


# -- claims -------------------------------------------------------------------------

_STEP_LEAVES = {
    "id": "{rel}.id",
    "relation": "type({rel})",
    "likelihood": "{rel}.likelihood",
    "quote": "{rel}.quote",
    "valid_from": "{rel}.valid_from",
    "valid_to": "{rel}.valid_to",
    "reported_on": "{rel}.reported_on",
    "withdrawn_on": "{rel}.withdrawn_on",
    # Its own (imported with it), else its source's, else its source's publisher's.
    "source_reliability": "coalesce({rel}.source_reliability, COLLECT {{ "
    "MATCH ({rel}_src:Entity {{id: {rel}.source}}) RETURN coalesce({rel}_src.reliability, "
    "COLLECT {{ MATCH ({rel}_pub:Entity {{id: {rel}_src.publisher}}) "
    "RETURN {rel}_pub.reliability }}[0]) }}[0])",
    # The distinct sources making the same claim: every claim of its type between its
    # ends (one per source) known on the day asked, each with the sources it cites.
    "corroboration": "COUNT {{ WITH startNode({rel}) AS {rel}_a, endNode({rel}) AS {rel}_b, "
    "type({rel}) AS {rel}_t MATCH ({rel}_a)-[{rel}_o]->({rel}_b) WHERE type({rel}_o) = {rel}_t "
    "AND {known} UNWIND {rel}_o.sources AS {rel}_s RETURN DISTINCT {rel}_s }}",
}


def step_leaf(rel: str, field: str, as_of: str = AS_OF) -> str | None:
    """One scalar field of the claim `rel` as known on the day `as_of` (an
    expression), or None when `field` is not one."""
    if field == "markings":
        return marking_names(rel)
    template = _STEP_LEAVES.get(field)
    if template is None:
        return None
    known = claim_known(literal(f"{rel}_o"), literal(as_of)) if field == "corroboration" else ""
    return template.format(rel=rel, known=known)


def claim_sources(rel: str, source: str) -> str:
    """The sources that make the claim `rel`, by id, as a list of nodes."""
    return (
        f"COLLECT {{ MATCH ({source}:Entity) WHERE {source}.id IN {rel}.sources "
        f"RETURN {source} ORDER BY {source}.id }}"
    )


def claim_assessor(rel: str, assessor: str) -> str:
    """Who assessed the claim `rel`, as a list of at most one node."""
    return f"COLLECT {{ MATCH ({assessor}:Entity {{id: {rel}.assessed_by}}) RETURN {assessor} }}"


def step_row(rel: str, as_of: str = AS_OF) -> str:
    """The claim `rel` as an evidence step: its fields, ends, sources and assessor,
    as known on the day `as_of` (an expression)."""
    leaves = [
        ("id", "id"),
        ("relation", "relation"),
        ("likelihood", "likelihood"),
        ("quote", "quote"),
        ("validFrom", "valid_from"),
        ("validTo", "valid_to"),
        ("reportedOn", "reported_on"),
        ("withdrawnOn", "withdrawn_on"),
        ("markings", "markings"),
        ("sourceReliability", "source_reliability"),
        ("corroboration", "corroboration"),
    ]
    entries = [f"{name}: {step_leaf(rel, field, as_of)}" for name, field in leaves]
    entries += [
        f"from: {entity_row_at(f'startNode({rel})')}",
        f"to: {entity_row_at(f'endNode({rel})')}",
        f"sources: [tg_s IN {claim_sources(rel, 'tg_source')} | {entity_row('tg_s')}]",
        f"assessedBy: head([tg_a IN {claim_assessor(rel, 'tg_assessor')} | {entity_row('tg_a')}])",
    ]
    return "{" + ", ".join(entries) + "}"


def path_likelihood(rels: str) -> str:
    """The likelihood term of a chain of claims (the list `rels`): its weakest graded
    claim's; UNGRADED when none is graded; FACT for a chain of no claims."""
    weakest = weakest_rank(NO_GRADE, literal(rels))
    return f"CASE WHEN size({rels}) = 0 THEN 'FACT' ELSE {LIKELIHOOD_NAMES}[{weakest}] END"


def ungraded_steps(rels: str) -> str:
    """How many claims of the chain `rels` are ungraded."""
    return ungraded_count(literal(rels))
