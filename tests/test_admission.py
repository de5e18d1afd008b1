"""Admission control: a bounded number of Neo4j transactions at once, the rest queued,
and a clear 503 SERVER_BUSY with Retry-After when no turn comes in time."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator

import neo4j
import pytest
from starlette.testclient import TestClient

from api.app import unavailable_status
from graph.errors import ConfigurationError, Neo4jUnavailable, ServerBusy
from graph.store.admission import TransactionGate
from graph.store.database import (
    DRIVER_POOL_SIZE,
    Connection,
    Graph,
    count_round_trips,
    resolve_connection,
    writes_committed_here,
)
from graph.store.settings import DEFAULT_MAX_TRANSACTIONS, DEFAULT_QUEUE_TIMEOUT_MS, Neo4jSettings
from tests.api_client import WRITER_TOKEN, gql, make_client
from tests.conftest import cypher

BUSY_MESSAGE = (
    "the server is busy: every turn at Neo4j (1 at once) stayed taken for 0.3 s, "
    "so this part of the request did not run; retry shortly"
)


def test_turns_are_limited_and_waiters_go_in_arrival_order() -> None:
    async def scenario() -> list[str]:
        gate = TransactionGate(limit=2, queue_timeout_s=5)
        order: list[str] = []
        release = asyncio.Event()

        async def transaction(name: str) -> None:
            async with gate.admitted():
                order.append(name)
                await release.wait()

        async def after(delay_s: float, name: str) -> None:
            await asyncio.sleep(delay_s)
            await transaction(name)

        # c is created before d but arrives after it: arrival, not creation, decides.
        tasks = [
            asyncio.create_task(transaction("a")),
            asyncio.create_task(transaction("b")),
            asyncio.create_task(after(0.05, "c")),
            asyncio.create_task(after(0.01, "d")),
        ]
        await asyncio.sleep(0.1)
        assert (gate.running, gate.waiting, order) == (2, 2, ["a", "b"])
        release.set()
        await asyncio.gather(*tasks)
        assert (gate.running, gate.waiting) == (0, 0)
        return order

    assert asyncio.run(scenario()) == ["a", "b", "d", "c"]


def test_turns_granted_as_waits_time_out_are_never_lost() -> None:
    """Waits that end in the same moment a turn comes free, many times over: afterwards
    every turn is free again (a turn granted to a waiter that timed out is handed on)."""

    async def scenario() -> None:
        gate = TransactionGate(limit=3, queue_timeout_s=0.002)
        served = refused = 0

        async def transaction(index: int) -> None:
            nonlocal served, refused
            try:
                async with gate.admitted():
                    served += 1
                    await asyncio.sleep(0.001 * (index % 4))
            except ServerBusy:
                refused += 1

        await asyncio.gather(*(transaction(index) for index in range(600)))
        assert served + refused == 600 and served >= 3 and refused > 0
        assert (gate.running, gate.waiting) == (0, 0)
        # All three turns at once, none of them waited for (a lost one would time out).
        async with gate.admitted(), gate.admitted(), gate.admitted():
            assert (gate.running, gate.waiting) == (3, 0)

    asyncio.run(scenario())


@contextlib.asynccontextmanager
async def turn_held(gate: TransactionGate) -> AsyncIterator[None]:
    """Another task holds one of the gate's turns until the block ends."""
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.admitted():
            await release.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    try:
        yield
    finally:
        release.set()
        await held


def test_no_turn_within_the_queue_timeout_is_server_busy_and_frees_nothing() -> None:
    async def scenario() -> None:
        gate = TransactionGate(limit=1, queue_timeout_s=0.3)
        async with turn_held(gate):
            started = time.perf_counter()
            with pytest.raises(ServerBusy) as refused:
                async with gate.admitted():
                    raise AssertionError("admitted past the limit")
            waited = time.perf_counter() - started
            assert str(refused.value) == BUSY_MESSAGE
            assert refused.value.code == "SERVER_BUSY"
            assert 0.3 <= waited < 2.0
            # The refused waiter left the queue and took no turn with it.
            assert (gate.running, gate.waiting) == (1, 0)
        async with gate.admitted():
            assert gate.running == 1
        assert gate.running == 0

    asyncio.run(scenario())


def test_a_cancelled_waiter_takes_no_turn_with_it() -> None:
    async def scenario() -> None:
        gate = TransactionGate(limit=1, queue_timeout_s=5)

        async def waiter() -> None:
            async with gate.admitted():
                raise AssertionError("a cancelled waiter was admitted")

        async with turn_held(gate):
            waiting = asyncio.create_task(waiter())
            await asyncio.sleep(0.01)
            assert gate.waiting == 1
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        assert (gate.running, gate.waiting) == (0, 0)
        async with asyncio.timeout(1):
            async with gate.admitted():
                pass

    asyncio.run(scenario())


def test_a_gate_needs_a_limit_of_at_least_one() -> None:
    with pytest.raises(ValueError) as refused:
        TransactionGate(limit=0, queue_timeout_s=1)
    assert str(refused.value) == "a transaction gate needs a limit of at least 1, not 0"


def test_settings_defaults_and_bad_values() -> None:
    settings = Neo4jSettings.from_env({})
    assert (settings.max_transactions, settings.queue_timeout_ms) == (
        DEFAULT_MAX_TRANSACTIONS,
        DEFAULT_QUEUE_TIMEOUT_MS,
    )
    with pytest.raises(ConfigurationError) as bad:
        Neo4jSettings.from_env({"THREATGRAPH_MAX_TRANSACTIONS": "-1"})
    assert str(bad.value) == "THREATGRAPH_MAX_TRANSACTIONS=-1 is below the minimum of 0"
    with pytest.raises(ConfigurationError) as bad:
        Neo4jSettings.from_env({"THREATGRAPH_QUEUE_TIMEOUT_MS": "soon"})
    assert str(bad.value) == "THREATGRAPH_QUEUE_TIMEOUT_MS='soon' is not a whole number"


@pytest.mark.parametrize(
    ("env", "bulk", "expected"),
    [
        pytest.param({}, False, (DEFAULT_MAX_TRANSACTIONS, 2.0), id="default"),
        pytest.param(
            {"THREATGRAPH_MAX_TRANSACTIONS": "3", "THREATGRAPH_QUEUE_TIMEOUT_MS": "250"},
            False,
            (3, 0.25),
            id="set",
        ),
        pytest.param({"THREATGRAPH_MAX_TRANSACTIONS": "0"}, False, None, id="off"),
        pytest.param({}, True, None, id="bulk-loads-are-not-gated"),
    ],
)
def test_graphs_get_the_gate_their_settings_ask_for(
    env: dict[str, str], bulk: bool, expected: tuple[int, float] | None
) -> None:
    graph = Graph.connect(env={"NEO4J_URI": "bolt://127.0.0.1:1", **env}, bulk=bulk)
    gate = graph.gate
    assert ((gate.limit, gate.queue_timeout_s) if gate else None) == expected
    asyncio.run(graph.close())


def test_a_limit_past_the_drivers_pool_widens_the_pool() -> None:
    limit = DRIVER_POOL_SIZE + 50
    graph = Graph.connect(
        env={"NEO4J_URI": "bolt://127.0.0.1:1", "THREATGRAPH_MAX_TRANSACTIONS": str(limit)}
    )
    # Otherwise the 101st admitted transaction would wait on the pool, not on the gate.
    assert graph.driver._pool.pool_config.max_connection_pool_size == limit  # type: ignore[attr-defined]
    asyncio.run(graph.close())


@pytest.fixture
def one_turn(monkeypatch: pytest.MonkeyPatch, seeded_graph: None) -> Iterator[TestClient]:
    """The API with one transaction at a time, a 0.3 s queue, and the debug extension
    (which executor answered)."""
    monkeypatch.setenv("THREATGRAPH_MAX_TRANSACTIONS", "1")
    monkeypatch.setenv("THREATGRAPH_QUEUE_TIMEOUT_MS", "300")
    with make_client(THREATGRAPH_DEBUG="1") as client:
        yield client


def gauge(client: TestClient, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert found, name
    return float(found.group(1))


def blocked_transactions(driver: neo4j.Driver) -> int:
    rows = cypher(
        driver,
        "SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' RETURN count(*) AS n",
    )
    return int(rows[0]["n"])


READ = '{ entity(ref: "actor:apt31") { id name } }'
# Two root fields the compiled executor answers in one transaction.
TWO_READS = '{ a: entity(ref: "actor:apt31") { id } b: entity(ref: "agency:mss") { id } }'
# Waits, inside its one transaction, for the lock the test's own transaction holds.
BLOCKED_WRITE = (
    'mutation { upsertEntity(input: {id: "actor:apt31", label: "ThreatActor", '
    'name: "APT31"}) { id } }'
)


def test_a_request_that_finds_every_turn_taken_is_503_server_busy(
    one_turn: TestClient, driver: neo4j.Driver
) -> None:
    assert gql(one_turn, READ)["data"] == {"entity": {"id": "actor:apt31", "name": "APT31"}}
    assert gauge(one_turn, "threatgraph_neo4j_transactions_limit") == 1
    session = driver.session(database="neo4j")
    lock = session.begin_transaction()
    lock.run("MATCH (e:Entity {id: 'actor:apt31'}) SET e.admission_lock = true").consume()
    written: dict[str, object] = {}
    writer = threading.Thread(
        target=lambda: written.update(gql(one_turn, BLOCKED_WRITE, token=WRITER_TOKEN))
    )
    try:
        writer.start()
        # The write holds the only turn once Neo4j has it waiting on the lock (its
        # reads before take the turn too, briefly: a request then could be served).
        deadline = time.monotonic() + 30
        while blocked_transactions(driver) < 1:
            assert time.monotonic() < deadline, "the write never reached the lock"
            time.sleep(0.02)
        assert gauge(one_turn, "threatgraph_neo4j_transactions_running") == 1

        response = one_turn.post("/graphql", json={"query": TWO_READS})

        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["x-threatgraph-round-trips"] == "0"
        body = response.json()
        # Answered by the compiled executor, one error per root field, without asking
        # the resolvers to queue for turns again.
        assert body["extensions"]["threatgraph"]["executor"] == "compiled"
        assert body["data"] == {"a": None, "b": None}
        assert [(e["path"], e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["a"], BUSY_MESSAGE, "SERVER_BUSY"),
            (["b"], BUSY_MESSAGE, "SERVER_BUSY"),
        ]
        assert gauge(one_turn, "threatgraph_neo4j_transactions_waiting") == 0
        assert 'threatgraph_graphql_errors_total{code="SERVER_BUSY"} 2.0' in (
            one_turn.get("/metrics").text
        )
    finally:
        lock.rollback()
        session.close()
        writer.join(timeout=30)
    assert written["_status"] == 200 and written["data"] == {"upsertEntity": {"id": "actor:apt31"}}
    assert gql(one_turn, TWO_READS)["data"] == {
        "a": {"id": "actor:apt31"},
        "b": {"id": "agency:mss"},
    }
    assert gauge(one_turn, "threatgraph_neo4j_transactions_running") == 0


@pytest.mark.parametrize(
    ("codes", "writes", "expected"),
    [
        pytest.param(["SERVER_BUSY"], 0, (503, {"retry-after": "1"}), id="busy"),
        pytest.param(["NEO4J_UNAVAILABLE"], 0, (503, {}), id="unavailable"),
        pytest.param(["NOT_FOUND", "SERVER_BUSY"], 0, (503, {"retry-after": "1"}), id="mixed"),
        pytest.param(["SERVER_BUSY"], 1, None, id="busy-after-a-write-committed"),
        pytest.param(["NEO4J_UNAVAILABLE"], 2, None, id="away-after-writes-committed"),
        pytest.param(["QUERY_TIMEOUT"], 0, None, id="timeout"),
        pytest.param([], 0, None, id="no-errors"),
    ],
)
def test_503_only_when_neo4j_failed_and_no_write_of_the_request_stands(
    codes: list[str], writes: int, expected: tuple[int, dict[str, str]] | None
) -> None:
    assert unavailable_status(codes, writes) == expected


def test_committed_writes_are_counted_per_context(neo4j_env: dict[str, str]) -> None:
    async def scenario() -> tuple[int, int, int, int]:
        async with Graph.connect() as graph:
            with count_round_trips() as outer:
                await graph.read("RETURN 1 AS one")
                after_read = writes_committed_here()
                await graph.write("MERGE (m:AdmissionMarker {id: 1}) RETURN m.id AS id")
                with count_round_trips():
                    inner_start = writes_committed_here()
                    await graph.write_in_one_transaction(
                        [("MATCH (m:AdmissionMarker) DETACH DELETE m", {})]
                    )
                return after_read, inner_start, writes_committed_here(), outer.writes_committed

    # Outside any context nothing is counted; an inner context starts from 0.
    assert asyncio.run(scenario()) == (0, 0, 2, 2)
    assert writes_committed_here() == 0


def _pool_of_one(neo4j_env: dict[str, str]) -> tuple[neo4j.AsyncDriver, Connection]:
    connection = resolve_connection(Neo4jSettings.from_env(neo4j_env))
    driver = neo4j.AsyncGraphDatabase.driver(
        connection.uri,
        auth=(connection.user, connection.password),
        max_connection_pool_size=1,
        connection_acquisition_timeout=0.2,
    )
    return driver, connection


POOL_TIMEOUT = "failed to obtain a connection from the pool within 0.2s (timeout)"


@pytest.mark.parametrize(
    ("gate", "error", "message"),
    [
        pytest.param(
            None,
            ServerBusy,
            f"the server is busy: {POOL_TIMEOUT}; retry shortly",
            id="ungated-the-pool-is-the-limit",
        ),
        pytest.param(
            TransactionGate(limit=1, queue_timeout_s=1),
            Neo4jUnavailable,
            "Neo4j at {uri} gave no connection in time: " + POOL_TIMEOUT,
            id="gated-neo4j-gave-none",
        ),
    ],
)
def test_a_connection_not_given_in_time_is_busy_or_unavailable(
    neo4j_env: dict[str, str],
    gate: TransactionGate | None,
    error: type[Exception],
    message: str,
) -> None:
    """The driver's wait for a connection: without a gate it is the limit on transactions
    (busy); behind a gate, which admits no more than the pool holds, it means Neo4j is
    not handing connections over (a held one stands in for that here)."""

    async def scenario() -> None:
        driver, connection = _pool_of_one(neo4j_env)
        graph = Graph(driver, connection, timeout_ms=10_000, gate=gate)
        async with driver.session(database=connection.database) as session:
            held = await session.begin_transaction()
            try:
                with pytest.raises(error) as refused:
                    await graph.read("RETURN 1 AS one")
            finally:
                await held.rollback()
        assert str(refused.value) == message.format(uri=connection.uri)
        assert await graph.read("RETURN 1 AS one") == [{"one": 1}]
        await graph.close()

    asyncio.run(scenario())
