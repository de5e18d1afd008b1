"""Rows to response values: keys in selection order, GraphQL null rules checked.

Neo4j builds every value, but its maps do not keep key order, so each object
is re-keyed here in the order the operation selected. A null where the schema
says non-null raises NullInNonNull: the graph holds what the model forbids, or a
statement is wrong, and the caller reports it as an internal error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graph.reads.compiled.cypher import KIND_KEY
from graph.reads.compiled.plan import EntityShape, ObjectShape, Selection

Shaper = Callable[[Any], Any]


class NullInNonNull(Exception):
    """A compiled answer held null where the schema promises a value."""


def value_shaper(s: Selection) -> Shaper:
    """A function shaping the value Neo4j returned for one selection.

    The function is generated Python source: one dict literal per object shape,
    keys in selection order, so shaping a large answer costs little more than
    copying it. Keys enter the source only through repr().
    """
    source = _Source()
    top = source.object_function((s,))
    namespace: dict[str, Any] = {**source.namespace, "_required": _required, "_many": _many}
    exec("\n".join(source.lines), namespace)
    wrapped: Shaper = namespace[top]
    key = s.key
    return lambda value: wrapped({key: value})[key]


def _required(value: Any, key: str) -> Any:
    if value is None:
        raise NullInNonNull(key)
    return value


def _many(item: Shaper | None, value: Any, nullable: bool, items_nullable: bool, key: str) -> Any:
    if value is None:
        if nullable:
            return None
        raise NullInNonNull(key)
    if not items_nullable and None in value:
        raise NullInNonNull(key)
    if item is None:
        return value
    return [None if x is None else item(x) for x in value]


class _Source:
    """Python source for shaping functions, one per object shape."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {}
        self.count = 0

    def name(self) -> str:
        self.count += 1
        return f"_f{self.count}"

    def shape_function(self, shape: ObjectShape | EntityShape) -> str:
        if isinstance(shape, ObjectShape):
            return self.object_function(shape.selections)
        uniform = shape.uniform
        if uniform is not None:
            return self.object_function(uniform)
        kinds = self.name() + "_kinds"
        function = self.name()
        by_kind = {kind: self.object_function(sel) for kind, sel in shape.by_kind.items()}
        self.lines.append(f"{kinds} = {{{', '.join(f'{k!r}: {f}' for k, f in by_kind.items())}}}")
        self.lines.append(f"def {function}(v):\n    return {kinds}[v[{KIND_KEY!r}]](v)")
        return function

    def object_function(self, selections: tuple[Selection, ...]) -> str:
        entries = [f"{s.key!r}: {self.value(s)}" for s in selections]
        function = self.name()
        self.lines.append(f"def {function}(v):\n    return {{{', '.join(entries)}}}")
        return function

    def value(self, s: Selection) -> str:
        got = f"v[{s.key!r}]"
        inner = None if s.sub is None else self.shape_function(s.sub)
        if s.items_nullable is not None:
            return f"_many({inner}, {got}, {s.nullable}, {s.items_nullable}, {s.key!r})"
        if inner is None:
            return got if s.nullable else f"_required({got}, {s.key!r})"
        if s.nullable:
            return f"(None if (t := {got}) is None else {inner}(t))"
        return f"{inner}(_required({got}, {s.key!r}))"
