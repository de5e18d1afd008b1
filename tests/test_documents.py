"""Validation of graph documents: every problem found at once, each naming file, line,
path and what is wrong; hostile YAML refused without a crash. No Neo4j needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.errors import ValidationError
from graph.model.document_yaml import MAX_DEPTH, parse_yaml, read_document_file
from graph.model.documents import document_from_text
from graph.model.likelihood import Likelihood
from graph.model.records import Reference
from graph.model.vocabulary import ACTORS, CLAIM_TYPES, LABELS
from seed.files import read_seed_file, read_seed_files

BASE = """\
format: threatgraph-seed/1
source:
  id: source:test-statement
  name: A test statement
  published: 2024-03-25
  text_file: statement.txt
entities:
  - id: actor:apt99
    label: ThreatActor
    name: APT99
  - id: incident:2021-test
    label: Incident
    name: A test incident
    started: "2021"
    ended: "2022"
claims:
  - from: incident:2021-test
    relation: ATTRIBUTED_TO
    to: actor:apt99
    likelihood: ALMOST_CERTAIN
    quote: APT99 was almost certainly responsible
    valid_from: "2021"
    valid_to: "2022"
"""
STATEMENT = "We assess that APT99 was almost\ncertainly responsible for the incident.\n"
KNOWN_LABELS = ", ".join(LABELS)
KNOWN_RELATIONS = ", ".join(sorted(CLAIM_TYPES))
TERMS = ", ".join(term.value for term in Likelihood)


def seed_file(tmp_path: Path, text: str, name: str = "doc.yaml") -> Path:
    (tmp_path / "statement.txt").write_text(STATEMENT, encoding="utf-8")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        read_seed_file(seed_file(tmp_path, text))
    return raised.value.problems


def text_problems(text: str) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        document_from_text(text, "ingest.seed")
    return raised.value.problems


def edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def test_the_base_document_is_valid(tmp_path: Path) -> None:
    document = read_seed_file(seed_file(tmp_path, BASE))
    assert [e.id for e in document.entities] == [
        "source:test-statement",
        "actor:apt99",
        "incident:2021-test",
    ]
    assert [(c.id, c.likelihood, c.sources) for c in document.claims] == [
        (
            "incident:2021-test-ATTRIBUTED_TO->actor:apt99@source:test-statement",
            Likelihood.ALMOST_CERTAIN,
            ("source:test-statement",),
        )
    ]
    assert document.unresolved == {}


def test_the_error_names_file_line_path_and_problem(tmp_path: Path) -> None:
    path = seed_file(tmp_path, edited("label: ThreatActor", "label: Threat"))
    with pytest.raises(ValidationError) as raised:
        read_seed_file(path)
    assert str(raised.value) == (
        f"{path}: 1 problem(s), nothing written\n"
        f"  {path}: line 9: entities[0].label: unknown label 'Threat' (known: {KNOWN_LABELS})"
    )


DUPLICATE_ENTITY = "  - id: actor:apt99\n    label: ThreatActor\n    name: APT99 again\nclaims:\n"
DUPLICATE_CLAIM = (
    "  - from: incident:2021-test\n    relation: ATTRIBUTED_TO\n    to: actor:apt99\n"
    "    likelihood: LIKELY\n    quote: APT99 was almost certainly responsible\n"
)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "relation: ATTRIBUTED_TO",
            "relation: BLAMED_ON",
            f"line 18: claims[0].relation: unknown relation 'BLAMED_ON' (known: {KNOWN_RELATIONS})",
            id="unknown-relation",
        ),
        pytest.param(
            "to: actor:apt99",
            "to: incident:2021-test",
            "line 19: claims[0].to: incident:2021-test is an Incident, which cannot be the 'to' "
            f"end of ATTRIBUTED_TO (allowed: {', '.join(ACTORS)})",
            id="relation-not-allowed-between-labels",
        ),
        pytest.param(
            "claims:\n",
            DUPLICATE_ENTITY,
            "line 16: entities[2].id: duplicate id 'actor:apt99' "
            "(first declared at line 8: entities[0].id)",
            id="duplicate-id",
        ),
        pytest.param(
            'valid_to: "2022"\n',
            'valid_to: "2022"\n' + DUPLICATE_CLAIM,
            "line 24: claims[1]: duplicate claim: incident:2021-test ATTRIBUTED_TO actor:apt99 "
            "is already claimed at line 17: claims[0]",
            id="duplicate-claim",
        ),
        pytest.param(
            "likelihood: ALMOST_CERTAIN",
            "likelihood: PROBABLE",
            f"line 20: claims[0].likelihood: 'PROBABLE' is not a likelihood term (one of {TERMS})",
            id="bad-likelihood",
        ),
        pytest.param(
            "    likelihood: ALMOST_CERTAIN\n",
            "",
            "line 17: claims[0].likelihood: is required (a PHIA term such as ALMOST_CERTAIN, "
            "or FACT)",
            id="missing-likelihood",
        ),
        pytest.param(
            'started: "2021"',
            "started: 2021-02-30",
            "line 14: entities[1].started: '2021-02-30' is not a real date "
            "(day is out of range for month)",
            id="impossible-date",
        ),
        pytest.param(
            "published: 2024-03-25",
            "published: 25/03/2024",
            "line 5: source.published: '25/03/2024' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)",
            id="not-a-date",
        ),
        pytest.param(
            'started: "2021"',
            'started: "2023-06"',
            "line 15: entities[1].ended: started 2023-06 is after ended 2022",
            id="started-after-ended",
        ),
        pytest.param(
            'valid_from: "2021"',
            'valid_from: "2023-01"',
            "line 23: claims[0].valid_to: valid_from 2023-01 is after valid_to 2022",
            id="valid-from-after-valid-to",
        ),
        pytest.param(
            "quote: APT99 was almost certainly responsible",
            "quote: APT99 was probably responsible",
            "line 21: claims[0].quote: 'APT99 was probably responsible' is not a verbatim "
            "passage of the source text",
            id="quote-not-verbatim",
        ),
        pytest.param(
            "    quote: APT99 was almost certainly responsible\n",
            "",
            "line 17: claims[0].quote: is required",
            id="missing-quote",
        ),
        pytest.param(
            "    name: APT99\n", "", "line 8: entities[0].name: is required", id="missing-name"
        ),
        pytest.param(
            "    name: APT99\n",
            "    name: APT99\n    colour: red\n",
            "line 11: entities[0].colour: unknown key 'colour' (allowed: aliases, description, "
            "first_seen, id, label, last_seen, motivation, name, sophistication, stix_type)",
            id="unknown-key",
        ),
        pytest.param(
            "    name: APT99\n",
            "    name: APT99\n    name: APT99 again\n",
            "line 11: entities[0].name: duplicate key 'name' (first on line 10)",
            id="duplicate-key",
        ),
        pytest.param(
            "  - id: actor:apt99",
            "  - id: APT99",
            "line 8: entities[0].id: 'APT99' is not an id (kind:slug in lower case, "
            "e.g. actor:apt31)",
            id="malformed-id",
        ),
        pytest.param(
            "  - id: incident:2021-test",
            "  - id: event:2021-test",
            "line 11: entities[1].id: an Incident id starts with 'incident:', "
            "not 'event:2021-test'",
            id="id-prefix-does-not-match-label",
        ),
        pytest.param(
            "format: threatgraph-seed/1",
            "format: threatgraph-seed/2",
            "line 1: format: must be 'threatgraph-seed/1', not 'threatgraph-seed/2'",
            id="wrong-format",
        ),
        pytest.param(
            "text_file: statement.txt",
            "text_file: missing.txt",
            "line 6: source.text_file: cannot read missing.txt: No such file or directory",
            id="missing-source-text",
        ),
        pytest.param(
            "text_file: statement.txt",
            "text_file: ../statement.txt",
            "line 6: source.text_file: '../statement.txt' must be a relative path beside or "
            "below the seed file",
            id="source-text-outside",
        ),
    ],
)
def test_a_problem_is_reported_with_line_and_path(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert problems_of(tmp_path, edited(old, new)) == [expected]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "  text_file: statement.txt\n",
            "",
            "line 3: source.text_file: is required (the statement's text, so that quotes can "
            "be checked)",
            id="no-text-file",
        ),
        pytest.param(
            BASE[BASE.index("source:") : BASE.index("entities:")],
            "",
            "line 1: source: is required (the statement whose word the file records)",
            id="no-source",
        ),
    ],
)
def test_a_seed_file_needs_its_source_and_text(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert problems_of(tmp_path, edited(old, new))[0] == expected


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = edited("label: ThreatActor", "label: Threat").replace("PROBABLE", "")
    text = text.replace("ALMOST_CERTAIN", "SURE")
    assert problems_of(tmp_path, text) == [
        f"line 9: entities[0].label: unknown label 'Threat' (known: {KNOWN_LABELS})",
        f"line 20: claims[0].likelihood: 'SURE' is not a likelihood term (one of {TERMS})",
    ]


def test_an_undeclared_reference_is_left_for_the_load_to_resolve(tmp_path: Path) -> None:
    document = read_seed_file(seed_file(tmp_path, edited("to: actor:apt99", "to: actor:apt98")))
    assert document.unresolved == {
        "actor:apt98": [
            Reference(
                "actor:apt98", "line 19: claims[0].to", "the 'to' end of ATTRIBUTED_TO", ACTORS
            )
        ]
    }


def test_a_claim_cites_its_documents_source_first(tmp_path: Path) -> None:
    text = edited("    valid_to:", "    sources: [source:other]\n    valid_to:")
    document = read_seed_file(seed_file(tmp_path, text))
    assert document.claims[0].sources == ("source:test-statement", "source:other")
    assert document.claims[0].source == "source:test-statement"


def test_likelihood_words_are_accepted_case_insensitively(tmp_path: Path) -> None:
    document = read_seed_file(seed_file(tmp_path, edited("ALMOST_CERTAIN", "almost certain")))
    assert document.claims[0].likelihood is Likelihood.ALMOST_CERTAIN


def test_problems_in_several_files_name_each_file(tmp_path: Path) -> None:
    good = seed_file(tmp_path, BASE, "good.yaml")
    bad = seed_file(tmp_path, edited("label: ThreatActor", "label: Actor"), "bad.yaml")
    empty = seed_file(tmp_path, "", "empty.yaml")
    with pytest.raises(ValidationError) as raised:
        read_seed_files([good, bad, empty])
    assert str(raised.value) == (
        "2 documents: 2 problem(s), nothing written\n"
        f"  {bad}: line 9: entities[0].label: unknown label 'Actor' (known: {KNOWN_LABELS})\n"
        f"  {empty}: document is empty (no YAML content)"
    )


# --- hostile or broken YAML ---------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "document is empty (no YAML content)", id="empty"),
        pytest.param("# only a comment\n", "document is empty (no YAML content)", id="comments"),
        pytest.param(
            "format: threatgraph-seed/1\nentities: [\n",
            "line 3, column 1: invalid YAML: expected the node content, but found '<stream end>'",
            id="malformed",
        ),
        pytest.param(
            "format: threatgraph-seed/1\n  source: x\n",
            "line 2, column 9: invalid YAML: mapping values are not allowed here",
            id="bad-indentation",
        ),
        pytest.param(
            BILLION_LAUGHS,
            "line 2, column 8: YAML aliases (*name) are not allowed in graph documents",
            id="billion-laughs",
        ),
        pytest.param(
            "claims: " + "[" * 5000 + "]" * 5000,
            f"line 1, column {8 + MAX_DEPTH}: nested deeper than {MAX_DEPTH} levels",
            id="deep-nesting",
        ),
        pytest.param(
            "a: !!python/object:os.system {}\n",
            "line 1, column 4: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
            id="python-tag",
        ),
        pytest.param("a: 1\x00\n", "line 1: document contains a NUL byte", id="nul-byte"),
        pytest.param(
            "- just\n- a list\n",
            "line 1: a graph document is a mapping with format, source, entities and claims, "
            "not list",
            id="not-a-mapping",
        ),
        pytest.param(
            "format: threatgraph-seed/1\n",
            "line 1: document declares no entities and no claims",
            id="nothing-declared",
        ),
    ],
)
def test_bad_yaml_is_refused_clearly(text: str, expected: str) -> None:
    assert text_problems(text) == [expected]


def test_a_10_mb_text_is_refused() -> None:
    text = "# " + "x" * (10 * 1024 * 1024)
    assert text_problems(text) == [
        "document is 10485762 bytes, over the limit of 5242880 bytes (5 MB); "
        "split it into several files"
    ]


def test_a_10_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024)
    with pytest.raises(ValidationError) as raised:
        read_document_file(path)
    assert raised.value.problems == [
        "document is 10485760 bytes, over the limit of 5242880 bytes (5 MB); "
        "split it into several files"
    ]


def test_a_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("format: threatgraph-seed/1\nname: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValidationError) as raised:
        read_document_file(path)
    assert raised.value.problems == [
        "line 2, column 10: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    ]


def test_unquoted_dates_stay_text() -> None:
    data, lines = parse_yaml("published: 2024-03-25\nwhen: 2021-02-30\n", "x.yaml")
    assert (data, lines) == (
        {"published": "2024-03-25", "when": "2021-02-30"},
        {"": 1, "published": 1, "when": 2},
    )


def test_a_reliability_outside_the_admiralty_scale_is_refused() -> None:
    text = """format: threatgraph-seed/1
source: {id: "source:x", name: X, reliability: Z}
entities:
  - {id: "agency:x", label: Agency, name: X, reliability: b}
"""
    assert text_problems(text) == [
        "line 2: source.reliability: must be one of A, B, C, D, E, F (the Admiralty scale), "
        "not 'Z'",
        "line 4: entities[0].reliability: must be one of A, B, C, D, E, F (the Admiralty scale), "
        "not 'b'",
    ]
