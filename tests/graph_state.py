"""A known graph state per test: `empty_graph` (everything deleted), `seeded_graph`
(exactly the shipped seed, reloaded only when the graph differs from it) or
`imported_graph` (the seed plus the offline MISP galaxy and ATT&CK imports, the
same way).

`seeded(driver)` compares a fingerprint of the whole graph (a hash of the
canonical dump) with the one recorded right after its last load, so a suite of
read-only tests pays for one load, and a test that changed anything (a
mutation, an `empty_graph` test) makes the next `seeded_graph` user reload.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest
import typer
from typer.testing import CliRunner

from api.cli_import import import_app
from graph.linking.upkeep import rebuild_closure
from graph.setup import ensure_schema
from graph.store.database import Graph
from graph.writes.loading import LoadSummary, load_documents
from seed.files import read_seed_files, shipped_seed_files

_seeded_fingerprint: str | None = None
ROOT = Path(__file__).resolve().parent.parent
# The fingerprint of the graph after each sequence of import commands.
_fingerprint_after: dict[tuple[str, ...], str] = {}
OFFLINE_IMPORTS = ("import misp-galaxy", "import attack")


def _records(driver: neo4j.Driver, query: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(query, database_="neo4j")
    return [record.data() for record in records]


# Properties that record when something was written, not what: two runs that
# write the same graph at different times differ only in these.
VOLATILE_PROPERTIES = frozenset({"imported_at"})


def canonical_dump(driver: neo4j.Driver, ignore: frozenset[str] = frozenset()) -> list[str]:
    """The whole graph as sorted lines: nodes with labels and all properties, then
    relationships with type, endpoint ids and all properties (but those in `ignore`).

    The change feed's own nodes (ChangeSet, ChangeFeed) are left out: they log how the
    graph was written, which differs between equal graphs written in another order
    or batching; tests/test_change_feed*.py check the feed itself.
    """
    nodes = _records(
        driver,
        "MATCH (n) WHERE NOT n:ChangeSet AND NOT n:ChangeFeed "
        "RETURN labels(n) AS labels, properties(n) AS props",
    )
    rels = _records(
        driver,
        "MATCH (a)-[r]->(b) RETURN type(r) AS type, a.id AS start, b.id AS end, "
        "properties(r) AS props",
    )
    for row in (*nodes, *rels):
        row["props"] = {k: v for k, v in row["props"].items() if k not in ignore}
    lines = [
        "node " + json.dumps([sorted(n["labels"]), n["props"]], sort_keys=True, default=str)
        for n in nodes
    ]
    lines += [
        "rel "
        + json.dumps([r["type"], r["start"], r["end"], r["props"]], sort_keys=True, default=str)
        for r in rels
    ]
    return sorted(lines)


def fingerprint(driver: neo4j.Driver, ignore: frozenset[str] = frozenset()) -> str:
    """A SHA-256 of the canonical dump: equal graphs, equal fingerprints."""
    return hashlib.sha256("\n".join(canonical_dump(driver, ignore)).encode()).hexdigest()


def clear(driver: neo4j.Driver) -> None:
    """Delete every node and relationship, then set the store up as `threatgraph seed`
    does (constraints and indexes stay; the closure's marker is made again)."""
    global _seeded_fingerprint
    _seeded_fingerprint = None
    driver.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")

    async def set_up() -> None:
        async with Graph.connect(bulk=True) as graph:
            await ensure_schema(graph)

    asyncio.run(set_up())


def load_shipped_seed() -> LoadSummary:
    """Load every shipped seed file through the loader (NEO4J_* must point at the server)."""

    async def run() -> LoadSummary:
        async with Graph.connect(bulk=True) as graph:
            return await load_documents(graph, read_seed_files(shipped_seed_files()))

    return asyncio.run(run())


def rebuild_linked_closure() -> None:
    """Build the "linked to" closure again, after a test wrote with Cypher around
    threatgraph's write paths (which keep it up to date; graph/linking/upkeep.py)."""

    async def run() -> None:
        async with Graph.connect(bulk=True) as graph:
            await rebuild_closure(graph)

    asyncio.run(run())


def seeded(driver: neo4j.Driver) -> None:
    """Make the graph exactly the shipped seed, reloading only when it differs."""
    global _seeded_fingerprint
    if _seeded_fingerprint is not None and fingerprint(driver) == _seeded_fingerprint:
        return
    clear(driver)
    load_shipped_seed()
    _seeded_fingerprint = fingerprint(driver)


def seeded_then(driver: neo4j.Driver, commands: tuple[str, ...]) -> None:
    """Make the graph the shipped seed followed by `threatgraph <command>` for each
    of `commands` ("import attack", "import stix docs/examples/x.json"), run through
    the CLI in order, reloading only when the graph differs from that state."""
    known = _fingerprint_after.get(commands)
    if known is not None and fingerprint(driver) == known:
        return
    seeded(driver)
    cli = typer.Typer()
    cli.add_typer(import_app, name="import")
    for command in commands:
        # Paths in a command are relative to the repository, as the docs show them.
        words = [str(ROOT / w) if "/" in w else w for w in command.split()]
        if words[:1] != ["import"]:
            raise ValueError(f"{command!r}: only `threatgraph import ...` commands set a graph up")
        result = CliRunner().invoke(cli, [*words, "-q"])
        assert result.exit_code == 0, f"threatgraph {command}: {result.output}"
    _fingerprint_after[commands] = fingerprint(driver)


@pytest.fixture
def empty_graph(driver: neo4j.Driver) -> Iterator[None]:
    """A graph with no nodes (constraints and indexes kept)."""
    clear(driver)
    yield


@pytest.fixture
def seeded_graph(driver: neo4j.Driver, neo4j_env: dict[str, str]) -> Iterator[None]:
    """A graph holding exactly the shipped seed."""
    seeded(driver)
    yield


@pytest.fixture
def imported_graph(driver: neo4j.Driver, neo4j_env: dict[str, str]) -> Iterator[None]:
    """The shipped seed plus the offline MISP galaxy and ATT&CK imports."""
    seeded_then(driver, OFFLINE_IMPORTS)
    yield
