"""Generated queries (hypothesis-graphql, from the executable schema) answer alike on both paths.

hypothesis-graphql builds random valid queries; their argument values are
then redrawn from the seed (ids, names, aliases in any case, search words,
relation types, real cursors, in-range sizes) so that most queries reach real
entities and claims rather than stopping at "not found". The run is bounded
and reproducible: THREATGRAPH_GENERATED_QUERIES examples (1,000 by default) in ten
chunks with fixed seeds.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import graphql
import pytest
from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DocumentNode,
    IntValueNode,
    ListValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    Visitor,
    visit,
)
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from graph.model.vocabulary import RELATION_TYPES
from schema.build import build_schema
from schema.pagination import encode_cursor
from tests.differential import Pair

EXAMPLES = int(os.environ.get("THREATGRAPH_GENERATED_QUERIES", "1000"))

REFS = [
    "APT31", "apt31", "actor:apt31", "MSS", "Ministry of State Security", "china", "China",
    "GCHQ", "NCSC", "National Cyber Security Centre", "UK", "United Kingdom",
    "Electoral Commission", "UK Parliament", "Paul Chichester", "Critical infrastructure",
    "Microsoft Exchange Server", "incident:2021-2022-uk-electoral-commission-compromise",
    "incident:2021-uk-parliamentarians-email-reconnaissance",
    "incident:2021-microsoft-exchange-server-compromise", "asset:electoral-register-data",
    "source:ncsc-2024-03-25", "UK parliamentarians", "Chinese intelligence services",
    "Defending Democracy collection", "Atlantis",
]  # fmt: skip
WORDS = ["APT31", "electoral register", "uk", "china state", "ministry", "exchange", "zzz"]
CLAIMS = sorted(set(RELATION_TYPES) - {"MENTIONS"})
DATES = ["2020", "2021", "2021-06", "2022-12-31", "2023", "2024-03-25"]


def _string(values: list[str]) -> st.SearchStrategy[ValueNode]:
    return st.sampled_from(values).map(lambda v: StringValueNode(value=v))


def _int(low: int, high: int) -> st.SearchStrategy[ValueNode]:
    return st.integers(low, high).map(lambda v: IntValueNode(value=str(v)))


ARGUMENTS: dict[str, st.SearchStrategy[ValueNode]] = {
    "ref": _string(REFS),
    "from": _string(REFS),
    "to": _string(REFS),
    "linkedTo": _string(REFS),
    "text": _string(WORDS),
    "first": _int(0, 12),
    "after": _string([encode_cursor(n) for n in range(4)]),
    "hops": _int(1, 3),
    "maxHops": _int(1, 8),
    "types": st.lists(_string(CLAIMS), min_size=1, max_size=3).map(
        lambda items: ListValueNode(values=tuple(items))
    ),
}


class Retarget(Visitor):
    """Redraw argument values from the seed; keep nulls, enums and variables."""

    def __init__(self, draw: Callable[[st.SearchStrategy[ValueNode]], ValueNode]) -> None:
        super().__init__()
        self.draw = draw

    def enter_argument(self, node: ArgumentNode, *_: Any) -> ArgumentNode | None:
        strategy = ARGUMENTS.get(node.name.value)
        if strategy is None or isinstance(node.value, (VariableNode, BooleanValueNode)):
            return None
        if isinstance(node.value, graphql.NullValueNode) and self.draw(st.booleans()):
            return None
        return ArgumentNode(name=node.name, value=self.draw(strategy))


# The executable schema, not the SDL file: the file carries Federation's
# directives (@key, @link), which plain graphql-core cannot build from.
EXECUTABLE_SCHEMA = build_schema()._schema
GENERATED = queries(
    EXECUTABLE_SCHEMA,
    # Federation's _service and _entities are for gateways, not analysts. stixBundle's
    # answer is stamped with the time of its export (its objects' created/modified and a
    # fresh bundle id), so two executors asked in turn never answer it byte for byte
    # alike; both run the same resolver (tests/test_stix_markings.py checks it).
    fields=[
        name
        for name in EXECUTABLE_SCHEMA.type_map["Query"].fields  # type: ignore[attr-defined]
        if not name.startswith("_") and name != "stixBundle"
    ],
    custom_scalars={"Date": _string(DATES)},
    print_ast=lambda document: document,
)
CHUNKS = 10  # ten seeds, each its own test: progress shows, and each fits the test timeout


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_generated_queries_answer_alike(pair: Pair, seeded_graph: None, chunk: int) -> None:
    examples = EXAMPLES // CHUNKS
    ran: Counter[str] = Counter()

    @seed(chunk)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        document: DocumentNode = data.draw(GENERATED)
        query = graphql.print_ast(visit(document, Retarget(data.draw)))
        answers = pair.same(query)
        ran[answers.executor] += 1
        ran["errors" if b'"errors"' in answers.compiled else "answers"] += 1
        # history's entries are made in Python from its versions: always the resolvers'.
        ran["history"] += "history(" in query

    one()
    assert ran["compiled"] + ran["resolvers"] == examples, ran
    # Most generated queries must really take the compiled path (not fall back).
    assert ran["compiled"] >= (examples - ran["history"]) * 0.6, ran
