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
rather than on whichever target's block ran while other work was busy. A group
of one-client cells (one question, each of our targets; the peer's cell is a group
of its own) runs as one client taking the targets in turn request by request: the
1-client p50s behind api/direct and the scaling ratio then compare answers
interleaved in time.

The plan (stdin, JSON):
  {"targets": {name: {"kind": "http", "url": ...}
                     | {"kind": "bolt", "neo4j": {"uri", "user", "password"}}},
   "request_timeout_s": t,
   "end_leftovers": {"uri", "user", "password"} | null,
   "cells": [{"group": g, "target": name, "question": name, "concurrency": n, "seconds": s,
              "min_requests": m, "max_seconds": ms, "warmup": w, "warmup_seconds": ws,
              "first_of_question": bool, "requests": [payload, ...],
              "answer_path": [key or index, ...] | null, "timeout_s": t}]}
where an http payload is {"query", "variables"} and a bolt payload is
{"cypher", "parameters"}. It prints one JSON object: {"cells": [{"target",
"question", "concurrency", "latencies_ms": [...], "errors": n, "first_error":
text | null, "wall_s": s, "timeout_s": t, "leftover_transactions_ended": n}]}; a one-client
group's wall_s is the time its target spent answering.

Every answer must hold what its question asks for at the cell's `answer_path`
(bench/answers.py): a `null` entity or an empty page counts as a failed request,
as an HTTP error does.

A 503 with Retry-After (our API's SERVER_BUSY: every turn at Neo4j taken, see
graph/store/admission.py) is counted as an error, and its client waits that long before it
sends again, as a client that honours the header does.

A request that takes longer than `request_timeout_s` fails (HTTP: the client gives
up; Bolt: the transaction carries that timeout, so the server ends it). Without a
limit, a question that takes seconds at 1M nodes kept a 64-client cell busy for
many minutes: each client's request waits behind 63 others on two cores. With
`end_leftovers`, the transactions still running after a cell (a request its
client gave up on; the peer's carry no time limit of their own) are terminated
before the next cell, and in a one-client group right after the failed request,
so they are not billed to another target.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import neo4j

from bench.answers import holds_an_answer

if TYPE_CHECKING:
    import aiohttp  # the bench extra (make bench-install); imported where HTTP is sent

Send = Callable[[dict[str, Any]], Awaitable[Any]]  # sends one payload; its answer
EndLeftovers = Callable[[], Awaitable[int]]  # ends the transactions left running; how many


class RequestFailed(Exception):
    pass


class NoAnswer(RequestFailed):
    """An answer without what the question asks for (a null entity, an empty page):
    counted as a failure, never as a fast success."""


class TargetBusy(RequestFailed):
    """A 503 with Retry-After (our API's SERVER_BUSY): the client waits that long, as a
    well-behaved client does, rather than asking again at once."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _Cell:
    """One target's measurement of one question at one concurrency."""

    def __init__(self, cell: dict[str, Any], send: Send) -> None:
        self.cell = cell
        self.send = send
        self.counter = itertools.count()
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None
        self.sent = 0
        self.busy_s = 0.0  # time spent waiting for this target's answers
        self.leftovers_ended = 0
        # The last request was refused as busy: it left nothing running in Neo4j.
        self.refused = False

    async def one(self) -> bool:
        """Send the next request; False when it failed (counted, never timed)."""
        payloads = self.cell["requests"]
        payload = payloads[next(self.counter) % len(payloads)]
        self.sent += 1
        self.refused = False
        started = time.perf_counter()
        try:
            answer = await self.send(payload)
            path = self.cell.get("answer_path")
            if path is not None and not holds_an_answer(answer, path):
                raise NoAnswer(f"nothing at {path}: {str(answer)[:300]}")
        except TargetBusy as busy:
            self._failed(busy, started)
            self.refused = True
            # After the bookkeeping: the wait is neither a latency nor the target's time.
            await asyncio.sleep(busy.retry_after_s)
            return False
        except Exception as error:  # every failure is counted and the first one shown
            self._failed(error, started)
            return False
        elapsed = time.perf_counter() - started
        self.busy_s += elapsed
        self.latencies.append(elapsed * 1000)
        return True

    def _failed(self, error: Exception, started: float) -> None:
        self.busy_s += time.perf_counter() - started
        self.errors += 1
        self.first_error = self.first_error or f"{type(error).__name__}: {error}"[:500]

    async def warm_up(self) -> None:
        """Every argument set once (plans, caches, connections) in a question's first
        cell, then `warmup` more in every cell, or as many as fit in `warmup_seconds`.
        Sending every set again before each concurrency level cost minutes per cell at
        1M nodes and warmed nothing new. Nothing of it is kept."""
        if self.cell["first_of_question"]:
            for _ in self.cell["requests"]:
                await self.one()
        warm_until = time.perf_counter() + self.cell["warmup_seconds"]
        for _ in range(self.cell["warmup"]):
            if time.perf_counter() >= warm_until:
                break
            await self.one()
        self.latencies.clear()
        self.errors, self.first_error, self.sent, self.busy_s = 0, None, 0, 0.0

    def result(self, wall_s: float) -> dict[str, Any]:
        return {
            "target": self.cell["target"],
            "question": self.cell["question"],
            "concurrency": self.cell["concurrency"],
            "latencies_ms": self.latencies,
            "errors": self.errors,
            "first_error": self.first_error,
            "wall_s": wall_s,
            "timeout_s": self.cell.get("timeout_s"),
            "leftover_transactions_ended": self.leftovers_ended,
        }


def _until(cell: dict[str, Any], share: int = 1) -> Callable[[int], bool]:
    """From now, whether a cell that has sent `sent` requests is done: after `seconds`
    once it has sent `min_requests`, and after `max_seconds` in any case.

    A slow question gives few answers in `seconds` (the hub's at 1M nodes, about two a
    client), and a p50 of a handful moves with every one. `share`: targets taking
    turns in the cell, each given the cell's times.
    """
    began = time.perf_counter()
    deadline = began + cell["seconds"] * share
    cap = max(deadline, began + cell["max_seconds"] * share)

    def done(sent: int) -> bool:
        now = time.perf_counter()
        minimum: int = cell["min_requests"]
        return now >= deadline and (sent >= minimum or now >= cap)

    return done


async def _run_cell(cell: dict[str, Any], send: Send) -> dict[str, Any]:
    """`concurrency` closed-loop clients on one target."""
    measured = _Cell(cell, send)
    await measured.warm_up()
    began = time.perf_counter()
    done = _until(cell)

    async def client() -> None:
        while not done(measured.sent):
            await measured.one()

    await asyncio.gather(*(client() for _ in range(cell["concurrency"])))
    return measured.result(time.perf_counter() - began)


async def _run_paired(
    cells: list[dict[str, Any]], senders: dict[str, Send], end_leftovers: EndLeftovers | None = None
) -> list[dict[str, Any]]:
    """One client taking the targets in turn, request by request (one-client cells).

    Each target's answers are then interleaved in time with the others', so a
    slow spell of the machine falls on all of them; the order turns every round.
    The time is shared: `seconds` (and `max_seconds`) per target. A target's
    wall time is the time spent waiting for its own answers. After a failed request
    (its client gave up: the peer's query may still be running) the transactions
    left running are ended at once and counted against that target.
    """
    measured = [_Cell(cell, senders[cell["target"]]) for cell in cells]
    for one_target in measured:
        await one_target.warm_up()
    done = _until(cells[0], share=len(cells))
    turn = 0
    while not done(min(one_target.sent for one_target in measured)):
        start = turn % len(measured)
        for one_target in measured[start:] + measured[:start]:
            failed = not await one_target.one()
            if failed and not one_target.refused and end_leftovers is not None:
                one_target.leftovers_ended += await end_leftovers()
        turn += 1
    return [one_target.result(one_target.busy_s) for one_target in measured]


async def _end_leftovers(admin: neo4j.AsyncDriver) -> int:
    """Terminate every transaction still running but this one; return how many.

    A failure here (Neo4j out of memory under a 64-client cell at 1M nodes) is
    retried once, then counted as nothing ended: it must not lose the measurements."""
    for attempt in (1, 2):
        try:
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
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as error:
            print(f"ending leftover transactions, attempt {attempt}: {error}", file=sys.stderr)
            await asyncio.sleep(1.0)
    return 0


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
                import aiohttp

                session = await stack.enter_async_context(
                    aiohttp.ClientSession(
                        # Idle connections are dropped after 1 s, before the servers
                        # drop them (uvicorn's and Node's keep-alive: 5 s): a target
                        # idle while the others are measured would otherwise fail its
                        # first request on a connection its server had closed.
                        connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=1.0),
                        timeout=aiohttp.ClientTimeout(total=timeout_s),
                    )
                )
                senders[name] = _http_sender(session, target["url"])
            else:
                driver = await stack.enter_async_context(_driver(target["neo4j"]))
                senders[name] = _bolt_sender(driver, timeout_s)
        end_leftovers = None
        if plan.get("end_leftovers"):
            admin = await stack.enter_async_context(_driver(plan["end_leftovers"]))

            async def end_leftovers() -> int:
                return await _end_leftovers(admin)

        return await _measure(plan["cells"], senders, end_leftovers)


async def _measure(
    cells: list[dict[str, Any]], senders: dict[str, Send], end_leftovers: EndLeftovers | None
) -> list[dict[str, Any]]:
    """The plan's cells in order, a group of one-client cells as one paired run."""
    results: list[dict[str, Any]] = []
    for _, grouped in itertools.groupby(cells, key=lambda cell: cell["group"]):
        group = list(grouped)
        if group[0]["concurrency"] == 1 and len(group) > 1:
            results.extend(await _run_paired(group, senders, end_leftovers))
            continue
        for cell in group:
            result = await _run_cell(cell, senders[cell["target"]])
            result["leftover_transactions_ended"] = await end_leftovers() if end_leftovers else 0
            results.append(result)
    return results


def _http_sender(session: aiohttp.ClientSession, url: str) -> Send:
    async def send(payload: dict[str, Any]) -> Any:
        async with session.post(url, json=payload) as response:
            body = await response.json(content_type=None)
            retry_after = response.headers.get("retry-after")
            if response.status == 503 and retry_after and retry_after.isdigit():
                raise TargetBusy(f"HTTP 503: {str(body)[:300]}", float(retry_after))
            if response.status != 200 or body.get("errors"):
                raise RequestFailed(f"HTTP {response.status}: {str(body)[:300]}")
            return body

    return send


def _bolt_sender(driver: neo4j.AsyncDriver, timeout_s: float) -> Send:
    async def send(payload: dict[str, Any]) -> list[dict[str, Any]]:
        # Sent as the API sends a read (graph/store/database.py, Graph._auto_commit_read): an
        # auto-commit transaction in a session sharing the driver's bookmark manager.
        async with driver.session(
            database="neo4j",
            default_access_mode=neo4j.READ_ACCESS,
            bookmark_manager=driver.execute_query_bookmark_manager,
        ) as session:
            cursor = await session.run(
                neo4j.Query(payload["cypher"], timeout=timeout_s), payload["parameters"]
            )
            result = await cursor.to_eager_result()
        # Decoded as the API decodes its compiled reads: a dict per record.
        # Record.data() would walk every nested value again and bill the floor for
        # Python work the API does not do.
        return [dict(zip(result.keys, record, strict=True)) for record in result.records]

    return send


def main() -> None:
    plan = json.load(sys.stdin)
    cells = asyncio.run(_run(plan))
    json.dump({"cells": cells}, sys.stdout)


if __name__ == "__main__":
    main()
