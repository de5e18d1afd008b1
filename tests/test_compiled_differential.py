"""Compiled execution answers exactly as the resolvers do, in one round-trip per root field."""

from __future__ import annotations

from typing import Any

import neo4j
import pytest

import schema.compiled.executor as executor_module
from graph.reads.compiled.shape import NullInNonNull
from tests.api_client import WRITER_TOKEN, gql, make_client
from tests.differential import Pair
from tests.graph_state import seeded_then
from tests.test_api_queries import LINKED
from tests.test_cookbook import QUESTIONS, Question

STEP = "id from { id name kind } relation to { id } likelihood quote validFrom validTo "
STEP += "sources { id name } assessedBy { id name }"
ENTITY = "id name kind aliases description __typename"

# (id, query, variables, root fields that make one round-trip each)
COMPILED: list[tuple[str, str, dict[str, Any], int]] = [
    # the contract queries (tests/test_api_queries.py)
    ("contract-linked-mss", LINKED, {"to": "MSS"}, 1),
    ("contract-linked-china", LINKED, {"to": "china"}, 1),
    ("contract-linked-fact", LINKED, {"to": "China", "min": "FACT"}, 1),
    (
        "contract-entity",
        "query ($r: String!) { entity(ref: $r) { id name kind } }",
        {"r": "actor:apt31"},
        1,
    ),
    (
        "contract-entity-miss",
        "query ($r: String!) { entity(ref: $r) { id name kind } }",
        {"r": "no such thing"},
        1,
    ),
    (
        "contract-path",
        '{ path(from: "NCSC", to: "GCHQ") { likelihood steps { from { id } '
        "relation to { id } quote } } }",
        {},
        1,
    ),
    (
        "contract-path-electoral",
        '{ path(from: "incident:2021-2022-uk-electoral-commission-'
        'compromise", to: "China") { steps { from { id } to { id } } } }',
        {},
        1,
    ),
    (
        "contract-search",
        '{ search(text: "electoral register", first: 3) { entity { id } score } }',
        {},
        1,
    ),
    (
        "contract-neighbourhood",
        '{ neighbourhood(ref: "APT31") { nodes { id } relationships '
        "{ relation from { id } to { id } } } }",
        {},
        1,
    ),
    (
        "contract-pages",
        "query ($after: String) { incidents(first: 2, after: $after) { "
        "totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
        {},
        1,
    ),
    (
        "contract-pages-2",
        "query ($after: String) { incidents(first: 2, after: $after) { "
        "totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
        {"after": "b2Zmc2V0OjE="},
        1,
    ),
    (
        "contract-relations",
        '{ entity(ref: "APT31") { sources { id } relations(direction: OUT, '
        'types: ["AFFILIATED_WITH"]) { totalCount nodes { to { id } likelihood } } } }',
        {},
        1,
    ),
    # every field of every kind, through fragments on the interface and on each kind
    (
        "all-fields-fragments",
        """
      query ($r: String!) { entity(ref: $r) { ...Everything } }
      fragment Everything on Entity {
        __typename id name aliases description kind sources { id url publisher published title }
        ... on ThreatActor { stixType firstSeen lastSeen }
        ... on Country { isoCode }
        ... on Person { role }
        ... on Incident { started ended status outcome disclosed linkPath { likelihood } }
        ... on Campaign { firstSeen lastSeen }
        ... on Software { softwareType }
        ... on Source { url publisher published title }
      }""",
        {"r": "incident:2021-2022-uk-electoral-commission-compromise"},
        1,
    ),
    (
        "neighbourhood-every-kind",
        """
      { neighbourhood(ref: "APT31", hops: 3, first: 500) { nodes { ...K } relationships {
          id relation likelihood from { ...K } to { __typename } } } }
      fragment K on Entity { __typename id ... on Incident { started status }
        ... on Source { title published } ... on Country { isoCode } ... on Person { role }
        ... on Agency { aliases } }""",
        {},
        1,
    ),
    (
        "aliases-same-field-different-args",
        """
      { apt: entity(ref: "APT31") { id out: relations(direction: OUT) { totalCount }
          in: relations(direction: IN, first: 1) { totalCount nodes { id } }
          strong: relations(minLikelihood: ALMOST_CERTAIN) { totalCount } }
        mss: entity(ref: "MSS") { name: id id: name } }""",
        {},
        2,
    ),
    (
        "skip-include-variables",
        """
      query ($yes: Boolean!, $no: Boolean!) { entity(ref: "GCHQ") {
        id @skip(if: $yes) name @include(if: $yes) kind @include(if: $no)
        ... on Agency @include(if: $yes) { aliases }
        sources @skip(if: $no) { id } } }""",
        {"yes": True, "no": False},
        1,
    ),
    (
        "skip-include-flipped",
        """
      query ($yes: Boolean!, $no: Boolean!) { entity(ref: "GCHQ") {
        id @skip(if: $yes) name @include(if: $yes) kind @include(if: $no)
        ... on Agency @include(if: $yes) { aliases }
        sources @skip(if: $no) { id } } }""",
        {"yes": False, "no": True},
        1,
    ),
    (
        "typename-everywhere",
        """
      { __typename incidents(first: 1) { __typename pageInfo { __typename } edges {
          __typename node { __typename } } nodes { __typename } }
        search(text: "APT31") { __typename entity { __typename } }
        path(from: "APT31", to: "MSS") { __typename steps { __typename } }
        neighbourhood(ref: "MSS") { __typename } }""",
        {},
        4,
    ),
    (
        "nulls-on-entities",
        '{ entity(ref: "UK Government") { ... on Organisation { id } '
        "... on Incident { started linkPath { likelihood } } } }",
        {},
        1,
    ),
    (
        "null-root-path",
        '{ path(from: "GCHQ", to: "Paul Chichester", maxHops: 1) { likelihood } }',
        {},
        1,
    ),
    (
        "linked-with-edges-pages",
        """
      query ($after: String) { incidents(linkedTo: "China", first: 1, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id linkPath { likelihood steps { @STEP } } } } } }""".replace(
            "@STEP", STEP
        ),
        {"after": "b2Zmc2V0OjA="},
        1,
    ),
    (
        "incidents-dates",
        """
      query ($s: Date, $u: Date) { incidents(since: $s, until: $u) { totalCount
        nodes { id started ended linkPath { likelihood } } } }""",
        {"s": "2022", "u": "2023-06"},
        1,
    ),
    (
        "incidents-first-zero",
        "{ incidents(first: 0) { totalCount nodes { id } pageInfo "
        "{ hasNextPage startCursor endCursor } } }",
        {},
        1,
    ),
    (
        "deep-nesting",
        """
      { entity(ref: "APT31") { @ENTITY relations(first: 3) { totalCount edges { cursor node {
          @STEP from { @ENTITY relations(direction: IN) { nodes { @STEP } } } } } } } }""".replace(
            "@ENTITY", ENTITY
        ).replace("@STEP", STEP),
        {},
        1,
    ),
    (
        "deep-as-allowed",
        '{ entity(ref: "APT31") { '
        + "relations(first: 2) { nodes { from { " * 3
        + "relations(first: 2) { nodes { id } }"
        + " } } }" * 3
        + " } }",
        {},
        1,
    ),
    (
        "neighbourhood-min",
        '{ neighbourhood(ref: "NCSC", hops: 2, minLikelihood: FACT, first: 5) '
        "{ nodes { id } relationships { @STEP } } }".replace("@STEP", STEP),
        {},
        1,
    ),
    (
        "path-min",
        '{ path(from: "Electoral Commission", to: "MSS", maxHops: 8, '
        "minLikelihood: LIKELY) { likelihood steps { @STEP } } }".replace("@STEP", STEP),
        {},
        1,
    ),
    (
        "search-kinds",
        '{ search(text: "uk", first: 50) { score entity { @E ... on Source { url } } } }'.replace(
            "@E", ENTITY
        ),
        {},
        1,
    ),
    (
        "named-operation",
        'query A { entity(ref: "MSS") { id } } query B { entity(ref: "GCHQ") { name } }',
        {},
        1,
    ),
]


@pytest.mark.parametrize(
    ("query", "variables", "trips"), [pytest.param(q, v, t, id=i) for i, q, v, t in COMPILED]
)
def test_compiled_answer_is_the_resolvers_answer(
    pair: Pair, seeded_graph: None, query: str, variables: dict[str, Any], trips: int
) -> None:
    if "query A" in query:
        answers = pair.ask(query, variables, operationName="B")
        assert answers.compiled == answers.resolvers
    else:
        answers = pair.same(query, variables)
    assert b'"errors"' not in answers.compiled
    assert answers.executor == "compiled"
    assert answers.round_trips == trips
    assert len(answers.cypher) == trips


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.title for q in QUESTIONS])
def test_every_cookbook_query_answers_alike_on_the_compiled_path(
    pair: Pair, driver: neo4j.Driver, neo4j_env: dict[str, str], question: Question
) -> None:
    # Each on the graph it is asked of: the seed, or the seed after its imports.
    seeded_then(driver, question.setup)
    answers = pair.same(question.graphql)
    assert b'"errors"' not in answers.compiled
    assert answers.round_trips >= 1
    if "history(" in question.graphql:
        # history's entries are made in Python from the claim versions: the resolvers
        # answer it, in one round trip.
        assert (answers.executor, answers.round_trips) == ("resolvers", 1)
    else:
        assert answers.executor == "compiled"
        assert answers.round_trips == len(answers.cypher)


# (id, query, variables, which executor answers): root fields' bad arguments and
# unresolved references are answered on the compiled path, with the resolvers' very
# errors; parse and validation errors, bad variables and a nested field's bad
# argument are Strawberry's to report, before anything has run.
ERRORS: list[tuple[str, str, dict[str, Any], str]] = [
    ("not-found", '{ incidents(linkedTo: "Atlantis") { totalCount } }', {}, "compiled"),
    ("path-not-found", '{ path(from: "Atlantis", to: "GCHQ") { likelihood } }', {}, "compiled"),
    (
        "neighbourhood-not-found",
        '{ neighbourhood(ref: "Atlantis") { nodes { id } } }',
        {},
        "compiled",
    ),
    ("empty-ref", '{ entity(ref: "  ") { id } }', {}, "compiled"),
    ("bad-first", "{ incidents(first: 501) { totalCount } }", {}, "compiled"),
    ("bad-cursor", '{ incidents(after: "nonsense") { totalCount } }', {}, "compiled"),
    ("bad-hops", '{ neighbourhood(ref: "APT31", hops: 4) { nodes { id } } }', {}, "compiled"),
    (
        "bad-max-hops",
        '{ path(from: "APT31", to: "MSS", maxHops: 0) { likelihood } }',
        {},
        "compiled",
    ),
    (
        "bad-type",
        '{ entity(ref: "APT31") { relations(types: ["NOPE"]) { totalCount } } }',
        {},
        "resolvers",
    ),
    (
        "bad-date",
        "query ($s: Date) { incidents(since: $s) { totalCount } }",
        {"s": "21-1"},
        "resolvers",
    ),
    ("bad-variable", "query ($r: String!) { entity(ref: $r) { id } }", {"r": 5}, "resolvers"),
    ("unknown-field", '{ entity(ref: "APT31") { colour } }', {}, "resolvers"),
    ("syntax", "{ entity(ref: ", {}, "resolvers"),
    (
        "too-deep",
        '{ entity(ref: "APT31") { '
        + "relations { nodes { from { " * 5
        + "id"
        + " } } }" * 5
        + " } }",
        {},
        "resolvers",
    ),
]


@pytest.mark.parametrize(
    ("query", "variables", "executor"),
    [pytest.param(q, v, e, id=i) for i, q, v, e in ERRORS],
)
def test_errors_are_the_resolvers_errors(
    pair: Pair, seeded_graph: None, query: str, variables: dict[str, Any], executor: str
) -> None:
    answers = pair.same(query, variables)
    assert b'"errors"' in answers.compiled
    assert answers.executor == executor


def test_ambiguous_reference_is_the_same_error(pair: Pair, seeded_graph: None) -> None:
    with make_client() as writer:
        body = gql(
            writer,
            'mutation { upsertEntity(input: {id: "org:apt31-fan-club", label: "Organisation", '
            'name: "APT31", aliases: ["MSS"]}) { id } }',
            token=WRITER_TOKEN,
        )
    assert body["data"] == {"upsertEntity": {"id": "org:apt31-fan-club"}}
    for query in (
        '{ entity(ref: "APT31") { id } }',
        '{ path(from: "APT31", to: "GCHQ") { likelihood } }',
        '{ neighbourhood(ref: "MSS") { nodes { id } } }',
    ):
        answers = pair.same(query)
        assert b"AMBIGUOUS_REFERENCE" in answers.compiled
        assert b"matches 2 entities" in answers.compiled
    answers = pair.same('{ incidents(linkedTo: "MSS") { totalCount } }')
    assert b"AMBIGUOUS_REFERENCE" in answers.compiled
    assert answers.executor == "compiled"


def test_an_entity_no_incident_links_to_has_none_rather_than_not_found(
    pair: Pair, seeded_graph: None
) -> None:
    answers = pair.same('{ incidents(linkedTo: "GCHQ") { totalCount nodes { id } } }')
    assert answers.compiled == b'{"data":{"incidents":{"totalCount":0,"nodes":[]}}}'
    assert answers.executor == "compiled"


def test_introspection_runs_through_the_resolvers(pair: Pair, seeded_graph: None) -> None:
    answers = pair.same("{ __schema { queryType { name } } __typename }")
    assert (
        answers.compiled
        == b'{"data":{"__schema":{"queryType":{"name":"Query"}},"__typename":"Query"}}'
    )
    assert answers.executor == "resolvers"


def test_mutations_run_through_the_resolvers(pair: Pair, seeded_graph: None) -> None:
    body = pair.compiled.post(
        "/graphql",
        json={"query": 'mutation { deleteRelation(id: "none") }'},
        headers={"authorization": f"Bearer {WRITER_TOKEN}"},
    ).json()
    # The id is refused before any statement runs.
    assert body["extensions"] == {
        "threatgraph": {"executor": "resolvers", "cypher": [], "parameters": []}
    }
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "reason": "VALIDATION_FAILED",
    }


def test_debug_cypher_text_holds_no_user_value(pair: Pair, seeded_graph: None) -> None:
    answers = pair.same('{ entity(ref: "Robert\'); DROP") { id } }')
    assert answers.executor == "compiled"
    assert "DROP" not in answers.cypher[0]
    assert "$target_key" in answers.cypher[0]


def test_default_executor_is_compiled_and_resolvers_can_be_chosen() -> None:
    from api.settings import ApiSettings
    from graph.errors import ConfigurationError

    assert ApiSettings.from_env({}).executor == "compiled"
    assert ApiSettings.from_env({"THREATGRAPH_EXECUTOR": "resolvers"}).executor == "resolvers"
    with pytest.raises(ConfigurationError) as raised:
        ApiSettings.from_env({"THREATGRAPH_EXECUTOR": "fast"})
    assert str(raised.value) == (
        "THREATGRAPH_EXECUTOR='fast' is not an executor: use compiled or resolvers"
    )


def test_statements_are_what_the_compiled_executor_runs(pair: Pair, seeded_graph: None) -> None:
    """CompiledExecutor.statements: the benchmark's floor sends these through the driver."""
    from schema.build import SchemaLimits, build_schema
    from schema.compiled.executor import CompiledExecutor

    limits = SchemaLimits()
    executor = CompiledExecutor(
        build_schema(limits)._schema,
        max_depth=limits.max_depth,
        max_aliases=limits.max_aliases,
        max_tokens=limits.max_tokens,
        introspection=limits.introspection,
    )
    query = "query ($ref: String!) { entity(ref: $ref) { id name } }"
    answers = pair.same(query, {"ref": "APT31"})
    statements = executor.statements(query, {"ref": "APT31"})
    assert statements is not None
    assert [text for text, _ in statements] == answers.cypher
    assert dict(statements[0][1]) == {"target_ref": "APT31", "target_key": '"apt31"', "as_of": None}
    assert executor.statements('mutation { deleteRelation(id: "x") }') is None
    assert executor.statements("{ entity(ref: 1) { id } }") is None


def test_a_failure_on_the_compiled_path_surfaces_and_runs_nothing_twice(
    seeded_graph: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_shaper(selection: Any) -> Any:
        def shape(value: Any) -> Any:
            raise NullInNonNull(selection.key)

        return shape

    monkeypatch.setattr(executor_module, "value_shaper", broken_shaper)
    with make_client(THREATGRAPH_DEBUG="1") as client:
        response = client.post("/graphql", json={"query": '{ entity(ref: "APT31") { id } }'})
    body = response.json()
    assert body["errors"] == [
        {"message": "Unexpected error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ]
    assert body["data"] is None
    assert response.headers["x-threatgraph-round-trips"] == "1"
    assert "NullInNonNull" in caplog.text


def test_debug_cypher_runs_again_with_its_parameters(
    pair: Pair, seeded_graph: None, driver: neo4j.Driver
) -> None:
    response = pair.compiled.post(
        "/graphql",
        json={"query": '{ incidents(linkedTo: "China", role: ATTRIBUTED) { totalCount } }'},
    ).json()
    shown = response["extensions"]["threatgraph"]
    [text], [parameters] = shown["cypher"], shown["parameters"]
    assert parameters["target_ref"] == "China"  # the user's own value, in debug mode only
    records, _, _ = driver.execute_query(text, parameters, database_="neo4j")
    assert [record["value"] for record in records] == [response["data"]["incidents"]]


def test_resolvers_debug_cypher_runs_again_with_its_parameters(
    pair: Pair, seeded_graph: None, driver: neo4j.Driver
) -> None:
    response = pair.resolvers.post(
        "/graphql", json={"query": '{ entity(ref: "APT31") { id name sources { id } } }'}
    ).json()
    shown = response["extensions"]["threatgraph"]
    assert shown["executor"] == "resolvers"
    # The entity, then its sources (one batched statement): the user's values included.
    assert shown["parameters"] == [
        {"target_key": '"apt31"', "target_ref": "APT31", "as_of": None},
        {"ids": ["actor:apt31"]},
    ]
    ran = [
        driver.execute_query(text, parameters, database_="neo4j")[0]
        for text, parameters in zip(shown["cypher"], shown["parameters"], strict=True)
    ]
    [[entity_row], [sources_row]] = ran
    answer = response["data"]["entity"]
    assert (entity_row["entity"]["id"], entity_row["entity"]["name"]) == (
        answer["id"],
        answer["name"],
    )
    assert [source["id"] for source in sources_row["sources"]] == [
        source["id"] for source in answer["sources"]
    ]
    assert answer["sources"] == [{"id": "source:ncsc-2024-03-25"}]
