"""Where the test suite's Neo4j comes from.

In order: NEO4J_URI when set; a Docker engine that answers (compose.yaml
through pytest-docker); otherwise a managed server of the project's own, in a
temporary home on free ports, so the suite runs beside `make run`'s server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from api.browser import api_base_url, browser_setup_commands
from graph.server.config import ManagedServerSettings
from graph.server.process import ManagedServer, free_port
from graph.store.settings import PROJECT_ROOT


@dataclass(frozen=True)
class SuiteNeo4j:
    uri: str
    user: str
    password: str
    database: str
    managed: ManagedServer | None

    def env(self) -> dict[str, str]:
        """Environment variables pointing the project at this server."""
        return {
            "NEO4J_URI": self.uri,
            "NEO4J_USER": self.user,
            "NEO4J_PASSWORD": self.password,
            "NEO4J_DATABASE": self.database,
        }


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        completed = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


# The port the browser tests serve the API on: chosen before the suite's server
# starts, because its neo4j.conf points Neo4j Browser's post-connect setup there.
BROWSER_TEST_API_PORT = free_port()


def managed_test_settings(home: Path) -> ManagedServerSettings:
    base = ManagedServerSettings.from_env({})
    return ManagedServerSettings(
        home=home,
        lib_dir=Path(os.environ.get("THREATGRAPH_NEO4J_LIB") or PROJECT_ROOT / ".neo4j" / "lib"),
        neo4j_version=base.neo4j_version,
        bolt_port=free_port(),
        http_port=free_port(),
        heap_mb=1024,
        page_cache_mb=256,
        transaction_timeout_ms=base.transaction_timeout_ms,
        browser_post_connect_cmd=browser_setup_commands(
            api_base_url("127.0.0.1", BROWSER_TEST_API_PORT)
        ),
        browser_allowlist="127.0.0.1",
    )


# The suite's compose stack: compose.yaml with the tests' override over it
# (one api replica that writes nothing by itself), under a project of its own.
COMPOSE_FILES = (PROJECT_ROOT / "compose.yaml", PROJECT_ROOT / "tests" / "compose.tests.yaml")
COMPOSE_PROJECT = f"threatgraph-tests-{os.getpid()}"
# What pytest-docker runs: compose's neo4j alone. The suite serves its own API in
# process (tests/api_client.py), so the stack's api replicas and seed job stay down.
COMPOSE_SETUP = ["up -d neo4j"]


def compose_test_env(password: str, bookmark_key: str) -> dict[str, str]:
    """The variables the suite's compose stack starts with: the required secrets, and
    free host ports, so it collides with neither `make run` nor a user's compose stack."""
    return {
        "NEO4J_PASSWORD": password,
        "THREATGRAPH_BOOKMARK_KEY": bookmark_key,
        "THREATGRAPH_COMPOSE_NEO4J_HTTP_PORT": str(free_port()),
        "THREATGRAPH_COMPOSE_NEO4J_BOLT_PORT": str(free_port()),
        "THREATGRAPH_COMPOSE_API_PORTS": str(free_port()),
    }
