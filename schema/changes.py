"""The change feed over GraphQL: `changes` (a connection) and `changed` (a subscription).

Cursors are opaque strings for the change's sequence number; they never
expire unless an operator prunes the feed (then CURSOR_EXPIRED). See the
"Change feed" section of README.md for the contract.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry
from strawberry.types import Info

from graph.model import change_kinds
from graph.writes import changes as feed
from schema.context import Context
from schema.errors import UserInputError
from schema.pagination import MAX_PAGE_SIZE, PageInfo

DEFAULT_CHANGES_PAGE = 100
_PREFIX = "change:"


@strawberry.enum(description="What happened to an entity or relationship.")
class ChangeKind(enum.Enum):
    CREATED = change_kinds.CREATED
    UPDATED = change_kinds.UPDATED
    DELETED = change_kinds.DELETED
    WITHDRAWN = change_kinds.WITHDRAWN


def encode_change_cursor(seq: int) -> str:
    return base64.b64encode(f"{_PREFIX}{seq}".encode()).decode()


def decode_change_cursor(cursor: str, argument: str = "after") -> int:
    """The sequence number a cursor stands for, or a clear error naming the argument."""
    problem = f"{argument}: {cursor!r} is not a change cursor this API issued"
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise UserInputError(problem) from None
    number = text.removeprefix(_PREFIX)
    if number == text or not number.isdigit() or len(number) > 18:
        raise UserInputError(problem)
    return int(number)


@strawberry.type(
    description=(
        "One change: an entity (entityId) or a relationship (relationshipId) that was "
        "created, updated, deleted or withdrawn by one write."
    )
)
class Change:
    cursor: str = strawberry.field(description="Resume after this change with after: cursor.")
    sequence: int = strawberry.field(
        description="Position in the feed: 1, 2, 3, … in commit order, without gaps."
    )
    kind: ChangeKind = strawberry.field(
        description="What happened: created, updated, deleted or withdrawn."
    )
    entity_id: strawberry.ID | None = strawberry.field(
        description="The entity that changed (null when a relationship did)."
    )
    entity_label: str | None = strawberry.field(description="The entity's type, e.g. ThreatActor.")
    relationship_id: strawberry.ID | None = strawberry.field(
        description="The claim (relationship) that changed (null when an entity did)."
    )
    relation: str | None = strawberry.field(description="The relationship's type, e.g. PART_OF.")
    source_id: strawberry.ID | None = strawberry.field(
        description="The source whose word this is (null when the write named none)."
    )
    origin: str = strawberry.field(
        description="What wrote it: seed:<file>, import:<origin> or mutation:<name>."
    )
    at: str = strawberry.field(description="When it was recorded (ISO 8601, UTC).")


def change_from_record(change: feed.Change) -> Change:
    return Change(
        cursor=encode_change_cursor(change.seq),
        sequence=change.seq,
        kind=ChangeKind(change.kind),
        entity_id=strawberry.ID(change.entity_id) if change.entity_id else None,
        entity_label=change.entity_label,
        relationship_id=strawberry.ID(change.relationship_id) if change.relationship_id else None,
        relation=change.relation,
        source_id=strawberry.ID(change.source_id) if change.source_id else None,
        origin=change.origin,
        at=change.at,
    )


@strawberry.type(description="One change with its cursor.")
class ChangeEdge:
    cursor: str = strawberry.field(description="Resume after this change with after: cursor.")
    node: Change = strawberry.field(description="The change.")


@strawberry.type(description="A page of the change feed, oldest first.")
class ChangeConnection:
    edges: list[ChangeEdge] = strawberry.field(description="The changes with their cursors.")
    nodes: list[Change] = strawberry.field(description="The same changes, without the edges.")
    page_info: PageInfo = strawberry.field(
        description=(
            "endCursor is where to resume: the last change's cursor, or `after` itself when "
            "the page is empty (nothing new yet)."
        )
    )
    newest_sequence: int = strawberry.field(
        description="The newest change's sequence number when this page was read (0: none)."
    )


def _after(after: str | None) -> int:
    return decode_change_cursor(after) if after is not None else 0


async def changes_page(
    info: Info[Context, None], after: str | None, first: int
) -> ChangeConnection:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise UserInputError(f"first: must be between 1 and {MAX_PAGE_SIZE}, not {first}")
    start = _after(after)
    page = await feed.changes_after(info.context.graph, start, first)
    nodes = [change_from_record(change) for change in page.changes]
    return ChangeConnection(
        edges=[ChangeEdge(cursor=n.cursor, node=n) for n in nodes],
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=start > 0,
            start_cursor=nodes[0].cursor if nodes else after,
            end_cursor=nodes[-1].cursor if nodes else after,
        ),
        newest_sequence=page.head,
    )


CHANGES_DESCRIPTION = (
    "Every recorded change after the cursor `after` (from the first when omitted), oldest "
    f"first, at most `first` (1-{MAX_PAGE_SIZE}, default {DEFAULT_CHANGES_PAGE}). To follow the "
    "graph, keep pageInfo.endCursor and ask again with it."
)


@strawberry.type(description="Live feeds over WebSocket (graphql-transport-ws at /graphql).")
class Subscription:
    @strawberry.subscription(
        description=(
            "Changes as they are committed. With `after`, first every change since that cursor "
            "(what a consumer missed while away), then new ones; without it, only changes made "
            "from now on. Each carries its cursor: reconnect with the last one received."
        )
    )
    async def changed(
        self,
        info: Info[Context, None],
        after: Annotated[
            str | None,
            strawberry.argument(description="Replay every change after this cursor first."),
        ] = None,
    ) -> AsyncGenerator[Change, None]:
        graph = info.context.graph
        start = _after(after) if after is not None else await feed.latest_change(graph)
        # The process's one poll of the feed (graph/writes/change_poller.py), whoever asks.
        async with aclosing(info.context.change_poller.follow(graph, start)) as changes:
            async for change in changes:
                yield change_from_record(change)
