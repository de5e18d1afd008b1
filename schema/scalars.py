"""Scalars and enums shared by the schema's types."""

from __future__ import annotations

import re
from typing import NewType

import strawberry

from graph.model.likelihood import Likelihood as LikelihoodTerm

strawberry.enum(
    LikelihoodTerm,
    name="Likelihood",
    description=(
        "The UK PHIA probability yardstick, weakest first: REMOTE_CHANCE (0-5%), "
        "HIGHLY_UNLIKELY (10-20%), UNLIKELY (25-35%), REALISTIC_POSSIBILITY (40-50%), "
        "LIKELY (55-75%), HIGHLY_LIKELY (80-90%), ALMOST_CERTAIN (95-100%); and FACT, for "
        "what a source states without hedging (ranked strongest)."
    ),
)
# strawberry.enum registers the graph layer's own enum: one Likelihood everywhere.
Likelihood = LikelihoodTerm

_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def parse_date(value: object) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"{value!r} is not a Date: use YYYY, YYYY-MM or YYYY-MM-DD")
    return value


Date = NewType("Date", str)

# Registered through StrawberryConfig.scalar_map (schema/build.py).
DATE_SCALAR = strawberry.scalar(
    name="Date",
    serialize=lambda value: value,
    parse_value=parse_date,
    description="A calendar date as precise as the source gives it: YYYY, YYYY-MM or YYYY-MM-DD.",
)


def date_floor(value: str) -> str:
    """The first day a partial date can mean ('2021' → '2021-01-01')."""
    return {4: value + "-01-01", 7: value + "-01"}.get(len(value), value)


def date_ceiling(value: str) -> str:
    """The last day a partial date can mean ('2021' → '2021-12-31')."""
    return {4: value + "-12-31", 7: value + "-31"}.get(len(value), value)
