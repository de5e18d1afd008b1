"""The Admiralty (NATO) source reliability scale, A to F.

How far a source can be trusted, judged from its record: it sits beside a
claim's likelihood and never changes it (ICD 203 keeps the two apart). A
Source may carry one, or its publisher (an Agency or Organisation); a claim
imported with its own (a MISP `admiralty-scale:source-reliability` tag) keeps
that one.
"""

from __future__ import annotations

import enum


class Reliability(enum.Enum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


RELIABILITY: dict[str, str] = {
    Reliability.A.value: "completely reliable",
    Reliability.B.value: "usually reliable",
    Reliability.C.value: "fairly reliable",
    Reliability.D.value: "not usually reliable",
    Reliability.E.value: "unreliable",
    Reliability.F.value: "reliability cannot be judged",
}

# The property that holds it on a Source, Agency or Organisation, and on a claim
# that carries its own.
RELIABILITY_PROPERTY = "reliability"
CLAIM_RELIABILITY_PROPERTY = "source_reliability"


def reliability_problem(value: object) -> str | None:
    """Why `value` is no Admiralty reliability grade, or None when it is one."""
    if isinstance(value, str) and value in RELIABILITY:
        return None
    return f"must be one of {', '.join(RELIABILITY)} (the Admiralty scale), not {value!r}"
