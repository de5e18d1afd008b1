"""The Query root: every field answers with one Cypher round-trip.

Nested `sources` / `relations` on the entities returned add one batched
round-trip per level of nesting (DataLoaders), never one per result.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from graph.linking.rule import DESCRIPTION as LINKED_TO_DESCRIPTION
from graph.reads import questions as traversal
from schema.changes import CHANGES_DESCRIPTION, DEFAULT_CHANGES_PAGE, ChangeConnection, changes_page
from schema.context import Context
from schema.errors import UserInputError
from schema.pagination import MAX_PAGE_SIZE, PageCursor, PageSize, encode_cursor, page_window
from schema.scalars import Date, Likelihood, date_ceiling, date_floor
from schema.types import (
    Entity,
    EvidencePath,
    IncidentConnection,
    IncidentEdge,
    SearchHit,
    Subgraph,
    entity_from_row,
    incident_with_path,
    min_rank,
    page_info,
    path_from_steps,
    step_from_row,
)

MAX_REF_CHARS = 500
MAX_SEARCH_CHARS = 500


def checked_ref(value: str, argument: str) -> str:
    if not value.strip():
        raise UserInputError(f"{argument}: must not be empty")
    if len(value) > MAX_REF_CHARS:
        raise UserInputError(f"{argument}: at most {MAX_REF_CHARS} characters")
    return value


def checked_range(value: int, argument: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UserInputError(f"{argument}: must be between {low} and {high}, not {value}")
    return value


@strawberry.type(description="Questions about the graph; every answer carries its evidence.")
class Query:
    @strawberry.field(
        description=(
            "The entity an id, name or alias names (any case). Null when nothing matches; an "
            "error with code AMBIGUOUS_REFERENCE listing the candidates when several do."
        )
    )
    async def entity(
        self,
        info: Info[Context, None],
        ref: Annotated[
            str,
            strawberry.argument(
                description="An id, name or alias, any case, e.g. APT31 or agency:mss."
            ),
        ],
    ) -> Entity | None:
        row = await traversal.find_entity(info.context.graph, checked_ref(ref, "ref"))
        return entity_from_row(row) if row else None

    @strawberry.field(
        description="Full-text search over names, aliases and descriptions, best match first."
    )
    async def search(
        self,
        info: Info[Context, None],
        text: Annotated[
            str, strawberry.argument(description="Words to look for, e.g. Electoral Register.")
        ],
        first: Annotated[
            int, strawberry.argument(description="At most this many hits (0-500).")
        ] = 20,
    ) -> list[SearchHit]:
        if len(text) > MAX_SEARCH_CHARS:
            raise UserInputError(f"text: at most {MAX_SEARCH_CHARS} characters")
        checked_range(first, "first", 0, MAX_PAGE_SIZE)
        rows = await traversal.search(info.context.graph, text, first)
        return [SearchHit(entity=entity_from_row(r["entity"]), score=r["score"]) for r in rows]

    @strawberry.field(
        description=(
            "Incidents, newest first; with linkedTo, only those linked to that entity (strongest "
            "link first), each with `linkPath`, the evidence for the link. " + LINKED_TO_DESCRIPTION
        )
    )
    async def incidents(
        self,
        info: Info[Context, None],
        linked_to: Annotated[
            str | None,
            strawberry.argument(
                description="Only incidents linked to this entity (id, name or alias)."
            ),
        ] = None,
        min_likelihood: Annotated[
            Likelihood | None,
            strawberry.argument(description="Only links at least this likely (weakest step)."),
        ] = None,
        since: Annotated[
            Date | None,
            strawberry.argument(
                description="Only incidents still going on or after this date (by end, else start)."
            ),
        ] = None,
        until: Annotated[
            Date | None,
            strawberry.argument(description="Only incidents started on or before this date."),
        ] = None,
        first: PageSize = None,
        after: PageCursor = None,
    ) -> IncidentConnection:
        skip, size = page_window(first, after)
        page = await traversal.incidents(
            info.context.graph,
            linked_to=checked_ref(linked_to, "linkedTo") if linked_to is not None else None,
            min_rank=min_rank(min_likelihood),
            since=date_floor(since) if since else None,
            until=date_ceiling(until) if until else None,
            skip=skip,
            first=size,
        )
        nodes = [incident_with_path(row) for row in page.rows]
        return IncidentConnection(
            total_count=page.total,
            edges=[
                IncidentEdge(cursor=encode_cursor(skip + i), node=n) for i, n in enumerate(nodes)
            ],
            nodes=nodes,
            page_info=page_info(skip, len(nodes), page.total),
        )

    @strawberry.field(
        description=(
            "The shortest explained chain of claims between two entities (each step shown in "
            "its own direction), the strongest of equally short ones (then the first by claim "
            "ids, so the same graph always shows the same chain). Null when none exists "
            "within maxHops (1-8)."
        )
    )
    async def path(
        self,
        info: Info[Context, None],
        from_: Annotated[
            str,
            strawberry.argument(
                name="from",
                description="Where the chain starts: an id, name or alias, e.g. APT31.",
            ),
        ],
        to: Annotated[
            str, strawberry.argument(description="Where the chain ends: id, name or alias.")
        ],
        max_hops: Annotated[
            int, strawberry.argument(description="Longest chain considered, in claims (1-8).")
        ] = 6,
        min_likelihood: Annotated[
            Likelihood | None,
            strawberry.argument(description="Use only claims at least this likely."),
        ] = None,
    ) -> EvidencePath | None:
        checked_range(max_hops, "maxHops", 1, traversal.MAX_PATH_HOPS)
        found = await traversal.shortest_path(
            info.context.graph,
            checked_ref(from_, "from"),
            checked_ref(to, "to"),
            max_hops,
            min_rank(min_likelihood),
        )
        return path_from_steps(found["steps"]) if found else None

    @strawberry.field(
        description=(
            "Everything within `hops` (1-3) claims of an entity, in either direction, and the "
            "claims between those nodes; at most `first` (≤ 500) neighbours besides the centre."
        )
    )
    async def neighbourhood(
        self,
        info: Info[Context, None],
        ref: Annotated[
            str,
            strawberry.argument(
                description="The centre: an id, name or alias, any case, e.g. APT31 or agency:mss."
            ),
        ],
        hops: Annotated[
            int, strawberry.argument(description="How many claims out from the centre (1-3).")
        ] = 1,
        min_likelihood: Annotated[
            Likelihood | None,
            strawberry.argument(description="Follow only claims at least this likely."),
        ] = None,
        first: Annotated[
            int,
            strawberry.argument(
                description="At most this many neighbours (0-500), nearest first, then by id."
            ),
        ] = 100,
    ) -> Subgraph:
        checked_range(hops, "hops", 1, traversal.MAX_NEIGHBOURHOOD_HOPS)
        checked_range(first, "first", 0, MAX_PAGE_SIZE)
        found = await traversal.neighbourhood(
            info.context.graph, checked_ref(ref, "ref"), hops, min_rank(min_likelihood), first
        )
        return Subgraph(
            nodes=[entity_from_row(row) for row in found["nodes"]],
            relationships=[step_from_row(row) for row in found["relationships"]],
        )

    @strawberry.field(description=CHANGES_DESCRIPTION)
    async def changes(
        self,
        info: Info[Context, None],
        after: Annotated[
            str | None,
            strawberry.argument(description="Start after this cursor (from the first when null)."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many changes at most (1-500).")
        ] = DEFAULT_CHANGES_PAGE,
    ) -> ChangeConnection:
        return await changes_page(info, after, first)
