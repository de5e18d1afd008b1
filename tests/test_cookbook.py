"""docs/cookbook.md cannot drift: every query in it runs against the seeded graph and
must give exactly the answer printed under it.

Layout (checked here too): each question is a `## ` heading followed by four
fenced blocks in order: ```graphql, its answer ```json (the response's `data`),
```cypher, its answer ```json (a list with one object per row). A question whose
text opens a line with "Asked after" and names `threatgraph import ...` commands in
backticks is asked of the seed after those commands, run in that order; every other
one of the seed alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import neo4j
import pytest
from starlette.testclient import TestClient

from api.graphiql import example_query_text
from tests.api_client import gql
from tests.conftest import ROOT, cypher
from tests.graph_state import seeded_then

COOKBOOK = ROOT / "docs" / "cookbook.md"
BLOCK_KINDS = ["graphql", "json", "cypher", "json"]
ASKED_AFTER = re.compile(r"^Asked after (.*)$", re.MULTILINE)
COMMAND = re.compile(r"`threatgraph ([^`]+)`")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Question:
    title: str
    graphql: str
    graphql_answer: Any
    cypher: str
    cypher_answer: Any
    setup: tuple[str, ...]  # the `threatgraph` commands run on the seed first

    @property
    def after_imports(self) -> bool:
        return bool(self.setup)


def parse_cookbook(text: str) -> list[Question]:
    """The questions in cookbook markdown, with a clear error for a malformed one."""
    questions = []
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title = section.splitlines()[0].strip()
        blocks = _FENCE.findall(section)
        kinds = [kind for kind, _ in blocks]
        if kinds != BLOCK_KINDS:
            raise ValueError(f"{COOKBOOK.name}: {title!r} has blocks {kinds}, not {BLOCK_KINDS}")
        (_, graphql), (_, graphql_answer), (_, cypher_query), (_, cypher_answer) = blocks
        questions.append(
            Question(
                title,
                graphql,
                json.loads(graphql_answer),
                cypher_query,
                json.loads(cypher_answer),
                setup_commands(section),
            )
        )
    return questions


def setup_commands(section: str) -> tuple[str, ...]:
    """The commands a question's "Asked after ..." line names, in order."""
    line = ASKED_AFTER.search(section)
    return tuple(COMMAND.findall(line.group(1))) if line else ()


QUESTIONS = parse_cookbook(COOKBOOK.read_text(encoding="utf-8"))
OF_THE_SEED = [q for q in QUESTIONS if not q.after_imports]
# Grouped by their commands, so each set-up runs once.
AFTER_IMPORTS = sorted((q for q in QUESTIONS if q.after_imports), key=lambda q: q.setup)
BY_TITLE = pytest.mark.parametrize("question", OF_THE_SEED, ids=[q.title for q in OF_THE_SEED])


def shown(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def test_cookbook_asks_at_least_ten_questions() -> None:
    assert len(QUESTIONS) >= 10


def test_graphiql_opens_on_the_cookbooks_first_question() -> None:
    assert QUESTIONS[0].graphql == example_query_text()


def test_a_question_without_its_four_blocks_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'Q' has blocks \['graphql', 'json'\], not"):
        parse_cookbook("## Q\n\n```graphql\n{ a }\n```\n\n```json\n{}\n```\n")


@BY_TITLE
def test_graphql_answer_is_the_printed_one(
    question: Question, api: TestClient, seeded_graph: None
) -> None:
    body = gql(api, question.graphql)
    assert "errors" not in body, body.get("errors")
    assert body["data"] == question.graphql_answer, f"actual answer:\n{shown(body['data'])}"


@BY_TITLE
def test_cypher_answer_is_the_printed_one(
    question: Question, driver: neo4j.Driver, seeded_graph: None
) -> None:
    rows = cypher(driver, question.cypher)
    assert rows == question.cypher_answer, f"actual answer:\n{shown(rows)}"


# After the seed's questions, so that each set-up runs once.
@pytest.mark.parametrize("question", AFTER_IMPORTS, ids=[q.title for q in AFTER_IMPORTS])
def test_answers_after_the_imports_are_the_printed_ones(
    question: Question, api: TestClient, driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    seeded_then(driver, question.setup)
    body = gql(api, question.graphql)
    assert "errors" not in body, body.get("errors")
    assert body["data"] == question.graphql_answer, f"actual answer:\n{shown(body['data'])}"
    rows = cypher(driver, question.cypher)
    assert rows == question.cypher_answer, f"actual answer:\n{shown(rows)}"


def test_questions_after_the_imports_are_asked() -> None:
    assert len(AFTER_IMPORTS) >= 5


def test_a_questions_set_up_commands_are_read_in_order() -> None:
    section = "Q\n\nAsked after `threatgraph import misp-galaxy` and `threatgraph import attack`.\n"
    assert setup_commands(section) == ("import misp-galaxy", "import attack")
    assert setup_commands("Q\n\nAsked of the seed alone.\n") == ()
