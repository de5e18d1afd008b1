"""The managed Neo4j server: it starts, answers, reuses, keeps data, and fails clearly."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import neo4j
import pytest

from graph.server.config import ManagedServerSettings, render_neo4j_conf
from graph.server.java import parse_java_version
from graph.server.process import ManagedServer, free_port
from graph.store.settings import PROJECT_ROOT
from tests.conftest import ROOT, cypher
from tests.neo4j_provider import SuiteNeo4j, managed_test_settings

SHARED_LIB = ROOT / ".neo4j" / "lib"


def managed(test_neo4j: SuiteNeo4j) -> ManagedServer:
    if test_neo4j.managed is None:
        pytest.skip("the suite runs against an external Neo4j (NEO4J_URI or Docker)")
    return test_neo4j.managed


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def base_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "THREATGRAPH_"))}
    env.update(overrides)
    return env


def cli_env_for(server: ManagedServer, **overrides: str) -> dict[str, str]:
    return base_env(
        THREATGRAPH_NEO4J_HOME=str(server.home),
        THREATGRAPH_NEO4J_LIB=str(server.settings.lib_dir),
        THREATGRAPH_NEO4J_BOLT_PORT=str(server.settings.bolt_port),
        THREATGRAPH_NEO4J_HTTP_PORT=str(server.settings.http_port),
        **overrides,
    )


def test_server_answers_return_1(driver: neo4j.Driver) -> None:
    assert cypher(driver, "RETURN 1 AS one") == [{"one": 1}]


def test_server_is_neo4j_5_26_community(driver: neo4j.Driver) -> None:
    rows = cypher(driver, "CALL dbms.components() YIELD versions, edition RETURN *")
    assert rows[0]["edition"] == "community"
    assert rows[0]["versions"][0].startswith("5.26.")


def test_browser_is_served(test_neo4j: SuiteNeo4j) -> None:
    server = managed(test_neo4j)
    with urllib.request.urlopen(server.settings.browser_url, timeout=10) as response:
        assert response.status == 200
        assert b"Neo4j Browser" in response.read()


def test_start_twice_reuses_the_running_server(test_neo4j: SuiteNeo4j) -> None:
    server = managed(test_neo4j)
    pid = server.running_pid()
    assert server.start() is False
    assert server.running_pid() == pid


def test_cli_start_and_status_report_the_running_server(test_neo4j: SuiteNeo4j) -> None:
    server = managed(test_neo4j)
    started = run_cli("neo4j", "start", env=cli_env_for(server))
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == (
        f"Neo4j already running, reused: Bolt {server.settings.bolt_uri}, "
        f"Browser {server.settings.browser_url}"
    )
    status = run_cli("neo4j", "status", env=cli_env_for(server))
    assert status.returncode == 0
    assert status.stdout.startswith("running: Neo4j 5.26.")
    assert f"Bolt {server.settings.bolt_uri}" in status.stdout


def test_env_output_connects_a_driver(test_neo4j: SuiteNeo4j) -> None:
    server = managed(test_neo4j)
    printed = run_cli("neo4j", "env", env=cli_env_for(server))
    assert printed.returncode == 0, printed.stderr
    values = dict(line.split("=", 1) for line in printed.stdout.splitlines())
    assert sorted(values) == ["NEO4J_PASSWORD", "NEO4J_URI", "NEO4J_USER"]
    with neo4j.GraphDatabase.driver(
        values["NEO4J_URI"], auth=(values["NEO4J_USER"], values["NEO4J_PASSWORD"])
    ) as opened:
        records, _, _ = opened.execute_query("RETURN 2 AS two")
        assert records[0]["two"] == 2


def test_stop_then_start_keeps_the_data(test_neo4j: SuiteNeo4j, driver: neo4j.Driver) -> None:
    server = managed(test_neo4j)
    cypher(driver, "MERGE (:Probe {id: 'kept-across-restart'})")
    assert server.stop() is True
    assert server.status().running is False
    assert server.start() is True
    driver.verify_connectivity()
    rows = cypher(
        driver, "MATCH (p:Probe {id: 'kept-across-restart'}) DETACH DELETE p RETURN 1 AS n"
    )
    assert rows == [{"n": 1}]


def test_a_password_drawn_with_a_leading_dash_still_starts_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # token_urlsafe's alphabet has "-"; such a password used to reach neo4j-admin as
    # its first character, which read it as an option and printed its usage (exit 64).
    monkeypatch.setattr(secrets, "token_urlsafe", lambda size: "-tH" + "x" * (size - 3))
    server = ManagedServer(managed_test_settings(tmp_path / "home"))
    try:
        assert server.start(timeout_s=180) is True
        assert server.password == "tg-tH" + "x" * 21
        with neo4j.GraphDatabase.driver(
            server.settings.bolt_uri, auth=(server.user, server.password)
        ) as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS n")
        assert [record["n"] for record in records] == [1]
    finally:
        server.stop()


def test_generated_config_names_the_ports_and_disables_usage_reports(tmp_path: Path) -> None:
    settings = managed_test_settings(tmp_path)
    text = render_neo4j_conf(settings)
    assert f"server.bolt.listen_address=127.0.0.1:{settings.bolt_port}\n" in text
    assert f"server.http.listen_address=127.0.0.1:{settings.http_port}\n" in text
    assert "server.https.enabled=false\n" in text
    assert "dbms.usage_report.enabled=false\n" in text


@pytest.mark.parametrize(
    ("output", "major"),
    [
        pytest.param('openjdk version "17.0.15" 2025-04-15', 17, id="java-17"),
        pytest.param('java version "1.8.0_292"', 8, id="java-8-old-scheme"),
        pytest.param('openjdk version "21" 2023-09-19', 21, id="java-21-no-minor"),
    ],
)
def test_java_versions_are_read_in_both_schemes(output: str, major: int) -> None:
    assert parse_java_version(output)[0] == major


def test_missing_java_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli(
        "neo4j", "start", env=base_env(PATH=str(tmp_path), THREATGRAPH_NEO4J_HOME=str(tmp_path))
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "threatgraph: Java was not found (no JAVA_HOME, no java on PATH)"
    )


def test_java_older_than_17_is_refused(tmp_path: Path) -> None:
    # A stand-in for an old JDK: only its `java -version` answer matters here.
    old_java = tmp_path / "jdk11" / "bin" / "java"
    old_java.parent.mkdir(parents=True)
    old_java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    old_java.chmod(0o755)
    result = run_cli(
        "neo4j",
        "start",
        env=base_env(JAVA_HOME=str(tmp_path / "jdk11"), THREATGRAPH_NEO4J_HOME=str(tmp_path)),
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"threatgraph: Java 11.0.22 at {old_java} is too old: Neo4j 5.26 needs Java 17 or newer"
    )


def test_missing_maven_is_a_one_line_error(tmp_path: Path) -> None:
    java_dir = Path(os.path.realpath("/usr/bin/java")).parent
    result = run_cli(
        "neo4j",
        "install",
        env=base_env(PATH=str(java_dir), THREATGRAPH_NEO4J_DIR=str(tmp_path)),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("threatgraph: Maven (mvn) was not found on PATH")
    assert not (tmp_path / "lib").exists()


def test_maven_that_cannot_resolve_is_reported_and_leaves_nothing(tmp_path: Path) -> None:
    result = run_cli(
        "neo4j",
        "install",
        env=base_env(THREATGRAPH_NEO4J_DIR=str(tmp_path), THREATGRAPH_NEO4J_VERSION="5.26.999"),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("threatgraph: Maven could not assemble Neo4j 5.26.999 (exit 1)")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("taken", ["BOLT", "HTTP"])
def test_taken_port_is_reported(tmp_path: Path, taken: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        ports = {"BOLT": str(free_port()), "HTTP": str(free_port()), taken: str(port)}
        result = run_cli(
            "neo4j",
            "start",
            env=base_env(
                THREATGRAPH_NEO4J_HOME=str(tmp_path / "home"),
                THREATGRAPH_NEO4J_LIB=str(SHARED_LIB),
                THREATGRAPH_NEO4J_BOLT_PORT=ports["BOLT"],
                THREATGRAPH_NEO4J_HTTP_PORT=ports["HTTP"],
            ),
        )
    name = {"BOLT": "Bolt", "HTTP": "HTTP"}[taken]
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"threatgraph: port {port} ({name}) is already in use by another process; "
        f"stop it or set THREATGRAPH_NEO4J_{taken}_PORT to a free port"
    )


def test_server_that_fails_to_start_prints_its_log_tail(tmp_path: Path) -> None:
    # A heap far larger than the machine: the JVM refuses to start the server.
    result = run_cli(
        "neo4j",
        "start",
        env=base_env(
            THREATGRAPH_NEO4J_HOME=str(tmp_path / "home"),
            THREATGRAPH_NEO4J_LIB=str(SHARED_LIB),
            THREATGRAPH_NEO4J_BOLT_PORT=str(free_port()),
            THREATGRAPH_NEO4J_HTTP_PORT=str(free_port()),
            THREATGRAPH_NEO4J_HEAP_MB="100000000",
        ),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("threatgraph: ")
    assert "log tail:" in result.stderr


def test_wrong_password_for_external_server_is_a_one_line_error(test_neo4j: SuiteNeo4j) -> None:
    result = run_cli(
        "neo4j",
        "check",
        env=base_env(
            NEO4J_URI=test_neo4j.uri, NEO4J_USER="neo4j", NEO4J_PASSWORD="not-the-password"
        ),
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"threatgraph: Neo4j at {test_neo4j.uri} refused the credentials: "
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_reports_the_server_version(test_neo4j: SuiteNeo4j) -> None:
    result = run_cli("neo4j", "check", env=base_env(**test_neo4j.env()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Neo4j at {test_neo4j.uri} answers: 5.26.")


def test_settings_reject_a_non_numeric_port() -> None:
    from graph.errors import ConfigurationError

    with pytest.raises(
        ConfigurationError, match="THREATGRAPH_NEO4J_BOLT_PORT='seven' is not a whole number"
    ):
        ManagedServerSettings.from_env({"THREATGRAPH_NEO4J_BOLT_PORT": "seven"})


def test_the_managed_server_lives_in_the_checkout_by_default() -> None:
    settings = ManagedServerSettings.from_env({})
    assert (PROJECT_ROOT / "pyproject.toml").is_file()
    assert (settings.home, settings.lib_dir) == (
        PROJECT_ROOT / ".neo4j" / "server",
        PROJECT_ROOT / ".neo4j" / "lib",
    )
