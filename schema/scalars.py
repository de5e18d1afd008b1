"""Scalars and enums shared by the schema's types."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, NewType

import strawberry

from graph.linking.rule import ActivityKind, LinkRole
from graph.model.dates import DATE_FORMS, is_date
from graph.model.likelihood import Likelihood
from graph.model.reliability import RELIABILITY, Reliability
from graph.model.vocabulary import EntityKind

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


@strawberry.enum(description="Which way a relationship points, seen from the entity.")
class Direction(Enum):
    OUT = "OUT"
    IN = "IN"
    BOTH = "BOTH"


# The graph layer's other enums, registered like Likelihood.
strawberry.enum(
    EntityKind,
    name="EntityKind",
    description="A kind of entity: its label in the graph (THREAT_ACTOR is ThreatActor).",
)
AS_OF_DESCRIPTION = (
    "Answer as publicly known at the end of this day: only claims reported by then and not "
    "yet withdrawn, each with the grade it had then; entities first reported later are left "
    "out. Null: as known today. A partial date means its last day."
)
AsOf = Annotated[Date | None, strawberry.argument(description=AS_OF_DESCRIPTION)]

INCLUDE_UNGRADED = (
    "Whether a chain may hold UNGRADED claims (judgments its source states without an "
    "estimative term). They never count towards its likelihood; false leaves such chains out."
)


strawberry.enum(
    LinkRole,
    name="LinkRole",
    description=(
        "Which chains incidents(linkedTo:) follows: ATTRIBUTED, who did it (ATTRIBUTED_TO, "
        "then whom the actor works for or is part of); TARGETED, who was hit (TARGETED, then "
        "what the victim is part of); ANY, either."
    ),
)
strawberry.enum(
    ActivityKind,
    name="ActivityKind",
    description="A kind of activity: INCIDENT (an Incident), CAMPAIGN (a Campaign).",
)
strawberry.enum(
    Reliability,
    name="Reliability",
    description=(
        "The Admiralty scale of source reliability, judged from the source's record: "
        + "; ".join(f"{grade}: {words}" for grade, words in RELIABILITY.items())
        + ". It sits beside a claim's likelihood and never changes it."
    ),
)
RELIABILITY_DESCRIPTION = "How reliable the source is, on the Admiralty scale (A-F)."

MARKINGS_DESCRIPTION = (
    "Its TLP markings, as imported (STIX `object_marking_refs`), by name: "
    "TLP:CLEAR, TLP:WHITE, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT or TLP:RED."
)
