"""Every read question's arguments, defined once: defaults, limits and checks, and
the Cypher parameters they become.

Both ways of answering a query call these: the resolvers (schema/query.py,
schema/types.py) and the compiled executor (schema/compiled/). `args` is keyed
by the GraphQL argument names, with the schema's defaults filled in, as
graphql-core's `get_argument_values` gives them. A bad value raises
UserInputError naming the argument.
"""

from __future__ import annotations

from typing import Any, LiteralString

from graph.linking.rule import ACTIVITY_LABELS, INCIDENTS_ONLY, ActivityKind
from graph.model.dates import date_ceiling, date_floor
from graph.model.likelihood import Likelihood
from graph.model.vocabulary import CLAIM_TYPES, lookup_key
from graph.reads.identities import UseFilter
from graph.reads.lookup import search_query
from graph.reads.questions import (
    MAX_NEIGHBOURHOOD_HOPS,
    MAX_PATH_HOPS,
    RelationFilter,
    ref_parameters,
)
from schema.errors import UserInputError
from schema.pagination import MAX_PAGE_SIZE, decode_cursor, encode_cursor, page_window

Parameters = dict[str, Any]

MAX_REF_CHARS = 500
MAX_SEARCH_CHARS = 500
DEFAULT_SEARCH_HITS = 20
DEFAULT_MAX_HOPS = 6
DEFAULT_HOPS = 1
DEFAULT_NEIGHBOURS = 100
DEFAULT_LINK_PATHS = 3
MAX_LINK_PATHS = 20


def checked_ref(value: str, argument: str) -> str:
    if not value.strip():
        raise UserInputError(f"{argument}: must not be empty")
    if len(value) > MAX_REF_CHARS:
        raise UserInputError(f"{argument}: at most {MAX_REF_CHARS} characters")
    return value


def checked_range(value: int, argument: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UserInputError(f"{argument}: must be between {low} and {high}, not {value}")
    return value


def enum_value(value: object) -> str:
    """An enum argument's value, whichever form graphql-core gives it (member or name)."""
    return str(getattr(value, "value", value))


def rank(value: object) -> int:
    """The rank of a minLikelihood argument (absent: 0, every claim)."""
    if value is None:
        return 0
    term = value if isinstance(value, Likelihood) else Likelihood(enum_value(value))
    if term.rank is None:
        raise UserInputError(
            f"minLikelihood: {term.value} is no grade; to leave out ungraded claims of a "
            "chain, set includeUngraded: false"
        )
    return term.rank


def as_of(args: dict[str, Any]) -> str | None:
    """The day an `asOf` argument asks about, as the last day it covers ('2023' →
    '2023-12-31'); None (today) when absent."""
    value = args.get("asOf")
    return date_ceiling(value) if value else None


def page(prefix: str, first: int | None, after: str | None) -> Parameters:
    """$<prefix>_skip, $<prefix>_first and $<prefix>_cursors (one per page position)."""
    skip, size = page_window(first, after)
    return {
        f"{prefix}_skip": skip,
        f"{prefix}_first": size,
        f"{prefix}_cursors": [encode_cursor(skip + i) for i in range(size)],
    }


def relation_filter(args: dict[str, Any], inherited_as_of: str | None = None) -> RelationFilter:
    """Entity.relations: which claims, and which page of them; without an asOf of its
    own, as of `inherited_as_of` (the day its question asks about)."""
    types = args.get("types")
    for name in types or []:
        if name not in CLAIM_TYPES:
            raise UserInputError(f"types: unknown relation type {name!r}")
    skip, size = page_window(args.get("first"), args.get("after"))
    direction = args["direction"]
    return RelationFilter(
        types=tuple(types) if types else None,
        direction=enum_value(direction),
        min_rank=rank(args.get("minLikelihood")),
        skip=skip,
        first=size,
        as_of=as_of(args) or inherited_as_of,
    )


def link_paths(prefix: str, args: dict[str, Any]) -> Parameters:
    """Incident.linkPaths: $<prefix>_first, how many chains after the one shown."""
    return {f"{prefix}_first": checked_range(args["first"], "first", 0, MAX_LINK_PATHS)}


# The arguments of incidents(linkedTo:) that its link paths follow (LINK_PATHS_QUERY).
LINK_QUESTION = ("target_key", "target_ref", "min", "ungraded", "as_of", "role")


def relations(prefix: str, args: dict[str, Any]) -> Parameters:
    filters = relation_filter(args)
    cursors = [encode_cursor(filters.skip + i) for i in range(filters.first)]
    return {**filters.parameters(prefix), f"{prefix}_cursors": cursors}


def use_filter(used: str, args: dict[str, Any], inherited_as_of: str | None = None) -> UseFilter:
    """techniques and software (`used`): which page; without an asOf of its own, as of
    `inherited_as_of` (the day its question asks about)."""
    skip, size = page_window(args.get("first"), args.get("after"))
    return UseFilter(used=used, skip=skip, first=size, as_of=as_of(args) or inherited_as_of)


def uses(prefix: str, args: dict[str, Any]) -> Parameters:
    """techniques and software in a compiled statement: $<prefix>_skip, _first, _cursors
    and _as_of (null: the day of the question around it)."""
    return {**page(prefix, args.get("first"), args.get("after")), f"{prefix}_as_of": as_of(args)}


def entity(args: dict[str, Any]) -> Parameters:
    return {**ref_parameters("target", checked_ref(args["ref"], "ref")), "as_of": as_of(args)}


def search(args: dict[str, Any]) -> Parameters | None:
    """None when the text has no words: the answer is [] without asking Neo4j. $skip is
    how many hits come before the one `after` names; $cursors, each hit's cursor."""
    text, first, after = args["text"], args["first"], args.get("after")
    if len(text) > MAX_SEARCH_CHARS:
        raise UserInputError(f"text: at most {MAX_SEARCH_CHARS} characters")
    checked_range(first, "first", 0, MAX_PAGE_SIZE)
    skip = decode_cursor(after) + 1 if after is not None else 0
    query = search_query(text)
    kinds = args.get("kinds")
    labels = [enum_value(k) for k in kinds] if kinds else None
    if not query:
        return None
    cursors = [encode_cursor(skip + i) for i in range(first)]
    return {"query": query, "first": first, "skip": skip, "cursors": cursors} | {
        "as_of": as_of(args),
        "kinds": labels,
    }


def kind(args: dict[str, Any]) -> str:
    """The label an `EntityKind` argument names."""
    return enum_value(args["kind"])


def activity_labels(args: dict[str, Any]) -> LiteralString:
    """The label expression of the kinds of activity asked about (activity's `kinds`;
    incidents asks about incidents alone), written into the statement's text."""
    if "kinds" not in args:
        return INCIDENTS_ONLY
    kinds = frozenset(ActivityKind(enum_value(value)) for value in args["kinds"])
    if not kinds:
        raise UserInputError("kinds: name at least one kind of activity (INCIDENT, CAMPAIGN)")
    return ACTIVITY_LABELS[kinds]


def entities(args: dict[str, Any]) -> Parameters:
    """entities(kind:): the page, the day, and `kind`, the label (written into the
    statement's text, not sent)."""
    return {**page("root", args.get("first"), args.get("after")), "as_of": as_of(args)}


def incidents(args: dict[str, Any]) -> Parameters:
    """incidents and activity: the page, the filters and the reference's parameters.
    The kinds asked about are checked here and written into the text
    (activity_labels), not sent."""
    activity_labels(args)
    parameters = page("root", args.get("first"), args.get("after"))
    linked_to = args.get("linkedTo")
    since, until = args.get("since"), args.get("until")
    parameters.update(
        {
            "min": rank(args.get("minLikelihood")),
            "ungraded": args["includeUngraded"],
            "since": date_floor(since) if since else None,
            "until": date_ceiling(until) if until else None,
            "as_of": as_of(args),
            "role": enum_value(args["role"]),
        }
    )
    sector = args.get("targetSector")
    parameters["target_sector"] = (
        lookup_key(checked_ref(sector, "targetSector")) if sector is not None else None
    )
    if linked_to is not None:
        parameters.update(ref_parameters("target", checked_ref(linked_to, "linkedTo")))
    return parameters


def path(args: dict[str, Any]) -> Parameters:
    checked_range(args["maxHops"], "maxHops", 1, MAX_PATH_HOPS)
    return {
        **ref_parameters("origin", checked_ref(args["from"], "from")),
        **ref_parameters("destination", checked_ref(args["to"], "to")),
        "min": rank(args.get("minLikelihood")),
        "ungraded": args["includeUngraded"],
        "as_of": as_of(args),
    }


def claims(args: dict[str, Any]) -> Parameters:
    relation = args.get("relation")
    if relation is not None and relation not in CLAIM_TYPES:
        raise UserInputError(f"relation: unknown relation type {relation!r}")
    return {
        **ref_parameters("origin", checked_ref(args["from"], "from")),
        **ref_parameters("destination", checked_ref(args["to"], "to")),
        "relation": relation,
        "as_of": as_of(args),
    }


def neighbourhood(args: dict[str, Any]) -> Parameters:
    checked_range(args["hops"], "hops", 1, MAX_NEIGHBOURHOOD_HOPS)
    checked_range(args["first"], "first", 0, MAX_PAGE_SIZE)
    return {
        **ref_parameters("centre", checked_ref(args["ref"], "ref")),
        "min": rank(args.get("minLikelihood")),
        "first": args["first"],
        "as_of": as_of(args),
    }
