"""The "linked to" rule as Cypher that walks the claims.

Every pattern here follows rule.py's LINKS forwards only, and filters claims by
the minimum grade `$min` and incidents by the date window `$since`/`$until`.
"""

from __future__ import annotations

from typing import LiteralString

from graph.linking.rule import LINKS, MAX_ONWARD_CLAIMS, NO_CLAIM_STRENGTH, Link
from graph.model.dates import INCIDENT_IN_WINDOW
from graph.model.likelihood import PATH_STRENGTH, at_least_min, weakest_rank


def _onward_to_target(onward: LiteralString) -> LiteralString:
    """The pattern from a node to `target` through 0 to MAX_ONWARD_CLAIMS claims of the
    `onward` types."""
    return (
        "((x)-[o:"
        + onward
        + " WHERE "
        + at_least_min("o")
        + "]->(y)){0,"
        + MAX_ONWARD_CLAIMS
        + "} (target) "
    )


def _first_claim(claim: LiteralString) -> LiteralString:
    """The pattern from an incident through its first claim, `c`, to `hop`."""
    return "-[c:" + claim + " WHERE " + at_least_min("c") + "]->(hop) "


def chain(link: Link) -> LiteralString:
    """The whole chain of one way of linking, as the pattern that follows a bound `(i)`."""
    claim, onward = link
    return _first_claim(claim) + _onward_to_target(onward)


def _strengths_through(link: Link) -> LiteralString:
    """A UNION branch: each incident linked to `target` the `link` way, with its
    strength, once per first claim.

    The strongest onward chain is found once per node the incidents' first claims
    reach (`hop`), not once per incident: a hub has far fewer such nodes than
    linked incidents. The weaker of the first claim and the best onward chain is
    the strength through that claim, since min(c, x) is largest where x is.
    """
    claim, onward = link
    return (
        "  WITH target WHERE target IS NOT NULL "
        "  MATCH (hop) " + _onward_to_target(onward) + " "
        "  WITH hop, max(" + weakest_rank(NO_CLAIM_STRENGTH, "o") + ") AS best_chain "
        "  MATCH (i:Incident)" + _first_claim(claim) + "WHERE " + INCIDENT_IN_WINDOW + " "
        "  RETURN i, CASE WHEN c.likelihood_rank < best_chain THEN c.likelihood_rank "
        "  ELSE best_chain END AS strength "
    )


def walked_top(skip: LiteralString, first: LiteralString) -> LiteralString:
    """A UNION branch: `total` and `top` (the first `skip + first` as {i, strength})
    found by walking every link to `target`.

    The aggregation is inside its own CALL: over no rows it still yields one, so
    outside, the branch would answer even when its WHERE had dropped `target`.
    Only strengths are computed for every linked incident; paths are built for
    the page alone (answer.py).
    """
    branches = "  UNION ALL ".join(_strengths_through(link) for link in LINKS)
    return (
        "CALL (target) { CALL (target) { " + branches + "  UNION ALL "
        "  WITH target WHERE target:Incident "
        # Found again by its id (the unique constraint): `WHERE i = target` is planned
        # as a scan of every incident.
        "  MATCH (i:Entity {id: target.id}) WHERE i:Incident AND " + INCIDENT_IN_WINDOW + " "
        "  RETURN i, " + NO_CLAIM_STRENGTH + " AS strength "
        "} "
        "WITH i, max(strength) AS strength "
        "ORDER BY strength DESC, coalesce(i.started, '') DESC, i.id "
        "WITH collect({i: i, strength: strength}) AS linked "
        "RETURN size(linked) AS total, linked[.." + skip + " + " + first + "] AS top } "
        "RETURN total, top "
    )


def strongest_chain(incident: LiteralString) -> LiteralString:
    """An expression: the evidence path from `incident` to `target`, the strongest
    chain, then the shortest, then the first by claim ids (so the same graph always
    shows the same evidence); null when none."""
    branches = " UNION ALL ".join("MATCH p = (i)" + chain(link) + "RETURN p " for link in LINKS)
    return (
        "COLLECT { WITH " + incident + " AS i "
        "  CALL (target, i) { " + branches + " UNION ALL "
        "    WITH i, target WHERE i = target MATCH p = (i) RETURN p "
        "  } "
        "  WITH p ORDER BY " + PATH_STRENGTH + " DESC, length(p), [r IN relationships(p) | r.id] "
        "  LIMIT 1 RETURN p "
        "}[0]"
    )
