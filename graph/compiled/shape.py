"""Rows to response values: keys in selection order, GraphQL null rules checked.

Neo4j builds every value, but its maps do not keep key order, so each object
is re-keyed here in the order the operation selected. A null where the schema
says non-null raises NullInNonNull: the caller then answers through the
regular path, which reports it the GraphQL way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graph.compiled.cypher import KIND_KEY
from graph.compiled.plan import EntityShape, ObjectShape, Selection

Shaper = Callable[[Any], Any]


class NullInNonNull(Exception):
    """A compiled answer held null where the schema promises a value."""


def _same(value: Any) -> Any:
    return value


def value_shaper(s: Selection) -> Shaper:
    """A function shaping the value Neo4j returned for one selection."""
    inner = _same if s.sub is None else shape_of(s.sub)
    nullable = s.nullable
    if s.items_nullable is None:
        if inner is _same and nullable:
            return _same

        def single(value: Any) -> Any:
            if value is None:
                if nullable:
                    return None
                raise NullInNonNull(s.key)
            return inner(value)

        return single
    items_nullable = s.items_nullable

    def many(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise NullInNonNull(s.key)
        if not items_nullable and None in value:
            raise NullInNonNull(s.key)
        if inner is _same:
            return value
        return [None if item is None else inner(item) for item in value]

    return many


def shape_of(shape: ObjectShape | EntityShape) -> Shaper:
    if isinstance(shape, ObjectShape):
        return _object_shaper(shape.selections)
    uniform = shape.uniform
    if uniform is not None:
        return _object_shaper(uniform)
    by_kind = {kind: _object_shaper(selections) for kind, selections in shape.by_kind.items()}

    def polymorphic(value: dict[str, Any]) -> Any:
        return by_kind[value[KIND_KEY]](value)

    return polymorphic


def _object_shaper(selections: tuple[Selection, ...]) -> Shaper:
    fields = [(s.key, value_shaper(s)) for s in selections]

    def shaped(value: dict[str, Any]) -> dict[str, Any]:
        return {key: shaper(value[key]) for key, shaper in fields}

    return shaped
