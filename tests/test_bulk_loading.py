"""Bulk loads: several documents per transaction write exactly what one per transaction does."""

from __future__ import annotations

import asyncio
import copy
import gc
from typing import Any

import neo4j
import pytest

from bench.generate import generate
from graph.model.documents import validate_document
from graph.model.records import GraphDocument
from graph.store.database import Graph
from graph.writes.changes import changes_after
from graph.writes.loading import LoadSummary, cyclic_gc_paused, load_documents
from tests.graph_state import canonical_dump, clear

RAW = generate(300, seed=3).documents


def documents(raw: list[dict[str, Any]]) -> list[GraphDocument]:
    return [validate_document(data, f"synthetic/{i}") for i, data in enumerate(raw)]


def load(env: dict[str, str], raw: list[dict[str, Any]], per_transaction: int) -> LoadSummary:
    async def run() -> LoadSummary:
        async with Graph.connect(env=env) as graph:
            return await load_documents(
                graph, documents(raw), documents_per_transaction=per_transaction
            )

    return asyncio.run(run())


def test_batched_load_writes_the_same_graph_as_one_document_per_transaction(
    empty_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    one_by_one = load(neo4j_env, RAW, 1)
    expected = canonical_dump(driver)
    clear(driver)
    batched = load(neo4j_env, RAW, 7)
    assert canonical_dump(driver) == expected
    assert batched == one_by_one
    assert (batched.entities_created, batched.claims_created) == (300, one_by_one.claims_written)
    assert len(batched.documents) == len(RAW)


def test_batched_reload_withdraws_a_claim_its_source_no_longer_makes(
    empty_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    load(neo4j_env, RAW, 7)
    changed = copy.deepcopy(RAW)
    dropped = changed[5]["claims"].pop(0)
    source = changed[5]["source"]["id"]
    claim_id = f"{dropped['from']}-{dropped['relation']}->{dropped['to']}@{source}"
    summary = load(neo4j_env, changed, 7)
    assert summary.claims_removed == 1
    assert summary.claims_created == 0
    # Kept, withdrawn as of the load (no revision date): no answer of today shows it.
    records, _, _ = driver.execute_query(
        "MATCH ()-[r {id: $id}]->() RETURN r.withdrawn_on = toString(date()) AS today",
        id=claim_id,
        database_="neo4j",
    )
    assert [record["today"] for record in records] == [True]


def test_documents_per_transaction_must_be_positive(neo4j_env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"^documents_per_transaction: at least 1, not 0$"):
        load(neo4j_env, RAW[:1], 0)


def _feed(env: dict[str, str]) -> list[tuple[str, str]]:
    """Every recorded change as (kind, entity or relationship id), in id order."""

    async def run() -> list[tuple[str, str]]:
        async with Graph.connect(env=env) as graph:
            page = await changes_after(graph, 0, 100_000)
        return sorted((c.kind, c.entity_id or c.relationship_id or "") for c in page.changes)

    return asyncio.run(run())


def mixed_reload() -> list[dict[str, Any]]:
    """Documents 0-13 again (one of them changed) and 14-20 new, where document 15
    also declares an entity of document 16 (so one batch declares it twice) and
    cites a claim between two entities that already exist."""
    raw = copy.deepcopy(RAW[:21])
    raw[3]["entities"][0]["description"] = "Changed on reload."
    raw[15]["entities"].append({**raw[16]["entities"][0], "description": "Declared twice."})
    old = raw[0]["entities"]
    raw[15]["claims"].append(
        {"from": old[1]["id"], "relation": "RELATED_TO", "to": old[2]["id"], "likelihood": "LIKELY"}
    )
    return raw


def test_a_batch_of_new_existing_and_twice_declared_entities_matches_one_per_transaction(
    empty_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    # New entities are CREATEd and the rest MERGEd (graph/writes/batch_write.py): in one batch,
    # that must write what one transaction per document does, and record the same
    # changes but one: the entity declared twice is one creation, not a creation
    # and an update.
    load(neo4j_env, RAW[:14], 1)
    one_by_one = load(neo4j_env, mixed_reload(), 1)
    expected_graph, expected_feed = canonical_dump(driver), _feed(neo4j_env)
    clear(driver)
    load(neo4j_env, RAW[:14], 1)
    batched = load(neo4j_env, mixed_reload(), 21)
    assert canonical_dump(driver) == expected_graph
    twice = RAW[16]["entities"][0]["id"]
    changed = RAW[3]["entities"][0]["id"]
    assert [c for c in expected_feed if c[0] == "updated"] == sorted(
        [("updated", twice), ("updated", changed)]
    )
    expected_feed.remove(("updated", twice))
    assert _feed(neo4j_env) == expected_feed
    assert batched.entities_created == one_by_one.entities_created > 0
    assert batched.claims_created == one_by_one.claims_created > 0


def test_a_failing_batch_keeps_the_batches_before_it_and_writes_none_after_it(
    empty_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    # The loader prepares the next batch while one is written (graph/writes/loading.py); a
    # batch that fails must still stop the load there. A real constraint makes the
    # second of three batches fail: document 9 gives its source document 0's address.
    raw = copy.deepcopy(RAW[:21])
    raw[9]["source"]["url"] = raw[0]["source"]["url"]
    driver.execute_query(
        "CREATE CONSTRAINT test_source_url FOR (n:Source) REQUIRE n.url IS UNIQUE",
        database_="neo4j",
    )
    try:
        with pytest.raises(neo4j.exceptions.ConstraintError, match=r"reports\.example/0'"):
            load(neo4j_env, raw, 7)
    finally:
        driver.execute_query("DROP CONSTRAINT test_source_url", database_="neo4j")
    records, _, _ = driver.execute_query(
        "MATCH (s:Source) RETURN s.id AS id ORDER BY id", database_="neo4j"
    )
    assert [r["id"] for r in records] == [d["source"]["id"] for d in raw[:7]]
    written = set(_feed(neo4j_env))
    assert ("created", raw[6]["source"]["id"]) in written
    # Nothing of batches 2 and 3: no source, mention (`<source>-MENTIONS->…`), claim (`…@<source>`).
    later = [d["source"]["id"] for d in raw[7:]]
    assert [ref for _, ref in written if any(source in ref for source in later)] == []


def test_a_long_parameter_list_reaches_neo4j_whole_and_the_debug_log_names_only_its_length(
    neo4j_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # The driver formats every RUN for its DEBUG log even when nothing logs at DEBUG;
    # graph/store/database.py sends long lists as a list subclass whose repr is its length.
    rows = list(range(1_000))
    short = ["a", "b"]

    async def run() -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
        async with Graph.connect(env=neo4j_env) as graph:
            single = await graph.read(
                "UNWIND $rows AS row RETURN sum(row) AS total, count(*) AS n, $short AS short",
                {"rows": rows, "short": short},
            )
            in_one = await graph.write_in_one_transaction(
                [("UNWIND $rows AS row RETURN max(row) AS top", {"rows": rows})]
            )
            return single, in_one

    with caplog.at_level("DEBUG", logger="neo4j"):
        single, in_one = asyncio.run(run())
    assert single == [{"total": 499_500, "n": 1_000, "short": ["a", "b"]}]
    assert in_one == [[{"top": 999}]]
    runs = [record.getMessage() for record in caplog.records if "C: RUN" in record.getMessage()]
    assert len(runs) == 2
    assert all("'rows': [<1000 items>]" in run and "998, 999" not in run for run in runs)
    assert "'short': ['a', 'b']" in runs[0]


def test_the_cyclic_gc_pause_restores_the_collector_as_it_was() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="a failing load"), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a failing load")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # paused by someone else: left to them
    finally:
        gc.enable()
