"""Python-side cost per request: compiled executor vs resolvers, same app, same Neo4j.

Usage (NEO4J_* pointing at a scratch database holding the seed):

    .venv/bin/python bench/compiled_python_cost.py [--incidents 50] [--requests 200]
        [--profile bench/compiled_profile.txt]

It adds `--incidents` incidents linked to China by 3-step evidence paths
(incident -ATTRIBUTED_TO-> bench actor -AFFILIATED_WITH-> MSS -PART_OF-> China),
then asks the same query through both executors and prints, per request, the
wall time and this process's CPU time (the Python side: Starlette, Strawberry or
the compiled executor, the driver's decoding, JSON). Neo4j runs in its own
process, so its work shows in wall time only. With --profile, pyinstrument
records the compiled path. The generated incidents are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import httpx2
import neo4j
import orjson

from api.app import create_app
from api.settings import ApiSettings
from graph.store.database import Graph
from graph.store.settings import Neo4jSettings

QUERY = """query ($to: String!, $first: Int) {
  incidents(linkedTo: $to, first: $first) { totalCount nodes { id name started
    linkPath { likelihood steps { id from { id name } relation to { id name } likelihood
      quote sources { id } assessedBy { id } } } } } }"""

ADD = """
UNWIND range(1, $n) AS k
MATCH (mss:Agency {id: 'agency:mss'})
CREATE (a:Entity:ThreatActor {id: 'actor:bench-' + k, name: 'Bench actor ' + k, aliases: [],
  description: '', lookup_keys: ['actor:bench-' + k]})
CREATE (i:Entity:Incident {id: 'incident:bench-' + k, name: 'Bench incident ' + k, aliases: [],
  description: 'generated for the benchmark', started: '2023-01-' + right('0' + (k % 28 + 1), 2),
  lookup_keys: ['incident:bench-' + k]})
CREATE (i)-[:ATTRIBUTED_TO {id: i.id + '-ATTRIBUTED_TO->' + a.id + '@source:ncsc-2024-03-25',
  likelihood: 'LIKELY', likelihood_rank: 4, sources: ['source:ncsc-2024-03-25'],
  source: 'source:ncsc-2024-03-25', quote: 'generated', assessed_by: 'agency:ncsc'}]->(a)
CREATE (a)-[:AFFILIATED_WITH {id: a.id + '-AFFILIATED_WITH->agency:mss@source:ncsc-2024-03-25',
  likelihood: 'HIGHLY_LIKELY', likelihood_rank: 5, sources: ['source:ncsc-2024-03-25'],
  source: 'source:ncsc-2024-03-25', quote: 'generated'}]->(mss)
"""
REMOVE = "MATCH (n:Entity) WHERE n.id STARTS WITH 'actor:bench-' OR n.id STARTS WITH " + (
    "'incident:bench-' DETACH DELETE n"
)


async def _measure(executor: str, requests: int, first: int) -> tuple[list[float], float, bytes]:
    # The app runs in this thread and loop (no TestClient portal), so process CPU
    # time and a profiler both see exactly the request handling.
    body = {"query": QUERY, "variables": {"to": "China", "first": first}}
    async with Graph.connect() as graph:
        # One request with THREATGRAPH_DEBUG=1 first: the path measured must be the one named.
        debug = ApiSettings.from_env({"THREATGRAPH_EXECUTOR": executor, "THREATGRAPH_DEBUG": "1"})
        app = create_app(debug, graph=graph)
        app.state.graph = graph
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
            said = orjson.loads((await client.post("/graphql", json=body)).content)
            assert said["extensions"]["threatgraph"]["executor"] == executor, said
        settings = ApiSettings.from_env({"THREATGRAPH_EXECUTOR": executor})
        app = create_app(settings, graph=graph)
        app.state.graph = graph
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
            answer = b""
            for _ in range(20):
                answer = (await client.post("/graphql", json=body)).content
            walls = []
            cpu_started = time.process_time()
            for _ in range(requests):
                started = time.perf_counter()
                await client.post("/graphql", json=body)
                walls.append(time.perf_counter() - started)
            cpu = (time.process_time() - cpu_started) / requests
    return walls, cpu, answer


def measure(executor: str, requests: int, first: int) -> tuple[list[float], float, bytes]:
    return asyncio.run(_measure(executor, requests, first))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", type=Path, default=None)
    options = parser.parse_args()
    settings = Neo4jSettings.from_env()
    assert settings.uri, "set NEO4J_URI (and NEO4J_USER / NEO4J_PASSWORD) to a scratch database"
    ApiSettings.from_env()
    with neo4j.GraphDatabase.driver(
        settings.uri, auth=(settings.user, settings.password or "")
    ) as driver:
        driver.execute_query(REMOVE)
        driver.execute_query(ADD, {"n": options.incidents})
        try:
            results = {}
            for executor in ("resolvers", "compiled"):
                results[executor] = measure(executor, options.requests, options.incidents + 3)
            assert results["resolvers"][2] == results["compiled"][2], "answers differ"
            answer = orjson.loads(results["compiled"][2])["data"]["incidents"]
            steps = sum(len(n["linkPath"]["steps"]) for n in answer["nodes"])
            print(
                f"response: {len(answer['nodes'])} incidents, {steps} steps, "
                f"{len(results['compiled'][2])} bytes"
            )
            for executor, (walls, cpu, _) in results.items():
                print(
                    f"{executor:9s} wall p50 {statistics.median(walls) * 1000:7.2f} ms  "
                    f"p90 {statistics.quantiles(walls, n=10)[-1] * 1000:7.2f} ms  "
                    f"python cpu/request {cpu * 1000:7.2f} ms"
                )
            if options.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005, async_mode="disabled")
                with profiler:
                    measure("compiled", options.requests, options.incidents + 3)
                options.profile.write_text(profiler.output_text(unicode=False, color=False))
                print(f"profile of the compiled path written to {options.profile}")
        finally:
            driver.execute_query(REMOVE)


if __name__ == "__main__":
    main()
