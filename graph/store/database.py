"""The one object through which everything reaches Neo4j.

`Graph` wraps the official async driver with a small family of verbs (`read`,
`write`, `write_in_one_transaction`). It counts Cypher round-trips (the API
promises one per root field, and tests assert the counts) and translates the
driver's exceptions into this package's errors in one place (graph/store/translation.py).
An API's Graph admits a bounded number of transactions at once (graph/store/admission.py).

Reads run with READ access and writes with WRITE, so with a neo4j:// URI the
driver sends reads to followers/read replicas and writes to the leader.
Causal consistency across processes comes from `causal_chain`: inside it,
every transaction waits for the bookmarks given and adds its own, so a caller
that hands the resulting bookmarks to another process (the API sends them to
its client) makes that process's reads see its writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString

import neo4j
from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, Query, RoutingControl
from neo4j.api import AsyncBookmarkManager
from neo4j.exceptions import DriverError, Neo4jError

from graph.store.admission import TransactionGate
from graph.store.settings import Neo4jSettings
from graph.store.translation import over_transaction_memory, translated

Record = dict[str, Any]
Statement = tuple[LiteralString, Mapping[str, Any]]

# The driver's own default pool size, kept unless more transactions may be admitted.
DRIVER_POOL_SIZE = 100

# Lists longer than this are sent as `_LongList`s (see there).
LONG_LIST_ITEMS = 20


def _retry_delays(
    initial_s: float = 1.0, multiplier: float = 2.0, jitter: float = 0.2
) -> Iterator[float]:
    """The driver's own schedule between retries of a transaction (its defaults):
    1 s, 2 s, 4 s ..., each give or take 20%."""
    delay = initial_s
    while True:
        yield delay * (1 - jitter + 2 * jitter * random.random())
        delay *= multiplier


class _LongList(list[Any]):
    """A long parameter list as the driver sends it, with a repr that does not list it.

    The driver formats every RUN message for its DEBUG log whether or not anything
    logs at DEBUG: `" ".join(map(repr, (query, parameters, extra)))` is an argument
    of `log.debug` in neo4j 6.4.1 (neo4j/_async/io/_bolt/_bolt5.py), so Python
    evaluates it first. For a loader's UNWIND batch that repr costs as much as packing
    the rows (bench/README.md, Ingest, fifth round). A list subclass is packed
    exactly as a list; a DEBUG log shows its length instead of its rows.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"[<{len(self)} items>]"


def _sent(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters as given to the driver: a new dict, long lists as `_LongList`s."""
    return {
        name: _LongList(value) if type(value) is list and len(value) > LONG_LIST_ITEMS else value
        for name, value in (parameters or {}).items()
    }


@dataclass(frozen=True)
class Connection:
    """A resolved address and credentials (from NEO4J_* or the managed server)."""

    uri: str
    user: str
    password: str
    database: str


def resolve_connection(settings: Neo4jSettings, env: Mapping[str, str] | None = None) -> Connection:
    """NEO4J_URI and friends when set; otherwise the managed server's address and password."""
    if settings.uri is not None:
        return Connection(settings.uri, settings.user, settings.password or "", settings.database)
    # Imported here: only the managed-server route needs the server package.
    from graph.server.config import ManagedServerSettings
    from graph.server.process import ManagedServer

    server = ManagedServer(ManagedServerSettings.from_env(env), dict(env) if env else None)
    return Connection(server.settings.bolt_uri, server.user, server.password, settings.database)


@dataclass
class RoundTripLog:
    """Cypher statements sent to Neo4j while the log was active, each with its
    parameters (one to one), and how many write transactions committed."""

    statements: list[str] = field(default_factory=list)
    parameters: list[Mapping[str, Any]] = field(default_factory=list)
    writes_committed: int = 0

    @property
    def count(self) -> int:
        return len(self.statements)


_active_logs: contextvars.ContextVar[tuple[RoundTripLog, ...]] = contextvars.ContextVar(
    "threatgraph_round_trip_logs", default=()
)


@contextlib.contextmanager
def count_round_trips() -> Iterator[RoundTripLog]:
    """Record every round-trip made in this context (this task and its children)."""
    log = RoundTripLog()
    token = _active_logs.set((*_active_logs.get(), log))
    try:
        yield log
    finally:
        _active_logs.reset(token)


def _note_round_trip(query: str, parameters: Mapping[str, Any] | None) -> None:
    # The parameters as the caller gave them: debug output shows them beside the text.
    for log in _active_logs.get():
        log.statements.append(query)
        log.parameters.append(parameters or {})


def _note_write_committed() -> None:
    for log in _active_logs.get():
        log.writes_committed += 1


def statements_here() -> list[tuple[str, Mapping[str, Any]]]:
    """The statements sent so far in the innermost `count_round_trips` context (the
    API's: this request), each with its parameters; [] outside any."""
    logs = _active_logs.get()
    return list(zip(logs[-1].statements, logs[-1].parameters, strict=True)) if logs else []


def writes_committed_here() -> int:
    """Write transactions committed so far in the innermost `count_round_trips` context
    (the API's: this request); 0 outside any."""
    logs = _active_logs.get()
    return logs[-1].writes_committed if logs else 0


class CausalChain:
    """The bookmarks of one causal chain of transactions (see `causal_chain`)."""

    def __init__(self, bookmarks: Iterable[str]) -> None:
        self.manager = AsyncGraphDatabase.bookmark_manager(
            initial_bookmarks=neo4j.Bookmarks.from_raw_values(bookmarks)
        )

    async def bookmarks(self) -> list[str]:
        """The bookmarks that cover every transaction of the chain so far, sorted."""
        return sorted(await self.manager.get_bookmarks())


_active_chain: contextvars.ContextVar[CausalChain | None] = contextvars.ContextVar(
    "threatgraph_causal_chain", default=None
)


@contextlib.contextmanager
def causal_chain(bookmarks: Iterable[str] = ()) -> Iterator[CausalChain]:
    """Chain this context's transactions (this task and its children) after `bookmarks`.

    Outside any chain a Graph uses its driver's own bookmark manager, which
    chains everything one process does.
    """
    chain = CausalChain(bookmarks)
    token = _active_chain.set(chain)
    try:
        yield chain
    finally:
        _active_chain.reset(token)


class Graph:
    """A Neo4j database behind read/write verbs, with round-trip counting."""

    def __init__(
        self,
        driver: AsyncDriver,
        connection: Connection,
        timeout_ms: int,
        bulk: bool = False,
        gate: TransactionGate | None = None,
        retry_time_s: float = 30.0,
    ) -> None:
        self.driver = driver
        self.connection = connection
        # Bulk loads (CLI seed and imports) may take longer than a request may:
        # their transactions are bounded by the server's own limit only.
        self.timeout_s = None if bulk else timeout_ms / 1000
        # Admission control for requests (graph/store/admission.py); None: no limit of ours.
        self.gate = gate
        # How long a failing read is retried (the driver's max_transaction_retry_time).
        self.retry_time_s = retry_time_s
        self.round_trips = 0

    @classmethod
    def connect(
        cls,
        settings: Neo4jSettings | None = None,
        env: Mapping[str, str] | None = None,
        bulk: bool = False,
    ) -> Graph:
        """Open a driver (lazily: nothing is sent until the first query).

        `bulk` lifts the per-transaction time limit (command-line loads) and the
        limit on transactions in flight; API requests keep both."""
        settings = settings or Neo4jSettings.from_env(env)
        connection = resolve_connection(settings, env)
        gate = (
            TransactionGate(settings.max_transactions, settings.queue_timeout_ms / 1000)
            if settings.max_transactions and not bulk
            else None
        )
        retry_time_s = settings.connection_timeout_ms / 1000
        driver = AsyncGraphDatabase.driver(
            connection.uri,
            auth=(connection.user, connection.password),
            # The gate, not the pool, decides who waits: room for every admitted one.
            max_connection_pool_size=max(DRIVER_POOL_SIZE, settings.max_transactions),
            connection_timeout=settings.connection_timeout_ms / 1000,
            connection_acquisition_timeout=settings.connection_timeout_ms / 1000,
            max_transaction_retry_time=retry_time_s,
            notifications_min_severity="OFF",
        )
        return cls(driver, connection, settings.transaction_timeout_ms, bulk, gate, retry_time_s)

    async def close(self) -> None:
        await self.driver.close()

    async def __aenter__(self) -> Graph:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _count(self, query: str, parameters: Mapping[str, Any] | None) -> None:
        self.round_trips += 1
        _note_round_trip(query, parameters)

    async def ping(self) -> None:
        """Raise Neo4jUnavailable / Neo4jAuthError unless Neo4j answers now."""
        with self._translated():
            await self.driver.verify_connectivity()

    async def read(
        self, query: LiteralString, parameters: Mapping[str, Any] | None = None
    ) -> list[Record]:
        """Run one read-only statement (routed to readers; a write in it fails)."""
        return await self._execute(query, parameters, RoutingControl.READ)

    async def write(
        self, query: LiteralString, parameters: Mapping[str, Any] | None = None
    ) -> list[Record]:
        """Run one statement in its own write transaction."""
        return await self._execute(query, parameters, RoutingControl.WRITE)

    async def _execute(
        self, query: LiteralString, parameters: Mapping[str, Any] | None, routing: RoutingControl
    ) -> list[Record]:
        result = await self._execute_query(query, parameters, routing)
        return [record.data() for record in result.records]

    async def _execute_query(
        self, query: LiteralString, parameters: Mapping[str, Any] | None, routing: RoutingControl
    ) -> neo4j.EagerResult:
        """One statement in one transaction, transient failures retried.

        A write goes through the driver's execute_query: a managed transaction whose
        BEGIN travels with RUN and PULL, then COMMIT. A read is an auto-commit
        transaction (`_auto_commit_read`), one round trip with no COMMIT after it."""
        async with self._turn():
            self._count(query, parameters)
            with self._translated():
                if routing is RoutingControl.READ:
                    result = await self._auto_commit_read(query, parameters)
                else:
                    result = await self.driver.execute_query(
                        Query(query, timeout=self.timeout_s),
                        parameters_=_sent(parameters),
                        routing_=routing,
                        database_=self.connection.database,
                        bookmark_manager_=self._bookmark_manager(),
                    )
        if routing is RoutingControl.WRITE:
            _note_write_committed()
        return result

    async def _auto_commit_read(
        self, query: LiteralString, parameters: Mapping[str, Any] | None
    ) -> neo4j.EagerResult:
        """One read statement as an auto-commit transaction: RUN and PULL in one round
        trip and nothing after them, where a managed transaction waits for COMMIT's
        answer too, a round trip that is a large share of a short read's time
        (bench/README.md, profiling notes). The driver never retries an auto-commit
        transaction, since a write in one may already have happened; a read may run
        again, so this retries what execute_query would (`is_retryable`), on the same
        schedule and for as long (max_transaction_retry_time)."""
        sent = _sent(parameters)
        delays = _retry_delays()
        first_failure: float | None = None
        while True:
            try:
                async with self.driver.session(
                    database=self.connection.database,
                    default_access_mode=neo4j.READ_ACCESS,
                    bookmark_manager=self._bookmark_manager(),
                ) as session:
                    cursor = await session.run(Query(query, timeout=self.timeout_s), sent)
                    return await cursor.to_eager_result()
            except (DriverError, Neo4jError) as error:
                if not error.is_retryable() or (
                    isinstance(error, Neo4jError) and over_transaction_memory(error)
                ):
                    raise
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                if now - first_failure > self.retry_time_s:
                    raise
                await asyncio.sleep(next(delays))

    async def read_in_one_transaction(self, statements: Sequence[Statement]) -> list[list[Record]]:
        """Run several read statements in one read transaction: BEGIN, one round-trip
        per statement, COMMIT (a single statement is one auto-commit round trip).

        For statements that return plain values (maps, lists, scalars), not nodes.
        """
        if not statements:
            return []
        if len(statements) == 1:
            # A session's execute_read would wait for BEGIN's answer before sending
            # the statement, and for COMMIT's after it: two more round trips.
            query, parameters = statements[0]
            result = await self._execute_query(query, parameters, RoutingControl.READ)
            return [[dict(zip(result.keys, record, strict=True)) for record in result.records]]

        @neo4j.unit_of_work(timeout=self.timeout_s)
        async def work(tx: AsyncManagedTransaction) -> list[list[Record]]:
            results: list[list[Record]] = []
            for query, parameters in statements:
                self._count(query, parameters)
                cursor = await tx.run(query, _sent(parameters))
                keys = cursor.keys()
                # Records are tuples; Record.data() would walk every nested value again
                # (it converts nodes and paths, which compiled reads never return).
                results.append([dict(zip(keys, record, strict=True)) async for record in cursor])
            return results

        async with self._turn():
            with self._translated():
                async with self._session() as session:
                    return await session.execute_read(work)

    async def write_in_one_transaction(
        self,
        statements: Sequence[Statement],
        then: Sequence[Callable[[list[list[Record]]], Sequence[Statement]]] = (),
    ) -> list[list[Record]]:
        """Run several statements in one write transaction: all of them or none.

        One round-trip per statement (each is an UNWIND batch, never a row);
        the driver retries the whole transaction on transient failures.
        Each function in `then`, in order, is given every result so far and returns
        more statements for the same transaction, whose results are appended (the
        loader decides its prune this way, and the change feed records what the
        statements changed).
        """

        # The same per-transaction time limit as single statements: a write that
        # waits on a lock must fail with QueryTimeout, not hold its request open.
        @neo4j.unit_of_work(timeout=self.timeout_s)
        async def work(tx: AsyncManagedTransaction) -> list[list[Record]]:
            results: list[list[Record]] = []

            async def run_all(batch: Sequence[Statement]) -> None:
                for query, parameters in batch:
                    self._count(query, parameters)
                    cursor = await tx.run(query, _sent(parameters))
                    results.append([record.data() async for record in cursor])

            await run_all(statements)
            for stage in then:
                await run_all(stage(list(results)))
            return results

        async with self._turn():
            with self._translated():
                async with self._session() as session:
                    results = await session.execute_write(work)
        _note_write_committed()
        return results

    def _translated(self) -> contextlib.AbstractContextManager[None]:
        return translated(self.connection.uri, gated=self.gate is not None)

    def _turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A turn at Neo4j for one transaction (always granted without a gate)."""
        return self.gate.admitted() if self.gate is not None else contextlib.nullcontext()

    def _bookmark_manager(self) -> AsyncBookmarkManager:
        chain = _active_chain.get()
        return chain.manager if chain is not None else self.driver.execute_query_bookmark_manager

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[neo4j.AsyncSession]:
        session = self.driver.session(
            database=self.connection.database,
            bookmark_manager=self._bookmark_manager(),
        )
        try:
            yield session
        finally:
            await session.close()
