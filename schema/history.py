"""Query.history: what changed about an entity, and why, in the order it became known."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from graph.model.dates import date_ceiling, date_floor
from graph.model.likelihood import Likelihood
from graph.reads import history as reads
from schema import arguments
from schema.context import Context
from schema.pagination import PageInfo, encode_cursor, page_info, page_window
from schema.scalars import Date
from schema.types import EvidenceStep, step_from_row

HISTORY_DESCRIPTION = (
    "Every claim into or out of an entity, in the order it became known: when a source "
    "reported it, when a later revision regraded it (with the grade before) and when one "
    "withdrew it. Explains each change in an analytic judgment, with its source's words."
)


@strawberry.enum(description="What happened to a claim on a history entry's day.")
class HistoryKind(Enum):
    REPORTED = reads.REPORTED
    REGRADED = reads.REGRADED
    WITHDRAWN = reads.WITHDRAWN


@strawberry.type(description="One change to what was known about an entity.")
class HistoryEntry:
    on: Date | None = strawberry.field(
        description="The day: the source's publication, or its revision's."
    )
    kind: HistoryKind = strawberry.field(description="Reported, regraded or withdrawn.")
    claim: EvidenceStep = strawberry.field(description="The claim as it stood after the entry.")
    previous_likelihood: Likelihood | None = strawberry.field(
        default=None, description="For REGRADED: the grade the claim had before."
    )


@strawberry.type(description="A history entry with its cursor.")
class HistoryEdge:
    cursor: str = strawberry.field(description="Pass as `after` to page on from here.")
    node: HistoryEntry = strawberry.field(description="The entry.")


@strawberry.type(description="A page of an entity's history.")
class HistoryConnection:
    total_count: int = strawberry.field(description="Entries matching, over all pages.")
    edges: list[HistoryEdge] = strawberry.field(description="This page's entries with cursors.")
    nodes: list[HistoryEntry] = strawberry.field(description="This page's entries.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


async def history_page(
    info: Info[Context, None],
    ref: str,
    since: str | None,
    until: str | None,
    first: int | None,
    after: str | None,
) -> HistoryConnection:
    parameters = arguments.entity({"ref": ref})
    skip, size = page_window(first, after)
    found = await reads.history(
        info.context.graph,
        parameters,
        ref,
        date_floor(since) if since else None,
        date_ceiling(until) if until else None,
    )
    entries = [
        HistoryEntry(
            on=entry.on,  # type: ignore[arg-type]
            kind=HistoryKind(entry.kind),
            claim=step_from_row(entry.claim, entry.on),
            previous_likelihood=(
                Likelihood(entry.previous_likelihood) if entry.previous_likelihood else None
            ),
        )
        for entry in found[skip : skip + size]
    ]
    return HistoryConnection(
        total_count=len(found),
        edges=[HistoryEdge(cursor=encode_cursor(skip + i), node=e) for i, e in enumerate(entries)],
        nodes=entries,
        page_info=page_info(skip, len(entries), len(found)),
    )


RefArgument = Annotated[
    str, strawberry.argument(description="An id, name or alias, any case, e.g. APT31.")
]
SinceArgument = Annotated[
    Date | None, strawberry.argument(description="Only entries on or after this day.")
]
UntilArgument = Annotated[
    Date | None, strawberry.argument(description="Only entries on or before this day.")
]
