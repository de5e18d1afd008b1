"""The API server's start-up task that has Neo4j plan the mutations first.

It rehearses the mutations once, rolled back (graph/warm_up.py), so that the
first `upsertRelation` after a start does not pay for Neo4j planning its
statements. It runs beside the requests, once, on their connection (so under
their transaction time limit); a failure is logged, and only makes the first
write slower.
"""

from __future__ import annotations

import json
import logging

from graph.errors import GraphError
from graph.store.database import Graph
from graph.warm_up import rehearse_writes

log = logging.getLogger("threatgraph.warm_up")


async def warm_write_plans(graph: Graph) -> None:
    """Rehearse the mutations once on `graph`, logging what it did."""
    try:
        done = await rehearse_writes(graph)
    except GraphError as error:
        log.warning(json.dumps({"event": "write_warm_up_failed", "reason": str(error)}))
    except Exception:
        # A bug: logged with its traceback, never raised into the server's shutdown.
        log.exception(json.dumps({"event": "write_warm_up_failed", "reason": "bug"}))
    else:
        log.info(
            json.dumps(
                {
                    "event": "write_plans_warmed",
                    "rehearsed": done.writes,
                    "skipped": done.skipped,
                    "ms": round(done.seconds * 1000),
                }
            )
        )
