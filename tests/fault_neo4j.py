"""A second managed Neo4j that fault tests may kill, stop and restart.

The suite's own server (conftest.test_neo4j) serves every other test; killing
it would disturb them. This one is started once, on first use, and shared by
every fault test of the session.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import pytest

from graph.server.config import ManagedServerSettings
from graph.server.process import ManagedServer
from tests.neo4j_provider import managed_test_settings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class FaultNeo4j:
    server: ManagedServer

    def env(self, **extra: str) -> dict[str, str]:
        """A whole process environment pointing the project at this server."""
        return {
            **os.environ,
            "NEO4J_URI": self.server.settings.bolt_uri,
            "NEO4J_USER": self.server.user,
            "NEO4J_PASSWORD": self.server.password,
            "NEO4J_DATABASE": "neo4j",
            **extra,
        }

    def driver(self) -> neo4j.Driver:
        return neo4j.GraphDatabase.driver(
            self.server.settings.bolt_uri, auth=(self.server.user, self.server.password)
        )

    def cypher(self, query: str, **parameters: Any) -> list[dict[str, Any]]:
        with self.driver() as driver:
            records, _, _ = driver.execute_query(query, parameters, database_="neo4j")  # type: ignore[arg-type]
        return [record.data() for record in records]

    def clear(self) -> None:
        self.cypher("MATCH (n) DETACH DELETE n")

    def kill_and_restart(self) -> None:
        """SIGKILL the server (no clean shutdown), then start it on the same store."""
        self.server.kill()
        self.server.start()

    def threatgraph(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the CLI against this server and wait for it."""
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def threatgraph_started(self, *args: str) -> subprocess.Popen[str]:
        """Start the CLI against this server without waiting."""
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            # Generous: these are left waiting on purpose, until the server is killed.
            env=self.env(THREATGRAPH_TRANSACTION_TIMEOUT_MS="300000"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for_transactions(self, fragment: str, status: str, count: int) -> None:
        """Wait until `count` transactions running a query containing `fragment` have
        a status starting with `status` (e.g. 'Blocked')."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = self.cypher(
                "SHOW TRANSACTIONS YIELD currentQuery, status "
                "WHERE currentQuery CONTAINS $fragment AND status STARTS WITH $status "
                "RETURN count(*) AS n",
                fragment=fragment,
                status=status,
            )
            if rows[0]["n"] >= count:
                return
            time.sleep(0.2)
        raise AssertionError(f"no {count} transaction(s) {status} on {fragment!r} within 120 s")


@pytest.fixture(scope="session")
def fault_neo4j(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultNeo4j]:
    """A Neo4j of the fault tests' own (started on first use, stopped at the end).

    THREATGRAPH_TEST_FAULT_HOME names a home to reuse (and leave running) while
    working on these tests, which saves a server start per run.
    """
    kept = os.environ.get("THREATGRAPH_TEST_FAULT_HOME")
    home = Path(kept) if kept else tmp_path_factory.mktemp("fault-neo4j") / "home"
    settings = managed_test_settings(home)
    if kept and (home / "conf" / "neo4j.conf").exists():
        settings = reuse_ports(settings, home / "conf" / "neo4j.conf")
    server = ManagedServer(settings)
    server.start()
    try:
        yield FaultNeo4j(server)
    finally:
        if not kept:
            server.stop()


def reuse_ports(settings: ManagedServerSettings, conf: Path) -> ManagedServerSettings:
    """The ports a kept home's configuration already names."""
    ports = {}
    for line in conf.read_text().splitlines():
        key, _, value = line.partition("=")
        if key in ("server.bolt.listen_address", "server.http.listen_address"):
            ports[key] = int(value.rsplit(":", 1)[1])
    return dataclasses.replace(
        settings,
        bolt_port=ports["server.bolt.listen_address"],
        http_port=ports["server.http.listen_address"],
    )
