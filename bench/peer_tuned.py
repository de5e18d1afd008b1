"""The tuned peer: @neo4j/graphql configured as its documentation advises.

`tuned_typedefs()` is bench/peer/typedefs.graphql plus:
- a full-text index over aliases, asked through a `@cypher` field (`entitiesByAlias`):
  the docs' answer to look-ups its filters (`aliases: {includes}`) can only scan
  for. `@fulltext` itself takes String fields only, not a list such as aliases;
  search already uses its index over name, aliases and description;
- `linkedIncidents(ref, first)`, a `@cypher` field running the walked "linked to"
  Cypher our API runs when it has no stored closure (graph/linking/walked.py), with
  our answer's order, total and evidence path: the docs' escape hatch for what the
  filter language cannot say.
The shortest path keeps its `@cypher` field. The filters it still uses (`id: {eq}`)
are served by the id constraint graph/setup.py makes, its sort by the `started` index.

The index the typedefs name is made by `ALIAS_INDEX_STATEMENT` before the tuned peer
starts (the library reads indexes, it does not make them).
"""

from __future__ import annotations

import re
from pathlib import Path

from graph.linking.walked import strongest_chain, walked_top
from graph.reads.fields import path_likelihood

ALIAS_INDEX = "peer_entity_alias"
ALIAS_INDEX_STATEMENT = (
    f"CREATE FULLTEXT INDEX {ALIAS_INDEX} IF NOT EXISTS FOR (e:Entity) ON EACH [e.aliases]"
)

ALIAS_LOOKUP = (
    f"CALL db.index.fulltext.queryNodes('{ALIAS_INDEX}', $phrase, {{limit: $first}}) "
    "YIELD node RETURN node"
)

# Our walked Cypher's parameters, fixed at the benchmark's questions (every grade, every
# role, no date window) or the field's own argument ($asOf: the day asked about, or now).
FIXED_PARAMETERS = {
    "min": "0",
    "ungraded": "true",
    "as_of": "$asOf",
    "role": "'ANY'",
    "since": "null",
    "until": "null",
}


def linked_incidents_cypher() -> str:
    """Our walked "linked to" for the entity with id $ref, its first $first incidents, by
    the claims known on $asOf (null: now)."""
    statement = (
        "MATCH (target:Entity {id: $ref}) "
        "CALL (target) { " + walked_top("0", "$first") + "} "
        "WITH total, [t IN top | {i: t.i, p: " + strongest_chain("t.i") + "}] AS rows "
        "RETURN {totalCount: total, nodes: [row IN rows | {id: row.i.id, name: row.i.name, "
        "started: row.i.started, linkPath: {likelihood: "
        + path_likelihood("relationships(row.p)")
        + ", steps: [q IN relationships(row.p) | {relation: type(q), likelihood: q.likelihood, "
        "quote: q.quote, from: {id: startNode(q).id, name: startNode(q).name}, "
        "to: {id: endNode(q).id, name: endNode(q).name}, "
        "sources: [s IN q.sources | {id: s}]}]}}]} AS page"
    )
    statement = re.sub(
        r"\$(" + "|".join(FIXED_PARAMETERS) + r")\b",
        lambda match: FIXED_PARAMETERS[match.group(1)],
        statement,
    )
    left = set(re.findall(r"\$([a-zA-Z_]+)", statement)) - {"ref", "first", "asOf"}
    if left:
        raise RuntimeError(f"the walked Cypher has parameters the tuned peer lacks: {left}")
    return statement


TUNED_TYPES = """
type LinkedEnd {
  id: ID!
  name: String
}

type LinkedSource {
  id: ID!
}

type LinkedStep {
  relation: String!
  likelihood: String
  quote: String
  from: LinkedEnd!
  to: LinkedEnd!
  sources: [LinkedSource!]!
}

type LinkedPath {
  likelihood: String
  steps: [LinkedStep!]!
}

type LinkedIncident {
  id: ID!
  name: String!
  started: String
  linkPath: LinkedPath
}

type LinkedPage {
  totalCount: Int!
  nodes: [LinkedIncident!]!
}
"""


def tuned_typedefs(base: Path) -> str:
    """The tuned peer's type definitions, made from the peer's own."""
    text = base.read_text()
    search_index = '{ indexName: "entity_search"'
    if search_index not in text or "type Query {" not in text:
        raise RuntimeError(f"{base} no longer has the search index or the Query type")
    cypher = linked_incidents_cypher().replace('"""', "")
    field = (
        "type Query {\n"
        "  linkedIncidents(ref: ID!, first: Int!, asOf: String): LinkedPage!\n"
        f'    @cypher(statement: """\n      {cypher}\n      """, columnName: "page")\n'
        "  entitiesByAlias(phrase: String!, first: Int!): [Entity!]!\n"
        f'    @cypher(statement: """\n      {ALIAS_LOOKUP}\n      """, columnName: "node")\n'
    )
    return text.replace("type Query {\n", field, 1) + TUNED_TYPES
