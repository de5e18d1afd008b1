"""Scalars and enums shared by the schema's types."""

from __future__ import annotations

from typing import NewType

import strawberry

from graph.model.dates import DATE_FORMS, is_date
from graph.model.likelihood import Likelihood

_YARDSTICK = ", ".join(
    f"{term.value} ({low}-{high}%)"
    for term in Likelihood
    if (band := term.band)
    for low, high in [band]
)
# Registers the graph layer's own enum: one Likelihood everywhere.
strawberry.enum(
    Likelihood,
    name="Likelihood",
    description=(
        f"The UK PHIA probability yardstick, weakest first: {_YARDSTICK}; FACT, for what "
        "is not a judgment (structure, events reported as having happened; ranked "
        "strongest); and UNGRADED, for a judgment its source states without an estimative "
        "term (no rank: it never counts towards a chain's likelihood)."
    ),
)


def parse_date(value: object) -> str:
    if not is_date(value):
        raise ValueError(f"{value!r} is not a Date: use {DATE_FORMS}")
    assert isinstance(value, str)
    return value


Date = NewType("Date", str)

# Registered through StrawberryConfig.scalar_map (schema/build.py).
DATE_SCALAR = strawberry.scalar(
    name="Date",
    serialize=lambda value: value,
    parse_value=parse_date,
    description=f"A calendar date as precise as the source gives it: {DATE_FORMS}.",
)
