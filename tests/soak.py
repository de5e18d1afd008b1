"""`make soak`: a mixed read/write load on the real app for minutes, with Neo4j killed
and restarted under it, hostile requests and fuzzing alongside; then the graph must be
exactly the expected one and no request may have failed with anything but a 503
NEO4J_UNAVAILABLE during an outage.

    python -m tests.soak --seconds 600
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

from graph.server.process import ManagedServer
from graph.setup import ensure_schema
from graph.store.database import Graph
from graph.writes.loading import load_documents
from seed.files import read_seed_files, shipped_seed_files
from tests.fault_neo4j import FaultNeo4j
from tests.fuzzing import fuzz
from tests.graph_state import canonical_dump
from tests.live_server import Outcome, post_graphql, served
from tests.neo4j_provider import managed_test_settings
from tests.test_hostile_requests import HOSTILE

TOKEN = "soak-writer-token"
KEYS = 40  # the writer cycles over this many entities and claims
READS = [
    '{ entity(ref: "apt31") { id name relations { totalCount } } }',
    '{ search(text: "electoral commission") { score entity { id } } }',
    '{ incidents(linkedTo: "china") { totalCount edges { node { id } } } }',
    '{ path(from: "apt31", to: "china") { likelihood } }',
    '{ neighbourhood(ref: "apt31", hops: 2) { nodes { id } } }',
]
ENTITY = """mutation($id: String!, $name: String!, $description: String!) {
  upsertEntity(input: {id: $id, label: "Organisation", name: $name,
    description: $description}) { id } }"""
CLAIM = """mutation($to: String!, $quote: String!) { upsertRelation(input: {from: "actor:apt31",
  relation: "TARGETED", to: $to, likelihood: LIKELY, quote: $quote,
  sources: ["source:ncsc-2024-03-25"]}) { id } }"""


def entity_write(key: int) -> tuple[str, dict[str, Any]]:
    return ENTITY, {
        "id": f"org:soak-{key}",
        "name": f"Soak organisation {key}",
        "description": f"Written by the soak's writer, key {key}; O'Brien \"quoted\" `x`.",
    }


def claim_write(key: int) -> tuple[str, dict[str, Any]]:
    return CLAIM, {"to": f"org:soak-{key}", "quote": f"APT31 targeted soak organisation {key}."}


class Soak:
    def __init__(self, url: str, fault: FaultNeo4j) -> None:
        self.url = url
        self.fault = fault
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.acknowledged: set[tuple[str, int]] = set()
        self.hostile_tried = 0
        self.fuzzed = 0
        self.fuzz_5xx: list[tuple[str, str]] = []
        self.faults = 0
        self.outages: list[tuple[float, float]] = []

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def reader(self, offset: int) -> None:
        with httpx.Client() as client:
            n = offset
            while not self.stop.is_set():
                self.record(post_graphql(client, self.url, {"query": READS[n % len(READS)]}))
                n += 1

    def writer(self) -> None:
        """Upsert entities and claims over KEYS keys, each retried until acknowledged."""
        with httpx.Client() as client:
            n = 0
            while not self.stop.is_set():
                key = n % KEYS
                for kind, (query, variables) in (
                    ("entity", entity_write(key)),
                    ("claim", claim_write(key)),
                ):
                    while not self.stop.is_set():
                        body = {"query": query, "variables": variables}
                        outcome = post_graphql(client, self.url, body, token=TOKEN)
                        self.record(outcome)
                        if outcome.status == 200 and not outcome.codes:
                            with self.lock:
                                self.acknowledged.add((kind, key))
                            break
                        time.sleep(0.2)
                n += 1

    def hostile(self) -> None:
        with httpx.Client() as client:
            n = 0
            while not self.stop.is_set():
                _, kwargs, _, _ = HOSTILE[n % len(HOSTILE)]
                sent = time.monotonic()
                try:
                    response = client.post(f"{self.url}/graphql", timeout=60, **kwargs)
                    codes = tuple(
                        str(e.get("extensions", {}).get("code"))
                        for e in response.json().get("errors") or []
                    )
                    self.record(Outcome(sent, time.monotonic(), response.status_code, codes))
                except httpx.HTTPError as error:
                    self.record(Outcome(sent, time.monotonic(), 0, (), str(error)))
                self.hostile_tried += 1
                n += 1
                time.sleep(0.1)

    def fuzzer(self) -> None:
        round_ = 0
        while not self.stop.is_set():
            report = fuzz(self.url, None, 20, seed=round_)
            self.fuzzed += report.requests
            self.fuzz_5xx += [e for e in report.server_errors if "NEO4J_UNAVAILABLE" not in e[1]]
            round_ += 1

    def faulter(self, every_s: float) -> None:
        while not self.stop.wait(every_s):
            started = time.monotonic()
            self.fault.server.kill()
            time.sleep(3)
            self.fault.server.start()
            self.faults += 1
            self.outages.append((started, time.monotonic()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--fault-every", type=float, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="threatgraph-soak-"))
    server = ManagedServer(managed_test_settings(work / "neo4j"))
    print(f"soak: starting Neo4j in {work}", flush=True)
    server.start()
    fault = FaultNeo4j(server)
    try:
        return run(fault, work, args.seconds, args.fault_every)
    finally:
        server.stop()


def seed(fault: FaultNeo4j) -> None:
    async def load() -> None:
        async with Graph.connect(env=fault.env(), bulk=True) as graph:
            await ensure_schema(graph)  # as threatgraph seed does
            await load_documents(graph, read_seed_files(shipped_seed_files()))

    asyncio.run(load())


def dump_of(fault: FaultNeo4j) -> list[str]:
    with fault.driver() as driver:
        return canonical_dump(driver)


def write_until_acknowledged(url: str, writes: list[tuple[str, int]]) -> None:
    with httpx.Client() as client:
        for kind, key in writes:
            query, variables = entity_write(key) if kind == "entity" else claim_write(key)
            for _ in range(20):
                outcome = post_graphql(client, url, {"query": query, "variables": variables}, TOKEN)
                if outcome.status == 200 and not outcome.codes:
                    break
                time.sleep(1)
            else:
                raise AssertionError(f"{kind} {key} not acknowledged: {outcome}")


def run(fault: FaultNeo4j, work: Path, seconds: float, fault_every: float) -> int:
    seed(fault)
    env = fault.env(THREATGRAPH_API_TOKENS=TOKEN)
    with served(env, work / "api.log") as live:
        soak = Soak(live.url, fault)
        threads = [threading.Thread(target=soak.reader, args=(n,)) for n in range(3)]
        threads += [threading.Thread(target=target) for target in (soak.writer, soak.hostile)]
        threads += [threading.Thread(target=soak.fuzzer)]
        threads += [threading.Thread(target=soak.faulter, args=(fault_every,))]
        print(f"soak: {seconds:.0f} s of load on {live.url}", flush=True)
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while time.monotonic() - started < seconds:
            time.sleep(5)
        soak.stop.set()
        for thread in threads:
            if not thread.daemon:
                thread.join()
        after_soak = dump_of(fault)
        # A write the API acknowledged must be in the graph, whatever was killed after it.
        losses = [
            (kind, key)
            for kind, key in sorted(soak.acknowledged)
            if not any(
                (f'"id": "org:soak-{key}"' if kind == "entity" else f"->org:soak-{key}@") in line
                for line in after_soak
            )
        ]
        # Every key written at least once: the graph the soak leaves must be seed + all keys.
        missing = [(k, key) for key in range(KEYS) for k in ("entity", "claim")]
        write_until_acknowledged(live.url, [m for m in missing if m not in soak.acknowledged])
        after_soak = dump_of(fault)
        # The expected graph: the same writes, once each, on a fresh seed, no faults.
        fault.clear()
        seed(fault)
        write_until_acknowledged(live.url, missing)
        expected = dump_of(fault)
        log = live.log()

    outcomes = soak.outcomes
    statuses = collections.Counter(o.status for o in outcomes)
    in_outage = [o for o in outcomes if o.status == 503]
    bad_503 = [o for o in in_outage if o.codes != ("NEO4J_UNAVAILABLE",)]
    other_5xx = [o for o in outcomes if o.status >= 500 and o.status != 503]
    transport = [o for o in outcomes if o.failure]
    crashes = log.count("Traceback") + log.count("unexpected error")
    equal = after_soak == expected
    digest = hashlib.sha256("\n".join(after_soak).encode()).hexdigest()[:16]
    print(
        "\nsoak figures:\n"
        f"  duration            {seconds:.0f} s\n"
        f"  requests            {len(outcomes)} (+{soak.fuzzed} fuzzed operations)\n"
        f"  statuses            {dict(sorted(statuses.items()))}\n"
        f"  writes acknowledged {len(soak.acknowledged)} distinct of {2 * KEYS}\n"
        f"  hostile inputs      {soak.hostile_tried}\n"
        f"  fuzzed operations   {soak.fuzzed}\n"
        f"  faults injected     {soak.faults} (SIGKILL + restart of Neo4j)\n"
        f"  503 during outages  {len(in_outage)} (all NEO4J_UNAVAILABLE: {not bad_503})\n"
        f"  other 5xx           {len(other_5xx) + len(soak.fuzz_5xx)}\n"
        f"  transport failures  {len(transport)}\n"
        f"  crashes in log      {crashes}\n"
        f"  losses              {len(losses)}\n"
        f"  canonical dump      {'equal to expected' if equal else 'DIFFERS'} ({digest})",
        flush=True,
    )
    if not equal:
        print("in the soak's graph only:", *sorted(set(after_soak) - set(expected))[:10], sep="\n")
        print(
            "in the expected graph only:", *sorted(set(expected) - set(after_soak))[:10], sep="\n"
        )
    ok = equal and not (bad_503 or other_5xx or soak.fuzz_5xx or transport or crashes or losses)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
