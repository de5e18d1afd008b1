"""The shipped seed files themselves: every quote verbatim in the source text kept
with the seed, and the README's format description (with an example that loads)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import neo4j
import pytest
import yaml

from graph.model.likelihood import Likelihood
from graph.model.vocabulary import CLAIM_TYPES, LABELS
from seed.files import SEED_DIR, shipped_seed_files
from tests.conftest import ROOT, cypher

README = SEED_DIR / "README.md"
SEED_FILES = shipped_seed_files()


def normalised(text: str) -> str:
    return " ".join(text.split())


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_seed_files_are_shipped() -> None:
    assert [path.name for path in SEED_FILES] == ["ncsc-2024-03-25.yaml"]


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda path: path.name)
def test_every_seed_file_keeps_its_source_text_in_seed_sources(path: Path) -> None:
    text_file = (path.parent / load_yaml(path)["source"]["text_file"]).resolve()
    assert text_file.parent == SEED_DIR / "sources"
    assert text_file.is_file()


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda path: path.name)
def test_every_quote_is_verbatim_in_the_source_text(path: Path) -> None:
    data = load_yaml(path)
    text = normalised((path.parent / data["source"]["text_file"]).read_text(encoding="utf-8"))
    quotes = [claim.get("quote") for claim in data["claims"]]
    assert all(quotes)
    assert [quote for quote in quotes if normalised(quote) not in text] == []


# --- the README -------------------------------------------------------------------


def fenced(language: str, after: str) -> str:
    """The first ```language block after the heading or text `after` in the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    match = re.search(rf"^```{language}\n(.*?)^```$", text[start:], re.S | re.M)
    assert match is not None
    return match.group(1)


def test_readme_example_loads_into_the_graph(
    empty_graph: None, driver: neo4j.Driver, neo4j_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "example.txt").write_text(
        fenced("text", "`sources/example.txt`:"), encoding="utf-8"
    )
    example = tmp_path / "example.yaml"
    example.write_text(fenced("yaml", "## Example"), encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "api.cli", "seed", str(example)],
        capture_output=True,
        text=True,
        env={**os.environ, **neo4j_env},
        cwd=ROOT,
        timeout=300,
    )
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout == (
        "seeded 1 document(s): 6 entities (6 new), 4 claims (4 new, 0 withdrawn)\n"
    )
    rows = cypher(
        driver,
        "MATCH (:Incident)-[r:ATTRIBUTED_TO]->(a:ThreatActor) "
        "RETURN a.name AS actor, r.likelihood AS likelihood, r.sources AS sources",
    )
    assert rows == [
        {
            "actor": "EXAMPLE SPIDER",
            "likelihood": "HIGHLY_LIKELY",
            "sources": ["source:example-advisory-2024-05"],
        }
    ]


@pytest.mark.parametrize(
    "word",
    [
        *(f"`{label}`" for label in LABELS),
        *(f"`{key}`" for label in LABELS.values() for key in label.extra_properties),
        *(f"`{relation}`" for relation in sorted(CLAIM_TYPES)),
        *(f"`{term.value}`" for term in Likelihood),
        "`text_file`",
        "`MENTIONS`",
    ],
)
def test_readme_documents(word: str) -> None:
    assert word in README.read_text(encoding="utf-8")


@pytest.mark.parametrize("term", [term for term in Likelihood if term.band], ids=str)
def test_readme_gives_each_terms_phia_band(term: Likelihood) -> None:
    low, high = term.band or (0, 0)
    band = f"{low}\N{EN DASH}{high} %"
    row = rf"^\| `{term.value}` \| {term.phrase}[^|]*\| {band} \|$"
    assert re.search(row, README.read_text(encoding="utf-8"), re.M)
