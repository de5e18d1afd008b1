"""An entity's history: every claim into or out of it, in the order it became known.

Each claim is kept as versions (graph/model/known.py): the one standing, and
those a revision of its source withdrew or replaced with a new grade. The
entries follow from the versions of one claim, oldest first:

- REPORTED, the day a version became current with nothing standing before it
  (the first version, or one a source made again after withdrawing it);
- REGRADED, the day a version replaced one that stood until then (it has
  `superseded` set), with the grade it replaced;
- WITHDRAWN, the day a revision dropped a version without replacing it.

Each entry's claim is the version as it stood after the entry, its
corroboration counted as of the entry's day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

from graph.model.known import VERSION_MARK
from graph.model.vocabulary import CLAIM_TYPE_PATTERN
from graph.reads.fields import literal, step_row
from graph.reads.questions import raise_unless_resolved, resolve_prelude
from graph.store.database import Graph, Record

REPORTED = "REPORTED"
REGRADED = "REGRADED"
WITHDRAWN = "WITHDRAWN"
# Of entries on one day, in this order.
KINDS = (REPORTED, REGRADED, WITHDRAWN)

HISTORY_QUERY: LiteralString = resolve_prelude("target") + literal(
    "RETURN target_candidates AS candidates, "
    "CASE WHEN target IS NULL THEN [] ELSE COLLECT { "
    f"  MATCH (target)-[v:{CLAIM_TYPE_PATTERN}]-() "
    "  WITH DISTINCT v, coalesce(v.known_from, v.reported_on) AS start "
    f"  RETURN {{claim: split(v.id, '{VERSION_MARK}')[0], start: start, "
    "    end: v.withdrawn_on, superseded: coalesce(v.superseded, false), "
    "    likelihood: v.likelihood, "
    f"    standing: {step_row('v', 'start')}, "
    "    withdrawn: CASE WHEN v.withdrawn_on IS NULL THEN null "
    f"ELSE {step_row('v', 'v.withdrawn_on')} END "
    "  } AS version "
    "} END AS versions"
)


@dataclass(frozen=True)
class HistoryEntry:
    on: str | None
    kind: str  # one of KINDS
    claim: Record  # the version as an evidence step (fields.step_row)
    previous_likelihood: str | None = None


def entries_of(versions: list[dict[str, Any]]) -> list[HistoryEntry]:
    """The entries of every claim's versions, by day, then kind (KINDS), then claim id."""
    by_claim: dict[str, list[dict[str, Any]]] = {}
    for version in versions:
        by_claim.setdefault(version["claim"], []).append(version)
    entries: list[HistoryEntry] = []
    for claim_versions in by_claim.values():
        claim_versions.sort(key=lambda v: (v["start"] or "", v["end"] or "9999-12-31"))
        previous: dict[str, Any] | None = None
        for version in claim_versions:
            replaced = (
                previous is not None
                and previous["superseded"]
                and previous["end"] == version["start"]
            )
            if replaced:
                assert previous is not None
                entries.append(
                    HistoryEntry(
                        version["start"], REGRADED, version["standing"], previous["likelihood"]
                    )
                )
            else:
                entries.append(HistoryEntry(version["start"], REPORTED, version["standing"]))
            if version["end"] is not None and not version["superseded"]:
                entries.append(HistoryEntry(version["end"], WITHDRAWN, version["withdrawn"]))
            previous = version
    entries.sort(key=lambda e: (e.on or "", KINDS.index(e.kind), e.claim["id"]))
    return entries


async def history(
    graph: Graph, parameters: dict[str, Any], ref: str, since: str | None, until: str | None
) -> list[HistoryEntry]:
    """Every entry of the history of the entity `ref` names, between `since` and
    `until` (full dates, either None), in order. `parameters`:
    ref_parameters("target", ref)."""
    rows = await graph.read(HISTORY_QUERY, parameters)
    row = rows[0]
    raise_unless_resolved(ref, row["candidates"])
    return [
        entry
        for entry in entries_of(row["versions"])
        if (since is None or (entry.on or "") >= since)
        and (until is None or (entry.on or "") <= until)
    ]
