"""When an incident's attributions disagree, by the "linked to" rule.

Two attributions of one incident dispute each other when they name actors
that neither links to the other (rule.py's onward claims, in either
direction), or when they name the same actor with yardstick grades two or
more bands apart. Sources that agree up a hierarchy ("APT31" and "a China
state-affiliated actor" linked to China) do not dispute.
"""

from __future__ import annotations

from typing import LiteralString

from graph.linking.rule import ATTRIBUTED_LINK, MAX_ONWARD_CLAIMS
from graph.model.known import AS_OF, claim_known
from graph.model.likelihood import BANDS, RANKS

_ATTRIBUTION, _ONWARD = ATTRIBUTED_LINK
# The rank of the strongest yardstick term: FACT and UNGRADED are not bands.
_TOP_BAND: LiteralString = str(max(RANKS[term] for term in BANDS))


def _links(start: LiteralString, end: LiteralString, as_of: LiteralString) -> LiteralString:
    return (
        "EXISTS { MATCH ("
        + start
        + ")((tg_p)-[tg_o:"
        + _ONWARD
        + " WHERE "
        + claim_known("tg_o", as_of)
        + "]->(tg_q)){1,"
        + MAX_ONWARD_CLAIMS
        + "}("
        + end
        + ") }"
    )


def disputed(incident: LiteralString, as_of: LiteralString = AS_OF) -> LiteralString:
    """Cypher: whether the attributions of the incident `incident` known on the day
    `as_of` (an expression) dispute each other."""
    return (
        "EXISTS { MATCH (" + incident + ")-[tg_a:" + _ATTRIBUTION + "]->(tg_x), "
        "(" + incident + ")-[tg_b:" + _ATTRIBUTION + "]->(tg_y) "
        "WHERE tg_a.id < tg_b.id AND " + claim_known("tg_a", as_of) + " "
        "AND " + claim_known("tg_b", as_of) + " AND ("
        "(tg_x <> tg_y AND NOT "
        + _links("tg_x", "tg_y", as_of)
        + " AND NOT "
        + _links("tg_y", "tg_x", as_of)
        + ") OR (tg_x = tg_y AND tg_a.likelihood_rank <= "
        + _TOP_BAND
        + " "
        "AND tg_b.likelihood_rank <= " + _TOP_BAND + " "
        "AND abs(tg_a.likelihood_rank - tg_b.likelihood_rank) >= 2)) }"
    )


def attributions(
    incident: LiteralString, claim: LiteralString, as_of: LiteralString = AS_OF
) -> LiteralString:
    """Cypher: the incident's attribution claims known on the day `as_of` (an
    expression), one per source, strongest first, as a list of relationships bound
    to `claim` in turn."""
    return (
        "COLLECT { MATCH (" + incident + ")-[" + claim + ":" + _ATTRIBUTION + "]->() "
        "WHERE "
        + claim_known(claim, as_of)
        + " RETURN "
        + claim
        + " ORDER BY coalesce("
        + claim
        + ".likelihood_rank, -1) DESC, "
        + claim
        + ".source, "
        + claim
        + ".id }"
    )
