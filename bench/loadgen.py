"""The load generator, run as its own process: `python -m bench.loadgen < plan.json`.

It runs apart from the benchmark's main process and from the servers under
test, so that its own event loop (JSON encoding, HTTP parsing, latency
bookkeeping) never shares a Python interpreter, and its GIL, with the API
being measured. It is a closed loop: `concurrency` asyncio clients each send
a request, wait for the answer and send the next, cycling through the
question's argument sets. HTTP goes through aiohttp with keep-alive (cheaper per
request than httpx, so one client process keeps 64 connections busy); a
`bolt` target runs the Cypher through the official async driver, exactly as
graph.database.Graph.read_in_one_transaction does for one statement.

One plan holds every target of a size, and its cells alternate between them
(bench/run.py orders them): each question at each concurrency is measured on
every target within seconds, so the machine's drift falls on all of them alike
rather than on whichever target's block ran while other work was busy.

The plan (stdin, JSON):
  {"targets": {name: {"kind": "http", "url": ...}
                     | {"kind": "bolt", "neo4j": {"uri", "user", "password"}}},
   "request_timeout_s": t,
   "end_leftovers": {"uri", "user", "password"} | null,
   "cells": [{"target": name, "question": name, "concurrency": n, "seconds": s,
              "min_requests": m, "max_seconds": ms, "warmup": w, "warmup_seconds": ws,
              "first_of_question": bool, "requests": [payload, ...]}]}
where an http payload is {"query", "variables"} and a bolt payload is
{"cypher", "parameters"}. It prints one JSON object: {"cells": [{"target",
"question", "concurrency", "latencies_ms": [...], "errors": n, "first_error":
text | null, "wall_s": s, "leftover_transactions_ended": n}]}.

A request that takes longer than `request_timeout_s` fails (HTTP: the client gives
up; Bolt: the transaction carries that timeout, so the server ends it). Without a
limit, a question that takes seconds at 1M nodes kept a 64-client cell busy for
many minutes: each client's request waits behind 63 others on two cores. With
`end_leftovers`, the transactions still running after a cell (a request its
client gave up on; the peer's carry no time limit of their own) are terminated
before the next cell, so they are never billed to another target.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import neo4j

Send = Callable[[dict[str, Any]], Awaitable[None]]


class RequestFailed(Exception):
    pass


async def _run_cell(cell: dict[str, Any], send: Send) -> dict[str, Any]:
    payloads = cell["requests"]
    counter = itertools.count()
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None

    async def one() -> None:
        nonlocal errors, first_error
        payload = payloads[next(counter) % len(payloads)]
        started = time.perf_counter()
        try:
            await send(payload)
        except Exception as error:  # every failure is counted and the first one shown
            errors += 1
            first_error = first_error or f"{type(error).__name__}: {error}"[:500]
            return
        latencies.append((time.perf_counter() - started) * 1000)

    # Warm-up: every argument set once (plans, caches, connections) in a question's
    # first cell, then `warmup` more in every cell, or as many as fit in
    # `warmup_seconds`. Sending every set again before each concurrency level cost
    # minutes per cell at 1M nodes and warmed nothing new.
    if cell["first_of_question"]:
        for _ in payloads:
            await one()
    warm_until = time.perf_counter() + cell["warmup_seconds"]
    for _ in range(cell["warmup"]):
        if time.perf_counter() >= warm_until:
            break
        await one()
    latencies.clear()
    errors, first_error = 0, None
    began = time.perf_counter()
    deadline = began + cell["seconds"]
    # A slow question gives few answers in `seconds` (the hub's at 1M nodes, about two
    # a client), and a p50 of a handful moves with every one: the cell goes on until
    # `min_requests` were sent, within `max_seconds`.
    cap = began + max(cell["seconds"], cell["max_seconds"])
    sent = 0

    async def client() -> None:
        nonlocal sent
        while True:
            now = time.perf_counter()
            if now >= deadline and (sent >= cell["min_requests"] or now >= cap):
                return
            sent += 1
            await one()

    await asyncio.gather(*(client() for _ in range(cell["concurrency"])))
    return {
        "question": cell["question"],
        "concurrency": cell["concurrency"],
        "latencies_ms": latencies,
        "errors": errors,
        "first_error": first_error,
        "wall_s": time.perf_counter() - began,
    }


async def _end_leftovers(admin: neo4j.AsyncDriver) -> int:
    """Terminate every transaction still running but this one; return how many."""
    result = await admin.execute_query(
        "SHOW TRANSACTIONS YIELD transactionId, currentQuery "
        "WHERE NOT currentQuery STARTS WITH 'SHOW TRANSACTIONS' "
        "RETURN collect(transactionId) AS ids",
        database_="neo4j",
    )
    ids: list[str] = result.records[0]["ids"]
    if ids:
        await admin.execute_query("TERMINATE TRANSACTIONS $ids", ids=ids, database_="neo4j")
    return len(ids)


def _driver(config: dict[str, Any]) -> neo4j.AsyncDriver:
    return neo4j.AsyncGraphDatabase.driver(
        config["uri"],
        auth=(config["user"], config["password"]),
        max_connection_pool_size=256,
        notifications_min_severity="OFF",
    )


async def _run(plan: dict[str, Any]) -> list[dict[str, Any]]:
    timeout_s = plan["request_timeout_s"]
    async with contextlib.AsyncExitStack() as stack:
        senders: dict[str, Send] = {}
        for name, target in plan["targets"].items():
            if target["kind"] == "http":
                session = await stack.enter_async_context(
                    aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=256),
                        timeout=aiohttp.ClientTimeout(total=timeout_s),
                    )
                )
                senders[name] = _http_sender(session, target["url"])
            else:
                driver = await stack.enter_async_context(_driver(target["neo4j"]))
                senders[name] = _bolt_sender(driver, timeout_s)
        admin = None
        if plan.get("end_leftovers"):
            admin = await stack.enter_async_context(_driver(plan["end_leftovers"]))
        cells = []
        for cell in plan["cells"]:
            measured = await _run_cell(cell, senders[cell["target"]])
            measured["target"] = cell["target"]
            measured["leftover_transactions_ended"] = await _end_leftovers(admin) if admin else 0
            cells.append(measured)
        return cells


def _http_sender(session: aiohttp.ClientSession, url: str) -> Send:
    async def send(payload: dict[str, Any]) -> None:
        async with session.post(url, json=payload) as response:
            body = await response.json(content_type=None)
            if response.status != 200 or body.get("errors"):
                raise RequestFailed(f"HTTP {response.status}: {str(body)[:300]}")

    return send


def _bolt_sender(driver: neo4j.AsyncDriver, timeout_s: float) -> Send:
    async def send(payload: dict[str, Any]) -> None:
        result = await driver.execute_query(
            neo4j.Query(payload["cypher"], timeout=timeout_s),
            payload["parameters"],
            routing_=neo4j.RoutingControl.READ,
            database_="neo4j",
        )
        # Decoded as the API decodes its compiled reads (graph/database.py): a dict per
        # record. Record.data() would walk every nested value again and bill the
        # floor for Python work the API does not do.
        [dict(zip(result.keys, record, strict=True)) for record in result.records]

    return send


def main() -> None:
    plan = json.load(sys.stdin)
    cells = asyncio.run(_run(plan))
    json.dump({"cells": cells}, sys.stdout)


if __name__ == "__main__":
    main()
