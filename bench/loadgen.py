"""The load generator, run as its own process: `python -m bench.loadgen < plan.json`.

It runs apart from the benchmark's main process and from the servers under
test, so that its own event loop (JSON encoding, HTTP parsing, latency
bookkeeping) never shares a Python interpreter, and its GIL, with the API
being measured. It is a closed loop: `concurrency` asyncio clients each send
a request, wait for the answer and send the next, cycling through the
question's argument sets. HTTP goes through aiohttp with keep-alive (cheaper per
request than httpx, so one client process keeps 64 connections busy); the
`bolt` target runs the Cypher through the official async driver, exactly as
graph.database.Graph.read does.

The plan (stdin, JSON):
  {"target": "http" | "bolt", "url": ..., "neo4j": {"uri", "user", "password"},
   "request_timeout_s": t,
   "cells": [{"question": name, "concurrency": n, "seconds": s, "warmup": w,
              "warmup_seconds": ws, "first_of_question": bool,
              "requests": [payload, ...]}]}
where an http payload is {"query", "variables"} and a bolt payload is
{"cypher", "parameters"}. It prints one JSON object: {"cells": [{"question",
"concurrency", "latencies_ms": [...], "errors": n, "first_error": text | null,
"wall_s": s}]}.

A request that takes longer than `request_timeout_s` fails (HTTP: the client gives
up; Bolt: the transaction carries that timeout, so the server ends it). Without a
limit, a question that takes seconds at 1M nodes kept a 64-client cell busy for
many minutes: each client's request waits behind 63 others on two cores.
"""

from __future__ import annotations

import asyncio
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
    deadline = time.perf_counter() + cell["seconds"]

    async def client() -> None:
        while time.perf_counter() < deadline:
            await one()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(cell["concurrency"])))
    return {
        "question": cell["question"],
        "concurrency": cell["concurrency"],
        "latencies_ms": latencies,
        "errors": errors,
        "first_error": first_error,
        "wall_s": time.perf_counter() - began,
    }


async def _run_http(plan: dict[str, Any]) -> list[dict[str, Any]]:
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=plan["request_timeout_s"])
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(payload: dict[str, Any]) -> None:
            async with session.post(plan["url"], json=payload) as response:
                body = await response.json(content_type=None)
                if response.status != 200 or body.get("errors"):
                    raise RequestFailed(f"HTTP {response.status}: {str(body)[:300]}")

        return [await _run_cell(cell, send) for cell in plan["cells"]]


async def _run_bolt(plan: dict[str, Any]) -> list[dict[str, Any]]:
    config = plan["neo4j"]
    async with neo4j.AsyncGraphDatabase.driver(
        config["uri"],
        auth=(config["user"], config["password"]),
        max_connection_pool_size=256,
        notifications_min_severity="OFF",
    ) as driver:

        async def send(payload: dict[str, Any]) -> None:
            result = await driver.execute_query(
                neo4j.Query(payload["cypher"], timeout=plan["request_timeout_s"]),
                payload["parameters"],
                routing_=neo4j.RoutingControl.READ,
                database_="neo4j",
            )
            # Decoded as the API decodes its compiled reads (graph/database.py): a dict per
            # record. Record.data() would walk every nested value again and bill the
            # floor for Python work the API does not do.
            [dict(zip(result.keys, record, strict=True)) for record in result.records]

        return [await _run_cell(cell, send) for cell in plan["cells"]]


def main() -> None:
    plan = json.load(sys.stdin)
    runner = _run_http if plan["target"] == "http" else _run_bolt
    cells = asyncio.run(runner(plan))
    json.dump({"cells": cells}, sys.stdout)


if __name__ == "__main__":
    main()
