"""Constraints and indexes, created idempotently before any load.

- Entity.id is unique (MERGE relies on it, concurrent loaders too).
- every relationship type's `id` is unique (one claim per source and triple).
- a full-text index over name, aliases and description (search), and a
  keyword full-text index over lookup_keys (exact, case-insensitive
  id/name/alias look-up that works on a list property).
- range indexes for the properties queries filter on, and on every relationship
  type's `source` (the loader prunes a source's withdrawn claims through them).
- the change feed's ChangeSet.first, ChangeSet.last and ChangeFeed.name are unique.
- the "linked to" closure's entries by (target, key), whose order is the
  answer's, and by incident, which its upkeep replaces; its counts by (target,
  strength) (graph/linking/upkeep.py).

Then the closure is built, once, if the store does not have it.
"""

from __future__ import annotations

import asyncio
import time
from typing import LiteralString

from neo4j.exceptions import ClientError

from graph.errors import Neo4jUnavailable
from graph.linking.stored import INDEXES as closure_indexes
from graph.linking.upkeep import ensure_closure
from graph.model.vocabulary import LABELS, RELATION_TYPES
from graph.store.database import Graph
from graph.store.indexes import LOOKUP_INDEX, SEARCH_INDEX
from graph.writes.changes import migrate_change_nodes

# Versions that kept one (:Change) node per change created this constraint.
OLD_CHANGE_CONSTRAINT = "change_seq"


def schema_statements() -> list[LiteralString]:
    statements: list[LiteralString] = [
        "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
        f"CREATE FULLTEXT INDEX {SEARCH_INDEX} IF NOT EXISTS FOR (e:Entity) "
        "ON EACH [e.name, e.aliases, e.description]",
        f"CREATE FULLTEXT INDEX {LOOKUP_INDEX} IF NOT EXISTS FOR (e:Entity) "
        "ON EACH [e.lookup_keys] OPTIONS {indexConfig: {`fulltext.analyzer`: 'keyword'}}",
        "CREATE RANGE INDEX incident_started IF NOT EXISTS FOR (i:Incident) ON (i.started)",
        # The change feed (graph/writes/changes.py): one counter node, one set of changes per
        # transaction, its first and last numbers unique.
        "CREATE CONSTRAINT change_set_first IF NOT EXISTS "
        "FOR (s:ChangeSet) REQUIRE s.first IS UNIQUE",
        "CREATE CONSTRAINT change_set_last IF NOT EXISTS "
        "FOR (s:ChangeSet) REQUIRE s.last IS UNIQUE",
        "CREATE CONSTRAINT change_feed_name IF NOT EXISTS "
        "FOR (f:ChangeFeed) REQUIRE f.name IS UNIQUE",
        *closure_indexes,
    ]
    for rel in RELATION_TYPES:
        # Relationship types come from the model's fixed list, never from input.
        statements.append(
            f"CREATE CONSTRAINT rel_{rel.lower()}_id IF NOT EXISTS "
            f"FOR ()-[r:{rel}]-() REQUIRE r.id IS UNIQUE"
        )
        # The loader's prune finds a source's claims by `source` (graph/writes/batch_write.py).
        statements.append(
            f"CREATE RANGE INDEX rel_{rel.lower()}_source IF NOT EXISTS "
            f"FOR ()-[r:{rel}]-() ON (r.source)"
        )
    for label in LABELS:
        statements.append(
            f"CREATE RANGE INDEX {label.lower()}_name IF NOT EXISTS FOR (e:{label}) ON (e.name)"
        )
    return statements


def _already_exists(error: ClientError) -> bool:
    code = error.code or ""
    return code.startswith("Neo.ClientError.Schema.") and code.endswith("AlreadyExists")


async def ensure_schema(graph: Graph) -> None:
    """Create what is missing; a no-op on a database that has it all (three reads).

    Also moves an older database's change feed to change sets (graph/writes/changes.py)
    and builds the "linked to" closure where it is missing (graph/linking/upkeep.py).

    Safe to run from several processes at once (of two closure builds, the one
    started last finishes; the other stops).
    """
    existing = await graph.read("SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names")
    indexes = await graph.read("SHOW INDEXES YIELD name RETURN collect(name) AS names")
    have = set(existing[0]["names"]) | set(indexes[0]["names"])
    missing = [
        s for s in schema_statements() if s.split(" IF NOT EXISTS")[0].split()[-1] not in have
    ]
    for statement in missing:
        try:
            await graph.write(statement)
        except ClientError as error:
            # Another loader created the same rule between our SHOW and our CREATE
            # (IF NOT EXISTS does not cover that race): what we wanted now exists.
            if not _already_exists(error):
                raise
    if missing:
        await await_indexes_online(graph)
    if OLD_CHANGE_CONSTRAINT in have:
        # A database from before change sets: move its feed, once.
        await migrate_change_nodes(graph)
        await graph.write(f"DROP CONSTRAINT {OLD_CHANGE_CONSTRAINT} IF EXISTS")
    await ensure_closure(graph)


INDEX_WAIT_S = 300.0


async def await_indexes_online(graph: Graph, timeout_s: float = INDEX_WAIT_S) -> None:
    """Wait until every index is ONLINE, polling with short reads.

    Not `CALL db.awaitIndexes(300)`: that waits inside one transaction, which the
    transaction time limit cuts off on a slow machine; each poll here is a quick read.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await graph.read(
            "SHOW INDEXES YIELD name, state WHERE state <> 'ONLINE' "
            "RETURN collect(name + ' (' + state + ')') AS pending"
        )
        pending: list[str] = rows[0]["pending"]
        if not pending:
            return
        failed = [name for name in pending if name.endswith("(FAILED)")]
        if failed or time.monotonic() > deadline:
            raise Neo4jUnavailable(
                f"indexes not online after {timeout_s:.0f} s: {', '.join(pending)}"
                if not failed
                else f"index population failed: {', '.join(failed)}"
            )
        await asyncio.sleep(0.2)
