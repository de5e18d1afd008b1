"""The documented number and word tables that turn source grades into PHIA terms."""

from __future__ import annotations

import pytest

from graph.model.likelihood import Likelihood
from seed.importers.common import from_confidence, from_estimative_tags, to_confidence


@pytest.mark.parametrize(
    ("value", "term"),
    [
        (0, Likelihood.REMOTE_CHANCE),
        (5, Likelihood.REMOTE_CHANCE),
        (9, Likelihood.REMOTE_CHANCE),  # gap 6-9 -> lower band
        (10, Likelihood.HIGHLY_UNLIKELY),
        (24, Likelihood.HIGHLY_UNLIKELY),  # gap 21-24
        (25, Likelihood.UNLIKELY),
        (39, Likelihood.UNLIKELY),  # gap 36-39
        (40, Likelihood.REALISTIC_POSSIBILITY),
        (54, Likelihood.REALISTIC_POSSIBILITY),  # gap 51-54
        (55, Likelihood.LIKELY),
        (79, Likelihood.LIKELY),  # gap 76-79
        (80, Likelihood.HIGHLY_LIKELY),
        (94, Likelihood.HIGHLY_LIKELY),  # gap 91-94
        (95, Likelihood.ALMOST_CERTAIN),
        (100, Likelihood.ALMOST_CERTAIN),
    ],
)
def test_confidence_maps_to_band_and_gaps_to_the_lower_band(value: int, term: Likelihood) -> None:
    assert from_confidence(value) is term


@pytest.mark.parametrize("value", [-1, 101, True, 50.0, "50"])
def test_confidence_outside_0_to_100_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="confidence must be an integer from 0 to 100"):
        from_confidence(value)  # type: ignore[arg-type]


def test_every_term_exports_to_a_number_that_maps_back() -> None:
    for term in Likelihood:
        number = to_confidence(term)
        if term in (Likelihood.FACT, Likelihood.UNGRADED):
            assert number is None
        else:
            assert number is not None and from_confidence(number) is term


@pytest.mark.parametrize(
    ("tag", "term"),
    [
        ('estimative-language:likelihood-probability="almost-no-chance"', Likelihood.REMOTE_CHANCE),
        ('estimative-language:likelihood-probability="very-unlikely"', Likelihood.HIGHLY_UNLIKELY),
        ('estimative-language:likelihood-probability="unlikely"', Likelihood.UNLIKELY),
        (
            'estimative-language:likelihood-probability="roughly-even-chance"',
            Likelihood.REALISTIC_POSSIBILITY,
        ),
        ('estimative-language:likelihood-probability="likely"', Likelihood.LIKELY),
        ('estimative-language:likelihood-probability="very-likely"', Likelihood.HIGHLY_LIKELY),
        ('estimative-language:likelihood-probability="almost-certain"', Likelihood.ALMOST_CERTAIN),
    ],
)
def test_misp_estimative_language_tags(tag: str, term: Likelihood) -> None:
    assert from_estimative_tags(["tlp:white", tag]) is term


def test_no_estimative_tag_gives_none() -> None:
    assert from_estimative_tags(['misp:confidence="high"']) is None
