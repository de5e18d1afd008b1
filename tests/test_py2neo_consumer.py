"""The py2neo example of docs/service-owners.md, run as written against the suite's Neo4j.

The code and its printed answer are read from the page itself, so the page cannot drift.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import neo4j
import pytest

from tests.conftest import cypher

PAGE = Path(__file__).resolve().parent.parent / "docs" / "service-owners.md"


def block_after(marker: str) -> str:
    """The fenced block that follows the HTML comment starting with `marker`."""
    found = re.search(
        r"<!-- " + re.escape(marker) + r"[^>]*-->\n```[a-z]*\n(.*?)```", PAGE.read_text(), re.S
    )
    assert found is not None, f"no block marked {marker!r} in {PAGE.name}"
    return found.group(1)


def run_example(neo4j_env: dict[str, str]) -> str:
    answered = subprocess.run(
        [sys.executable, "-c", block_after("py2neo-example")],
        env={**os.environ, **neo4j_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answered.returncode == 0, answered.stderr
    return answered.stdout


@pytest.mark.usefixtures("seeded_graph")
def test_the_py2neo_example_prints_what_the_page_says(neo4j_env: dict[str, str]) -> None:
    assert run_example(neo4j_env) == block_after("py2neo-output")


@pytest.mark.usefixtures("seeded_graph")
def test_the_py2neo_example_leaves_out_withdrawn_claim_versions(
    driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    withdrawn = cypher(
        driver,
        "MATCH (:Incident)-[c:ATTRIBUTED_TO]->(:ThreatActor {id: 'actor:apt31'}) "
        "SET c.withdrawn_on = '2025-01-01' RETURN count(c) AS n",
    )
    assert withdrawn == [{"n": 1}]
    assert run_example(neo4j_env) == ""
