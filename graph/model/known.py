"""What was publicly known at the end of a day: the `asOf` of every question.

A claim is stored as one relationship per version. A version is known from the
day it became current (`known_from`: the revision that regraded or reinstated
it; for the first version, `reported_on`, its source's publication) until the
day a revision of its source dropped or replaced it (`withdrawn_on`), that day
excluded. Replaced versions stay in the graph with `withdrawn_on` set and
`superseded` true, so a question as of an earlier day sees the grade as it was
then (graph/writes/batch_write.py keeps them).

Without a date (`asOf` null) a question asks what is known today: every claim
not withdrawn. An entity is known from `reported_on`, the earliest source date
any load gave it; one without (imported, or written before dates were kept) is
known at every date.

Dates are ISO text, so comparisons are on strings: a partial date ("2024")
sorts before every day it covers, so it counts from its first day.
"""

from __future__ import annotations

from typing import LiteralString

# Joins a claim's id and the day a kept (withdrawn or replaced) version of it stopped
# standing: `<claim id>~<day>`.
VERSION_MARK = "~"

# The parameter every question's statement takes: the day (YYYY-MM-DD), or null.
AS_OF: LiteralString = "$as_of"


def claim_current(rel: LiteralString) -> LiteralString:
    """Cypher: the claim version `rel` is known today (no revision has withdrawn it)."""
    return rel + ".withdrawn_on IS NULL"


def claim_known(rel: LiteralString, as_of: LiteralString = AS_OF) -> LiteralString:
    """Cypher: the claim version `rel` was known at the end of the day `as_of` (an
    expression: a parameter, or null for today)."""
    return (
        "(CASE WHEN " + as_of + " IS NULL THEN " + claim_current(rel) + " ELSE "
        "coalesce(" + rel + ".known_from, " + rel + ".reported_on, '') <= " + as_of + " "
        "AND coalesce(" + rel + ".withdrawn_on, '9999-12-31') > " + as_of + " END)"
    )


def entity_known(node: LiteralString, as_of: LiteralString = AS_OF) -> LiteralString:
    """Cypher: the entity `node` was known at the end of the day `as_of`."""
    return "(" + as_of + " IS NULL OR coalesce(" + node + ".reported_on, '') <= " + as_of + ")"


def mention_known(
    mention: LiteralString, source: LiteralString, as_of: LiteralString = AS_OF
) -> LiteralString:
    """Cypher: the MENTIONS relationship `mention` from the source `source` was known at
    the end of the day `as_of`. A mention stands with its source (an import records the
    day it ran, not the day the source named the entity) until a revision of the
    source drops it."""
    return (
        "(" + entity_known(source, as_of) + " AND CASE WHEN " + as_of + " IS NULL "
        "THEN " + claim_current(mention) + " "
        "ELSE coalesce(" + mention + ".withdrawn_on, '9999-12-31') > " + as_of + " END)"
    )
