"""Activity linked to a bound `target`: answer order, total and evidence paths."""

from __future__ import annotations

from typing import LiteralString

from graph.linking.rule import INCIDENTS_ONLY
from graph.linking.stored import STORED_ANSWERS, stored_top
from graph.linking.walked import strongest_chain, walked_top


def linked_rows(
    skip: LiteralString,
    first: LiteralString,
    sector: bool = False,
    labels: LiteralString = INCIDENTS_ONLY,
) -> LiteralString:
    """Given `target` bound (or null), binds `total`, the number of activities of the
    kinds `labels` (rule.ACTIVITY_LABELS) linked to it, and `rows`: the first
    `skip + first` of them in answer order, those before the page as {i, strength}
    and the page's as {i, best: {strength, p}}.

    Answer order is strongest link first, then newest, then by id. The order and
    total come from the stored closure when it can answer, else from walking every
    link; both give the same answer. Which one answers is decided once, before
    either runs (two checks could see a job or the marker come and go between
    them), so exactly one runs, and each yields one row: an entity nothing links to
    gives total 0. Only the page, rows[skip..skip + first], carries its evidence
    path `best.p` (walked.strongest_chain). With `sector` (only activity that
    targeted $target_sector) or kinds other than incidents alone, the walk answers:
    the store knows neither sectors nor campaigns.
    """
    stored = not sector and labels == INCIDENTS_ONLY
    return (
        "WITH *, " + (STORED_ANSWERS if stored else "false") + " AS target_stored "
        "CALL (target, target_stored) { "
        "WITH target WHERE target_stored " + stored_top(skip, first) + "UNION ALL "
        "WITH target WHERE NOT target_stored " + walked_top(skip, first, sector, labels) + "} "
        "WITH *, top[.." + skip + "] + [k IN range(" + skip + ", size(top) - 1) | "
        "{i: top[k].i, best: {strength: top[k].strength, p: "
        + strongest_chain("top[k].i")
        + "}}] AS rows "
    )
