"""Scale-out: two real API processes on one Neo4j, bookmarks carried by the client, routing.

The replicas are `threatgraph serve` subprocesses on free ports, reaching the
test Neo4j through a neo4j:// (routing) URI, as they would a cluster or Aura.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from neo4j.exceptions import ClientError

from api.bookmarks import BOOKMARK_HEADER, decode_bookmarks, encode_bookmarks
from graph.server.process import free_port
from graph.store.database import Graph
from tests.api_client import WRITER_TOKEN

THREATGRAPH = str(Path(sys.executable).parent / "threatgraph")
# The deployment's bookmark key, shared by both replicas.
BOOKMARK_KEY = "scale-out-bookmark-key-of-32-characters-or-more"

UPSERT = """mutation { upsertEntity(input: {id: "org:scale-out-probe",
  label: "Organisation", name: "Scale-out probe"}) { id } }"""
READ = '{ entity(ref: "org:scale-out-probe") { id name } }'


def routing_env(neo4j_env: dict[str, str]) -> dict[str, str]:
    """The test server's settings with the routing scheme: what a cluster or Aura needs."""
    return {**neo4j_env, "NEO4J_URI": neo4j_env["NEO4J_URI"].replace("bolt://", "neo4j://")}


def post(
    base: str, query: str, token: str | None = None, bookmark: str | None = None
) -> tuple[int, dict[str, Any], str | None]:
    """(status, JSON body, bookmark header) for one GraphQL request to a replica."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if bookmark is not None:
        headers[BOOKMARK_HEADER] = bookmark
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response), response.headers.get(BOOKMARK_HEADER)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers.get(BOOKMARK_HEADER)


def wait_until_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"replica at {base} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"replica at {base} was not ready within 120 s")


@pytest.fixture(scope="module")
def replicas(neo4j_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Two API processes, A and B, sharing nothing but the database."""
    env = {
        **os.environ,
        **routing_env(neo4j_env),
        "THREATGRAPH_API_TOKENS": WRITER_TOKEN,
        "THREATGRAPH_BOOKMARK_KEY": BOOKMARK_KEY,
    }
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen(
                [THREATGRAPH, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append((f"http://127.0.0.1:{port}", process))
        for base, process in started:
            wait_until_ready(base, process)
        yield started[0][0], started[1][0]
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            process.wait(timeout=30)


def test_a_read_on_replica_b_sees_a_write_made_through_replica_a(
    replicas: tuple[str, str], seeded_graph: None
) -> None:
    a, b = replicas
    status, body, bookmark = post(a, UPSERT, token=WRITER_TOKEN)
    assert (status, body) == (
        200,
        {"data": {"upsertEntity": {"id": "org:scale-out-probe"}}},
    )
    assert bookmark is not None
    assert len(decode_bookmarks(bookmark, BOOKMARK_KEY.encode())) == 1
    status, body, echoed = post(b, READ, bookmark=bookmark)
    assert (status, body) == (
        200,
        {"data": {"entity": {"id": "org:scale-out-probe", "name": "Scale-out probe"}}},
    )
    # B hands back a bookmark covering at least what it was given.
    assert echoed is not None
    assert len(decode_bookmarks(echoed, BOOKMARK_KEY.encode())) == 1


def test_replica_b_reads_under_the_clients_bookmark(replicas: tuple[str, str]) -> None:
    # A bookmark Neo4j never issued: B's read fails on it, so B's read really carries it.
    _, b = replicas
    status, body, _ = post(
        b, READ, bookmark=encode_bookmarks(["FB:not-a-neo4j-bookmark"], BOOKMARK_KEY.encode())
    )
    [error] = body["errors"]
    assert (status, error["extensions"]) == (
        200,
        {"code": "BAD_USER_INPUT", "reason": "BAD_BOOKMARK"},
    )
    # What failed, without the driver's text.
    assert error["message"] == "Neo4j does not recognise the bookmark sent"


def test_reads_without_a_bookmark_header_answer_without_one(replicas: tuple[str, str]) -> None:
    _, b = replicas
    status, body, bookmark = post(b, '{ entity(ref: "APT31") { id } }')
    assert (status, body) == (200, {"data": {"entity": {"id": "actor:apt31"}}})
    assert bookmark is not None  # the read's own bookmark, for the client's next request


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("%%%", "not a value this API issued", id="not-base64"),
        pytest.param(
            encode_bookmarks([], BOOKMARK_KEY.encode()) + "x" * 5000,
            "longer than 4096 characters",
            id="long",
        ),
        pytest.param("eyJhIjoxfQ", "not a value this API issued", id="unsigned"),
    ],
)
def test_a_malformed_bookmark_header_is_refused_by_name(
    replicas: tuple[str, str], value: str, problem: str
) -> None:
    status, body, _ = post(replicas[1], READ, bookmark=value)
    assert (status, body) == (
        400,
        {
            "errors": [
                {
                    "message": f"x-threatgraph-bookmark: {problem}; send back the value of the "
                    "last response's header exactly as received",
                    "extensions": {"code": "BAD_USER_INPUT", "reason": "BAD_BOOKMARK"},
                }
            ]
        },
    )


def test_neo4j_scheme_routes_reads_to_readers_and_writes_to_the_leader(
    neo4j_env: dict[str, str], empty_graph: None
) -> None:
    async def run() -> tuple[str, dict[str, list[str]], str | None, list[dict[str, Any]]]:
        async with Graph.connect(env=routing_env(neo4j_env)) as graph:
            table = await graph.read(
                "CALL dbms.routing.getRoutingTable({}, 'neo4j') YIELD servers RETURN servers"
            )
            roles = {server["role"]: server["addresses"] for server in table[0]["servers"]}
            refused: str | None = None
            try:
                await graph.read("CREATE (:RoutingProbe)")
            except ClientError as error:
                refused = error.code
            written = await graph.write("CREATE (p:RoutingProbe) RETURN count(p) AS n")
            return type(graph.driver).__name__, roles, refused, written

    driver_kind, roles, refused, written = asyncio.run(run())
    address = neo4j_env["NEO4J_URI"].removeprefix("bolt://")
    assert driver_kind == "AsyncNeo4jDriver"  # the routing driver, not a direct connection
    # The single Community server answers routing requests, in every role.
    assert roles == {"WRITE": [address], "READ": [address], "ROUTE": [address]}
    # Reads run in READ access mode (on a cluster: a follower), so a write inside one fails.
    assert refused == "Neo.ClientError.Statement.AccessMode"
    assert written == [{"n": 1}]
