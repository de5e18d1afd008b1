"""Before timing: every request asked once of every target, every answer checked.

Each answer is compared with bench/reference.py's (bench/answers.py `check`), and
each search answer also with our API's, since the reference cannot score hits the
way Lucene does. A mismatch names the question, the target, the arguments and the
first difference; bench/run.py stops the run on any.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

import neo4j

from bench.answers import _search, check, same_search_hits
from bench.questions import Question, Request
from bench.reference import Reference

# The target whose search scores the others are held to.
SCORE_REFERENCE = "api-compiled"


@dataclass(frozen=True)
class Endpoint:
    """A target as the checker asks it: its phrasing and where it answers."""

    phrasing: str  # "direct", "direct-resolvers", "ours", "peer", "peer-tuned"
    url: str | None = None
    neo4j: dict[str, Any] | None = None


def _payload(request: Request, phrasing: str) -> dict[str, Any]:
    if phrasing == "direct":
        return request.compiled
    if phrasing == "direct-resolvers":
        return request.resolvers
    if phrasing == "peer-tuned":
        return request.peer_tuned
    return request.peer if phrasing == "peer" else request.ours


def _ask_http(url: str, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _ask_bolt(driver: neo4j.Driver, payload: dict[str, Any]) -> list[dict[str, Any]]:
    records, _, keys = driver.execute_query(
        neo4j.Query(payload["cypher"], timeout=120),
        payload["parameters"],
        database_="neo4j",
        routing_=neo4j.RoutingControl.READ,
    )
    return [dict(zip(keys, record, strict=True)) for record in records]


def mismatches(
    reference: Reference, asked: list[Question], endpoints: dict[str, Endpoint]
) -> list[dict[str, Any]]:
    """Every difference between a target's answer and the reference's (empty: all agree)."""
    found: list[dict[str, Any]] = []
    drivers: dict[str, neo4j.Driver] = {}
    try:
        for question in asked:
            for index, request in enumerate(question.requests):
                answers: dict[str, Any] = {}
                for name, endpoint in endpoints.items():
                    payload = _payload(request, endpoint.phrasing)
                    try:
                        if endpoint.neo4j is not None:
                            config = endpoint.neo4j
                            driver = drivers.get(config["uri"])
                            if driver is None:
                                driver = neo4j.GraphDatabase.driver(
                                    config["uri"],
                                    auth=(config["user"], config["password"]),
                                    notifications_min_severity="OFF",
                                )
                                drivers[config["uri"]] = driver
                            answer: Any = _ask_bolt(driver, payload)
                        else:
                            answer = _ask_http(str(endpoint.url), payload)
                    except Exception as failed:  # a failed request is a mismatch too
                        answer = {"errors": [f"{type(failed).__name__}: {failed}"]}
                    answers[name] = answer
                    difference = check(
                        reference, question.name, endpoint.phrasing, request.arguments, answer
                    )
                    if difference:
                        found.append(_mismatch(question, name, index, request, difference))
                if question.name == "search" and SCORE_REFERENCE in answers:
                    ours = _search("ours", answers[SCORE_REFERENCE])
                    for name, endpoint in endpoints.items():
                        if name == SCORE_REFERENCE:
                            continue
                        try:
                            theirs = _search(endpoint.phrasing, answers[name])
                        except (KeyError, TypeError, ValueError, IndexError):
                            continue  # already reported as unreadable
                        difference = same_search_hits(ours, theirs)
                        if difference:
                            difference = "not as ours: " + difference
                            found.append(_mismatch(question, name, index, request, difference))
    finally:
        for driver in drivers.values():
            driver.close()
    return found


def _mismatch(
    question: Question, target: str, index: int, request: Request, difference: str
) -> dict[str, Any]:
    return {
        "question": question.name,
        "target": target,
        "argument_set": index,
        "arguments": request.arguments,
        "difference": difference,
    }


class AnswersDiffer(Exception):
    """A target answered a question differently from the reference: nothing is timed."""

    def __init__(self, mismatches: list[dict[str, Any]]) -> None:
        self.mismatches = mismatches
        lines = [describe(m) for m in mismatches[:10]]
        more = f"\n(and {len(mismatches) - 10} more)" if len(mismatches) > 10 else ""
        super().__init__(
            f"{len(mismatches)} answers differ from the reference:\n" + "\n".join(lines) + more
        )


def describe(mismatch: dict[str, Any]) -> str:
    return (
        f"{mismatch['question']} on {mismatch['target']} "
        f"(argument set {mismatch['argument_set']}, {mismatch['arguments']}): "
        f"{mismatch['difference']}"
    )
