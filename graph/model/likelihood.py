"""The UK Professional Head of Intelligence Assessment (PHIA) probability yardstick.

Claims carry one of these terms. The order matters: a path is as strong as
its weakest step, and `min_likelihood` filters compare ranks. FACT is for
what a source states without any probabilistic hedging; it ranks above the
yardstick's terms because the source asserts it outright, and it is never
produced from a number (importers map numbers onto the yardstick only).
"""

from __future__ import annotations

import enum
import re
from typing import LiteralString


class Likelihood(enum.Enum):
    REMOTE_CHANCE = "REMOTE_CHANCE"
    HIGHLY_UNLIKELY = "HIGHLY_UNLIKELY"
    UNLIKELY = "UNLIKELY"
    REALISTIC_POSSIBILITY = "REALISTIC_POSSIBILITY"
    LIKELY = "LIKELY"
    HIGHLY_LIKELY = "HIGHLY_LIKELY"
    ALMOST_CERTAIN = "ALMOST_CERTAIN"
    FACT = "FACT"

    @property
    def rank(self) -> int:
        return RANKS[self]

    @property
    def band(self) -> tuple[int, int] | None:
        """The yardstick's probability band in percent (None for FACT)."""
        return BANDS.get(self)

    @property
    def phrase(self) -> str:
        return PHRASES[self]


RANKS = {term: index for index, term in enumerate(Likelihood)}

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


def weakest(terms: list[Likelihood]) -> Likelihood:
    return min(terms, key=lambda term: term.rank)


# Claims store their term's rank as `likelihood_rank`, so Cypher compares ranks.


def weakest_rank(start: LiteralString, claims: LiteralString) -> LiteralString:
    """Cypher: the lowest `likelihood_rank` in the list `claims`, or `start` if lower."""
    return (
        "reduce(s = " + start + ", r IN " + claims + " | "
        "CASE WHEN r.likelihood_rank < s THEN r.likelihood_rank ELSE s END)"
    )


def at_least_min(rel: LiteralString, minimum: LiteralString = "$min") -> LiteralString:
    """Cypher: the claim `rel` is graded at least `minimum` (a rank).

    `minimum = 0` comes first, so at the default every claim passes without its
    rank being read (a db hit per relationship expanded otherwise).
    """
    return "(" + minimum + " = 0 OR " + rel + ".likelihood_rank >= " + minimum + ")"


# Above every rank: the strength of a chain of no claims.
ABOVE_EVERY_RANK: LiteralString = "99"
# The strength of path `p`: its weakest claim.
PATH_STRENGTH: LiteralString = weakest_rank(ABOVE_EVERY_RANK, "relationships(p)")
