"""The "linked to" rule as Cypher that walks the claims.

Every pattern here follows rule.py's LINKS forwards only, lets through the claims
a chain may hold (`$min`, `$ungraded`, `$as_of`: likelihood.step_allowed), the ways
of linking the question follows (`$role`: rule.role_asked) and the activity of
the kinds asked (`labels`: rule.ACTIVITY_LABELS) in the date window
`$since`/`$until` (and, when asked, that targeted `$target_sector`: victims.py).
"""

from __future__ import annotations

from typing import LiteralString

from graph.linking.rule import (
    INCIDENTS_ONLY,
    MAX_ONWARD_CLAIMS,
    NO_CLAIM_STRENGTH,
    ROLES,
    Link,
    LinkRole,
    role_asked,
)
from graph.linking.victims import activity_kept
from graph.model.dates import ACTIVITY_START
from graph.model.known import entity_known
from graph.model.likelihood import (
    NO_GRADE,
    PATH_STRENGTH,
    step_allowed,
    strength_of,
    ungraded_count,
    weakest_rank,
)


def _onward_to_target(onward: LiteralString) -> LiteralString:
    """The pattern from a node to `target` through 0 to MAX_ONWARD_CLAIMS claims of the
    `onward` types."""
    return (
        "((x)-[o:"
        + onward
        + " WHERE "
        + step_allowed("o")
        + "]->(y)){0,"
        + MAX_ONWARD_CLAIMS
        + "} (target) "
    )


def _first_claim(claim: LiteralString) -> LiteralString:
    """The pattern from an activity through its first claim, `c`, to `hop`."""
    return "-[c:" + claim + " WHERE " + step_allowed("c") + "]->(hop) "


def chain(link: Link) -> LiteralString:
    """The whole chain of one way of linking, as the pattern that follows a bound `(i)`."""
    claim, onward = link
    return _first_claim(claim) + _onward_to_target(onward)


def _strengths_through(
    role: LinkRole, link: Link, sector: bool, labels: LiteralString
) -> LiteralString:
    """A UNION branch: each activity of the kinds `labels` linked to `target` the `link`
    way (that targeted $target_sector when `sector`), with its strength, once per
    first claim.

    The onward chains are summed up once per node the incidents' first claims
    reach (`hop`), not once per incident: a hub has far fewer such nodes than
    linked incidents. Which onward chain is best depends on the first claim (a
    weak first claim hides the difference between stronger chains, and then
    their ungraded steps decide), so each hop keeps, for every weakest graded
    rank its chains have, their fewest ungraded claims: at most nine options,
    each combined with the first claim.
    """
    claim, onward = link
    combined = strength_of(
        "CASE WHEN c.likelihood_rank < x.graded THEN c.likelihood_rank ELSE x.graded END",
        "x.ungraded + CASE WHEN c.likelihood_rank IS NULL THEN 1 ELSE 0 END",
    )
    return (
        "  WITH target WHERE target IS NOT NULL AND " + role_asked(role) + " "
        "  MATCH (hop) " + _onward_to_target(onward) + " "
        "  WITH hop, "
        + weakest_rank(NO_GRADE, "o")
        + " AS graded, "
        + ungraded_count("o")
        + " AS ungraded "
        "  WITH hop, graded, min(ungraded) AS ungraded "
        "  WITH hop, collect({graded: graded, ungraded: ungraded}) AS onward "
        "  MATCH (i:" + labels + ")" + _first_claim(claim) + "WHERE " + activity_kept(sector) + " "
        "  RETURN i, reduce(best = 0, s IN [x IN onward | " + combined + "] | "
        "  CASE WHEN s > best THEN s ELSE best END) AS strength "
    )


def walked_top(
    skip: LiteralString,
    first: LiteralString,
    sector: bool = False,
    labels: LiteralString = INCIDENTS_ONLY,
) -> LiteralString:
    """A UNION branch: `total` and `top` (the first `skip + first` as {i, strength})
    found by walking every link to `target` from activity of the kinds `labels` (that
    targeted $target_sector when `sector`).

    The aggregation is inside its own CALL: over no rows it still yields one, so
    outside, the branch would answer even when its WHERE had dropped `target`.
    Only strengths are computed for every linked incident; paths are built for
    the page alone (answer.py).
    """
    branches = "  UNION ALL ".join(
        _strengths_through(role, link, sector, labels) for role, link in ROLES.items()
    )
    return (
        "CALL (target) { CALL (target) { " + branches + "  UNION ALL "
        "  WITH target WHERE target:" + labels + " "
        # Found again by its id (the unique constraint): `WHERE i = target` is planned
        # as a scan of every incident.
        "  MATCH (i:Entity {id: target.id}) WHERE i:"
        + labels
        + " AND "
        + activity_kept(sector)
        + " "
        "  AND " + entity_known("i") + " "
        "  RETURN i, " + NO_CLAIM_STRENGTH + " AS strength "
        "} "
        "WITH i, max(strength) AS strength "
        "ORDER BY strength DESC, coalesce(" + ACTIVITY_START + ", '') DESC, i.id "
        "WITH collect({i: i, strength: strength}) AS linked "
        "RETURN size(linked) AS total, linked[.." + skip + " + " + first + "] AS top } "
        "RETURN total, top "
    )


def ranked_chains(
    incident: LiteralString, skip: LiteralString, limit: LiteralString
) -> LiteralString:
    """An expression: the evidence paths from `incident` to `target` in evidence order,
    the strongest chain first, then the shortest, then by claim ids (so the same graph
    always shows the same evidence): `limit` of them after the first `skip`."""
    branches = " UNION ALL ".join(
        "WITH i, target WHERE " + role_asked(role) + " MATCH p = (i)" + chain(link) + "RETURN p "
        for role, link in ROLES.items()
    )
    return (
        "COLLECT { WITH " + incident + " AS i "
        "  CALL (target, i) { " + branches + " UNION ALL "
        "    WITH i, target WHERE i = target MATCH p = (i) RETURN p "
        "  } "
        "  WITH p ORDER BY " + PATH_STRENGTH + " DESC, length(p), [r IN relationships(p) | r.id] "
        "  SKIP " + skip + " LIMIT " + limit + " RETURN p "
        "}"
    )


def strongest_chain(incident: LiteralString) -> LiteralString:
    """An expression: the first of ranked_chains, the evidence path shown for a link;
    null when none."""
    return ranked_chains(incident, "0", "1") + "[0]"
