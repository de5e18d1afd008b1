"""Bulk loads: several documents per transaction write exactly what one per transaction does."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import neo4j
import pytest

from bench.generate import generate
from graph.database import Graph
from graph.documents import GraphDocument, validate_document
from graph.loading import LoadSummary, load_documents
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
    records, _, _ = driver.execute_query(
        "MATCH ()-[r {id: $id}]->() RETURN count(r) AS n", id=claim_id, database_="neo4j"
    )
    assert records[0]["n"] == 0


def test_documents_per_transaction_must_be_positive(neo4j_env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"^documents_per_transaction: at least 1, not 0$"):
        load(neo4j_env, RAW[:1], 0)
