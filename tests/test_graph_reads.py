"""graph/database.py's read transactions: what goes over the wire, and what comes back."""

from __future__ import annotations

import asyncio

import pytest

from graph.database import Graph, Record


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


def test_a_one_statement_read_sends_begin_with_its_run_and_waits_once(
    neo4j_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # The compiled executor asks most questions in one statement. A session's
    # execute_read waits for BEGIN's SUCCESS before it sends RUN: one more round
    # trip per request than the driver's execute_query, which pipelines them.
    with caplog.at_level("DEBUG", logger="neo4j"):
        answers = _read(neo4j_env, [("RETURN $n + 1 AS m, [$n] AS ns", {"n": 41})])
    assert answers == [[{"m": 42, "ns": [41]}]]
    sent_and_received = _messages(caplog)
    begin = sent_and_received.index("C: BEGIN")
    assert sent_and_received[begin : begin + 4] == ["C: BEGIN", "C: RUN", "C: PULL", "S: SUCCESS"]


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
