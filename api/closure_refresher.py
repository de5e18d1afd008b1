"""The API server's background task: the closure refreshes writes deferred.

A write whose claim has more than graph/linked_closure.py DEFER_ABOVE incidents
upstream leaves their refresh as a job, so that an analyst's upsertRelation out
of a big agency commits in milliseconds instead of running past the
transaction limit. Until the job is done, incidents(linkedTo:) walks the links
(same answers, slower on hubs); this task does it within about a second.
"""

from __future__ import annotations

import asyncio
import json
import logging

from graph.database import Graph
from graph.errors import GraphError
from graph.linked_closure import refresh_deferred

REFRESH_EVERY_S = 1.0

log = logging.getLogger("threatgraph.closure")


async def refresh_deferred_forever(graph: Graph, every_s: float = REFRESH_EVERY_S) -> None:
    """Look for deferred refreshes every `every_s` and do them, until cancelled.

    Neo4j being away is logged once per outage, not once per look.
    """
    failing = False
    while True:
        try:
            refreshed = await refresh_deferred(graph)
        except GraphError as error:
            if not failing:
                log.warning(json.dumps({"event": "closure_refresh_failed", "reason": str(error)}))
            failing = True
        except Exception:
            # Anything else is a bug, but a dead task would leave readers walking until
            # a restart: log it with its traceback and look again.
            if not failing:
                log.exception(json.dumps({"event": "closure_refresh_failed", "reason": "bug"}))
            failing = True
        else:
            if refreshed:
                log.info(json.dumps({"event": "closure_refreshed", "incidents": refreshed}))
            failing = False
        await asyncio.sleep(every_s)
