"""`threatgraph seed` against the real Neo4j: what the shipped seed says, idempotence,
all-or-nothing validation, concurrent loaders and the schema."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import neo4j
import pytest

from graph.linking.rule import ATTRIBUTION_TYPES
from graph.model.field_checks import normalise_whitespace
from graph.model.vocabulary import CLAIM_TYPES
from graph.setup import ensure_schema, schema_statements
from graph.store.database import Graph
from seed.files import SEED_DIR
from tests.conftest import ROOT, cypher
from tests.graph_state import canonical_dump, fingerprint

SHIPPED = SEED_DIR / "ncsc-2024-03-25.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "seed"
APT31_ATTRIBUTION = "incident:2021-uk-parliamentarians-email-reconnaissance"
ELECTORAL_COMMISSION = "incident:2021-2022-uk-electoral-commission-compromise"
SEEDED = "seeded 1 document(s): 28 entities (28 new), 39 claims (39 new, 0 withdrawn)\n"


def seed_cli(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "seed", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=300,
    )


def count(driver: neo4j.Driver, query: str, **params: object) -> int:
    return int(cypher(driver, query, **params)[0]["n"])


def later_file(tmp_path: Path, to: str) -> Path:
    write(tmp_path, "later.txt", "We judge that APT31 works for them.")
    return write(tmp_path, "later.yaml", LATER.format(to=to))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the shipped seed, loaded -------------------------------------------------------


def test_seed_loads_the_shipped_files_into_an_empty_graph(
    empty_graph: None, neo4j_env: dict[str, str]
) -> None:
    completed = seed_cli(env=neo4j_env)
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, SEEDED, "")


@pytest.mark.parametrize(
    ("query", "params"),
    [
        pytest.param(
            "MATCH (:ThreatActor {id: 'actor:apt31', name: 'APT31'})-[:AFFILIATED_WITH]->"
            "(:Agency {id: 'agency:mss'}) RETURN count(*) AS n",
            {},
            id="apt31-affiliated-with-mss",
        ),
        pytest.param(
            "MATCH (:Agency {id: 'agency:ncsc'})-[:PART_OF]->(:Agency {id: 'agency:gchq'}) "
            "RETURN count(*) AS n",
            {},
            id="ncsc-part-of-gchq",
        ),
        pytest.param(
            "MATCH (:Incident {id: $incident})-[:ATTRIBUTED_TO {likelihood: 'ALMOST_CERTAIN'}]->"
            "(:ThreatActor {id: 'actor:apt31'}) RETURN count(*) AS n",
            {"incident": APT31_ATTRIBUTION},
            id="reconnaissance-attributed-to-apt31-almost-certain",
        ),
        pytest.param(
            "MATCH (:Incident {id: $incident})-[:TARGETED]->"
            "(:Group {id: 'group:uk-parliamentarians'}) RETURN count(*) AS n",
            {"incident": APT31_ATTRIBUTION},
            id="reconnaissance-targeted-parliamentarians",
        ),
    ],
)
def test_seeded_graph_holds(
    seeded_graph: None, driver: neo4j.Driver, query: str, params: dict[str, str]
) -> None:
    assert count(driver, query, **params) == 1


def test_electoral_commission_exfiltration_is_highly_likely(
    seeded_graph: None, driver: neo4j.Driver
) -> None:
    rows = cypher(
        driver,
        "MATCH (:Incident {id: $incident})-[r:EXFILTRATED]->(a:Asset) "
        "RETURN a.id AS asset, r.likelihood AS likelihood ORDER BY asset",
        incident=ELECTORAL_COMMISSION,
    )
    assert rows == [
        {"asset": "asset:electoral-commission-email-data", "likelihood": "HIGHLY_LIKELY"},
        {"asset": "asset:electoral-register-data", "likelihood": "HIGHLY_LIKELY"},
    ]


# NCSC WARNED_ABOUT APT31 is a statement about the actor, not involvement: a path
# through it (incident -REMEDIATED_WITH-> NCSC -WARNED_ABOUT-> APT31) links nothing.
INVOLVEMENT = sorted(CLAIM_TYPES - {"WARNED_ABOUT"})


@pytest.mark.parametrize("target", ["actor:apt31", "agency:mss"])
@pytest.mark.parametrize(
    "types",
    [
        pytest.param(ATTRIBUTION_TYPES, id="attribution"),
        pytest.param(INVOLVEMENT, id="involvement"),
    ],
)
def test_electoral_commission_has_no_directed_path_to(
    seeded_graph: None, driver: neo4j.Driver, target: str, types: list[str]
) -> None:
    query = (
        "MATCH p = (:Entity {id: $incident})-[*]->(:Entity {id: $target}) "
        "WHERE all(r IN relationships(p) WHERE type(r) IN $types) RETURN count(p) AS n"
    )
    assert count(driver, query, incident=ELECTORAL_COMMISSION, target=target, types=types) == 0


def test_every_claim_has_likelihood_sources_and_a_verbatim_quote(
    seeded_graph: None, driver: neo4j.Driver
) -> None:
    text = normalise_whitespace((SEED_DIR / "sources" / "ncsc-2024-03-25.txt").read_text())
    rows = cypher(
        driver,
        "MATCH ()-[r]->() WHERE type(r) <> 'MENTIONS' "
        "RETURN type(r) AS type, r.likelihood AS likelihood, r.sources AS sources, "
        "r.quote AS quote",
    )
    assert len(rows) == 39
    bad = [
        row
        for row in rows
        if row["type"] not in CLAIM_TYPES
        or not row["likelihood"]
        or not row["sources"]
        or not row["quote"]
        or normalise_whitespace(row["quote"]) not in text
    ]
    assert bad == []


def test_reseeding_changes_nothing(
    seeded_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    before = canonical_dump(driver)
    completed = seed_cli(env=neo4j_env)
    assert completed.stdout == SEEDED.replace("(28 new)", "(0 new)").replace("39 new", "0 new")
    assert canonical_dump(driver) == before


def test_reseeding_a_file_without_a_claim_withdraws_it_and_keeps_it(
    empty_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    assert seed_cli(env=neo4j_env).returncode == 0
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "ncsc-2024-03-25.txt").write_bytes(
        (SEED_DIR / "sources" / "ncsc-2024-03-25.txt").read_bytes()
    )
    claim = (
        "  - from: agency:ncsc\n    relation: PART_OF\n    to: agency:gchq\n"
        "    likelihood: FACT\n    assessed_by: agency:ncsc\n"
        '    quote: "The National Cyber Security Centre \N{EN DASH} a part of GCHQ \N{EN DASH}"\n'
    )
    text = SHIPPED.read_text(encoding="utf-8")
    assert claim in text
    edited = write(tmp_path, "ncsc-2024-03-25.yaml", text.replace(claim, ""))
    completed = seed_cli(edited, env=neo4j_env)
    assert completed.stdout == (
        "seeded 1 document(s): 28 entities (0 new), 38 claims (0 new, 1 withdrawn)\n"
    )
    # Kept, withdrawn as of the load (the file gives no revision date): nothing a
    # source said is deleted by a reload.
    rows = cypher(
        driver,
        "MATCH ({id: 'agency:ncsc'})-[r:PART_OF]->() "
        "RETURN r.withdrawn_on = toString(date()) AS today, r.reported_on AS reported",
    )
    assert rows == [{"today": True, "reported": "2024-03-25"}]


def test_reseeding_keeps_names_an_import_added(
    empty_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    assert seed_cli(env=neo4j_env).returncode == 0
    cypher(
        driver,
        "MATCH (e {id: 'actor:apt31'}) SET e.imported_aliases = ['Violet Typhoon'], "
        "e.imported_lookup_keys = ['violet typhoon'], e.aliases = ['Violet Typhoon']",
    )
    assert seed_cli(env=neo4j_env).returncode == 0
    rows = cypher(
        driver,
        "MATCH (e {id: 'actor:apt31'}) RETURN e.aliases AS aliases, e.lookup_keys AS keys",
    )
    assert rows == [
        {"aliases": ["Violet Typhoon"], "keys": ["actor:apt31", "apt31", "violet typhoon"]}
    ]


def test_seed_if_empty_skips_a_graph_with_entities(
    seeded_graph: None, neo4j_env: dict[str, str]
) -> None:
    completed = seed_cli("--if-empty", env=neo4j_env)
    assert completed.stdout == "graph already holds 28 entities; seed skipped (--if-empty)\n"


# --- references to what the graph already holds --------------------------------------

LATER = """\
format: threatgraph-seed/1
source:
  id: source:later
  name: A later statement
  text_file: later.txt
claims:
  - from: actor:apt31
    relation: AFFILIATED_WITH
    to: {to}
    likelihood: LIKELY
    quote: APT31 works for them.
"""


def test_a_later_file_may_refer_to_entities_in_the_graph(
    seeded_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    later = later_file(tmp_path, "country:china")
    completed = seed_cli(later, env=neo4j_env)
    assert completed.returncode == 0, completed.stderr
    rows = cypher(
        driver,
        "MATCH ({id: 'actor:apt31'})-[r:AFFILIATED_WITH {source: 'source:later'}]->"
        "({id: 'country:china'}) RETURN r.id AS id, r.sources AS sources",
    )
    assert rows == [
        {
            "id": "actor:apt31-AFFILIATED_WITH->country:china@source:later",
            "sources": ["source:later"],
        }
    ]


@pytest.mark.parametrize(
    ("to", "problem"),
    [
        pytest.param(
            "country:atlantis",
            "line 9: claims[0].to: 'country:atlantis' is not declared in this load nor present "
            "in the graph",
            id="missing",
        ),
        pytest.param(
            "group:uk-parliamentarians",
            "line 9: claims[0].to: group:uk-parliamentarians is a Group, which cannot be the 'to' "
            "end of AFFILIATED_WITH (allowed: Agency, Country, Organisation, ThreatActor)",
            id="wrong-label-in-graph",
        ),
    ],
)
def test_a_bad_reference_is_refused_and_nothing_written(
    seeded_graph: None,
    driver: neo4j.Driver,
    neo4j_env: dict[str, str],
    tmp_path: Path,
    to: str,
    problem: str,
) -> None:
    before = canonical_dump(driver)
    later = later_file(tmp_path, to)
    completed = seed_cli(later, env=neo4j_env)
    assert (completed.returncode, completed.stdout) == (1, "")
    assert completed.stderr == (
        f"threatgraph: {later}: 1 problem(s), nothing written\n  {later}: {problem}\n"
    )
    assert canonical_dump(driver) == before


# --- bad input: a clear message, exit 1, nothing written -----------------------------


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        pytest.param(
            "malformed.yaml",
            b"format: threatgraph-seed/1\nentities: [\n",
            "line 3, column 1: invalid YAML: expected the node content, but found '<stream end>'",
            id="malformed-yaml",
        ),
        pytest.param("empty.yaml", b"", "document is empty (no YAML content)", id="empty"),
        pytest.param(
            "latin1.yaml",
            "format: threatgraph-seed/1\n# café\n".encode("latin-1"),
            "line 2, column 6: not UTF-8 text (byte 0xe9); save the file as UTF-8",
            id="not-utf8",
        ),
        pytest.param(
            "huge.yaml",
            b"# " + b"x" * (10 * 1024 * 1024) + b"\n",
            "document is 10485763 bytes, over the limit of 5242880 bytes (5 MB); "
            "split it into several files",
            id="10-mb",
        ),
    ],
)
def test_a_bad_file_is_refused_with_exit_1_and_nothing_written(
    empty_graph: None,
    driver: neo4j.Driver,
    neo4j_env: dict[str, str],
    tmp_path: Path,
    name: str,
    content: bytes,
    problem: str,
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    # An empty store that is set up holds only its bookkeeping (the feed, the closure's marker).
    before = fingerprint(driver)
    completed = seed_cli(SHIPPED, bad, env=neo4j_env)
    assert (completed.returncode, completed.stdout) == (1, "")
    assert completed.stderr == (
        f"threatgraph: {bad}: 1 problem(s), nothing written\n  {bad}: {problem}\n"
    )
    assert count(driver, "MATCH (e:Entity) RETURN count(e) AS n") == 0
    assert fingerprint(driver) == before


def test_problems_in_several_files_are_reported_together(
    empty_graph: None, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    first = write(tmp_path, "a.yaml", "")
    second = write(tmp_path, "b.yaml", "format: threatgraph-seed/0\nentities: []\n")
    completed = seed_cli(first, second, env=neo4j_env)
    assert completed.stderr == (
        "threatgraph: 2 documents: 3 problem(s), nothing written\n"
        f"  {first}: document is empty (no YAML content)\n"
        f"  {second}: line 1: source: is required (the statement whose word the file records)\n"
        f"  {second}: line 1: format: must be 'threatgraph-seed/1', not 'threatgraph-seed/0'\n"
    )


def test_a_missing_file_is_refused(neo4j_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    completed = seed_cli(missing, env=neo4j_env)
    assert completed.stderr == (
        f"threatgraph: {missing}: 1 problem(s), nothing written\n"
        f"  {missing}: cannot read file: No such file or directory\n"
    )


# --- concurrency ------------------------------------------------------------------


def drop_schema(driver: neo4j.Driver) -> None:
    for row in cypher(driver, "SHOW CONSTRAINTS YIELD name RETURN name"):
        cypher(driver, f"DROP CONSTRAINT `{row['name']}`")
    for row in cypher(driver, "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"):
        cypher(driver, f"DROP INDEX `{row['name']}` IF EXISTS")


def test_four_concurrent_seeds_into_a_fresh_database_create_no_duplicates(
    empty_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    drop_schema(driver)
    loaders = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "seed"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **neo4j_env},
            cwd=ROOT,
        )
        for _ in range(4)
    ]
    outcomes = [(loader.communicate(timeout=300)[1], loader.returncode) for loader in loaders]
    outcomes = [(err, code) for err, code in outcomes]
    # Deadlocks between the loaders are transient: the driver retries them (and logs so).
    assert [err for err, _ in outcomes if "threatgraph:" in err] == []
    assert [code for _, code in outcomes] == [0] * 4, outcomes
    rows = cypher(
        driver,
        "MATCH (n:Entity) WITH n.id AS id, count(*) AS copies "
        "RETURN count(id) AS ids, sum(copies) AS nodes",
    )
    assert rows == [{"ids": 28, "nodes": 28}]
    rows = cypher(
        driver,
        "MATCH ()-[r]->() WITH r.id AS id, count(*) AS copies "
        "RETURN count(id) AS ids, sum(copies) AS rels, "
        "sum(CASE WHEN copies > 1 THEN 1 ELSE 0 END) AS duplicated",
    )
    single = count(driver, "MATCH ()-[r]->() RETURN count(r) AS n")
    assert rows == [{"ids": single, "rels": single, "duplicated": 0}]
    assert count(driver, "MATCH ()-[r]->() WHERE type(r) <> 'MENTIONS' RETURN count(r) AS n") == 39
    # The change feed: 94 creations (28 entities, 39 claims, 27 mentions), whoever made them,
    # numbered 1-94 without gaps: the loaders that came later found nothing to change.
    rows = cypher(
        driver,
        "MATCH (s:ChangeSet) UNWIND range(s.first, s.last) AS seq RETURN collect(seq) AS seqs",
    )
    assert sorted(rows[0]["seqs"]) == list(range(1, 95))
    kinds = "MATCH (s:ChangeSet) UNWIND s.kinds AS kind WITH kind WHERE kind <> 'created' "
    assert count(driver, kinds + "RETURN count(*) AS n") == 0


# --- schema -----------------------------------------------------------------------


def test_ensure_schema_twice_creates_the_constraint_and_indexes_once(
    driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    drop_schema(driver)

    async def twice() -> int:
        async with Graph.connect(bulk=True) as graph:
            await ensure_schema(graph)
            before = graph.round_trips
            await ensure_schema(graph)
            return graph.round_trips - before

    # SHOW CONSTRAINTS, SHOW INDEXES, and whether the linked-to closure is built.
    assert asyncio.run(twice()) == 3
    constraints = cypher(
        driver,
        "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties, type "
        "WHERE name = 'entity_id' RETURN labelsOrTypes, properties, type",
    )
    assert constraints == [
        {"labelsOrTypes": ["Entity"], "properties": ["id"], "type": "UNIQUENESS"}
    ]
    fulltext = cypher(
        driver,
        "SHOW INDEXES YIELD name, type, state WHERE type = 'FULLTEXT' "
        "RETURN name, state ORDER BY name",
    )
    assert fulltext == [
        {"name": "entity_lookup", "state": "ONLINE"},
        {"name": "entity_search", "state": "ONLINE"},
    ]
    wanted = {s.split(" IF NOT EXISTS")[0].split()[-1] for s in schema_statements()}
    have = cypher(driver, "SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names")[0]["names"]
    have += cypher(driver, "SHOW INDEXES YIELD name RETURN collect(name) AS names")[0]["names"]
    assert wanted - set(have) == set()


# --- checking without Neo4j ------------------------------------------------------------


def check_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`threatgraph check` with no Neo4j to reach: NEO4J_URI points at a closed port."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "check", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "NEO4J_URI": "bolt://127.0.0.1:9"},
        cwd=ROOT,
        timeout=120,
    )


def test_check_validates_seed_files_without_neo4j(tmp_path: Path) -> None:
    assert check_cli(SHIPPED).stdout == "checked 1 document(s): 28 entities, 39 claims\n"
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "ncsc-2024-03-25.txt").write_bytes(
        (SEED_DIR / "sources" / "ncsc-2024-03-25.txt").read_bytes()
    )
    text = SHIPPED.read_text(encoding="utf-8")
    # Without APT31's declaration, the file uses an id the graph must hold.
    declaration = text[text.index("  - id: actor:apt31\n") : text.index("  - id: actor:china-")]
    uses = write(tmp_path, "uses.yaml", text.replace(declaration, ""))
    assert check_cli(uses).stdout == (
        "checked 1 document(s): 27 entities, 39 claims\n"
        "1 id(s) they use but do not declare must be in the graph when they are loaded: "
        "actor:apt31\n"
    )
    # Declared as a kind its use does not allow: the message `seed` gives, exit 1.
    wrong = write(
        tmp_path,
        "wrong.yaml",
        text.replace(
            "  - id: actor:apt31\n    label: ThreatActor", "  - id: actor:apt31\n    label: Asset"
        ),
    )
    completed = check_cli(wrong)
    assert completed.returncode == 1
    assert completed.stderr.startswith(f"threatgraph: {wrong}: 4 problem(s), nothing written\n")
    assert (
        "claims[3].to: actor:apt31 is an Asset, which cannot be the 'to' end of ATTRIBUTED_TO"
        in completed.stderr
    )


def test_version_is_the_package_s() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "api.cli", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert completed.stdout == "threatgraph 0.1.0\n"
