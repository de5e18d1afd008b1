"""The benchmark's plan: every target measured side by side, in an order that turns."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import loadgen, run
from bench.generate import generate
from bench.questions import questions

ASKED = questions(generate(2_000))
QUICK = run.PROFILES["quick"]
ENDPOINT = {"kind": "http", "url": "http://127.0.0.1:1/graphql"}
TARGETS = {
    "direct": run.Target("direct", {"kind": "bolt", "neo4j": {}}),
    "api-compiled": run.Target("ours", ENDPOINT),
    "peer": run.Target("peer", ENDPOINT),
}


class Answered:
    """An answer holding something wherever the load generator looks (the cells made by
    run.interleaved_cells carry each question's answer_path)."""

    def __getitem__(self, key: object) -> Answered:
        return self


def test_each_question_and_concurrency_is_measured_on_every_target_back_to_back() -> None:
    cells = run.interleaved_cells(ASKED, TARGETS, QUICK)
    groups = [cells[i : i + 3] for i in range(0, len(cells), 3)]
    assert len(ASKED) == 7
    assert len(groups) == 7 * 3
    expected = [(q.name, c) for q in ASKED for c in (1, 16, 64)]
    assert [(g[0]["question"], g[0]["concurrency"]) for g in groups] == expected
    for group in groups:
        assert sorted(cell["target"] for cell in group) == ["api-compiled", "direct", "peer"]
        assert len({(cell["question"], cell["concurrency"]) for cell in group}) == 1


def test_the_first_target_of_each_concurrency_changes_from_question_to_question() -> None:
    cells = run.interleaved_cells(ASKED, TARGETS, QUICK)
    one_client_firsts = [cells[i]["target"] for i in range(0, len(cells), 9)]
    # The peer's turn to go first passes to the next of ours (it runs after them).
    assert one_client_firsts == [
        "direct",
        "api-compiled",
        "direct",
        "direct",
        "api-compiled",
        "direct",
        "direct",
    ]
    sixteen_firsts = [cells[i]["target"] for i in range(3, len(cells), 9)]
    assert sixteen_firsts == [
        "api-compiled",
        "peer",
        "direct",
        "api-compiled",
        "peer",
        "direct",
        "api-compiled",
    ]


def test_the_peers_one_client_cell_runs_after_ours_and_apart_from_their_turns() -> None:
    cells = run.interleaved_cells(ASKED, TARGETS, QUICK)
    for start in range(0, len(cells), 3):
        group = cells[start : start + 3]
        if group[0]["concurrency"] == 1:
            # Ours share one group (taken request by request); the peer's is its own, last.
            assert [c["target"] for c in group][2] == "peer"
            assert group[0]["group"] == group[1]["group"] != group[2]["group"]
        else:
            assert len({c["group"] for c in group}) == 1

    def answering(name: str) -> loadgen.Send:
        async def send(payload: dict[str, Any]) -> Answered:
            log.append(name)
            await asyncio.sleep(0.002)
            return Answered()

        return send

    log: list[str] = []
    one_client = [{**c, **_cell(0.001, 3, 30.0), "target": c["target"]} for c in cells[:3]]
    names = [c["target"] for c in one_client]
    senders = {name: answering(name) for name in names}
    results = asyncio.run(loadgen._measure(one_client, senders, None))
    # Ours alternate; the peer's three answers come after theirs, one after another.
    assert log == [names[0], names[1], names[1], names[0], names[0], names[1]] + ["peer"] * 3
    assert [(r["target"], len(r["latencies_ms"])) for r in results] == [(n, 3) for n in names]


def test_each_target_gets_its_own_phrasing_of_the_same_arguments() -> None:
    cells = run.interleaved_cells(ASKED, TARGETS, QUICK)
    alias = {c["target"]: c["requests"] for c in cells if c["question"] == "entity_by_alias"}
    first = next(q for q in ASKED if q.name == "entity_by_alias").requests[0]
    assert alias["direct"][0] == first.compiled
    assert alias["api-compiled"][0] == first.ours
    assert alias["peer"][0] == first.peer
    assert alias["api-compiled"][0]["variables"]["ref"] == alias["peer"][0]["variables"]["ref"]
    # Only the first concurrency level sends every argument set once before measuring.
    assert {(c["concurrency"], c["first_of_question"]) for c in cells} == {
        (1, True),
        (16, False),
        (64, False),
    }


def _cell(seconds: float, min_requests: int, max_seconds: float) -> dict[str, Any]:
    return {
        "target": "t",
        "question": "q",
        "concurrency": 1,
        "seconds": seconds,
        "min_requests": min_requests,
        "max_seconds": max_seconds,
        "warmup": 0,
        "warmup_seconds": 0.0,
        "first_of_question": False,
        "requests": [{"n": 0}, {"n": 1}],
    }


def _sleeping(seconds: float, sent: list[dict[str, Any]]) -> loadgen.Send:
    async def send(payload: dict[str, Any]) -> None:
        sent.append(payload)
        await asyncio.sleep(seconds)

    return send


def test_a_slow_cell_goes_on_until_it_has_sent_its_minimum_of_requests() -> None:
    sent: list[dict[str, Any]] = []
    cell = asyncio.run(loadgen._run_cell(_cell(0.05, 12, 30.0), _sleeping(0.02, sent)))
    assert len(cell["latencies_ms"]) == 12 and cell["errors"] == 0
    assert sent == [{"n": 0}, {"n": 1}] * 6
    assert all(latency >= 20 for latency in cell["latencies_ms"])


def test_a_slow_cell_stops_at_its_longest_even_short_of_the_minimum() -> None:
    sent: list[dict[str, Any]] = []
    # Requests start at about 0, 0.6 and 1.2 s; none after the 1.5 s limit (0.3 s to spare).
    cell = asyncio.run(loadgen._run_cell(_cell(0.1, 100, 1.5), _sleeping(0.6, sent)))
    assert len(cell["latencies_ms"]) == 3
    assert cell["wall_s"] >= 1.8


def test_one_client_targets_take_turns_request_by_request_until_each_has_its_minimum() -> None:
    log: list[str] = []

    def logging(name: str) -> loadgen.Send:
        async def send(payload: dict[str, Any]) -> None:
            log.append(name)
            await asyncio.sleep(0.01)

        return send

    cells = [{**_cell(0.001, 6, 30.0), "target": name} for name in ("a", "b")]
    results = asyncio.run(loadgen._run_paired(cells, {"a": logging("a"), "b": logging("b")}))
    # Rounds alternate which target goes first.
    assert log == ["a", "b", "b", "a"] * 3
    assert [(r["target"], len(r["latencies_ms"]), r["errors"]) for r in results] == [
        ("a", 6, 0),
        ("b", 6, 0),
    ]
    # Each target's wall time is its own answers' time, not the other's.
    assert all(0.06 <= r["wall_s"] < 0.5 for r in results)


def test_the_plan_runs_in_order_one_client_groups_paired_and_leftovers_ended_after_each() -> None:
    log: list[str] = []
    ended: list[int] = []

    def answering(name: str, fails: bool = False) -> loadgen.Send:
        async def send(payload: dict[str, Any]) -> None:
            log.append(name)
            await asyncio.sleep(0.005)
            if fails:
                raise loadgen.RequestFailed("HTTP 504: gave up")

        return send

    async def end_leftovers() -> int:
        ended.append(len(log))
        return 2

    plan = [
        {**_cell(0.001, 2, 30.0), "group": 0, "target": "a"},
        {**_cell(0.001, 2, 30.0), "group": 0, "target": "b"},
        {**_cell(0.001, 2, 30.0), "group": 1, "target": "a", "concurrency": 2},
        {**_cell(0.001, 2, 30.0), "group": 1, "target": "b", "concurrency": 2},
    ]
    senders = {"a": answering("a"), "b": answering("b", fails=True)}
    results = asyncio.run(loadgen._measure(plan, senders, end_leftovers))
    assert [(r["target"], r["concurrency"]) for r in results] == [
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("b", 2),
    ]
    # Group 0, paired: a, b, then b, a; each of b's failures ends the leftovers at once.
    assert log[:4] == ["a", "b", "b", "a"]
    assert ended[:2] == [2, 3]
    assert [(r["errors"], len(r["latencies_ms"])) for r in results[:2]] == [(0, 2), (2, 0)]
    assert [r["leftover_transactions_ended"] for r in results] == [0, 4, 2, 2]
    assert results[1]["first_error"] == "RequestFailed: HTTP 504: gave up"


def test_a_busy_answer_is_an_error_and_the_client_waits_its_retry_after() -> None:
    answered: list[float] = []

    async def busy_then_fine(payload: dict[str, Any]) -> None:
        answered.append(time.perf_counter())
        if len(answered) == 1:
            raise loadgen.TargetBusy("HTTP 503: busy", retry_after_s=0.3)

    cell = asyncio.run(loadgen._run_cell(_cell(0.001, 3, 30.0), busy_then_fine))
    assert (cell["errors"], len(cell["latencies_ms"])) == (1, 2)
    assert cell["first_error"] == "TargetBusy: HTTP 503: busy"
    # The second request waited out the first one's Retry-After; the wait is no latency.
    assert answered[1] - answered[0] >= 0.3
    assert max(cell["latencies_ms"]) < 250
