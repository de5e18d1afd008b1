"""The change feed's graph side: what every write records, and reading it back.

Every write statement that can change the graph returns a `changes` column: a
list of maps, one per entity or relationship it really changed (see KINDS).
The loader, the importers and the mutations run those statements through
`Graph.write_in_one_transaction(..., then=[recorder(origin)])`, which appends
RECORD_CHANGES to the same transaction. That statement

1. takes the write lock on the one `(:ChangeFeed {name: 'changes'})` counter
   node by `SET feed.seq = feed.seq + n` (Neo4j takes the lock before reading
   `seq`, because the SET depends on it), and
2. creates one `(:ChangeSet)` node for the transaction's changes, numbered
   `first` = seq+1 … `last` = seq+n, with one list per field (`kinds`,
   `entity_ids`, …; "" where a change has no such field, as Neo4j lists hold
   no nulls), so change seq is item seq - first of each list, and
3. brings the "linked to" closure up to date in a subquery of the same
   statement, under that lock (graph/linking/upkeep.py).

Why one node per transaction and not one per change: a bulk load changes as
many things as it writes, so a node per change would make the feed cost about
as much to write as the graph itself (bench/README.md, Ingest, second round). A
change set is written once and never altered, except that pruning trims its front.

Why this gives consumers a feed they cannot skip through:

- The counter lock is held until the transaction commits, so a transaction
  numbered after another commits after it: once a reader sees change N, every
  change below N is already visible. Concurrent writers queue on the lock.
- A transaction that rolls back releases its numbers with the lock (its
  counter update is undone too), so the numbers have no gaps; the uniqueness
  constraints on ChangeSet.first and .last guard against duplicates all the same.
  Because there are no gaps, the sets holding changes a+1 … a+k are exactly
  those with last > a and first <= a+k (READ_CHANGES).
- The lock is the last lock every writer takes, so it adds no deadlock with
  the entity and relationship locks taken before it. After it only the upkeep
  of the "linked to" closure runs (graph/linking/upkeep.py), which locks
  nothing but closure entries, and those only under this lock.
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

from graph.errors import GraphError, ServerBusy
from graph.linking import upkeep as linked_closure
from graph.model.change_kinds import FIELDS
from graph.store.database import Graph, Record, Statement

_LISTS = {field: field + "s" for field in FIELDS}  # kind -> kinds, entity_id -> entity_ids …

RECORD_CHANGES = """
MERGE (feed:ChangeFeed {name: 'changes'})
  ON CREATE SET feed.seq = 0, feed.pruned_through = 0
SET feed.seq = feed.seq + size($kinds)
CREATE (s:ChangeSet {
  first: feed.seq - size($kinds) + 1, last: feed.seq, origin: $origin, at: datetime(),
  kinds: $kinds, entity_ids: $entity_ids, entity_labels: $entity_labels,
  relationship_ids: $relationship_ids, relations: $relations, source_ids: $source_ids
})
"""
RECORDED = "RETURN s.first AS first, s.last AS last"

# Changes after+1 … after+limit: the sets that hold them, each sliced to its part
# (numbers have no gaps, see above). At most `limit` sets, walked in `last` order.
READ_CHANGES = """
OPTIONAL MATCH (feed:ChangeFeed {name: 'changes'})
CALL () {
  MATCH (s:ChangeSet) WHERE s.last > $after
  WITH s ORDER BY s.last LIMIT $limit
  WITH s WHERE s.first <= $after + $limit
  WITH s, CASE WHEN s.first > $after THEN 0 ELSE $after + 1 - s.first END AS start,
       CASE WHEN s.last < $after + $limit THEN s.last ELSE $after + $limit END
         - s.first + 1 AS stop
  RETURN collect({
    first: s.first + start, origin: s.origin, at: s.at,
    kinds: s.kinds[start..stop], entity_ids: s.entity_ids[start..stop],
    entity_labels: s.entity_labels[start..stop],
    relationship_ids: s.relationship_ids[start..stop],
    relations: s.relations[start..stop], source_ids: s.source_ids[start..stop]
  }) AS sets
}
RETURN coalesce(feed.seq, 0) AS head, coalesce(feed.pruned_through, 0) AS pruned_through,
       sets
"""

# Sets wholly at or below `through` are deleted; the one that straddles it loses its front.
PRUNE_CHANGES = """
MATCH (feed:ChangeFeed {name: 'changes'})
WITH feed, CASE WHEN $through < feed.seq THEN $through ELSE feed.seq END AS through
SET feed.pruned_through = CASE WHEN through > feed.pruned_through THEN through
                               ELSE feed.pruned_through END
WITH feed, through
CALL (through) {
  MATCH (s:ChangeSet) WHERE s.last <= through
  WITH s, s.last - s.first + 1 AS n
  DELETE s
  RETURN sum(n) AS whole
}
CALL (through) {
  MATCH (s:ChangeSet) WHERE s.first <= through AND s.last > through
  WITH s, through - s.first + 1 AS n
  SET s.first = through + 1,
      s.kinds = s.kinds[n..], s.entity_ids = s.entity_ids[n..],
      s.entity_labels = s.entity_labels[n..], s.relationship_ids = s.relationship_ids[n..],
      s.relations = s.relations[n..], s.source_ids = s.source_ids[n..]
  RETURN sum(n) AS trimmed
}
RETURN whole + trimmed AS deleted, feed.pruned_through AS pruned_through
"""

# Databases written before change sets hold one (:Change) node per change: each
# becomes a set of one, so consumers' cursors and the numbering carry over.
# A batch at a time (MIGRATE_BATCH), MERGE so that two processes starting at
# once cannot number a change twice.
MIGRATE_BATCH = 5_000
MIGRATE_CHANGE_NODES = """
MATCH (c:Change)
WITH c ORDER BY c.seq LIMIT $batch
MERGE (s:ChangeSet {first: c.seq})
  ON CREATE SET s.last = c.seq, s.origin = c.origin, s.at = c.at, s.kinds = [c.kind],
    s.entity_ids = [coalesce(c.entity_id, '')], s.entity_labels = [coalesce(c.entity_label, '')],
    s.relationship_ids = [coalesce(c.relationship_id, '')],
    s.relations = [coalesce(c.relation, '')], s.source_ids = [coalesce(c.source_id, '')]
DELETE c
RETURN count(*) AS migrated
"""


async def migrate_change_nodes(graph: Graph) -> int:
    """Turn (:Change) nodes of an older database into change sets; returns how many."""
    migrated = 0
    while True:
        rows = await graph.write(MIGRATE_CHANGE_NODES, {"batch": MIGRATE_BATCH})
        if not rows or not rows[0]["migrated"]:
            return migrated
        migrated += rows[0]["migrated"]


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


def change_sort_key(change: dict[str, Any]) -> tuple[str, str]:
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
            changes.extend(sorted(found, key=change_sort_key))
    return changes


def record_changes(changes: Sequence[dict[str, Any]], origin: str) -> list[Statement]:
    """The statements that record these changes (none when there are none): the
    change set, then the upkeep of the "linked to" closure, which must run under
    the feed's lock that the first takes (graph/linking/upkeep.py).

    `origin` says what made the write ("seed:ncsc-2024-03-25.yaml",
    "import:…", "mutation:upsertEntity").
    """
    if not changes:
        return []
    parameters: dict[str, Any] = {
        _LISTS[field]: [change.get(field) or "" for change in changes] for field in FIELDS
    }
    parameters["origin"] = origin
    # The upkeep runs in the same statement, after the lock is taken: one round trip.
    # Its parameters (ids, starts, defer_above) are not the record's.
    upkeep = linked_closure.upkeep(changes)
    if upkeep is None:
        return [(RECORD_CHANGES + RECORDED, parameters)]
    text, upkeep_parameters = upkeep
    statement = RECORD_CHANGES + "WITH s CALL () { " + text + " } " + RECORDED
    return [(statement, {**parameters, **upkeep_parameters})]


def recorder(origin: str) -> Callable[[list[list[Record]]], list[Statement]]:
    """The `then` for write_in_one_transaction: records what its statements changed
    (every `changes` column they returned). Nothing changed, nothing recorded."""

    def record(results: list[list[Record]]) -> list[Statement]:
        return record_changes(collect_changes(results), origin)

    return record


def _changes_in_set(found: dict[str, Any]) -> list[Change]:
    """The changes of one (sliced) ChangeSet, oldest first."""
    at = found["at"].to_native().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    optional = FIELDS[1:]  # all but kind: "" where the change has none
    return [
        Change(
            seq=found["first"] + offset,
            kind=kind,
            origin=found["origin"],
            at=at,
            **{field: found[_LISTS[field]][offset] or None for field in optional},
        )
        for offset, kind in enumerate(found["kinds"])
    ]


async def changes_after(graph: Graph, after: int, first: int) -> ChangePage:
    """Up to `first` changes with seq > after, oldest first (one round-trip)."""
    rows = await graph.read(READ_CHANGES, {"after": after, "limit": first + 1})
    row = rows[0]
    if after < row["pruned_through"]:
        raise CursorExpired(after, row["pruned_through"])
    sets = sorted(row["sets"], key=lambda found: found["first"])
    changes = _unbroken_from(after, [change for found in sets for change in _changes_in_set(found)])
    has_next = len(changes) > first or (bool(changes) and changes[-1].seq < row["head"])
    return ChangePage(changes=changes[:first], has_next=has_next, head=row["head"])


def _unbroken_from(after: int, changes: list[Change]) -> list[Change]:
    """The changes after+1, after+2, … up to the first missing number.

    Numbers have no gaps once committed, except while an older database's Change
    nodes are still being moved into change sets (MIGRATE_CHANGE_NODES): newer
    sets are then readable before the older changes are, and a consumer must
    wait for those rather than be moved past them.
    """
    for index, change in enumerate(changes):
        if change.seq != after + 1 + index:
            return changes[:index]
    return changes


async def latest_change(graph: Graph) -> int:
    """The newest change's seq (0 when nothing was ever recorded)."""
    rows = await graph.read(
        "OPTIONAL MATCH (feed:ChangeFeed {name: 'changes'}) RETURN coalesce(feed.seq, 0) AS head"
    )
    return int(rows[0]["head"])


# The longest a change follower waits between polls that found the server busy.
MAX_BUSY_WAIT_S = 5.0


async def follow_changes(
    graph: Graph, after: int, poll_interval_s: float, page_size: int = 500
) -> AsyncGenerator[Change, None]:
    """Every change after `after`, then each new one as it is committed, forever.

    Polls by cursor: one indexed read per interval while nothing is new, pages
    back to back while catching up. Polling (not an in-process signal) is what
    sees writes made through other API processes or the CLI. A poll that finds the
    API's every turn at Neo4j taken (ServerBusy) is tried again an interval later, then
    two, four... up to MAX_BUSY_WAIT_S.
    """
    cursor = after
    busy_wait_s = poll_interval_s
    while True:
        try:
            page = await changes_after(graph, cursor, page_size)
        except ServerBusy:
            # Every turn at Neo4j is taken (graph/store/admission.py): nothing was read, so
            # the cursor stands. A follower waits out the rush rather than ending, and
            # waits longer each time, so that many followers do not keep the queue full.
            await asyncio.sleep(busy_wait_s)
            busy_wait_s = min(busy_wait_s * 2, MAX_BUSY_WAIT_S)
            continue
        busy_wait_s = poll_interval_s
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
