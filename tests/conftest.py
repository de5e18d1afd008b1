"""Session fixtures: one real Neo4j for the whole suite, and a known state per test.

Tests that change the graph ask for `empty_graph` (everything deleted first);
tests that read the shipped seed ask for `seeded_graph`, which reloads the seed
only when a previous test left the database changed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from typing import Any

import neo4j
import pytest

from graph.server.process import ManagedServer
from graph.setup import ensure_schema
from graph.store.database import Graph
from tests.api_client import api, resolvers  # noqa: F401
from tests.differential import pair  # noqa: F401
from tests.fault_neo4j import fault_neo4j  # noqa: F401
from tests.graph_state import ROOT, empty_graph, imported_graph, seeded_graph  # noqa: F401
from tests.live_server import live_api  # noqa: F401
from tests.neo4j_provider import (
    COMPOSE_FILES,
    COMPOSE_PROJECT,
    COMPOSE_SETUP,
    SuiteNeo4j,
    compose_test_env,
    docker_engine_answers,
    managed_test_settings,
)


# pytest-docker's fixtures: the files and project name `docker compose` is run with.
@pytest.fixture(scope="session")
def docker_compose_file() -> list[str]:
    return [str(path) for path in COMPOSE_FILES]


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return COMPOSE_PROJECT


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return COMPOSE_SETUP


@pytest.fixture(scope="session")
def test_neo4j(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SuiteNeo4j]:
    if os.environ.get("NEO4J_URI"):
        yield SuiteNeo4j(
            uri=os.environ["NEO4J_URI"],
            user=os.environ.get("NEO4J_USER", "neo4j"),
            password=os.environ.get("NEO4J_PASSWORD", ""),
            database=os.environ.get("NEO4J_DATABASE", "neo4j"),
            managed=None,
        )
        return
    if docker_engine_answers():
        yield from _docker_neo4j(request)
        return
    server = ManagedServer(managed_test_settings(tmp_path_factory.mktemp("neo4j") / "home"))
    server.start()
    try:
        yield SuiteNeo4j(
            uri=server.settings.bolt_uri,
            user=server.user,
            password=server.password,
            database="neo4j",
            managed=server,
        )
    finally:
        server.stop()


def _docker_neo4j(request: pytest.FixtureRequest) -> Iterator[SuiteNeo4j]:
    # compose.yaml has no default password (it refuses to start without one), and
    # the project is new each run, so a fresh one fits its new volume; the api
    # replica's bookmark key is required too. `docker compose` reads the ports and
    # secrets from this process's environment.
    password = os.environ.get("NEO4J_PASSWORD") or "tg" + secrets.token_urlsafe(18)
    key = os.environ.get("THREATGRAPH_BOOKMARK_KEY") or secrets.token_hex(32)
    os.environ.update(compose_test_env(password, key))
    services: Any = request.getfixturevalue("docker_services")
    port = services.port_for("neo4j", 7687)
    uri = f"bolt://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with neo4j.GraphDatabase.driver(uri, auth=("neo4j", password)) as driver:
                driver.verify_connectivity()
        except Exception:
            return False
        return True

    services.wait_until_responsive(timeout=180.0, pause=1.0, check=answers)
    yield SuiteNeo4j(uri=uri, user="neo4j", password=password, database="neo4j", managed=None)


@pytest.fixture(scope="session")
def neo4j_env(test_neo4j: SuiteNeo4j) -> Iterator[dict[str, str]]:
    """Point every project component in this process at the test server, set up as
    `threatgraph seed` sets a store up (writes do not)."""
    saved = {key: os.environ.get(key) for key in test_neo4j.env()}
    os.environ.update(test_neo4j.env())

    async def set_up() -> None:
        async with Graph.connect(bulk=True) as graph:
            await ensure_schema(graph)

    asyncio.run(set_up())
    yield test_neo4j.env()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def driver(test_neo4j: SuiteNeo4j, neo4j_env: dict[str, str]) -> Iterator[neo4j.Driver]:
    """A plain driver for assertions written directly in Cypher."""
    with neo4j.GraphDatabase.driver(
        test_neo4j.uri, auth=(test_neo4j.user, test_neo4j.password)
    ) as opened:
        opened.verify_connectivity()
        yield opened


def cypher(driver: neo4j.Driver, query: str, **parameters: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(query, parameters, database_="neo4j")  # type: ignore[arg-type]
    return [record.data() for record in records]
