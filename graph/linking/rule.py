"""The "linked to" rule: an incident (or other activity) is linked to X when a
chain of claims leads from it to X, always forwards.

Activity is what actors do: incidents and campaigns (ACTIVITY_KINDS). The rule
is the same for both, and a question picks the kinds it asks about.

A chain is an activity's first claim, ATTRIBUTED_TO or TARGETED (its role:
who did it, or who was hit), then up to
MAX_ONWARD_CLAIMS onward claims: AFFILIATED_WITH or PART_OF after an
attribution (the actor and whom it works for), PART_OF after a targeting (the
victim and what it belongs to). Nothing is walked backwards: the Electoral
Commission compromise reaches China through "a China state-affiliated actor",
and never reaches the MSS just because the MSS is part of China. An incident is
also linked to itself. A chain is as strong as its weakest graded claim, then
the fewer ungraded claims it has (graph/model/likelihood.py chain_strength).
"""

from __future__ import annotations

import enum
from typing import LiteralString

from graph.model.likelihood import ABOVE_EVERY_STRENGTH
from graph.model.vocabulary import ACTIVITY

# One way of linking: (the first claim's type, the onward claims' types), each as
# a relationship pattern's type list.
Link = tuple[LiteralString, LiteralString]

ATTRIBUTED_LINK: Link = ("ATTRIBUTED_TO", "AFFILIATED_WITH|PART_OF")
TARGETED_LINK: Link = ("TARGETED", "PART_OF")


class LinkRole(enum.Enum):
    """Which chains a question follows: who did it, who was hit, or either."""

    ATTRIBUTED = "ATTRIBUTED"
    TARGETED = "TARGETED"
    ANY = "ANY"


# Each way of linking by its role.
ROLES: dict[LinkRole, Link] = {
    LinkRole.ATTRIBUTED: ATTRIBUTED_LINK,
    LinkRole.TARGETED: TARGETED_LINK,
}
LINKS: tuple[Link, ...] = tuple(ROLES.values())


def role_asked(role: LinkRole) -> LiteralString:
    """Cypher: the question ($role) follows chains of `role`."""
    return "$role IN ['" + LinkRole.ANY.value + "', '" + role.value + "']"


def role_of(claims: LiteralString) -> LiteralString:
    """Cypher: the role of the chain of claims `claims` (a list), by its first claim;
    null for a chain of no claims (an incident linked to itself)."""
    return (
        "CASE type(head("
        + claims
        + ")) "
        + " ".join(f"WHEN '{link[0]}' THEN '{role.value}'" for role, link in ROLES.items())
        + " END"
    )


class ActivityKind(enum.Enum):
    """The kinds of activity a "linked to" question can ask about, each its label."""

    INCIDENT = "Incident"
    CAMPAIGN = "Campaign"


assert tuple(kind.value for kind in ActivityKind) == ACTIVITY

# Which kinds a question asks about, as the label expression its patterns use,
# `(i:<this>)`: from fixed text, so every statement stays a literal.
ACTIVITY_LABELS: dict[frozenset[ActivityKind], LiteralString] = {
    frozenset({ActivityKind.INCIDENT}): "Incident",
    frozenset({ActivityKind.CAMPAIGN}): "Campaign",
    frozenset(ActivityKind): "Incident|Campaign",
}
# incidents(): the incident-only view, the one the stored closure holds.
INCIDENTS_ONLY: LiteralString = ACTIVITY_LABELS[frozenset({ActivityKind.INCIDENT})]


# Text, because it is written into the Cypher pattern's quantifier, {0,5}.
MAX_ONWARD_CLAIMS: LiteralString = "5"
MAX_CLAIMS = 1 + int(MAX_ONWARD_CLAIMS)

FIRST_CLAIM_TYPES = frozenset(first for first, _ in LINKS)
ONWARD_CLAIM_TYPES = frozenset(t for _, onward in LINKS for t in onward.split("|"))
# Every type a chain of each way may hold, first claim first.
ATTRIBUTION_TYPES = (ATTRIBUTED_LINK[0], *ATTRIBUTED_LINK[1].split("|"))
TARGETING_TYPES = (TARGETED_LINK[0], *TARGETED_LINK[1].split("|"))

# What a chain of no claims scores (an incident is linked to itself): above every other.
NO_CLAIM_STRENGTH: LiteralString = ABOVE_EVERY_STRENGTH

DESCRIPTION = (
    "An incident is linked to X when a chain of claims leads from it to X, always forwards: "
    f"{ATTRIBUTED_LINK[0]} then any {ATTRIBUTED_LINK[1].replace('|', ' / ')} (the actor and "
    f"whom it works for), or {TARGETED_LINK[0]} then any {TARGETED_LINK[1]} (the victim and "
    f"what it belongs to), at most {MAX_CLAIMS} steps. A chain is never walked backwards: an "
    "incident attributed to 'a China state-affiliated actor' is linked to China, but not to "
    "the MSS merely because the MSS is part of China."
)
