"""One poll of the change feed per process, shared by every follower.

A follower (a `changed` subscription) first reads what it missed itself, as
`follow_changes` does, then takes each page the process's one poller reads:
however many subscribers a process serves, it sends Neo4j one indexed read per
interval while nothing is new. The poller runs while anyone follows, and stops
with the last follower.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from typing import Final

from graph.errors import GraphError, ServerBusy
from graph.store.database import Graph
from graph.writes.changes import MAX_BUSY_WAIT_S, Change, ChangePage, changes_after

# How often the poller looks for new changes (THREATGRAPH_CHANGE_POLL_MS).
DEFAULT_CHANGE_POLL_MS: Final = 500
PAGE_SIZE: Final = 500
# Pages kept for a follower that has not taken them yet; past this, it drops them and
# reads on its own from where it is, so a slow consumer holds no more than this.
MAX_PENDING_PAGES: Final = 64


class _Follower:
    """The pages the poller has read and one follower has not taken yet."""

    def __init__(self) -> None:
        self.pages: deque[list[Change]] = deque()
        self.lagged = False
        self.failed: GraphError | None = None
        self.arrived = asyncio.Event()

    def offer(self, page: list[Change]) -> None:
        if len(self.pages) >= MAX_PENDING_PAGES:
            self.pages.clear()
            self.lagged = True
        else:
            self.pages.append(page)
        self.arrived.set()

    def fail(self, error: GraphError) -> None:
        self.failed = error
        self.arrived.set()


class ChangePoller:
    """The process's poll of the change feed, fanned out to its followers."""

    def __init__(self, poll_interval_s: float = DEFAULT_CHANGE_POLL_MS / 1000) -> None:
        self.poll_interval_s = poll_interval_s
        self.followers: set[_Follower] = set()
        self.cursor = 0  # the newest change the poller has read
        self.task: asyncio.Task[None] | None = None
        self.started = 0  # poll tasks started so far (one at a time)

    async def follow(self, graph: Graph, after: int) -> AsyncGenerator[Change, None]:
        """Every change after `after`, then each new one as it is committed, forever."""
        follower = _Follower()
        # Registered before catching up: every page read from now on reaches it, so the
        # changes it reads itself and those it is handed overlap rather than leave a gap.
        self.followers.add(follower)
        try:
            cursor = after
            async for change in _read_through(graph, cursor, None):
                yield change
                cursor = change.seq
            self._start(graph, cursor)
            # The poller hands over what it reads after where it stands now; anything
            # between this follower's cursor and there, the follower reads itself.
            through = self.cursor
            gap_read = 0  # the page whose gap was last read: read once, not in a loop
            while True:
                if follower.lagged:
                    follower.lagged = False
                    through = max(through, self.cursor)
                if through > cursor:
                    async for change in _read_through(graph, cursor, through):
                        yield change
                        cursor = change.seq
                    through = cursor
                if not follower.pages:
                    follower.arrived.clear()
                    if follower.failed is not None:
                        raise follower.failed
                    await follower.arrived.wait()
                    continue
                first = follower.pages[0][0].seq
                if first > cursor + 1 and gap_read != first:
                    gap_read, through = first, first - 1  # a gap before the page: read it
                    continue
                for change in follower.pages.popleft():
                    if change.seq > cursor:
                        yield change
                        cursor = change.seq
        finally:
            self.followers.discard(follower)
            if not self.followers and self.task is not None:
                self.task.cancel()
                self.task = None

    def _start(self, graph: Graph, cursor: int) -> None:
        if self.task is not None and not self.task.done():
            return
        self.cursor = cursor
        self.started += 1
        self.task = asyncio.create_task(self._poll(graph))

    async def _poll(self, graph: Graph) -> None:
        busy_wait_s = self.poll_interval_s
        while True:
            try:
                page = await changes_after(graph, self.cursor, PAGE_SIZE)
            except ServerBusy:
                # Every turn at Neo4j is taken (graph/store/admission.py): nothing was read,
                # so the cursor stands, and the poller waits longer each time.
                await asyncio.sleep(busy_wait_s)
                busy_wait_s = min(busy_wait_s * 2, MAX_BUSY_WAIT_S)
                continue
            except GraphError as error:
                # Neo4j away, or the feed pruned past the cursor: each follower ends with
                # the error, as its own poll would have; the next follower starts afresh.
                for follower in list(self.followers):
                    follower.fail(error)
                return
            busy_wait_s = self.poll_interval_s
            if page.changes:
                self.cursor = page.changes[-1].seq
                for follower in list(self.followers):
                    follower.offer(page.changes)
            if not page.has_next:
                await asyncio.sleep(self.poll_interval_s)


async def _read_through(
    graph: Graph, after: int, through: int | None
) -> AsyncGenerator[Change, None]:
    """The changes after `after`, read by the caller itself: up to `through`, or (None)
    until none is left. A read that finds every turn taken is tried again later."""
    cursor = after
    busy_wait_s = DEFAULT_CHANGE_POLL_MS / 1000
    while through is None or cursor < through:
        try:
            page: ChangePage = await changes_after(graph, cursor, PAGE_SIZE)
        except ServerBusy:
            await asyncio.sleep(busy_wait_s)
            busy_wait_s = min(busy_wait_s * 2, MAX_BUSY_WAIT_S)
            continue
        for change in page.changes:
            yield change
            cursor = change.seq
        if not page.has_next:
            return
