"""Tables shared by the importers: numbers and estimative words to PHIA terms."""

from __future__ import annotations

from graph.model.likelihood import BANDS, Likelihood
from graph.model.reliability import reliability_problem

# STIX confidence (0-100) and MISP attribution-confidence -> PHIA term.
# Inside a band the band's term; in a gap between two bands (6-9, 21-24,
# 36-39, 51-54, 76-79, 91-94) the LOWER neighbouring band: never stronger
# than the number says. FACT is never produced from a number.
CONFIDENCE_TABLE: list[tuple[int, int, Likelihood]] = [
    (0, 9, Likelihood.REMOTE_CHANCE),
    (10, 24, Likelihood.HIGHLY_UNLIKELY),
    (25, 39, Likelihood.UNLIKELY),
    (40, 54, Likelihood.REALISTIC_POSSIBILITY),
    (55, 79, Likelihood.LIKELY),
    (80, 94, Likelihood.HIGHLY_LIKELY),
    (95, 100, Likelihood.ALMOST_CERTAIN),
]

# Exported confidence for a term: a number inside the term's band, which the
# table above maps back to the same term.
EXPORT_CONFIDENCE: dict[Likelihood, int] = {
    Likelihood.REMOTE_CHANCE: 5,
    Likelihood.HIGHLY_UNLIKELY: 15,
    Likelihood.UNLIKELY: 30,
    Likelihood.REALISTIC_POSSIBILITY: 45,
    Likelihood.LIKELY: 65,
    Likelihood.HIGHLY_LIKELY: 85,
    Likelihood.ALMOST_CERTAIN: 100,
}

# MISP taxonomy `estimative-language:likelihood-probability` -> PHIA term.
# The MISP (ICD 203) bands and the yardstick's differ a little; each MISP word
# maps to the yardstick term of the same rank.
ESTIMATIVE_LANGUAGE: dict[str, Likelihood] = {
    "almost-no-chance": Likelihood.REMOTE_CHANCE,
    "remote": Likelihood.REMOTE_CHANCE,
    "very-unlikely": Likelihood.HIGHLY_UNLIKELY,
    "highly-improbable": Likelihood.HIGHLY_UNLIKELY,
    "unlikely": Likelihood.UNLIKELY,
    "improbable": Likelihood.UNLIKELY,
    "roughly-even-chance": Likelihood.REALISTIC_POSSIBILITY,
    "roughly-even-odds": Likelihood.REALISTIC_POSSIBILITY,
    "likely": Likelihood.LIKELY,
    "probable": Likelihood.LIKELY,
    "very-likely": Likelihood.HIGHLY_LIKELY,
    "highly-probable": Likelihood.HIGHLY_LIKELY,
    "almost-certain": Likelihood.ALMOST_CERTAIN,
    "nearly-certain": Likelihood.ALMOST_CERTAIN,
}
ESTIMATIVE_PREFIX = "estimative-language:likelihood-probability="


def from_confidence(value: int) -> Likelihood:
    """A 0-100 confidence as a PHIA term (gaps go to the lower band). ValueError outside 0-100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError(f"confidence must be an integer from 0 to 100, not {value!r}")
    for low, high, term in CONFIDENCE_TABLE:
        if low <= value <= high:
            return term
    raise AssertionError("unreachable: the table covers 0-100")  # pragma: no cover


def to_confidence(term: Likelihood) -> int | None:
    """The confidence a term is exported as; None for FACT (no confidence stated)."""
    return EXPORT_CONFIDENCE.get(term)


def from_estimative_tags(tags: list[str]) -> Likelihood | None:
    """The PHIA term of the first MISP estimative-language likelihood tag, if any."""
    for tag in tags:
        if tag.startswith(ESTIMATIVE_PREFIX):
            word = tag[len(ESTIMATIVE_PREFIX) :].strip().strip('"')
            if word in ESTIMATIVE_LANGUAGE:
                return ESTIMATIVE_LANGUAGE[word]
    return None


ADMIRALTY_PREFIX = "admiralty-scale:source-reliability="


def from_admiralty_tags(tags: list[str]) -> str | None:
    """The Admiralty reliability grade (A-F) of the first MISP admiralty-scale
    source-reliability tag, if any (the taxonomy writes it in lower case)."""
    for tag in tags:
        if tag.startswith(ADMIRALTY_PREFIX):
            grade = tag[len(ADMIRALTY_PREFIX) :].strip().strip('"').upper()
            if reliability_problem(grade) is None:
                return grade
    return None


def _check_tables() -> None:
    for term, value in EXPORT_CONFIDENCE.items():
        low, high = BANDS[term]
        assert low <= value <= high and from_confidence(value) is term


_check_tables()
