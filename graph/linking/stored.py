"""The stored "linked to" closure: what it holds, its indexes, and when it answers.

For every incident and every entity it is linked to (rule.py; itself included)
the store holds one `(:LinkedIncident {target, incident, key})` node. `key`
spells the answer order, so a composite range index on (target, key) hands over
any page in order with a seek:

    two digits, 99 - strength     strongest link first (graph/model/likelihood.py
                                  chain_strength; itself is 99)
    started, each digit d as 9-d, newest first; `~` ends it, so a shorter
    '-' as ':', then '~'          date ("2021") sorts after the longer ones it
                                  begins ("2021-03"), and no date sorts last
    the incident's id             then by id

The total is the sum of the `(:LinkedCount {target, strength, n})` nodes, one
per target and strength. upkeep.py keeps both equal to what walked.py finds
for the question asked without a minimum grade and with ungraded claims: the
best chain is not the best one that a minimum lets through, so a question with
either is walked.
"""

from __future__ import annotations

from typing import LiteralString

# The closure's layout; a store built to another one is rebuilt at the next start,
# and walked until then.
STORED_CLOSURE_VERSION: LiteralString = "3"

# Incident `i`'s place in answer order after its strength (module docstring).
NEWEST_FIRST_KEY: LiteralString = (
    "reduce(k = '', ch IN split(coalesce(i.started, ''), '') | k + "
    "CASE WHEN ch >= '0' AND ch <= '9' THEN toString(9 - toInteger(ch)) ELSE ':' END) + '~'"
)

# The stored closure answers when it is built, no write has left a refresh to do
# (upkeep.py DEFER_ABOVE), and the question has no date window (dates are the
# incident's, not the link's: the walk filters them), no minimum grade, takes
# ungraded claims, follows every role, and asks about today (the store holds
# today's claims only; a question as of a day walks what was known then).
STORED_ANSWERS: LiteralString = (
    "target IS NOT NULL AND $since IS NULL AND $until IS NULL AND $min = 0 AND $ungraded "
    "AND $as_of IS NULL AND $role = 'ANY' "
    "AND EXISTS { MATCH (:LinkedClosure {version: " + STORED_CLOSURE_VERSION + "}) } "
    "AND NOT EXISTS { MATCH (:LinkedRefresh) }"
)

INDEXES: tuple[LiteralString, ...] = (
    "CREATE RANGE INDEX linked_incident_key IF NOT EXISTS "
    "FOR (l:LinkedIncident) ON (l.target, l.key)",
    "CREATE RANGE INDEX linked_incident_incident IF NOT EXISTS "
    "FOR (l:LinkedIncident) ON (l.incident)",
    "CREATE RANGE INDEX linked_count_target IF NOT EXISTS "
    "FOR (c:LinkedCount) ON (c.target, c.strength)",
)


def stored_top(skip: LiteralString, first: LiteralString) -> LiteralString:
    """A UNION branch: `total` and `top` (the first `skip + first` as {i, strength})
    read from the stored closure.

    ORDER BY both index properties, so the plan takes the index's order instead
    of sorting every entry; the total adds the stored counts.
    """
    return (
        "CALL (target) { "
        "  MATCH (l:LinkedIncident) WHERE l.target = target.id AND l.key < '\\uFFFF' "
        "  WITH l ORDER BY l.target, l.key LIMIT " + skip + " + " + first + " "
        "  RETURN collect(l) AS entries "
        "} "
        "RETURN reduce(total = 0, n IN COLLECT { MATCH (c:LinkedCount) "
        # The strength bound, always true, lets the (target, strength) index seek.
        "WHERE c.target = target.id AND c.strength >= 0 RETURN c.n } | total + n) AS total, "
        "[l IN entries | {i: COLLECT { MATCH (i:Entity {id: l.incident}) RETURN i }[0], "
        "strength: 99 - toInteger(left(l.key, 2))}] AS top "
    )
