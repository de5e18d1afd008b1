"""The API server's background task: it keeps the "linked to" closure usable.

A write whose claim has more than graph/linking/upkeep.py DEFER_ABOVE incidents
upstream leaves their refresh as a job, so that an analyst's upsertRelation out
of a big agency commits in milliseconds instead of running past the
transaction limit. Until the job is done, incidents(linkedTo:) walks the links
(the same answers, slower on hubs). This task looks for jobs every second and
does them, so that a hub's refresh (seconds, bench/README.md) never holds up the
write that caused it. It also builds the closure if the store lacks it (a start-up
that finds Neo4j away skips that).
"""

from __future__ import annotations

import asyncio
import json
import logging

from graph.errors import GraphError
from graph.linking.upkeep import ensure_closure, refresh_deferred
from graph.setup import ensure_schema
from graph.store.database import Graph

# How often it looks for jobs (THREATGRAPH_CLOSURE_REFRESH_MS; 0: the task does not run).
DEFAULT_REFRESH_MS = 1000
REFRESH_EVERY_S = DEFAULT_REFRESH_MS / 1000
MOST_BACKOFF_S = 60.0

log = logging.getLogger("threatgraph.closure")


async def refresh_deferred_forever(
    graph: Graph, every_s: float = REFRESH_EVERY_S, schema_ready: bool = True
) -> None:
    """Build the closure if missing and do deferred refreshes, every `every_s`, until
    cancelled. With `schema_ready` false (start-up found Neo4j away) it first sets the
    store up (graph/setup.py): writes do not. `graph` should be a bulk connection:
    the walk upstream of a hub is not bounded by the API's per-transaction time limit.

    After a failure it waits twice as long each time, up to MOST_BACKOFF_S, and
    logs once per outage rather than once per try.
    """
    failures = 0
    while True:
        try:
            if not schema_ready:
                await ensure_schema(graph)
                schema_ready = True
            await ensure_closure(graph)
            refreshed = await refresh_deferred(graph)
        except GraphError as error:
            if not failures:
                log.warning(json.dumps({"event": "closure_refresh_failed", "reason": str(error)}))
            failures += 1
        except Exception:
            # Anything else is a bug, but a dead task would leave readers walking until
            # a restart: log it with its traceback and try again later.
            if not failures:
                log.exception(json.dumps({"event": "closure_refresh_failed", "reason": "bug"}))
            failures += 1
        else:
            if refreshed:
                log.info(json.dumps({"event": "closure_refreshed", "incidents": refreshed}))
            failures = 0
        await asyncio.sleep(min(every_s * 2**failures, MOST_BACKOFF_S))
