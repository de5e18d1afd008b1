"""Argument values to statement parameters, checked exactly as the resolvers check them.

Any UserInputError raised here sends the request down the regular path, which
raises the same error with its usual path and location.
"""

from __future__ import annotations

from typing import Any

from graph.model.likelihood import Likelihood as LikelihoodTerm
from graph.model.vocabulary import RELATION_TYPES
from graph.reads.lookup import search_query
from graph.reads.questions import MAX_NEIGHBOURHOOD_HOPS, MAX_PATH_HOPS, ref_parameters
from schema.errors import UserInputError
from schema.pagination import MAX_PAGE_SIZE, encode_cursor, page_window
from schema.query import MAX_SEARCH_CHARS, checked_range, checked_ref
from schema.scalars import date_ceiling, date_floor

Parameters = dict[str, Any]


def rank(value: object) -> int:
    """The rank of a minLikelihood argument (absent: 0, every claim)."""
    if value is None:
        return 0
    if isinstance(value, LikelihoodTerm):
        return value.rank
    return LikelihoodTerm(getattr(value, "value", value)).rank


def _text(value: object) -> str:
    return str(getattr(value, "value", value))


def page(prefix: str, first: int | None, after: str | None) -> Parameters:
    skip, size = page_window(first, after)
    return {
        f"{prefix}_skip": skip,
        f"{prefix}_first": size,
        f"{prefix}_cursors": [encode_cursor(skip + i) for i in range(size)],
    }


def relations(prefix: str, args: dict[str, Any]) -> Parameters:
    types = args.get("types")
    for name in types or []:
        if name not in RELATION_TYPES or name == "MENTIONS":
            raise UserInputError(f"types: unknown relation type {name!r}")
    return {
        **page(prefix, args.get("first"), args.get("after")),
        f"{prefix}_types": list(types) if types else None,
        f"{prefix}_direction": _text(args.get("direction", "BOTH")),
        f"{prefix}_min": rank(args.get("minLikelihood")),
    }


def entity(args: dict[str, Any]) -> Parameters:
    return ref_parameters("target", checked_ref(args["ref"], "ref"))


def search(args: dict[str, Any]) -> Parameters | None:
    """None when the text has no words: the answer is [] without asking Neo4j."""
    text, first = args["text"], args.get("first", 20)
    if len(text) > MAX_SEARCH_CHARS:
        raise UserInputError(f"text: at most {MAX_SEARCH_CHARS} characters")
    checked_range(first, "first", 0, MAX_PAGE_SIZE)
    query = search_query(text)
    return {"query": query, "first": first} if query else None


def incidents(args: dict[str, Any]) -> Parameters:
    parameters = page("root", args.get("first"), args.get("after"))
    linked_to = args.get("linkedTo")
    since, until = args.get("since"), args.get("until")
    parameters.update(
        {
            "min": rank(args.get("minLikelihood")),
            "since": date_floor(since) if since else None,
            "until": date_ceiling(until) if until else None,
        }
    )
    if linked_to is not None:
        parameters.update(ref_parameters("target", checked_ref(linked_to, "linkedTo")))
    return parameters


def path(args: dict[str, Any]) -> Parameters:
    checked_range(args.get("maxHops", 6), "maxHops", 1, MAX_PATH_HOPS)
    return {
        **ref_parameters("origin", checked_ref(args["from"], "from")),
        **ref_parameters("destination", checked_ref(args["to"], "to")),
        "min": rank(args.get("minLikelihood")),
    }


def neighbourhood(args: dict[str, Any]) -> Parameters:
    checked_range(args.get("hops", 1), "hops", 1, MAX_NEIGHBOURHOOD_HOPS)
    checked_range(args.get("first", 100), "first", 0, MAX_PAGE_SIZE)
    return {
        **ref_parameters("centre", checked_ref(args["ref"], "ref")),
        "min": rank(args.get("minLikelihood")),
        "first": args.get("first", 100),
    }
