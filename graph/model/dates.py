"""Dates as sources give them: YYYY, YYYY-MM or YYYY-MM-DD, and the day range each means.

A partial date stands for every day it covers: "2021" begins on 2021-01-01 and
ends on 2021-12-31. Filters compare the floor of one end with the ceiling of
the other, in Python (arguments) and in Cypher (stored properties) alike.
"""

from __future__ import annotations

import re
from typing import LiteralString

DATE_PATTERN = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD"


def is_date(value: object) -> bool:
    return isinstance(value, str) and DATE_PATTERN.match(value) is not None


def date_floor(value: str) -> str:
    """The first day a partial date can mean ('2021' → '2021-01-01')."""
    return {4: value + "-01-01", 7: value + "-01"}.get(len(value), value)


def date_ceiling(value: str) -> str:
    """The last day a partial date can mean ('2021' → '2021-12-31')."""
    return {4: value + "-12-31", 7: value + "-31"}.get(len(value), value)


def cypher_date_floor(expression: LiteralString) -> LiteralString:
    """date_floor of a stored date, in Cypher."""
    return (
        "left("
        + expression
        + " + CASE size("
        + expression
        + ") WHEN 4 THEN '-01-01' WHEN 7 THEN '-01' ELSE '' END, 10)"
    )


def cypher_date_ceiling(expression: LiteralString) -> LiteralString:
    """date_ceiling of a stored date, in Cypher."""
    return (
        "left("
        + expression
        + " + CASE size("
        + expression
        + ") WHEN 4 THEN '-12-31' WHEN 7 THEN '-31' ELSE '' END, 10)"
    )


# When activity `i` began and ended: an incident's start and end, a campaign's first
# and last sightings.
ACTIVITY_START: LiteralString = "coalesce(i.started, i.first_seen)"
ACTIVITY_END: LiteralString = "coalesce(i.ended, i.last_seen)"

# Activity `i` overlaps the window $since..$until (either may be null, both full
# dates): it is still going on at $since (by its end, else its start) and began
# by $until.
ACTIVITY_IN_WINDOW: LiteralString = (
    "($since IS NULL OR "
    + cypher_date_ceiling("coalesce(" + ACTIVITY_END + ", " + ACTIVITY_START + ", '9999')")
    + " >= $since) AND ($until IS NULL OR "
    + cypher_date_floor("coalesce(" + ACTIVITY_START + ", '0000')")
    + " <= $until)"
)
