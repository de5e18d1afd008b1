"""Write to visible: how long after a writer sends `upsertRelation` our API's answer shows it.

Each write is a claim out of a mid-hierarchy agency (a bureau PART_OF another
top-level agency), so every incident of the bureau's actors becomes linked to that
agency: the stored closure must be refreshed (graph/linking/upkeep.py, in the
request or by the API's background refresher) before `incidents(linkedTo:)` can say
so. The writer then asks `incidents(linkedTo: <agency>) { totalCount }` until the
total is the one bench/reference.py works out with the claim added; the time from
sending the mutation to that answer is the write's latency. A write not visible
within the request timeout fails. `clients` writers run at once, each on a
top-level agency of its own, so no writer's answer depends on another's write.

These writes change the graph, so they run after every question has been measured.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.reference import Claim, Reference

# The token the benchmark's API accepts for writes (THREATGRAPH_API_TOKENS).
WRITE_TOKEN = "bench-writer-token-not-secret"
POLL_INTERVAL_S = 0.005
WRITES_PER_CLIENT = {1: 20, 16: 3}
CANDIDATES = 200
SOURCE = "source:r0000000"  # a report of the generated graph, made the claims' source

UPSERT = """
mutation Write($input: RelationInput!) { upsertRelation(input: $input) { relation } }"""
LINKED_TOTAL = """
query Total($ref: String!) { incidents(linkedTo: $ref, first: 1) { totalCount } }"""


@dataclass(frozen=True)
class Write:
    bureau: str
    agency: str
    expected_total: int


def _post(url: str, payload: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise RuntimeError(f"the API answered with errors: {str(body)[:300]}")
    return body["data"]


def plan_writes(reference: Reference, clients: int, rounds: int) -> list[list[Write]]:
    """`rounds` rounds of `clients` writes, each client on an agency of its own; the
    reference takes in every planned claim, so each expected total holds what the
    earlier rounds wrote."""
    parent = {
        c.start: c.end
        for c in reference.claims
        if c.relation == "PART_OF" and c.start.startswith("agency:")
    }
    tops = sorted(a for a, p in parent.items() if not p.startswith("agency:"))
    bureaux = sorted(a for a, p in parent.items() if p.startswith("agency:"))
    if len(tops) < clients + 1:
        raise ValueError(f"the graph has too few top-level agencies for {clients} writers")
    # Every (bureau, new parent) pair, each write a pair of its own; taken along the
    # diagonals, so that the writes of one round come from different bureaux.
    # The first CANDIDATES of each are plenty: a 1M graph has 8,000 bureaux.
    pairs = iter(
        sorted(
            (i + j, b, t)
            for i, b in enumerate(bureaux[:CANDIDATES])
            for j, t in enumerate(tops[:CANDIDATES])
            if t != parent[b]
        )
    )
    planned: list[list[Write]] = []
    for _ in range(rounds):
        writes: list[Write] = []
        skipped: list[tuple[int, str, str]] = []  # pairs on an agency this round already writes to
        for _ in range(clients):
            taken = {w.agency for w in writes}
            for diagonal, bureau, agency in pairs:
                if agency in taken:
                    skipped.append((diagonal, bureau, agency))
                    continue
                before = reference.linked(agency, 1).total
                claim = Claim(bureau, "PART_OF", agency, "LIKELY", _quote(bureau, agency), SOURCE)
                reference.outgoing[bureau].append(claim)
                reference.incoming[agency].append(claim)
                after = reference.linked(agency, 1).total
                if after > before:  # the write changes the answer, so its arrival shows
                    writes.append(Write(bureau, agency, after))
                    break
                reference.outgoing[bureau].remove(claim)
                reference.incoming[agency].remove(claim)
            else:
                raise ValueError(f"the graph has too few agencies for {clients} x {rounds} writes")
        pairs = iter([*skipped, *pairs])
        planned.append(writes)
    return planned


def _quote(bureau: str, agency: str) -> str:
    return f"{bureau} now reports to {agency}."


def write_and_wait(url: str, write: Write, timeout_s: float) -> float:
    """Seconds from sending the claim to the API answering with it."""
    claim = {
        "from": write.bureau,
        "relation": "PART_OF",
        "to": write.agency,
        "likelihood": "LIKELY",
        "quote": _quote(write.bureau, write.agency),
        "sources": [SOURCE],
    }
    started = time.perf_counter()
    _post(url, {"query": UPSERT, "variables": {"input": claim}}, WRITE_TOKEN)
    while True:
        data = _post(url, {"query": LINKED_TOTAL, "variables": {"ref": write.agency}})
        total = data["incidents"]["totalCount"]
        elapsed = time.perf_counter() - started
        if total == write.expected_total:
            return elapsed
        if elapsed > timeout_s:
            raise TimeoutError(
                f"{write.bureau} PART_OF {write.agency}: total {total} after {elapsed:.0f} s, "
                f"expected {write.expected_total}"
            )
        time.sleep(POLL_INTERVAL_S)


def measure_writes(url: str, reference: Reference, timeout_s: float) -> dict[str, dict[str, Any]]:
    """Write-to-visible latency at each concurrency of WRITES_PER_CLIENT (figures as
    bench/report.summarise makes them from latencies and failures)."""
    figures: dict[str, dict[str, Any]] = {}
    for clients, rounds in WRITES_PER_CLIENT.items():
        latencies: list[float] = []
        errors = 0
        first_error: str | None = None
        try:
            planned = plan_writes(reference, clients, rounds)
        except ValueError as too_small:  # the smallest graphs have a few agencies only
            figures[str(clients)] = {"not_measured": str(too_small)}
            continue
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            for writes in planned:
                futures = [pool.submit(write_and_wait, url, w, timeout_s) for w in writes]
                for future in futures:
                    try:
                        latencies.append(future.result() * 1000)
                    except Exception as failed:  # counted, and the first one shown
                        errors += 1
                        first_error = first_error or f"{type(failed).__name__}: {failed}"[:500]
        figures[str(clients)] = {
            "latencies_ms": latencies,
            "errors": errors,
            "first_error": first_error,
            "wall_s": time.perf_counter() - began,
            "timeout_s": timeout_s,
        }
    return figures
