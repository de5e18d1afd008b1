"""The five benchmark questions, each phrased three ways over the same arguments.

- `ours`: a GraphQL request to threatgraph's API;
- `direct`: the Cypher statement the API runs, sent straight through the official
  driver: the floor, what Neo4j itself costs. The compiled executor's statement
  (CompiledExecutor.statements) is the floor of `api-compiled`; the resolvers'
  statement (graph/reads/questions.py) is `direct-resolvers`, the floor of `api-resolvers`;
- `peer`: the same question in @neo4j/graphql 7's filter language (bench/peer/).

Where the peer's language cannot say what ours does, the nearest honest
phrasing is used and said here:
- linkedTo: the peer has no variable-length "linked to"; it asks the two
  chains the generated graph has (incident→actor→agency and
  incident→actor→sub-agency→agency) with an OR of nested `some` filters;
- neighbourhood: the peer cannot say "any relation, either direction"; it lists
  the relations an actor has, two levels deep, at most 100 per list;
- entity by alias: the peer matches the alias exactly (`includes`), ours
  case- and spacing-insensitively through the look-up index;
- shortest path: the filter language has none; the peer uses its own escape
  hatch, a @cypher field (bench/peer/typedefs.graphql).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, LiteralString

from bench.generate import SyntheticGraph
from graph.reads import questions as traversal
from graph.reads.lookup import search_query
from schema.build import SchemaLimits, build_schema
from schema.compiled.executor import CompiledExecutor

# Every request asks for 20 results where the question pages, 100 neighbours at most.
PAGE = 20
NEIGHBOURS = 100
ARGUMENT_SETS = 20

OURS_INCIDENTS = """
query LinkedIncidents($ref: String!) {
  incidents(linkedTo: $ref, first: 20) {
    totalCount
    nodes {
      id name started
      linkPath { likelihood steps { relation likelihood quote from { id name } to { id name }
                                    sources { id } } }
    }
  }
}"""

OURS_ENTITY = """
query EntityByAlias($ref: String!) { entity(ref: $ref) { id name aliases description kind } }"""

OURS_NEIGHBOURHOOD = """
query Neighbourhood($ref: String!) {
  neighbourhood(ref: $ref, hops: 2, first: 100) {
    nodes { id name kind }
    relationships { relation likelihood quote from { id } to { id } }
  }
}"""

OURS_PATH = """
query Path($from: String!, $to: String!) {
  path(from: $from, to: $to, maxHops: 6) {
    likelihood steps { relation likelihood quote from { id name } to { id name } }
  }
}"""

OURS_SEARCH = """
query Search($text: String!) { search(text: $text, first: 20) { score entity { id name kind } } }"""

CLAIM = "properties { likelihood quote sources }"

PEER_INCIDENTS = (
    """
query LinkedIncidents($ref: ID!) {
  incidentsConnection(first: 20, sort: [{ started: DESC }], where: { OR: [
    { attributedTo: { some: { affiliatedWith: { some: { id: { eq: $ref } } } } } },
    { attributedTo: { some: { affiliatedWith: { some: {
        partOf: { some: { id: { eq: $ref } } } } } } } }
  ] }) {
    totalCount
    edges { node {
      id name started
      attributedToConnection { edges { CLAIM node {
        id name
        affiliatedWithConnection { edges { CLAIM node {
          id name
          partOfConnection { edges { CLAIM node { id name } } }
        } } }
      } } }
    } }
  }
}"""
).replace("CLAIM", CLAIM)

PEER_ENTITY = """
query EntityByAlias($ref: String!) {
  entities(where: { aliases: { includes: $ref } }) { id name aliases description }
}"""

PEER_NEIGHBOURHOOD = """
query Neighbourhood($ref: ID!) {
  entities(where: { id: { eq: $ref } }) {
    id name
    affiliatedWith(limit: 100) { id name partOf(limit: 100) { id name }
                                 affiliates(limit: 100) { id name } }
    uses(limit: 100) { id name usedBy(limit: 100) { id name } }
    attributedFrom(limit: 100) { id name targeted(limit: 100) { id name }
                                 attributedTo(limit: 100) { id name } }
  }
}"""

PEER_PATH = """
query Path($from: ID!, $to: ID!) {
  shortestPath(from: $from, to: $to) { relation from to likelihood quote }
}"""

PEER_SEARCH = """
query Search($text: String!) {
  searchEntities(phrase: $text, first: 20) { edges { score node { id name } } }
}"""


@dataclass(frozen=True)
class Request:
    """One question with one set of arguments, in the three phrasings."""

    ours: dict[str, Any]  # {"query", "variables"}
    peer: dict[str, Any]
    cypher: LiteralString  # the resolvers' statement (graph/reads/questions.py)
    parameters: dict[str, Any]
    compiled: dict[str, Any]  # {"cypher", "parameters"}: the compiled executor's statement

    @property
    def resolvers(self) -> dict[str, Any]:
        return {"cypher": self.cypher, "parameters": self.parameters}


@dataclass(frozen=True)
class Question:
    name: str
    anchored: bool  # starts from one named entity (the scaling target applies)
    requests: list[Request]


def _gql(query: str, **variables: Any) -> dict[str, Any]:
    return {"query": query, "variables": variables}


def _executor() -> CompiledExecutor:
    limits = SchemaLimits()
    return CompiledExecutor(
        build_schema(limits)._schema,
        max_depth=limits.max_depth,
        max_aliases=limits.max_aliases,
        max_tokens=limits.max_tokens,
        introspection=limits.introspection,
    )


def _with_compiled(
    executor: CompiledExecutor,
    ours: dict[str, Any],
    peer: dict[str, Any],
    cypher: LiteralString,
    parameters: dict[str, Any],
) -> Request:
    """A request with the compiled executor's one statement for `ours` (it must compile)."""
    statements = executor.statements(ours["query"], ours["variables"])
    if statements is None or len(statements) != 1:
        raise RuntimeError(f"the benchmark's query does not compile to one statement: {ours}")
    text, bound = statements[0]
    compiled = {"cypher": text, "parameters": dict(bound)}
    return Request(ours, peer, cypher, parameters, compiled)


def questions(graph: SyntheticGraph, seed: int = 11) -> list[Question]:
    """The five questions with ARGUMENT_SETS argument sets each (fixed by the seed)."""
    rng = random.Random(seed)
    executor = _executor()
    base = {
        "min": 0,
        "ungraded": True,
        "since": None,
        "until": None,
        "root_skip": 0,
        "root_first": PAGE,
        "as_of": None,
        "role": "ANY",
    }
    incidents = [
        _with_compiled(
            executor,
            _gql(OURS_INCIDENTS, ref=graph.hub_agency),
            _gql(PEER_INCIDENTS, ref=graph.hub_agency),
            traversal.LINKED_INCIDENTS_QUERY,
            {**base, **traversal.ref_parameters("target", graph.hub_agency)},
        )
    ]
    aliases = rng.sample(graph.aliases, min(ARGUMENT_SETS, len(graph.aliases)))
    entity = [
        _with_compiled(
            executor,
            _gql(OURS_ENTITY, ref=alias),
            _gql(PEER_ENTITY, ref=alias),
            traversal.ENTITY_QUERY,
            {**traversal.ref_parameters("target", alias), "as_of": None},
        )
        for alias in aliases
    ]
    centres = rng.sample(graph.actors, min(ARGUMENT_SETS, len(graph.actors)))
    neighbourhood = [
        _with_compiled(
            executor,
            _gql(OURS_NEIGHBOURHOOD, ref=centre),
            _gql(PEER_NEIGHBOURHOOD, ref=centre),
            traversal.NEIGHBOURHOOD_QUERIES[2],
            {
                **traversal.ref_parameters("centre", centre),
                "min": 0,
                "first": NEIGHBOURS,
                "as_of": None,
            },
        )
        for centre in centres
    ]
    path = [
        _with_compiled(
            executor,
            _gql(OURS_PATH, **{"from": origin, "to": destination}),
            _gql(PEER_PATH, **{"from": origin, "to": destination}),
            traversal.PATH_QUERIES[6],
            {
                **traversal.ref_parameters("origin", origin),
                **traversal.ref_parameters("destination", destination),
                "min": 0,
                "ungraded": True,
                "as_of": None,
            },
        )
        for origin, destination in graph.far_pairs[:ARGUMENT_SETS]
    ]
    texts = [
        f"{rng.choice(graph.search_words)} {rng.randrange(len(graph.actors))}"
        for _ in range(ARGUMENT_SETS)
    ]
    search = [
        _with_compiled(
            executor,
            _gql(OURS_SEARCH, text=text),
            _gql(PEER_SEARCH, text=text),
            traversal.SEARCH_QUERY,
            {"query": search_query(text), "first": PAGE, "as_of": None, "kinds": None},
        )
        for text in texts
    ]
    return [
        Question("incidents_linked_to_hub", True, incidents),
        Question("entity_by_alias", True, entity),
        Question("neighbourhood_2_hops", True, neighbourhood),
        Question("shortest_path_far", True, path),
        Question("search", False, search),
    ]
