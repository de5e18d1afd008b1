"""The security review's findings about settings, compose and the managed Neo4j's files."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import neo4j
import pytest

from api.browser import managed_server_settings
from api.persisted import DocumentCache
from api.settings import ApiSettings
from graph.errors import ConfigurationError
from graph.server import process
from graph.server.config import render_neo4j_conf
from graph.server.process import ManagedServer
from tests.api_client import make_client
from tests.neo4j_provider import managed_test_settings
from tests.test_compose import ROOT, environment, neo4j_auth

# -- compose's default password -------------------------------------------------------

REQUIRED_PASSWORD = "${NEO4J_PASSWORD:?set NEO4J_PASSWORD to the neo4j user's password}"


def test_compose_requires_a_neo4j_password_and_knows_none() -> None:
    assert neo4j_auth() == ("neo4j", REQUIRED_PASSWORD)
    assert [environment(name)["NEO4J_PASSWORD"] for name in ("seed", "api")] == [
        REQUIRED_PASSWORD,
        REQUIRED_PASSWORD,
    ]
    assert "threatgraph-dev" not in (ROOT / "compose.yaml").read_text()


# -- the APQ entry cap ----------------------------------------------------------------


def test_the_apq_cache_keeps_at_most_its_entry_cap_dropping_the_least_recently_used() -> None:
    cache = DocumentCache(max_bytes=1_000_000, max_entries=3)
    for key in ("a", "b", "c"):
        cache.put(key, "{ __typename }")
    assert cache.get("a") == "{ __typename }"  # now b is the least recently used
    cache.put("d", "{ __typename }")
    kept = {key: cache.get(key) for key in ("a", "b", "c", "d")}
    assert (len(cache), cache.size_bytes) == (3, 3 * len("{ __typename }"))
    assert kept == {"a": "{ __typename }", "b": None, "c": "{ __typename }", "d": "{ __typename }"}


def test_the_apq_entry_cap_is_read_from_the_environment() -> None:
    assert ApiSettings.from_env({}).apq_cache_entries == 1000
    assert ApiSettings.from_env({"THREATGRAPH_APQ_CACHE_ENTRIES": "2"}).apq_cache_entries == 2
    with pytest.raises(ConfigurationError) as refused:
        ApiSettings.from_env({"THREATGRAPH_APQ_CACHE_ENTRIES": "0"})
    assert str(refused.value) == "THREATGRAPH_APQ_CACHE_ENTRIES=0 is below the minimum of 1"


def test_the_api_remembers_only_the_last_persisted_queries_beyond_its_entry_cap(
    neo4j_env: dict[str, str],
) -> None:
    queries = [f"{{ q{n}: __typename }}" for n in range(3)]

    def by_hash(query: str) -> dict[str, Any]:
        digest = hashlib.sha256(query.encode()).hexdigest()
        return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}

    with make_client(THREATGRAPH_APQ_CACHE_ENTRIES="2") as client:
        registered = [
            client.post("/graphql", json={"query": query, **by_hash(query)}).json()
            for query in queries
        ]
        asked = [client.post("/graphql", json=by_hash(query)).json() for query in queries]
    assert registered == [{"data": {f"q{n}": "Query"}} for n in range(3)]
    assert [body.get("data") or body["errors"][0]["message"] for body in asked] == [
        "PersistedQueryNotFound",
        {"q1": "Query"},
        {"q2": "Query"},
    ]


# -- line breaks in settings written into neo4j.conf ----------------------------------


@pytest.mark.parametrize("line_break", ["\n", "\r"], ids=["LF", "CR"])
@pytest.mark.parametrize(
    "name",
    [
        "THREATGRAPH_BROWSER_POST_CONNECT_CMD",
        "THREATGRAPH_BROWSER_ALLOWLIST",
        "THREATGRAPH_API_HOST",
    ],
)
def test_a_line_break_in_a_setting_bound_for_neo4j_conf_is_refused(
    name: str, line_break: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        managed_server_settings({name: f"localhost{line_break}dbms.security.auth_enabled=false"})
    assert str(refused.value) == f"{name}: must be one line"


def test_the_cli_refuses_a_line_break_in_a_browser_setting_at_start_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "THREATGRAPH_"))}
    env["THREATGRAPH_NEO4J_HOME"] = str(tmp_path / "home")
    env["THREATGRAPH_BROWSER_ALLOWLIST"] = "localhost\ndbms.security.auth_enabled=false"
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "neo4j", "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "threatgraph: THREATGRAPH_BROWSER_ALLOWLIST: must be one line\n",
    )
    assert not (tmp_path / "home").exists()


def test_neo4j_conf_is_never_rendered_with_an_extra_line(tmp_path: Path) -> None:
    settings = replace(managed_test_settings(tmp_path), browser_allowlist="a\rb")
    with pytest.raises(ConfigurationError) as refused:
        render_neo4j_conf(settings)
    assert str(refused.value) == "browser.remote_content_hostname_whitelist: must be one line"


# -- the managed server's files and its initial password --------------------------------

# Quotes, a backslash, a '#' and spaces: what an argument file must carry verbatim.
PASSWORD = "tg pass \"word\" back\\slash #not-a-comment 'q'"
# The same, as neo4j-admin's argument file (picocli's AtFiles) must spell it.
PASSWORD_ARGUMENT_FILE = '"tg pass \\"word\\" back\\\\slash #not-a-comment \'q\'"\n'
ARGS_FILE = "run/initial-password.args"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def readable_by_others(home: Path) -> list[str]:
    """Files and folders under `home` (not following the lib link) with group or other bits."""
    found = [] if mode(home) & 0o077 == 0 else ["."]
    for folder, folders, files in os.walk(home):
        for name in folders + files:
            path = Path(folder, name)
            if not path.is_symlink() and mode(path) & 0o077:
                found.append(f"{path.relative_to(home)} {mode(path):o}")
    return sorted(found)


def test_an_existing_home_is_made_private_before_the_server_starts(tmp_path: Path) -> None:
    settings = managed_test_settings(tmp_path / "home")
    settings = replace(settings, lib_dir=tmp_path / "lib")
    settings.lib_dir.mkdir()
    # A home left by an earlier version: folders 0755, neo4j.conf 0644.
    (settings.home / "conf").mkdir(parents=True)
    (settings.home / "data").mkdir()
    (settings.home / "conf" / "neo4j.conf").write_text("old\n")
    for path in (settings.home, settings.home / "conf", settings.home / "data"):
        path.chmod(0o755)
    (settings.home / "conf" / "neo4j.conf").chmod(0o644)
    server = ManagedServer(settings)
    server._prepare_home()
    assert server.password.startswith("tg")
    names = ["", "conf", "data", "logs", "run", "plugins", "import", "conf/neo4j.conf"]
    assert {name: mode(settings.home / name) for name in [*names, "credentials"]} == {
        "": 0o700,
        "conf": 0o700,
        "data": 0o700,
        "logs": 0o700,
        "run": 0o700,
        "plugins": 0o700,
        "import": 0o700,
        "conf/neo4j.conf": 0o600,
        "credentials": 0o600,
    }
    assert (settings.home / "conf" / "neo4j.conf").read_text() == render_neo4j_conf(settings)


@dataclass
class FreshStart:
    server: ManagedServer
    commands: list[list[str]] = field(default_factory=list)
    # (mode, text) of the argument file while neo4j-admin read it.
    argument_files: list[tuple[int, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def fresh_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshStart]:
    """A managed server started for the first time, every command it ran recorded."""
    home = tmp_path_factory.mktemp("fresh-neo4j") / "home"
    home.mkdir()
    (home / "credentials").write_text(PASSWORD + "\n")
    (home / "credentials").chmod(0o600)
    started = FreshStart(ManagedServer(managed_test_settings(home)))
    real_run = subprocess.run

    def recording_run(command: list[str], **kwargs: Any) -> Any:
        started.commands.append([str(part) for part in command])
        if "set-initial-password" in command and command[-1].startswith("@"):
            argument_file = Path(command[-1].removeprefix("@"))
            started.argument_files.append((mode(argument_file), argument_file.read_text()))
        return real_run(command, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(process.subprocess, "run", recording_run)
        assert started.server.start(timeout_s=180) is True
    try:
        yield started
    finally:
        started.server.stop()


def test_the_initial_password_is_passed_in_a_private_file_not_on_a_command_line(
    fresh_start: FreshStart,
) -> None:
    home = fresh_start.server.home
    [admin] = [c for c in fresh_start.commands if "set-initial-password" in c]
    assert admin[-3:] == ["dbms", "set-initial-password", f"@{home / ARGS_FILE}"]
    assert fresh_start.argument_files == [(0o600, PASSWORD_ARGUMENT_FILE)]
    assert not (home / ARGS_FILE).exists()
    assert [c for c in fresh_start.commands if any(PASSWORD in part for part in c)] == []
    pid = fresh_start.server.running_pid()
    assert pid is not None
    assert PASSWORD.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    # Neo4j took the password exactly as written, quotes, backslash and '#' included.
    with neo4j.GraphDatabase.driver(
        fresh_start.server.settings.bolt_uri, auth=("neo4j", PASSWORD)
    ) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS n")
    assert [record["n"] for record in records] == [1]


def test_the_managed_store_logs_and_conf_are_private_to_their_user(
    fresh_start: FreshStart,
) -> None:
    home = fresh_start.server.home
    assert readable_by_others(home) == []
    written = ["logs/neo4j.log", "logs/debug.log", "data/databases", "run/neo4j.pid"]
    assert {name: (home / name).exists() for name in written} == dict.fromkeys(written, True)
    assert {
        name: mode(home / name) for name in ["", "conf/neo4j.conf", "credentials", "run/neo4j.pid"]
    } == {"": 0o700, "conf/neo4j.conf": 0o600, "credentials": 0o600, "run/neo4j.pid": 0o600}
