"""incidents(linkedTo:) and path over a generated graph, through both executors, against
the answers worked out here in Python from the claims themselves.

The linkedTo statement computes every linked incident's strength but builds evidence
paths for the asked page only (graph/reads/questions.py `linked_incident_rows`), so these
tests walk pages past the first, the last partial page and a page past the end. Each
evidence path must be the one the rule names: for linkedTo the strongest chain, then
the shortest, then the first by claim ids; for path the shortest, then the strongest,
then the first by claim ids.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import neo4j
import pytest
from starlette.testclient import TestClient

from bench.generate import SyntheticGraph, generate
from bench.ingest import validated
from graph.model.likelihood import Likelihood
from graph.model.vocabulary import CLAIM_TYPES
from graph.store.database import Graph
from graph.writes.loading import load_documents
from schema.pagination import encode_cursor
from tests.api_client import gql
from tests.conftest import cypher
from tests.graph_state import clear

# The GraphQL names of the likelihood ranks, weakest (rank 0) first.
LIKELIHOODS = [term.value for term in Likelihood]
# What follows the first claim of a chain, by the first claim's type (graph/reads/questions.py).
ONWARD = {"ATTRIBUTED_TO": {"AFFILIATED_WITH", "PART_OF"}, "TARGETED": {"PART_OF"}}
MAX_ONWARD = 5

PAGE = """
query ($to: String!, $first: Int, $after: String, $min: Likelihood) {
  incidents(linkedTo: $to, first: $first, after: $after, minLikelihood: $min) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage }
    edges { cursor node { id linkPath { likelihood steps { id } } } }
  }
}"""


@dataclass(frozen=True)
class Claim:
    id: str
    type: str
    start: str
    end: str
    rank: int


@dataclass(frozen=True)
class Link:
    incident: str
    started: str
    strength: int
    steps: tuple[str, ...]  # claim ids of the evidence path
    tied: int  # chains as strong and as short as that one (the claim ids chose among them)


def expected_links(driver: neo4j.Driver, target: str, minimum: int) -> list[Link]:
    """Every incident linked to `target`, in answer order, each with its evidence path."""
    claims = [
        Claim(**row)
        for row in cypher(
            driver,
            "MATCH (a)-[r:ATTRIBUTED_TO|AFFILIATED_WITH|PART_OF|TARGETED]->(b) "
            "WHERE r.likelihood_rank >= $min "
            "RETURN r.id AS id, type(r) AS type, a.id AS start, b.id AS end, "
            "r.likelihood_rank AS rank",
            min=minimum,
        )
    ]
    outgoing: dict[str, list[Claim]] = defaultdict(list)
    for claim in claims:
        outgoing[claim.start].append(claim)
    incidents = cypher(driver, "MATCH (i:Incident) RETURN i.id AS id, i.started AS started")
    links = []
    for incident in incidents:
        chains: list[tuple[Claim, ...]] = []
        for first in outgoing[incident["id"]]:
            if first.type in ONWARD:
                chains.extend(_chains_to(target, (first,), ONWARD[first.type], outgoing))
        if not chains:
            continue
        # Strongest, then shortest, then first by claim ids.
        best = min(chains, key=lambda c: (-min(s.rank for s in c), len(c), [s.id for s in c]))
        strength = min(s.rank for s in best)
        tied = sum(1 for c in chains if min(s.rank for s in c) == strength and len(c) == len(best))
        links.append(
            Link(
                incident["id"],
                incident["started"] or "",
                strength,
                tuple(s.id for s in best),
                tied,
            )
        )
    links.sort(key=lambda link: link.incident)
    links.sort(key=lambda link: link.started, reverse=True)
    links.sort(key=lambda link: link.strength, reverse=True)
    return links


def _chains_to(
    target: str,
    chain: tuple[Claim, ...],
    onward: set[str],
    outgoing: dict[str, list[Claim]],
) -> Iterator[tuple[Claim, ...]]:
    if chain[-1].end == target:
        yield chain
    if len(chain) > MAX_ONWARD:
        return
    for claim in outgoing[chain[-1].end]:
        if claim.type in onward and claim not in chain:
            yield from _chains_to(target, (*chain, claim), onward, outgoing)


@pytest.fixture(scope="module")
def synthetic() -> SyntheticGraph:
    return generate(2_000, seed=7)


@pytest.fixture(scope="module")
def generated_graph(driver: neo4j.Driver, synthetic: SyntheticGraph) -> None:
    """The generated graph alone, loaded once: every test here only reads it."""
    clear(driver)  # also makes the next `seeded_graph` test reload the seed

    async def load() -> None:
        async with Graph.connect(bulk=True) as graph:
            await load_documents(
                graph, validated(synthetic.documents), documents_per_transaction=100
            )

    asyncio.run(load())


def page(client: TestClient, target: str, skip: int, first: int, minimum: int) -> dict[str, Any]:
    after = encode_cursor(skip - 1) if skip else None
    body = gql(client, PAGE, to=target, first=first, after=after, min=LIKELIHOODS[minimum])
    assert "errors" not in body, body["errors"]
    answer: dict[str, Any] = body["data"]["incidents"]
    return answer


def as_links(answer: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (
            edge["node"]["id"],
            edge["node"]["linkPath"]["likelihood"],
            tuple(step["id"] for step in edge["node"]["linkPath"]["steps"]),
        )
        for edge in answer["edges"]
    ]


@pytest.mark.parametrize("minimum", [0, 4], ids=["any", "at-least-likely"])
def test_pages_of_the_hub_are_the_links_worked_out_from_the_claims(
    api: TestClient,
    resolvers: TestClient,
    driver: neo4j.Driver,
    generated_graph: None,
    synthetic: SyntheticGraph,
    minimum: int,
) -> None:
    hub = synthetic.hub_agency
    links = expected_links(driver, hub, minimum)
    # Enough to page through, and some paths are more than one claim long.
    assert len(links) > 60
    assert max(len(link.steps) for link in links) >= 3
    last = (len(links) - 1) // 25 * 25  # the last page, full or not
    for skip, first in [(0, 25), (25, 25), (last, 25), (len(links) + 10, 5)]:
        want = [
            (link.incident, LIKELIHOODS[link.strength], link.steps)
            for link in links[skip : skip + first]
        ]
        for client in (api, resolvers):
            answer = page(client, hub, skip, first, minimum)
            assert answer["totalCount"] == len(links)
            assert as_links(answer) == want
            assert [edge["cursor"] for edge in answer["edges"]] == [
                encode_cursor(skip + n) for n in range(len(want))
            ]
            assert answer["pageInfo"] == {
                "hasNextPage": skip + first < len(links),
                "hasPreviousPage": skip > 0,
            }


def test_equally_strong_and_short_evidence_is_the_first_by_claim_ids(
    api: TestClient, resolvers: TestClient, driver: neo4j.Driver, generated_graph: None
) -> None:
    # Incidents with more than one strongest, shortest path to their actor's agency:
    # the answer must name the same one every time, the first by claim ids.
    rows = cypher(
        driver,
        "MATCH (i:Incident)-[a1:ATTRIBUTED_TO]->(x1)-[o1:AFFILIATED_WITH]->(g:Agency), "
        "(i)-[a2:ATTRIBUTED_TO]->(x2)-[o2:AFFILIATED_WITH]->(g) "
        "WHERE x1 <> x2 AND a1.likelihood_rank = a2.likelihood_rank "
        "AND o1.likelihood_rank = o2.likelihood_rank "
        "RETURN DISTINCT g.id AS agency LIMIT 3",
    )
    assert rows, "the generated graph has no incident with two equal chains to one agency"
    for agency in (row["agency"] for row in rows):
        links = expected_links(driver, agency, 0)
        # Some incident on the compared page has more than one best chain.
        assert any(link.tied > 1 for link in links[:50]), agency
        want = [(link.incident, LIKELIHOODS[link.strength], link.steps) for link in links[:50]]
        for client in (api, resolvers):
            assert as_links(page(client, agency, 0, 50, 0)) == want


PATH = """
query ($from: String!, $to: String!, $hops: Int, $min: Likelihood) {
  path(from: $from, to: $to, maxHops: $hops, minLikelihood: $min) { likelihood steps { id } }
}"""


def expected_path(
    driver: neo4j.Driver, origin: str, destination: str, max_hops: int, minimum: int
) -> tuple[str, tuple[str, ...], int] | None:
    """(likelihood, claim ids, how many chains tie with it) of the shortest chain of
    claims either way round, the strongest of equally short ones, then the first by
    claim ids; None when none."""
    claims = cypher(
        driver,
        "MATCH (a)-[r]->(b) WHERE type(r) IN $types AND r.likelihood_rank >= $min "
        "RETURN r.id AS id, a.id AS start, b.id AS end, r.likelihood_rank AS rank",
        types=sorted(CLAIM_TYPES),
        min=minimum,
    )
    touching: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for claim in claims:
        touching[claim["start"]].append(claim)
        touching[claim["end"]].append(claim)
    # Breadth first from the origin, keeping every claim that reaches a node first.
    distance = {origin: 0}
    reached_by: dict[str, list[tuple[dict[str, Any], str]]] = defaultdict(list)
    frontier = [origin]
    while frontier and destination not in distance and distance[frontier[0]] < max_hops:
        following: list[str] = []
        for node in frontier:
            for claim in touching[node]:
                other = claim["end"] if claim["start"] == node else claim["start"]
                if other not in distance:
                    distance[other] = distance[node] + 1
                    following.append(other)
                if distance[other] == distance[node] + 1:
                    reached_by[other].append((claim, node))
        frontier = following
    if destination not in distance:
        return None

    def back(node: str) -> Iterator[tuple[dict[str, Any], ...]]:
        if node == origin:
            yield ()
            return
        for claim, previous in reached_by[node]:
            for chain in back(previous):
                yield (*chain, claim)

    shortest = list(back(destination))
    best = min(
        shortest, key=lambda chain: (-min(c["rank"] for c in chain), [c["id"] for c in chain])
    )
    strength = min(c["rank"] for c in best)
    tied = sum(1 for chain in shortest if min(c["rank"] for c in chain) == strength)
    return LIKELIHOODS[strength], tuple(c["id"] for c in best), tied


@pytest.mark.parametrize(
    ("max_hops", "minimum"),
    [(6, 0), (3, 0), (6, 5)],
    ids=["six-any", "three-any", "six-highly-likely"],
)
def test_paths_between_far_pairs_are_the_chains_worked_out_from_the_claims(
    api: TestClient,
    resolvers: TestClient,
    driver: neo4j.Driver,
    generated_graph: None,
    synthetic: SyntheticGraph,
    max_hops: int,
    minimum: int,
) -> None:
    found = tied = 0
    for origin, destination in synthetic.far_pairs[:12]:
        expected = expected_path(driver, origin, destination, max_hops, minimum)
        found += expected is not None
        tied += expected is not None and expected[2] > 1
        want = None if expected is None else expected[:2]
        for client in (api, resolvers):
            body = gql(
                client,
                PATH,
                **{"from": origin, "to": destination},
                hops=max_hops,
                min=LIKELIHOODS[minimum],
            )
            assert "errors" not in body, body["errors"]
            answer = body["data"]["path"]
            got = (
                None
                if answer is None
                else (answer["likelihood"], tuple(step["id"] for step in answer["steps"]))
            )
            assert got == want, (origin, destination)
    # All twelve pairs are joined within six hops (ten by claims graded at least
    # highly likely), two within three.
    assert found == {(6, 0): 12, (3, 0): 2, (6, 5): 10}[(max_hops, minimum)]
    # ... and for six and seven of them, more than one chain is the shortest and strongest,
    # so the claim ids chose.
    assert tied == {(6, 0): 6, (3, 0): 0, (6, 5): 7}[(max_hops, minimum)]
