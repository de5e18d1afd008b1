"""The benchmark's synthetic graph generator: deterministic, exact counts, the promised shape.

No database and no timings here: the generated documents are checked with the
project's own validator, as the loader would check them.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench.generate import SyntheticGraph, generate, shape_for
from graph.model.documents import validate_document

NODES = 2_000


@pytest.fixture(scope="module")
def synthetic() -> SyntheticGraph:
    return generate(NODES, seed=7)


def test_same_seed_gives_the_same_documents(synthetic: SyntheticGraph) -> None:
    again = generate(NODES, seed=7)
    assert json.dumps(again.documents) == json.dumps(synthetic.documents)
    assert again.hub_agency == synthetic.hub_agency
    assert again.far_pairs == synthetic.far_pairs


def test_another_seed_gives_other_documents(synthetic: SyntheticGraph) -> None:
    other = generate(NODES, seed=8)
    assert json.dumps(other.documents) != json.dumps(synthetic.documents)


def test_node_counts_add_up_to_the_size_asked_for(synthetic: SyntheticGraph) -> None:
    declared = Counter(
        entity["label"] for document in synthetic.documents for entity in document["entities"]
    )
    sources = sum(1 for document in synthetic.documents if "source" in document)
    assert sum(declared.values()) + sources == NODES
    assert dict(declared) | {"Source": sources} == synthetic.counts
    assert synthetic.counts == {
        "Country": 20,
        "Sector": 20,
        "Agency": 20,
        "Software": 20,
        "ThreatActor": 80,
        "Organisation": 640,
        "Incident": 1000,
        "Source": 200,
    }


def test_shape_scales_with_size() -> None:
    shape = shape_for(100_000)
    assert shape.total == 100_000
    assert (shape.incidents, shape.sources, shape.actors, shape.agencies) == (
        50_000,
        10_000,
        4_000,
        1_000,
    )
    with pytest.raises(ValueError, match="nodes: at least 200 for a meaningful graph, not 10"):
        shape_for(10)


def test_every_document_validates_and_every_claim_has_a_quote(synthetic: SyntheticGraph) -> None:
    declared: set[str] = set()
    for index, data in enumerate(synthetic.documents):
        document = validate_document(data, f"synthetic/{index}", require_quotes=True)
        # Dependency order: whatever a document uses is declared by it or by an earlier one.
        assert set(document.unresolved) <= declared, f"document {index}"
        declared |= document.declared_ids()
        assert all(claim.quote and claim.sources for claim in document.claims)
    assert sum(len(d["claims"]) for d in synthetic.documents) == synthetic.claim_count


def test_affiliation_is_heavy_tailed_with_the_hub_first(synthetic: SyntheticGraph) -> None:
    affiliated = Counter(
        claim["to"]
        for document in synthetic.documents
        for claim in document["claims"]
        if claim["relation"] == "AFFILIATED_WITH"
    )
    (busiest, most), *_ = affiliated.most_common()
    assert busiest == synthetic.hub_agency == "agency:a000000"
    median = sorted(affiliated.values())[len(affiliated) // 2]
    assert most >= 5 * median


def test_actors_have_the_aliases_the_benchmark_looks_up(synthetic: SyntheticGraph) -> None:
    aliases = {
        alias
        for document in synthetic.documents
        for entity in document["entities"]
        if entity["label"] == "ThreatActor"
        for alias in entity["aliases"]
    }
    assert len(synthetic.aliases) == 80
    assert set(synthetic.aliases) <= aliases
    assert len(set(synthetic.aliases)) == 80  # each names one actor
