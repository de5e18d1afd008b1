"""Admission control: at most N Neo4j transactions in flight from one process.

Why: Neo4j shares its cores among the transactions it runs, so past a few per core
each one only gets slower. Under a burst of expensive reads (the incidents of a hub
agency on a million-node graph, asked by many clients at once) without a gate every
one of them runs into the transaction time limit and nobody gets an answer; with
the gate some are answered (docs/operations.md, "Under overload"). The
surplus waits instead, so the transactions that run finish at their own speed; one
that cannot start within the queue timeout fails at once with `ServerBusy` (the API's
503 with Retry-After), before it has cost Neo4j anything, rather than after using its
share of the server.

The gate counts transactions, not requests: a request whose root fields run as
several transactions takes a turn for each, and never holds one turn while waiting
for another, so requests cannot deadlock on the gate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from graph.errors import ServerBusy


class TransactionGate:
    """At most `limit` transactions at once; the rest wait in arrival order, each for at
    most `queue_timeout_s` seconds, then fail with ServerBusy."""

    def __init__(self, limit: int, queue_timeout_s: float) -> None:
        if limit < 1:
            raise ValueError(f"a transaction gate needs a limit of at least 1, not {limit}")
        self.limit = limit
        self.queue_timeout_s = queue_timeout_s
        self._turns = asyncio.Semaphore(limit)
        self.running = 0
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold one turn for the body (a transaction); raise ServerBusy if none comes."""
        if self._turns.locked():
            self.waiting += 1
            try:
                async with asyncio.timeout(self.queue_timeout_s):
                    await self._turns.acquire()
            except TimeoutError:
                raise ServerBusy(
                    f"the server is busy: every turn at Neo4j ({self.limit} at once) stayed "
                    f"taken for {self.queue_timeout_s:g} s, so this part of the request did "
                    "not run; retry shortly"
                ) from None
            finally:
                self.waiting -= 1
        else:
            # A free turn: acquire() returns without yielding to the event loop.
            await self._turns.acquire()
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._turns.release()
