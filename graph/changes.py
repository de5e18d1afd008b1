"""The change feed's graph side: what every write records, and reading it back.

Every write statement that can change the graph returns a `changes` column: a
list of maps, one per entity or relationship it really changed (see KINDS).
The loader, the importers and the mutations run those statements through
`Graph.write_in_one_transaction(..., then=[recorder(origin)])`, which appends
RECORD_CHANGES to the same transaction. That statement

1. takes the write lock on the one `(:ChangeFeed {name: 'changes'})` counter
   node by `SET feed.seq = feed.seq + n` (Neo4j takes the lock before reading
   `seq`, because the SET depends on it), and
2. creates one `(:Change)` node per change, numbered seq+1 … seq+n.

Why this gives consumers a feed they cannot skip through:

- The counter lock is held until the transaction commits, so a transaction
  numbered after another commits after it: once a reader sees change N, every
  change below N is already visible. Concurrent writers queue on the lock.
- A transaction that rolls back releases its numbers with the lock (its
  counter update is undone too), so the numbers have no gaps; the uniqueness
  constraint on Change.seq guards against duplicates all the same.
- The lock is taken in the transaction's last statement: it is held only for
  the commit, and it is the last lock every writer takes, so it adds no
  deadlock with the entity and relationship locks taken before it.
- A change and its record commit or roll back together: there is no other way
  to write them.

Changes are kept until deleted with `prune_changes`; a cursor older than the
pruned range is refused (CursorExpired) instead of silently skipping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graph.database import Graph, Record, Statement
from graph.errors import GraphError

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
WITHDRAWN = "withdrawn"
KINDS = {
    CREATED: "an entity or relationship that did not exist now does",
    UPDATED: "an existing one had a property or label changed (a write of equal values is none)",
    DELETED: "a claim was deleted on request (the deleteRelation mutation)",
    WITHDRAWN: "a claim or mention was removed because its source no longer makes it "
    "(a seed file reloaded without it)",
}

RECORD_CHANGES = """
MERGE (feed:ChangeFeed {name: 'changes'})
  ON CREATE SET feed.seq = 0, feed.pruned_through = 0
SET feed.seq = feed.seq + size($changes)
WITH feed.seq - size($changes) AS base
UNWIND range(0, size($changes) - 1) AS i
WITH base + i + 1 AS seq, $changes[i] AS change
CREATE (c:Change {
  seq: seq, kind: change.kind, entity_id: change.entity_id, entity_label: change.entity_label,
  relationship_id: change.relationship_id, relation: change.relation,
  source_id: change.source_id, origin: $origin, at: datetime()
})
RETURN min(seq) AS first, max(seq) AS last
"""

# `seq > $after` with ORDER BY/LIMIT walks the Change.seq index in order.
READ_CHANGES = """
OPTIONAL MATCH (feed:ChangeFeed {name: 'changes'})
CALL () {
  MATCH (c:Change) WHERE c.seq > $after
  WITH c ORDER BY c.seq LIMIT $limit
  RETURN collect(c {.*}) AS changes
}
RETURN coalesce(feed.seq, 0) AS head, coalesce(feed.pruned_through, 0) AS pruned_through,
       changes
"""

PRUNE_CHANGES = """
MATCH (feed:ChangeFeed {name: 'changes'})
WITH feed, CASE WHEN $through < feed.seq THEN $through ELSE feed.seq END AS through
SET feed.pruned_through = CASE WHEN through > feed.pruned_through THEN through
                               ELSE feed.pruned_through END
WITH feed, through
CALL (through) {
  MATCH (c:Change) WHERE c.seq <= through
  DELETE c
  RETURN count(c) AS deleted
}
RETURN deleted, feed.pruned_through AS pruned_through
"""


class CursorExpired(GraphError):
    """A consumer asked for changes after a point whose successors were pruned."""

    code = "CURSOR_EXPIRED"

    def __init__(self, after: int, pruned_through: int) -> None:
        self.after = after
        self.pruned_through = pruned_through
        super().__init__(
            f"changes 1 to {pruned_through} were pruned; a consumer at change {after} has "
            "missed some: rebuild its copy from the graph, then follow from the newest change"
        )


@dataclass(frozen=True)
class Change:
    """One recorded change. `seq` orders every change ever made (1, 2, 3, … no gaps)."""

    seq: int
    kind: str
    origin: str
    at: str  # ISO 8601, UTC, milliseconds: when the recording statement ran
    entity_id: str | None = None
    entity_label: str | None = None
    relationship_id: str | None = None
    relation: str | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    has_next: bool
    head: int  # the newest change's seq (0 when nothing was ever recorded)


def _change_sort_key(change: dict[str, Any]) -> tuple[str, str]:
    return (change.get("entity_id") or "", change.get("relationship_id") or "")


def collect_changes(results: Sequence[list[Record]]) -> list[dict[str, Any]]:
    """Every `changes` item the statements returned, in statement order.

    Within one statement they are sorted by id, so numbering never depends on
    the order Cypher happened to collect them in.
    """
    changes: list[dict[str, Any]] = []
    for rows in results:
        for row in rows:
            found = row.get("changes") or []
            changes.extend(sorted(found, key=_change_sort_key))
    return changes


def recorder(origin: str) -> Callable[[list[list[Record]]], list[Statement]]:
    """The `then` for write_in_one_transaction: records what its statements changed.

    `origin` says what made the write ("seed:ncsc-2024-03-25.yaml",
    "import:…", "mutation:upsertEntity"). Nothing changed, nothing recorded.
    """

    def record(results: list[list[Record]]) -> list[Statement]:
        changes = collect_changes(results)
        if not changes:
            return []
        return [(RECORD_CHANGES, {"changes": changes, "origin": origin})]

    return record


def _change_from_record(row: dict[str, Any]) -> Change:
    at = row["at"].to_native()
    return Change(
        seq=row["seq"],
        kind=row["kind"],
        origin=row["origin"],
        at=at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        entity_id=row.get("entity_id"),
        entity_label=row.get("entity_label"),
        relationship_id=row.get("relationship_id"),
        relation=row.get("relation"),
        source_id=row.get("source_id"),
    )


async def changes_after(graph: Graph, after: int, first: int) -> ChangePage:
    """Up to `first` changes with seq > after, oldest first (one round-trip)."""
    rows = await graph.read(READ_CHANGES, {"after": after, "limit": first + 1})
    row = rows[0]
    if after < row["pruned_through"]:
        raise CursorExpired(after, row["pruned_through"])
    changes = [_change_from_record(c) for c in row["changes"]]
    return ChangePage(changes=changes[:first], has_next=len(changes) > first, head=row["head"])


async def latest_change(graph: Graph) -> int:
    """The newest change's seq (0 when nothing was ever recorded)."""
    rows = await graph.read(
        "OPTIONAL MATCH (feed:ChangeFeed {name: 'changes'}) RETURN coalesce(feed.seq, 0) AS head"
    )
    return int(rows[0]["head"])


async def follow_changes(
    graph: Graph, after: int, poll_interval_s: float, page_size: int = 500
) -> AsyncGenerator[Change, None]:
    """Every change after `after`, then each new one as it is committed, forever.

    Polls by cursor: one indexed read per interval while nothing is new, pages
    back to back while catching up. Polling (not an in-process signal) is what
    sees writes made through other API processes or the CLI.
    """
    cursor = after
    while True:
        page = await changes_after(graph, cursor, page_size)
        for change in page.changes:
            yield change
            cursor = change.seq
        if not page.has_next:
            await asyncio.sleep(poll_interval_s)


async def prune_changes(graph: Graph, through: int) -> tuple[int, int]:
    """Delete changes numbered up to `through` (never past the newest).

    Returns (deleted, pruned_through). Consumers behind `pruned_through` get
    CursorExpired from then on, so a pruned feed never skips silently.
    """
    rows = await graph.write(PRUNE_CHANGES, {"through": through})
    if not rows:
        return 0, 0
    return rows[0]["deleted"], rows[0]["pruned_through"]
