"""graph/store/database.py's read transactions: what goes over the wire, and what comes back."""

from __future__ import annotations

import asyncio

import pytest

from graph.errors import Neo4jUnavailable
from graph.store.database import Graph, Record
from tests.tcp_relay import TcpRelay


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The Bolt messages the driver logged (`C:` sent, `S:` received), in order."""
    out = []
    for record in caplog.records:
        text = record.getMessage()
        for direction in ("C: ", "S: "):
            if direction in text:
                out.append(text[text.index(direction) :].split(" {")[0].split(" '")[0])
    return out


def _read(env: dict[str, str], statements: list[tuple[str, dict[str, int]]]) -> list[list[Record]]:
    async def run() -> list[list[Record]]:
        async with Graph.connect(env=env) as graph:
            await graph.ping()
            return await graph.read_in_one_transaction(statements)

    return asyncio.run(run())


def test_a_one_statement_read_is_one_auto_commit_round_trip(
    neo4j_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # The compiled executor asks most questions in one statement. A managed
    # transaction (execute_query) pipelines BEGIN, RUN and PULL but then waits for
    # COMMIT's answer too; an auto-commit read sends RUN and PULL and is done.
    with caplog.at_level("DEBUG", logger="neo4j"):
        answers = _read(neo4j_env, [("RETURN $n + 1 AS m, [$n] AS ns", {"n": 41})])
    assert answers == [[{"m": 42, "ns": [41]}]]
    sent_and_received = _messages(caplog)
    run = sent_and_received.index("C: RUN")
    assert sent_and_received[run : run + 5] == [
        "C: RUN",
        "C: PULL",
        "S: SUCCESS",
        "S: RECORD * 1",
        "S: SUCCESS",
    ]
    assert "C: BEGIN" not in sent_and_received
    assert "C: COMMIT" not in sent_and_received


def test_a_read_whose_pooled_connection_was_dropped_runs_again_on_a_new_one(
    neo4j_env: dict[str, str],
) -> None:
    # The driver retries managed transactions only; a read is safe to run again, so
    # Graph retries its auto-commit reads itself (a dead pooled connection after a
    # firewall's idle timeout must not become a 503).
    async def run() -> tuple[list[list[Record]], int, int]:
        relay = TcpRelay.to(neo4j_env["NEO4J_URI"])
        async with (
            relay.relaying(),
            Graph.connect(env={**neo4j_env, "NEO4J_URI": relay.uri}) as graph,
        ):
            await graph.read_in_one_transaction([("RETURN 1 AS n", {})])
            opened_before = relay.connections_opened
            relay.sever()
            answers = await graph.read_in_one_transaction([("RETURN $n AS n", {"n": 2})])
            return answers, opened_before, relay.connections_opened

    answers, opened_before, opened_after = asyncio.run(run())
    assert answers == [[{"n": 2}]]
    assert opened_after == opened_before + 1


def test_a_read_that_keeps_failing_is_retried_for_the_retry_time_then_neo4j_unavailable(
    neo4j_env: dict[str, str],
) -> None:
    # The retry time is the connection timeout (1.5 s here); the driver's schedule
    # waits about 1 s and then about 2 s, so the third attempt is the last.
    async def run() -> tuple[str, int]:
        async with TcpRelay.to(neo4j_env["NEO4J_URI"]).relaying() as relay:
            env = {
                **neo4j_env,
                "NEO4J_URI": relay.uri,
                "THREATGRAPH_CONNECTION_TIMEOUT_MS": "1500",
            }
            async with Graph.connect(env=env) as graph:
                await graph.read_in_one_transaction([("RETURN 1 AS n", {})])
                relay.dropping_new = True
                relay.sever()
                opened_before = relay.connections_opened
                with pytest.raises(Neo4jUnavailable) as raised:
                    await graph.read_in_one_transaction([("RETURN 2 AS n", {})])
                return str(raised.value), relay.connections_opened - opened_before

    message, new_connections = asyncio.run(run())
    assert message.endswith(" is unavailable") and message.startswith("Neo4j at bolt://127.0.0.1:")
    # Three attempts: on the dropped pooled connection, then two new ones.
    assert new_connections == 2


def test_several_statements_read_in_one_transaction_in_order(
    neo4j_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("DEBUG", logger="neo4j"):
        answers = _read(
            neo4j_env,
            [("UNWIND range(1, $n) AS i RETURN i", {"n": 3}), ("RETURN $n AS n", {"n": 7})],
        )
    assert answers == [[{"i": 1}, {"i": 2}, {"i": 3}], [{"n": 7}]]
    sent = [message for message in _messages(caplog) if message.startswith("C: ")]
    begin = sent.index("C: BEGIN")
    assert sent[begin : sent.index("C: COMMIT") + 1] == [
        "C: BEGIN",
        "C: RUN",
        "C: PULL",
        "C: RUN",
        "C: PULL",
        "C: COMMIT",
    ]


def test_no_statements_read_nothing(neo4j_env: dict[str, str]) -> None:
    assert _read(neo4j_env, []) == []
