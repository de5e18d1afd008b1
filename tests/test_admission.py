"""Admission control: a bounded number of Neo4j transactions at once, the rest queued,
and a clear 503 SERVER_BUSY with Retry-After when no turn comes in time."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator

import neo4j
import pytest
from starlette.testclient import TestClient

from graph.admission import TransactionGate
from graph.database import DRIVER_POOL_SIZE, Graph, resolve_connection
from graph.errors import ConfigurationError, ServerBusy
from graph.settings import DEFAULT_MAX_TRANSACTIONS, DEFAULT_QUEUE_TIMEOUT_MS, Neo4jSettings
from tests.api_client import WRITER_TOKEN, error_codes, gql, make_client

BUSY_MESSAGE = (
    "the server is busy: 1 Neo4j transactions are running and this one waited 0.3 s "
    "for a turn; nothing was done, retry shortly"
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

        tasks = [asyncio.create_task(transaction(name)) for name in "abcd"]
        await asyncio.sleep(0.05)
        assert (gate.running, gate.waiting, order) == (2, 2, ["a", "b"])
        release.set()
        await asyncio.gather(*tasks)
        assert (gate.running, gate.waiting) == (0, 0)
        return order

    assert asyncio.run(scenario()) == ["a", "b", "c", "d"]


def test_no_turn_within_the_queue_timeout_is_server_busy_and_frees_nothing() -> None:
    async def scenario() -> None:
        gate = TransactionGate(limit=1, queue_timeout_s=0.3)
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.admitted():
                await release.wait()

        held = asyncio.create_task(holder())
        await asyncio.sleep(0.01)
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
        release.set()
        await held
        async with gate.admitted():
            assert gate.running == 1
        assert gate.running == 0

    asyncio.run(scenario())


def test_a_cancelled_waiter_takes_no_turn_with_it() -> None:
    async def scenario() -> None:
        gate = TransactionGate(limit=1, queue_timeout_s=5)
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.admitted():
                await release.wait()

        async def waiter() -> None:
            async with gate.admitted():
                raise AssertionError("a cancelled waiter was admitted")

        held = asyncio.create_task(holder())
        await asyncio.sleep(0.01)
        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0.01)
        assert gate.waiting == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        await held
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
    """The API with one transaction at a time and a 0.3 s queue."""
    monkeypatch.setenv("THREATGRAPH_MAX_TRANSACTIONS", "1")
    monkeypatch.setenv("THREATGRAPH_QUEUE_TIMEOUT_MS", "300")
    with make_client() as client:
        yield client


def gauge(client: TestClient, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert found, name
    return float(found.group(1))


READ = '{ entity(ref: "actor:apt31") { id name } }'
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
        deadline = time.monotonic() + 30
        while gauge(one_turn, "threatgraph_neo4j_transactions_running") < 1:
            assert time.monotonic() < deadline, "the write never took its turn"
            time.sleep(0.02)

        response = one_turn.post("/graphql", json={"query": READ})

        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        body = response.json()
        assert error_codes(body) == ["SERVER_BUSY"]
        assert body["errors"][0]["message"] == BUSY_MESSAGE
        assert gauge(one_turn, "threatgraph_neo4j_transactions_waiting") == 0
        assert 'threatgraph_graphql_errors_total{code="SERVER_BUSY"} 1.0' in (
            one_turn.get("/metrics").text
        )
    finally:
        lock.rollback()
        session.close()
        writer.join(timeout=30)
    assert written["_status"] == 200 and written["data"] == {"upsertEntity": {"id": "actor:apt31"}}
    assert gql(one_turn, READ)["_status"] == 200
    assert gauge(one_turn, "threatgraph_neo4j_transactions_running") == 0


def test_a_pool_with_no_connection_free_in_time_is_server_busy_too(
    neo4j_env: dict[str, str],
) -> None:
    """Without a gate (or past it), the driver's own wait for a connection is the limit."""

    async def scenario() -> None:
        connection = resolve_connection(Neo4jSettings.from_env(neo4j_env))
        driver = neo4j.AsyncGraphDatabase.driver(
            connection.uri,
            auth=(connection.user, connection.password),
            max_connection_pool_size=1,
            connection_acquisition_timeout=0.2,
        )
        graph = Graph(driver, connection, timeout_ms=10_000)
        async with driver.session(database=connection.database) as session:
            held = await session.begin_transaction()
            try:
                with pytest.raises(ServerBusy) as refused:
                    await graph.read("RETURN 1 AS one")
            finally:
                await held.rollback()
        assert str(refused.value) == (
            "the server is busy: failed to obtain a connection from the pool within 0.2s "
            "(timeout); retry shortly"
        )
        assert await graph.read("RETURN 1 AS one") == [{"one": 1}]
        await graph.close()

    asyncio.run(scenario())
