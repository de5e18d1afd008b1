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
from tests.test_competing_claims import SECOND_OPINION, load

PAGE = Path(__file__).resolve().parent.parent / "docs" / "service-owners.md"


def block_after(marker: str) -> str:
    """The fenced block that follows the HTML comment starting with `marker`."""
    found = re.search(
        r"<!-- " + re.escape(marker) + r"[^>]*-->\n```[a-z]*\n(.*?)```", PAGE.read_text(), re.S
    )
    assert found is not None, f"no block marked {marker!r} in {PAGE.name}"
    return found.group(1)


def run_example(neo4j_env: dict[str, str], after: str = "") -> str:
    """The page's example's output; `after` is more code run after it."""
    answered = subprocess.run(
        [sys.executable, "-c", block_after("py2neo-example") + after],
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
    # The claims read with Cypher are gone; the OGM's navigation still names the actor
    # a withdrawn version named, as the page says.
    assert run_example(neo4j_env) == "Ever attributed to, by any source: APT31\n"


@pytest.mark.usefixtures("seeded_graph")
def test_the_ogm_relationship_holds_one_of_two_sources_claims(
    driver: neo4j.Driver, neo4j_env: dict[str, str]
) -> None:
    # What the page warns of: a second source's claim on the same pair is a second
    # relationship, and RelatedTo keeps one per related node.
    recon = "incident:2021-uk-parliamentarians-email-reconnaissance"
    load(SECOND_OPINION.format(incident=recon, actor="actor:apt31", likelihood="LIKELY", quote="x"))
    assert cypher(
        driver, f"MATCH ({{id: '{recon}'}})-[c:ATTRIBUTED_TO]->() RETURN count(c) AS n"
    ) == [{"n": 2}]
    shown = run_example(neo4j_env, after="print('related', len(recon.attributed_to))")
    assert shown.count("ATTRIBUTED_TO APT31") == 2
    assert shown.splitlines()[-1] == "related 1"
