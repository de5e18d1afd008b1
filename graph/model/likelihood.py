"""The UK Professional Head of Intelligence Assessment (PHIA) probability yardstick.

Claims carry one of these terms. The graded ones are ranked: a chain is as
strong as its weakest graded step, and `minLikelihood` filters compare ranks.

- The yardstick's seven terms, for judgments the source grades in its words
  ("almost certainly", "highly likely").
- FACT, for what is not a judgment: organisational structure ("a part of
  GCHQ"), events the source reports as having happened, holdings, publication.
  It ranks above the yardstick's terms, and is never produced from a number.
- UNGRADED, for a judgment (an attribution, an affiliation, a use) the source
  states without an estimative term: "has been attributed to". It has no rank;
  a chain counts its ungraded steps beside its weakest graded one
  (chain_strength), so an ungraded step never reads stronger than its words.
"""

from __future__ import annotations

import enum
import re
from typing import LiteralString

from graph.model.known import claim_known


class Likelihood(enum.Enum):
    REMOTE_CHANCE = "REMOTE_CHANCE"
    HIGHLY_UNLIKELY = "HIGHLY_UNLIKELY"
    UNLIKELY = "UNLIKELY"
    REALISTIC_POSSIBILITY = "REALISTIC_POSSIBILITY"
    LIKELY = "LIKELY"
    HIGHLY_LIKELY = "HIGHLY_LIKELY"
    ALMOST_CERTAIN = "ALMOST_CERTAIN"
    FACT = "FACT"
    UNGRADED = "UNGRADED"

    @property
    def rank(self) -> int | None:
        """Its place among the graded terms, weakest 0; None for UNGRADED."""
        return RANKS.get(self)

    @property
    def band(self) -> tuple[int, int] | None:
        """The yardstick's probability band in percent (None for FACT and UNGRADED)."""
        return BANDS.get(self)

    @property
    def phrase(self) -> str:
        return PHRASES[self]


RANKS: dict[Likelihood, int] = {
    term: index for index, term in enumerate(Likelihood) if term is not Likelihood.UNGRADED
}

BANDS: dict[Likelihood, tuple[int, int]] = {
    Likelihood.REMOTE_CHANCE: (0, 5),
    Likelihood.HIGHLY_UNLIKELY: (10, 20),
    Likelihood.UNLIKELY: (25, 35),
    Likelihood.REALISTIC_POSSIBILITY: (40, 50),
    Likelihood.LIKELY: (55, 75),
    Likelihood.HIGHLY_LIKELY: (80, 90),
    Likelihood.ALMOST_CERTAIN: (95, 100),
}

PHRASES = {
    Likelihood.REMOTE_CHANCE: "remote chance",
    Likelihood.HIGHLY_UNLIKELY: "highly unlikely",
    Likelihood.UNLIKELY: "unlikely",
    Likelihood.REALISTIC_POSSIBILITY: "realistic possibility",
    Likelihood.LIKELY: "likely",
    Likelihood.HIGHLY_LIKELY: "highly likely",
    Likelihood.ALMOST_CERTAIN: "almost certain",
    Likelihood.FACT: "stated as fact",
    Likelihood.UNGRADED: "a judgment stated without an estimative term",
}

# The words assessments use, longest first so "highly likely" wins over "likely".
_WORDS: list[tuple[str, Likelihood]] = [
    ("almost certainly", Likelihood.ALMOST_CERTAIN),
    ("almost certain", Likelihood.ALMOST_CERTAIN),
    ("highly likely", Likelihood.HIGHLY_LIKELY),
    ("very likely", Likelihood.HIGHLY_LIKELY),
    ("highly unlikely", Likelihood.HIGHLY_UNLIKELY),
    ("realistic possibility", Likelihood.REALISTIC_POSSIBILITY),
    ("remote chance", Likelihood.REMOTE_CHANCE),
    ("probably", Likelihood.LIKELY),
    ("unlikely", Likelihood.UNLIKELY),
    ("likely", Likelihood.LIKELY),
]


def from_words(text: str) -> Likelihood | None:
    """The yardstick term an assessment's wording uses, or None if it uses none."""
    lowered = " ".join(text.lower().split())
    for words, term in _WORDS:
        if re.search(rf"\b{re.escape(words)}\b", lowered):
            return term
    return None


def from_name(value: object) -> Likelihood:
    """A term from its name, case-insensitively; ValueError naming the choices otherwise."""
    if isinstance(value, Likelihood):
        return value
    if isinstance(value, str):
        try:
            return Likelihood[value.strip().upper().replace(" ", "_")]
        except KeyError:
            pass
    choices = ", ".join(term.value for term in Likelihood)
    raise ValueError(f"{value!r} is not a likelihood term (one of {choices})")


# Claims store their term's rank as `likelihood_rank`, so Cypher compares ranks; an
# UNGRADED claim has none, and comparisons with null are never true.

# Above every rank: "no graded claim" as the weakest graded rank of a chain.
NO_GRADE: LiteralString = "8"


def weakest_rank(start: LiteralString, claims: LiteralString) -> LiteralString:
    """Cypher: the lowest `likelihood_rank` in the list `claims`, or `start` if lower."""
    return (
        "reduce(s = " + start + ", r IN " + claims + " | "
        "CASE WHEN r.likelihood_rank < s THEN r.likelihood_rank ELSE s END)"
    )


def at_least_min(rel: LiteralString, minimum: LiteralString = "$min") -> LiteralString:
    """Cypher: the claim `rel` is graded at least `minimum` (a rank); an ungraded
    claim is not, unless the minimum is 0.

    `minimum = 0` comes first, so at the default every claim passes without its
    rank being read (a db hit per relationship expanded otherwise).
    """
    return "(" + minimum + " = 0 OR " + rel + ".likelihood_rank >= " + minimum + ")"


def step_allowed(rel: LiteralString) -> LiteralString:
    """Cypher: the claim `rel` may be a step of a chain: it was known on $as_of
    (graph/model/known.py), its grade, if it has one, is at least $min, and an
    ungraded one only while $ungraded (includeUngraded)."""
    return (
        "(($min = 0 OR coalesce(" + rel + ".likelihood_rank, 99) >= $min) "
        "AND ($ungraded OR " + rel + ".likelihood_rank IS NOT NULL) "
        "AND " + claim_known(rel) + ")"
    )


def ungraded_count(claims: LiteralString) -> LiteralString:
    """Cypher: how many of the list `claims` are ungraded."""
    return "size([r IN " + claims + " WHERE r.likelihood_rank IS NULL])"


def strength_of(graded: LiteralString, ungraded: LiteralString) -> LiteralString:
    """Cypher: a chain's strength from its weakest graded rank (NO_GRADE when none
    is graded) and its number of ungraded claims.

    Two digits, higher first: the tens are the weakest graded rank plus one, or 0
    when no claim is graded, so such a chain comes after every graded one; the
    units are 9 less the ungraded claims (at most 9), so fewer come first. A chain
    of no claims (an incident is linked to itself) is 99, above every other.
    """
    return (
        "((" + graded + " + 1) % 9) * 10 + 9 - "
        "CASE WHEN " + ungraded + " > 9 THEN 9 ELSE " + ungraded + " END"
    )


def chain_strength(claims: LiteralString) -> LiteralString:
    """Cypher: the strength (strength_of) of the chain of claims in the list `claims`."""
    return (
        "CASE WHEN size("
        + claims
        + ") = 0 THEN "
        + ABOVE_EVERY_STRENGTH
        + " ELSE "
        + strength_of(weakest_rank(NO_GRADE, claims), ungraded_count(claims))
        + " END"
    )


# The strength of a chain of no claims: above every other.
ABOVE_EVERY_STRENGTH: LiteralString = "99"
# The strength of path `p`.
PATH_STRENGTH: LiteralString = chain_strength("relationships(p)")
