"""Keeping the stored "linked to" closure (stored.py) equal to the walk (walked.py).

Upkeep. Every write transaction records its changes (graph/writes/changes.py), and
the closure is brought up to date from the same changes in the same
transaction, after the change feed's counter lock is taken. Holding that lock
serialises the upkeep of all writers: each one's upkeep reads the graph as
every earlier writer committed it, so a chain completed by two transactions
(one adds incident -> actor, the other actor -> agency) is found by whichever
commits second. The upkeep recomputes, from scratch, the entries of

- every changed incident, and every updated entity (its label may have changed),
- the first end of every changed first claim (rule.py FIRST_CLAIM_TYPES), and
- every incident upstream of the first end of a changed onward claim
  (ONWARD_CLAIM_TYPES; created, updated, withdrawn or deleted alike), except where
  that end is new in the same transaction (`upkeep` says why that is enough).

A claim out of an entity high in a hierarchy can have tens of thousands of
incidents upstream. Past DEFER_ABOVE of them the write leaves the refresh as a
`(:LinkedRefresh)` job instead, readers walk the links until no job is left, and
`refresh_deferred` does the jobs in batches: the API server runs it in the
background, and the CLI after each load and import.

Stores written before the closure existed, or whose build was cut short, lack
the `(:LinkedClosure {version})` marker: `ensure_closure` builds it once, a
batch of incidents per transaction, each batch under the same lock, and
readers walk the links until the marker is there. Writes made with Cypher
around threatgraph reach neither the change feed nor the closure:
`rebuild_closure` (`threatgraph closure rebuild`) builds it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, LiteralString

from graph.linking.rule import (
    FIRST_CLAIM_TYPES,
    LINKS,
    MAX_ONWARD_CLAIMS,
    NO_CLAIM_STRENGTH,
    ONWARD_CLAIM_TYPES,
    Link,
)
from graph.linking.stored import NEWEST_FIRST_KEY, STORED_CLOSURE_VERSION
from graph.model.change_kinds import CREATED
from graph.model.known import claim_current
from graph.model.likelihood import chain_strength
from graph.model.vocabulary import relation_from_id
from graph.store.database import Graph, Record, Statement

VERSION = int(STORED_CLOSURE_VERSION)
BUILD_BATCH = 2_000


def _reached_through(link: Link) -> LiteralString:
    """A UNION branch: each entity `t` incident `i` reaches the `link` way, with the
    strength of that chain (the weaker of its first claim and its onward claims)."""
    claim, onward = link
    return (
        "MATCH (i)-[c:"
        + claim
        + " WHERE "
        + claim_current("c")
        + "]->(hop) ((x)-[o:"
        + onward
        + " WHERE "
        + claim_current("o")
        + "]->(y)){0,"
        + MAX_ONWARD_CLAIMS
        + "} (t) "
        "RETURN t, " + chain_strength("[c] + o") + " AS strength "
    )


# The entries of the incidents whose ids are $ids: old ones deleted, new ones made,
# and the counts per target and strength moved by the difference (sorted, so that
# count nodes are always locked in one order).
REFRESH: LiteralString = (
    "UNWIND $ids AS id "
    "WITH DISTINCT id "
    "CALL (id) { "
    "  OPTIONAL MATCH (old:LinkedIncident {incident: id}) "
    "  WITH old, old.target AS t, 99 - toInteger(left(old.key, 2)) AS s "
    "  DELETE old "
    "  RETURN collect(CASE WHEN t IS NOT NULL THEN {t: t, s: s, d: -1} END) AS gone "
    "} "
    "OPTIONAL MATCH (i:Entity {id: id}) WHERE i:Incident "
    "CALL (i) { "
    "  WITH i WHERE i IS NOT NULL "
    "  CALL (i) { " + "  UNION ALL ".join(_reached_through(link) for link in LINKS) + "  UNION ALL "
    "    RETURN i AS t, " + NO_CLAIM_STRENGTH + " AS strength "
    "  } "
    "  WITH i, t, max(strength) AS strength "
    "  CREATE (:LinkedIncident {target: t.id, incident: i.id, "
    "key: right('0' + toString(99 - strength), 2) + " + NEWEST_FIRST_KEY + " + i.id}) "
    "  RETURN collect({t: t.id, s: strength, d: 1}) AS made "
    "} "
    "UNWIND gone + made AS change "
    "WITH change.t AS target, change.s AS strength, sum(change.d) AS delta "
    "WHERE delta <> 0 "
    "WITH target, strength, delta ORDER BY target, strength "
    "MERGE (n:LinkedCount {target: target, strength: strength}) ON CREATE SET n.n = 0 "
    "SET n.n = n.n + delta "
    "WITH n, n.n = 0 AS empty "
    "FOREACH (_ IN CASE WHEN empty THEN [1] ELSE [] END | DELETE n) "
    "RETURN count(*) AS counts_moved"
)

# Incidents whose chains may pass through an onward claim starting at one of
# $starts: an incident's first claim, then up to MAX_ONWARD_CLAIMS - 1 onward
# claims to the start (a superset of the chains that can use the claim; the
# refresh decides what really links).
UPSTREAM: LiteralString = (
    "UNWIND $starts AS start_id "
    "MATCH (start:Entity {id: start_id}) "
    "MATCH (i:Incident)-[:"
    + "|".join(first for first, _ in LINKS)
    + "]->(hop) ((x)-[:"
    + "|".join(sorted(ONWARD_CLAIM_TYPES))
    + "]->(y)){0,"
    + str(int(MAX_ONWARD_CLAIMS) - 1)
    + "} (start) "
    "WITH DISTINCT i.id AS id "
)

# A write's own upkeep refreshes up to DEFER_ABOVE incidents upstream of the onward
# claims it changed. Past that, it leaves a (:LinkedRefresh {id, starts, made}) job and
# refreshes only its own incidents; readers walk the links while any job is left,
# and refresh_deferred does the job in batches. A write that refreshed a hub's
# whole upstream would run past the API's transaction time limit.
DEFER_ABOVE = 1_000

REFRESH_UPSTREAM: LiteralString = (
    "CALL () { " + UPSTREAM + "LIMIT $defer_above + 1 RETURN collect(id) AS upstream } "
    "CALL (upstream) { "
    "  WITH upstream WHERE size(upstream) > $defer_above "
    "  CREATE (:LinkedRefresh {id: randomUUID(), starts: $starts, made: datetime()}) "
    "  RETURN count(*) AS deferred "
    "} "
    "WITH CASE WHEN deferred > 0 THEN [] ELSE upstream END + $ids AS all_ids "
    + REFRESH.replace("UNWIND $ids AS id ", "UNWIND all_ids AS id ", 1)
)


def upkeep(changes: Sequence[dict[str, Any]]) -> Statement | None:
    """The statement that brings the closure up to date with `changes` (None if none do).

    Run it after the change feed's lock is taken (graph/writes/changes.py record_changes).
    Two cuts keep a bulk load's upkeep near the cost of building the closure once:

    - Entities other than incidents are refreshed only when updated (their label
      may have changed from Incident); a new one has no entries.
    - No upstream search starts at an entity created in this transaction. A chain
      into it has to use a claim written now; the first such claim on the chain
      either starts at an older entity, whose search finds the incident, or is the
      incident's first claim, and the incident is refreshed itself.
    """
    created = {c["entity_id"] for c in changes if c.get("entity_id") and c.get("kind") == CREATED}
    ids: set[str] = set()
    starts: set[str] = set()
    for change in changes:
        entity_id = change.get("entity_id")
        if entity_id and (change.get("entity_label") == "Incident" or entity_id not in created):
            ids.add(entity_id)
        relation = change.get("relation") or ""
        relationship_id = change.get("relationship_id") or ""
        if relation in FIRST_CLAIM_TYPES and relationship_id:
            ids.add(relation_from_id(relationship_id, relation))
        elif relation in ONWARD_CLAIM_TYPES and relationship_id:
            start = relation_from_id(relationship_id, relation)
            if start not in created:
                starts.add(start)
    if not ids and not starts:
        return None
    if not starts:
        return REFRESH, {"ids": sorted(ids)}
    parameters = {"ids": sorted(ids), "starts": sorted(starts), "defer_above": DEFER_ABOVE}
    return REFRESH_UPSTREAM, parameters


# The change feed's counter node, locked as every writer locks it (graph/writes/changes.py).
# A constant write takes the lock; `SET feed.seq = feed.seq` would write back a
# number read before taking it, racing other writers.
_TAKE_FEED_LOCK: LiteralString = (
    "MERGE (feed:ChangeFeed {name: 'changes'}) "
    "  ON CREATE SET feed.seq = 0, feed.pruned_through = 0 "
    "SET feed.closure_lock = true "
)
_BUILT = "MATCH (m:LinkedClosure {version: $version}) RETURN count(m) AS built"
_UNMARK: LiteralString = _TAKE_FEED_LOCK + "WITH feed MATCH (m:LinkedClosure) DELETE m"
# A build first makes itself the builder, under the lock. A second build started
# meanwhile (two replicas, or a write's ensure_schema while the store is unbuilt)
# takes that over: the first one's next step finds another builder and stops, and
# only the builder still named at the end makes the marker. Without that, the
# second's clearing would empty what the first had built, and the first would
# then mark the rest as built.
_CLAIM_BUILD: LiteralString = (
    _TAKE_FEED_LOCK + "WITH feed WHERE NOT EXISTS { MATCH (:LinkedClosure {version: $version}) } "
    "SET feed.closure_builder = $token RETURN count(*) AS claimed"
)
_STILL_BUILDER: LiteralString = _TAKE_FEED_LOCK + "RETURN feed.closure_builder = $token AS mine"
# Entries left by writes made around threatgraph or by an unfinished build.
_CLEAR_PAGE: LiteralString = (
    _TAKE_FEED_LOCK + "WITH feed WHERE feed.closure_builder = $token "
    "CALL () { MATCH (old:LinkedIncident) RETURN old "
    "UNION ALL MATCH (old:LinkedCount) RETURN old } "
    "WITH old LIMIT $batch DELETE old RETURN count(*) AS deleted"
)
_INCIDENT_PAGE = (
    "MATCH (i:Incident) WHERE i.id > $after "
    "WITH i.id AS id ORDER BY id LIMIT $batch RETURN collect(id) AS ids"
)
_MARK_BUILT: LiteralString = (
    # The old marker goes in a unit subquery: an aggregation here would make a row
    # (count 0) even where the builder check left none, and every builder would mark.
    _TAKE_FEED_LOCK + "WITH feed WHERE feed.closure_builder = $token "
    "CALL () { MATCH (old:LinkedClosure) DELETE old } "
    "CREATE (:LinkedClosure {version: $version}) RETURN true AS marked"
)


async def ensure_closure(graph: Graph) -> bool:
    """Build the closure unless the store has it; True when this call built it.

    Entries already there are cleared first, then every incident is refreshed,
    BUILD_BATCH per transaction; each transaction takes the change feed's lock,
    so writers running meanwhile keep what their upkeep refreshes. Until the
    marker is made at the end, readers walk the links (graph/reads/questions.py). A
    build that another one took over stops and returns False (_CLAIM_BUILD).
    """
    rows = await graph.read(_BUILT, {"version": VERSION})
    if rows and rows[0]["built"]:
        return False
    token = str(uuid.uuid4())
    claimed = await graph.write(_CLAIM_BUILD, {"version": VERSION, "token": token})
    if not claimed or not claimed[0]["claimed"]:
        return False  # built by another process since the first read
    while True:
        cleared = await graph.write(_CLEAR_PAGE, {"batch": 10 * BUILD_BATCH, "token": token})
        if not cleared or not cleared[0]["deleted"]:
            break
    after = ""
    while True:
        page = await graph.read(_INCIDENT_PAGE, {"after": after, "batch": BUILD_BATCH})
        ids: list[str] = page[0]["ids"] if page else []
        if not ids:
            break

        def refresh_if_builder(
            results: list[list[Record]], ids: list[str] = ids
        ) -> list[Statement]:
            return [(REFRESH, {"ids": ids})] if results[0][0]["mine"] else []

        done = await graph.write_in_one_transaction(
            [(_STILL_BUILDER, {"token": token})], then=[refresh_if_builder]
        )
        if not done[0][0]["mine"]:
            return False
        after = ids[-1]
    marked = await graph.write(_MARK_BUILT, {"version": VERSION, "token": token})
    if not marked:
        return False
    # Writes made during the build may have left jobs; what is built is their base.
    await refresh_deferred(graph)
    return True


_PENDING_JOBS: LiteralString = (
    "MATCH (j:LinkedRefresh) WITH j ORDER BY j.made "
    "RETURN collect(j.id) AS jobs, reduce(all = [], s IN collect(j.starts) | all + s) AS starts"
)
_UPSTREAM_IDS: LiteralString = UPSTREAM + "RETURN collect(id) AS ids"
_START_DONE: LiteralString = (
    "MATCH (j:LinkedRefresh) WHERE j.id IN $jobs SET j.starts = [s IN j.starts WHERE s <> $start]"
)
_DONE_JOBS: LiteralString = "MATCH (j:LinkedRefresh) WHERE j.id IN $jobs DELETE j"
REFRESH_BATCH = 500  # incidents per transaction of a deferred refresh: short lock holds


async def refresh_deferred(graph: Graph) -> int:
    """Do the refreshes writes left as jobs (DEFER_ABOVE); the incidents refreshed.

    For each start of the jobs' claims in turn, the incidents upstream are read
    (one walk), then those not yet refreshed are refreshed REFRESH_BATCH per
    transaction, each under the change feed's lock, and the start is struck off
    the jobs, so a pass cut short resumes where it stopped. The jobs are deleted
    last, so readers walk until every batch is in. That is enough: an incident
    whose chain a later write changes is refreshed by that write (or its own
    job), and every refresh reads the graph as it is then. Running it twice at
    once (two API processes) only refreshes some incidents twice. The API server
    runs it on a connection without the requests' transaction time limit
    (api/closure_refresher.py): the walk upstream of a hub is not bounded by it.
    """
    refreshed: set[str] = set()
    while True:
        pending = await graph.read(_PENDING_JOBS)
        jobs: list[str] = pending[0]["jobs"] if pending else []
        if not jobs:
            return len(refreshed)
        done_now: set[str] = set()
        for start in sorted(set(pending[0]["starts"])):
            upstream = await graph.read(_UPSTREAM_IDS, {"starts": [start]})
            ids = [i for i in (upstream[0]["ids"] if upstream else []) if i not in done_now]
            for first in range(0, len(ids), REFRESH_BATCH):
                batch = ids[first : first + REFRESH_BATCH]
                await graph.write_in_one_transaction(
                    [(_TAKE_FEED_LOCK, {}), (REFRESH, {"ids": batch})]
                )
            done_now.update(ids)
            await graph.write(_START_DONE, {"jobs": jobs, "start": start})
        await graph.write(_DONE_JOBS, {"jobs": jobs})
        refreshed |= done_now


async def rebuild_closure(graph: Graph) -> None:
    """Build the closure again from the graph as it is.

    For stores written to with Cypher around threatgraph, whose writes neither
    the change feed nor the closure saw (`threatgraph closure rebuild`).
    """
    await graph.write(_UNMARK)
    await ensure_closure(graph)
