"""The benchmark's answer check: a right answer passes, a doctored one fails with the
first difference, a timed request without an answer is a failure, and a ratio with a
question missing is null, never a smaller mean. No load runs here, and no Neo4j."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from bench import loadgen, report
from bench.answers import check
from bench.generate import generate
from bench.questions import questions
from bench.reference import Reference, likelihood_name

GRAPH = generate(2_000)
REFERENCE = Reference(GRAPH)
ASKED = {question.name: question for question in questions(GRAPH)}


def _step(claim: Any) -> dict[str, Any]:
    return {
        "relation": claim.relation,
        "likelihood": claim.likelihood,
        "quote": claim.quote,
        "from": {"id": claim.start},
        "to": {"id": claim.end},
        "sources": [{"id": claim.source}],
    }


def _chain(incident: str, target: str, rank: int) -> list[dict[str, Any]]:
    """A chain from `incident` to `target` as strong as `rank` (the generated graph's
    chains are an attribution, then one or two onward claims)."""
    for first in REFERENCE.outgoing[incident]:
        if first.relation != "ATTRIBUTED_TO" or first.rank < rank:
            continue
        for onward in REFERENCE.outgoing[first.end]:
            if onward.rank < rank:
                continue
            if onward.end == target and min(first.rank, onward.rank) == rank:
                return [_step(first), _step(onward)]
            for last in REFERENCE.outgoing[onward.end]:
                if last.end == target and min(first.rank, onward.rank, last.rank) == rank:
                    return [_step(first), _step(onward), _step(last)]
    raise AssertionError(f"no chain from {incident} to {target} at rank {rank}")


def ours_incidents() -> dict[str, Any]:
    """Our API's right answer to the hub question, made from the reference."""
    request = ASKED["incidents_linked_to_hub"].requests[0].arguments
    linked = REFERENCE.linked(request["target"], request["first"])
    nodes = [
        {
            "id": incident,
            "started": linked.started[incident],
            "linkPath": {
                "likelihood": likelihood_name(rank),
                "steps": _chain(incident, request["target"], rank),
            },
        }
        for incident, rank in linked.page
    ]
    return {"data": {"incidents": {"totalCount": linked.total, "nodes": nodes}}}


def checked(question: str, phrasing: str, answer: Any) -> str | None:
    return check(REFERENCE, question, phrasing, ASKED[question].requests[0].arguments, answer)


def test_the_right_answer_passes_and_a_reordered_page_fails_naming_the_first_difference() -> None:
    right = ours_incidents()
    assert checked("incidents_linked_to_hub", "ours", right) is None
    swapped = copy.deepcopy(right)
    nodes = swapped["data"]["incidents"]["nodes"]
    nodes[0], nodes[1] = nodes[1], nodes[0]
    assert checked("incidents_linked_to_hub", "ours", swapped) == (
        f"incident ids: at 0, {nodes[0]['id']!r}, expected {nodes[1]['id']!r}"
    )


def test_a_wrong_total_or_a_regraded_step_fails() -> None:
    right = ours_incidents()
    total = right["data"]["incidents"]["totalCount"]
    wrong_total = copy.deepcopy(right)
    wrong_total["data"]["incidents"]["totalCount"] = total + 1
    assert checked("incidents_linked_to_hub", "ours", wrong_total) == (
        f"totalCount {total + 1}, expected {total}"
    )
    regraded = copy.deepcopy(right)
    node = regraded["data"]["incidents"]["nodes"][-1]
    node["linkPath"]["steps"][0]["likelihood"] = "REMOTE_CHANCE"  # the generator never grades so
    assert checked("incidents_linked_to_hub", "ours", regraded) == (
        f"{node['id']}: the step {tuple(_flat(node['linkPath']['steps'][0]))} "
        "is not a claim of the graph"
    )


def _flat(step: dict[str, Any]) -> list[str]:
    return [
        step["from"]["id"],
        step["relation"],
        step["to"]["id"],
        step["likelihood"],
        step["quote"],
    ]


def test_a_null_entity_or_another_entity_s_alias_fails() -> None:
    alias = ASKED["entity_by_alias"].requests[0].arguments["alias"]
    entity = REFERENCE.by_alias(alias)
    right = {key: entity.get(key) for key in ("id", "name", "aliases", "description")}
    assert checked("entity_by_alias", "ours", {"data": {"entity": right}}) is None
    assert checked("entity_by_alias", "ours", {"data": {"entity": None}}) == (
        "the answer cannot be read (ValueError: entity is null)"
    )
    doctored = {**right, "aliases": right["aliases"][:1]}
    assert checked("entity_by_alias", "direct", [{"value": doctored}]) == (
        f"aliases {right['aliases'][:1]!r}, expected {right['aliases']!r}"
    )


def test_a_path_longer_than_the_shortest_fails_and_the_peer_s_stray_neighbour_too() -> None:
    arguments = ASKED["shortest_path_far"].requests[0].arguments
    hops, _ = REFERENCE.shortest(arguments["origin"], arguments["destination"], 6) or (0, 0)
    steps = [{"relation": "X", "from": "a", "to": "b", "likelihood": "FACT", "quote": ""}]
    answer = {"data": {"shortestPath": steps * (hops + 1)}}
    assert checked("shortest_path_far", "peer", answer) == (
        f"{hops + 1} steps, expected {hops} (the shortest)"
    )
    centre = ASKED["neighbourhood_2_hops"].requests[0].arguments["centre"]
    stray = {"data": {"entities": [{"id": centre, "uses": [{"id": "country:c000"}]}]}}
    assert checked("neighbourhood_2_hops", "peer-tuned", stray) == (
        f"country:c000 is not within 2 claims of {centre}"
    )


def test_a_timed_request_answered_with_null_is_a_failure_not_a_fast_success() -> None:
    async def null_entity(payload: dict[str, Any]) -> dict[str, Any]:
        return {"data": {"entity": None}}

    cell = {
        "target": "api-compiled",
        "question": "entity_by_alias",
        "concurrency": 1,
        "seconds": 0.0,
        "min_requests": 3,
        "max_seconds": 30.0,
        "warmup": 0,
        "warmup_seconds": 0.0,
        "first_of_question": False,
        "requests": [{}],
        "answer_path": ["data", "entity"],
        "timeout_s": 60.0,
    }
    result = asyncio.run(loadgen._run_cell(cell, null_entity))
    assert (len(result["latencies_ms"]), result["errors"]) == (0, 3)
    assert result["first_error"] == (
        "NoAnswer: nothing at ['data', 'entity']: {'data': {'entity': None}}"
    )
    figures = report.summarise(result)
    assert (figures["requests"], figures["p99_counting_failures_ms"]) == (0, 60_000.0)


def _results(peer_tuned_search: dict[str, Any] | None) -> dict[str, Any]:
    def cell(p50: float, rate: float) -> dict[str, Any]:
        return {
            "requests": 100,
            "errors": 0,
            "p50_ms": p50,
            "p99_ms": p50 * 2,
            "p99_counting_failures_ms": p50 * 2,
            "req_per_s": rate,
        }

    latency: dict[str, Any] = {
        "api-compiled": {q: {"1": cell(2.0, 500), "16": cell(4.0, 400)} for q in ("a", "b")},
        "direct": {q: {"1": cell(1.0, 900), "16": cell(2.0, 800)} for q in ("a", "b")},
        "peer": {q: {"16": cell(8.0, 100)} for q in ("a", "b")},
        "peer-tuned": {"a": {"16": cell(4.0, 400)}},
    }
    if peer_tuned_search is not None:
        latency["peer-tuned"]["b"] = {"16": peer_tuned_search}
    return {"sizes": {"100000": {"latency": latency, "ingest": {}, "api_peak_rss_mb": {}}}}


def test_a_question_the_tuned_peer_did_not_answer_makes_the_ratio_null_with_the_reason() -> None:
    measured = report.ratios(
        _results(
            {
                "requests": 50,
                "errors": 0,
                "p50_ms": 8.0,
                "p99_ms": 16.0,
                "p99_counting_failures_ms": 16.0,
                "req_per_s": 100,
            }
        ),
        ["a", "b"],
    )
    assert measured["ours_over_peer_tuned_throughput_16"] == 2.0  # sqrt(1.0 * 4.0)
    assert measured["per_question"]["api-compiled:ours_over_peer_tuned_throughput_16"] == {
        "a": 1.0,
        "b": 4.0,
    }
    assert measured["ours_over_peer_tuned_throughput_16_lowest"] == 1.0
    failed = {
        "requests": 0,
        "errors": 12,
        "p50_ms": float("nan"),
        "p99_ms": float("nan"),
        "p99_counting_failures_ms": 60_000.0,
        "req_per_s": 0.0,
    }
    missing = report.ratios(_results(failed), ["a", "b"])
    assert missing["ours_over_peer_tuned_throughput_16"] is None
    assert missing["why_null"]["api-compiled:ours_over_peer_tuned_throughput_16"] == (
        "b: peer-tuned at 100,000 nodes, 16 clients: 0 answered, 12 failed"
    )
    # p99 counts each failure as the timeout, so the failing peer is 15,000 times slower.
    assert missing["per_question"]["api-compiled:ours_over_peer_tuned_p99_16"]["b"] == (
        pytest.approx(8.0 / 60_000.0, rel=1e-3)
    )
    assert (
        report.ratios(_results(None), ["a", "b"])["why_null"][
            "api-compiled:ours_over_peer_tuned_p99_16"
        ]
        == "b: peer-tuned at 100,000 nodes, 16 clients: not measured"
    )
