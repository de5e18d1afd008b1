"""The seven benchmark questions, each phrased four ways over the same arguments.

- `ours`: a GraphQL request to threatgraph's API;
- `direct`: the Cypher statement the API runs, sent straight through the official
  driver: the floor, what Neo4j itself costs. The compiled executor's statement
  (CompiledExecutor.statements) is the floor of `api-compiled`; the resolvers'
  statement (graph/reads/questions.py) is `direct-resolvers`, the floor of `api-resolvers`;
- `peer`: the same question in @neo4j/graphql 7's filter language (bench/peer/), as
  a user typically writes it;
- `peer_tuned`: the peer as its documentation advises (bench/peer_tuned.py): full-text
  indexes for the alias look-up and search, a @cypher field for "linked to" running
  the walked Cypher our API runs when it has no stored closure.

Where the peer's language cannot say what ours does, the nearest honest
phrasing is used, and bench/answers.py (PEER_NOTES) compares it on what both return:
- linkedTo (peer): no variable-length "linked to"; it asks the two chains the
  generated graph has (incident→actor→agency and incident→actor→sub-agency→agency)
  with an OR of nested `some` filters, newest first;
- neighbourhood (both peers): the filter language cannot say "any relation, either
  direction"; it lists the relations an actor has, two levels deep, at most 100 a list;
- entity by alias: the peer matches the alias exactly (`includes`), the tuned peer
  through a full-text index of aliases, ours case- and spacing-insensitively through
  the look-up index;
- shortest path (both peers): the filter language has none; the peer uses its own
  escape hatch, a @cypher field (bench/peer/typedefs.graphql), which finds any
  shortest path, not the strongest;
- search (both peers): the full-text index ours uses, asked the same Lucene query
  (graph/reads/lookup.py search_query), so that both answer the same question.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, LiteralString

from bench.generate import SyntheticGraph
from graph.reads import activity
from graph.reads import questions as traversal
from graph.reads.lookup import search_query
from schema.build import SchemaLimits, build_schema
from schema.compiled.executor import CompiledExecutor

# Every request asks for 20 results where the question pages, 100 neighbours at most.
PAGE = 20
NEIGHBOURS = 100
ARGUMENT_SETS = 20
# The day the asOf question asks about: about half the generated reports (2010-2024) are older.
AS_OF_DAY = "2017-06-30"

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

OURS_INCIDENTS_AS_OF = """
query LinkedIncidentsAsOf($ref: String!, $day: Date!) {
  incidents(linkedTo: $ref, first: 20, asOf: $day) {
    totalCount
    nodes {
      id name started
      linkPath { likelihood steps { relation likelihood quote from { id name } to { id name }
                                    sources { id } } }
    }
  }
}"""

OURS_ATTRIBUTIONS = """
query Attributions($ref: String!) {
  entity(ref: $ref) {
    id
    ... on Incident { attributions { likelihood quote from { id } to { id } sources { id } } }
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

# The two chains of PEER_INCIDENTS, every claim on them reported on or before $day.
PEER_INCIDENTS_AS_OF = """
query LinkedIncidentsAsOf($ref: ID!, $day: String!) {
  incidentsConnection(first: 20, sort: [{ started: DESC }], where: { OR: [
    { attributedToConnection: { some: { edge: { reported_on: { lte: $day } }, node: {
        affiliatedWithConnection: { some: { edge: { reported_on: { lte: $day } },
                                            node: { id: { eq: $ref } } } } } } } },
    { attributedToConnection: { some: { edge: { reported_on: { lte: $day } }, node: {
        affiliatedWithConnection: { some: { edge: { reported_on: { lte: $day } }, node: {
          partOfConnection: { some: { edge: { reported_on: { lte: $day } },
                                      node: { id: { eq: $ref } } } } } } } } } } }
  ] }) {
    totalCount
    edges { node { id name started } }
  }
}"""

PEER_ATTRIBUTIONS = (
    """
query Attributions($ref: ID!) {
  incidents(where: { id: { eq: $ref } }) {
    id
    attributedToConnection { edges { CLAIM node { id } } }
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
                                 parts(limit: 100) { id name }
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

# The tuned peer (bench/peer_tuned.py adds these fields to bench/peer/typedefs.graphql).
PEER_TUNED_INCIDENTS = """
query LinkedIncidents($ref: ID!, $day: String) {
  linkedIncidents(ref: $ref, first: 20, asOf: $day) {
    totalCount
    nodes {
      id name started
      linkPath { likelihood steps { relation likelihood quote from { id name } to { id name }
                                    sources { id } } }
    }
  }
}"""

PEER_TUNED_ENTITY = """
query EntityByAlias($phrase: String!) {
  entitiesByAlias(phrase: $phrase, first: 1) { id name aliases description }
}"""


@dataclass(frozen=True)
class Request:
    """One question with one set of arguments, in the three phrasings."""

    ours: dict[str, Any]  # {"query", "variables"}
    peer: dict[str, Any]
    peer_tuned: dict[str, Any]
    cypher: LiteralString  # the resolvers' statement (graph/reads/questions.py)
    parameters: dict[str, Any]
    compiled: dict[str, Any]  # {"cypher", "parameters"}: the compiled executor's statement
    # The question's arguments as bench/reference.py takes them.
    arguments: dict[str, Any]

    @property
    def resolvers(self) -> dict[str, Any]:
        return {"cypher": self.cypher, "parameters": self.parameters}


@dataclass(frozen=True)
class Question:
    name: str
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
    peers: tuple[dict[str, Any], dict[str, Any]],
    cypher: LiteralString,
    parameters: dict[str, Any],
    arguments: dict[str, Any],
) -> Request:
    """A request with the compiled executor's one statement for `ours` (it must compile).

    `peers`: the peer's phrasing and the tuned peer's."""
    statements = executor.statements(ours["query"], ours["variables"])
    if statements is None or len(statements) != 1:
        raise RuntimeError(f"the benchmark's query does not compile to one statement: {ours}")
    text, bound = statements[0]
    compiled = {"cypher": text, "parameters": dict(bound)}
    return Request(ours, peers[0], peers[1], cypher, parameters, compiled, arguments)


def contested_incidents(graph: SyntheticGraph, rng: random.Random) -> list[str]:
    """ARGUMENT_SETS incidents of the hub's actors, those two sources attribute first
    (the competing claims the question is about), then others."""
    claims = [claim for document in graph.documents for claim in document["claims"]]
    hub_actors = {
        c["from"]
        for c in claims
        if c["relation"] == "AFFILIATED_WITH" and c["to"] == graph.hub_agency
    }
    attributed: dict[str, int] = {}
    for claim in claims:
        if claim["relation"] == "ATTRIBUTED_TO" and claim["to"] in hub_actors:
            attributed[claim["from"]] = attributed.get(claim["from"], 0) + 1
    for claim in claims:  # every attribution of those incidents, to any actor
        if claim["relation"] == "ATTRIBUTED_TO" and claim["from"] in attributed:
            attributed[claim["from"]] += 0 if claim["to"] in hub_actors else 1
    ranked = sorted(attributed, key=lambda incident: (-min(attributed[incident], 2), incident))
    return sorted(rng.sample(ranked[: ARGUMENT_SETS * 5], ARGUMENT_SETS))


def _phrase(text: str) -> str:
    """A Lucene phrase query for `text` (the tuned peer's alias look-up)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def questions(graph: SyntheticGraph, seed: int = 11) -> list[Question]:
    """The questions, with ARGUMENT_SETS argument sets each where they take several
    (fixed by the seed)."""
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
            (
                _gql(PEER_INCIDENTS, ref=graph.hub_agency),
                _gql(PEER_TUNED_INCIDENTS, ref=graph.hub_agency),
            ),
            activity.LINKED_INCIDENTS_QUERY,
            {**base, **traversal.ref_parameters("target", graph.hub_agency)},
            {"target": graph.hub_agency, "first": PAGE},
        )
    ]
    aliases = rng.sample(graph.aliases, min(ARGUMENT_SETS, len(graph.aliases)))
    entity = [
        _with_compiled(
            executor,
            _gql(OURS_ENTITY, ref=alias),
            (_gql(PEER_ENTITY, ref=alias), _gql(PEER_TUNED_ENTITY, phrase=_phrase(alias))),
            traversal.ENTITY_QUERY,
            {**traversal.ref_parameters("target", alias), "as_of": None},
            {"alias": alias},
        )
        for alias in aliases
    ]
    centres = rng.sample(graph.actors, min(ARGUMENT_SETS, len(graph.actors)))
    neighbourhood = [
        _with_compiled(
            executor,
            _gql(OURS_NEIGHBOURHOOD, ref=centre),
            (_gql(PEER_NEIGHBOURHOOD, ref=centre),) * 2,
            traversal.NEIGHBOURHOOD_QUERIES[2],
            {
                **traversal.ref_parameters("centre", centre),
                "min": 0,
                "first": NEIGHBOURS,
                "as_of": None,
            },
            {"centre": centre, "hops": 2, "first": NEIGHBOURS},
        )
        for centre in centres
    ]
    path = [
        _with_compiled(
            executor,
            _gql(OURS_PATH, **{"from": origin, "to": destination}),
            (_gql(PEER_PATH, **{"from": origin, "to": destination}),) * 2,
            traversal.PATH_QUERIES[6],
            {
                **traversal.ref_parameters("origin", origin),
                **traversal.ref_parameters("destination", destination),
                "min": 0,
                "ungraded": True,
                "as_of": None,
            },
            {"origin": origin, "destination": destination, "max_hops": 6},
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
            (_gql(PEER_SEARCH, text=search_query(text)),) * 2,
            traversal.SEARCH_QUERY,
            {"query": search_query(text), "first": PAGE, "as_of": None, "kinds": None},
            {"text": text, "first": PAGE},
        )
        for text in texts
    ]
    as_of = [
        _with_compiled(
            executor,
            _gql(OURS_INCIDENTS_AS_OF, ref=graph.hub_agency, day=AS_OF_DAY),
            (
                _gql(PEER_INCIDENTS_AS_OF, ref=graph.hub_agency, day=AS_OF_DAY),
                _gql(PEER_TUNED_INCIDENTS, ref=graph.hub_agency, day=AS_OF_DAY),
            ),
            activity.LINKED_INCIDENTS_QUERY,
            {
                **base,
                **traversal.ref_parameters("target", graph.hub_agency),
                "as_of": AS_OF_DAY,
            },
            {"target": graph.hub_agency, "first": PAGE, "as_of": AS_OF_DAY},
        )
    ]
    attributions = [
        _with_compiled(
            executor,
            _gql(OURS_ATTRIBUTIONS, ref=incident),
            (_gql(PEER_ATTRIBUTIONS, ref=incident),) * 2,
            traversal.ATTRIBUTIONS_OF_QUERY,
            {"ids": [incident], "as_of": None},
            {"incident": incident},
        )
        for incident in contested_incidents(graph, rng)
    ]
    return [
        Question("incidents_linked_to_hub", incidents),
        Question("incidents_linked_as_of", as_of),
        Question("attributions_side_by_side", attributions),
        Question("entity_by_alias", entity),
        Question("neighbourhood_2_hops", neighbourhood),
        Question("shortest_path_far", path),
        Question("search", search),
    ]
