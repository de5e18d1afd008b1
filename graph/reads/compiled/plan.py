"""What a compiled read must return: response keys, nesting and nullability.

The schema layer builds these from a validated GraphQL operation; this package
turns them into Cypher (cypher.py) and shapes the rows (shape.py). Field names
here are the graph's own names (`total_count`, `iso_code`, `link_path`), not
GraphQL's, so nothing in graph/ needs to know GraphQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPENAME = "__typename"


@dataclass(frozen=True)
class Selection:
    """One response key: which field fills it, and what may be null."""

    key: str
    field: str
    nullable: bool
    # None for a single value; for a list, whether its items may be null.
    items_nullable: bool | None = None
    sub: ObjectShape | EntityShape | None = None
    # Prefix of the statement parameters that carry this field's arguments.
    arguments: str | None = None


@dataclass(frozen=True)
class ObjectShape:
    """A selection on one concrete object type (a connection, a step, a path...)."""

    type_name: str
    selections: tuple[Selection, ...]


@dataclass(frozen=True)
class EntityShape:
    """A selection on the Entity interface, resolved for every concrete kind.

    `by_kind` maps each kind (ThreatActor, Incident, ...) to the selections that
    apply to it; inline fragments on one kind make the maps differ.
    """

    by_kind: dict[str, tuple[Selection, ...]] = field(hash=False)

    @property
    def uniform(self) -> tuple[Selection, ...] | None:
        """The selections when every kind has the same ones, else None."""
        values = list(self.by_kind.values())
        first = values[0]
        return first if all(v == first for v in values[1:]) else None


@dataclass(frozen=True)
class RootField:
    """One root field of the query: its response key, kind of read and selection."""

    key: str
    field: str
    nullable: bool
    items_nullable: bool | None
    sub: ObjectShape | EntityShape | None
    arguments: str
