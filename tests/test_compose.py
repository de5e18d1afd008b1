"""compose.yaml and the Dockerfile, read as text: no Docker engine is needed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.closure_refresher import DEFAULT_REFRESH_MS
from api.settings import ApiSettings
from graph.errors import ConfigurationError
from graph.store.settings import DEFAULT_MAX_TRANSACTIONS, DEFAULT_QUEUE_TIMEOUT_MS
from tests.neo4j_provider import COMPOSE_FILES, COMPOSE_PROJECT, COMPOSE_SETUP, compose_test_env

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"graph", "schema", "api", "seed"}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def environment(name: str) -> dict[str, str]:
    """A service's environment, written as a mapping or as a list of KEY=VALUE."""
    env = service(name).get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def default_ref(value: str) -> tuple[str, str]:
    """('NAME', 'default') from a string that is exactly ${NAME:-default}."""
    match = re.fullmatch(r"\$\{(\w+):-([^}]*)\}", value)
    assert match, f"{value!r} is not ${{VAR:-default}}"
    return match[1], match[2]


def required_ref(value: str) -> tuple[str, str]:
    """('NAME', 'message') from a string that is exactly ${NAME:?message}."""
    match = re.fullmatch(r"\$\{(\w+):\?([^}]*)\}", value)
    assert match, f"{value!r} is not ${{VAR:?message}}"
    return match[1], match[2]


def neo4j_auth() -> tuple[str, str]:
    """NEO4J_AUTH split into its user and password parts."""
    user, _, password = environment("neo4j")["NEO4J_AUTH"].partition("/")
    return user, password


def published(name: str) -> set[tuple[str, str]]:
    """(host port, container port) pairs of a service's short-syntax ports."""
    pairs: set[tuple[str, str]] = set()
    for entry in service(name).get("ports", []):
        parts = str(entry).split(":")
        pairs.add((parts[-2], parts[-1]))
    return pairs


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def test_services_are_neo4j_seed_and_api() -> None:
    assert set(compose()["services"]) == {"neo4j", "seed", "api"}


def test_neo4j_image_is_5_26_community() -> None:
    assert service("neo4j")["image"] == "neo4j:5.26-community"


def test_neo4j_has_healthcheck_test() -> None:
    assert service("neo4j")["healthcheck"]["test"]


def test_neo4j_data_is_a_declared_named_volume() -> None:
    sources = {}
    for volume in service("neo4j")["volumes"]:
        source, target = str(volume).split(":")[:2]
        sources[target] = source
    assert sources["/data"] in compose()["volumes"]


def test_neo4j_auth_password_comes_from_neo4j_password() -> None:
    user, password = neo4j_auth()
    assert user == "neo4j"
    assert required_ref(password)[0] == "NEO4J_PASSWORD"


def test_api_is_built_from_dockerfile() -> None:
    assert service("api")["build"] == "."


def test_api_waits_for_healthy_neo4j() -> None:
    assert service("api")["depends_on"]["neo4j"]["condition"] == "service_healthy"


def test_api_runs_two_replicas_by_default() -> None:
    replicas = service("api")["deploy"]["replicas"]
    assert default_ref(replicas) == ("THREATGRAPH_API_REPLICAS", "2")


def test_each_replica_admits_the_default_number_of_transactions() -> None:
    limit = environment("api")["THREATGRAPH_MAX_TRANSACTIONS"]
    assert default_ref(limit) == ("THREATGRAPH_MAX_TRANSACTIONS", str(DEFAULT_MAX_TRANSACTIONS))
    queue = environment("api")["THREATGRAPH_QUEUE_TIMEOUT_MS"]
    assert default_ref(queue) == ("THREATGRAPH_QUEUE_TIMEOUT_MS", str(DEFAULT_QUEUE_TIMEOUT_MS))


def test_api_publishes_a_loopback_port_per_replica_from_8000() -> None:
    [entry] = configured([ROOT / "compose.yaml"], SECRETS)["services"]["api"]["ports"]
    host, ports, container = str(entry).split(":")
    first, last = (int(port) for port in ports.split("-"))
    assert (host, first, container) == ("127.0.0.1", 8000, "8000")
    assert last - first + 1 >= int(default_ref(service("api")["deploy"]["replicas"])[1])


def test_api_has_no_fixed_container_name() -> None:
    # A container_name would stop compose from starting more than one replica.
    assert "container_name" not in service("api")


def test_seed_runs_once_before_any_replica() -> None:
    assert service("seed")["command"] == ["threatgraph", "seed", "--if-empty"]
    assert service("seed")["depends_on"]["neo4j"]["condition"] == "service_healthy"
    condition = service("api")["depends_on"]["seed"]["condition"]
    assert condition == "service_completed_successfully"
    assert "seed" not in service("api")["command"]


def test_seed_and_api_reach_the_same_neo4j() -> None:
    for key in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        assert environment("seed")[key] == environment("api")[key], key


def test_api_connects_to_neo4j_service() -> None:
    assert environment("api")["NEO4J_URI"] == "bolt://neo4j:7687"


def test_api_credentials_match_neo4j_auth() -> None:
    user, password = neo4j_auth()
    assert environment("api")["NEO4J_USER"] == user
    assert required_ref(environment("api")["NEO4J_PASSWORD"]) == required_ref(password)


def test_api_healthcheck_hits_readyz_with_python() -> None:
    check = service("api")["healthcheck"]["test"]
    assert check[:2] == ["CMD", "python"]
    assert "http://127.0.0.1:8000/readyz" in " ".join(check)


def test_dockerfile_copies_each_package() -> None:
    copied: set[str] = set()
    for keyword, arguments in dockerfile():
        if keyword == "COPY":
            sources = [word for word in arguments.split() if not word.startswith("--")][:-1]
            copied.update(source.rstrip("/") for source in sources)
    assert copied == {"requirements/runtime.txt", "pyproject.toml", "README.md"} | PACKAGES


def test_dockerfile_installs_the_locked_dependencies_then_the_package_alone() -> None:
    runs = [arguments for keyword, arguments in dockerfile() if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs == [
        "pip install --no-cache-dir --require-hashes -r requirements/runtime.txt",
        "pip install --no-cache-dir --no-deps . && cd / && rm -rf /src",
    ]


def test_dockerfile_exposes_8000() -> None:
    assert ("EXPOSE", "8000") in dockerfile()


def test_dockerfile_runs_as_non_root_user() -> None:
    users = [arguments for keyword, arguments in dockerfile() if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}


# What `docker compose` needs from the environment in any case.
SECRETS = {"NEO4J_PASSWORD": "a-password", "THREATGRAPH_BOOKMARK_KEY": "k" * 32}
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}")


def interpolated(text: str, env: Mapping[str, str]) -> str:
    """compose's substitution: ${VAR}, ${VAR:-default}, ${VAR:?message} and $$."""

    def value(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, kind, rest = match[1], match[2], match[3]
        if env.get(name):
            return env[name]
        assert kind != "?", f"compose would refuse to start: {rest}"
        return rest if kind == "-" else ""

    return _VARIABLE.sub(value, text)


def _merged(base: Any, over: Any) -> Any:
    """compose's merge of an override file, for what these files hold: mappings key
    by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{key: _merged(base.get(key), value) for key, value in over.items()}}
    return over


def configured(files: Iterable[Path], env: Mapping[str, str]) -> dict[str, Any]:
    """The configuration `docker compose -f ... -f ...` runs with in `env`."""
    merged: dict[str, Any] = {}
    for path in files:
        merged = _merged(merged, yaml.safe_load(interpolated(path.read_text(), env)))
    return merged


def host_ports(config: dict[str, Any], name: str) -> list[str]:
    return [str(entry).split(":")[1] for entry in config["services"][name]["ports"]]


def test_compose_alone_publishes_the_documented_ports_and_refreshes_the_closure() -> None:
    config = configured([ROOT / "compose.yaml"], SECRETS)
    assert host_ports(config, "neo4j") == ["7474", "7687"]
    assert host_ports(config, "api") == ["8000-8009"]
    api = config["services"]["api"]
    assert (api["deploy"]["replicas"], api["environment"]["THREATGRAPH_CLOSURE_REFRESH_MS"]) == (
        2,
        DEFAULT_REFRESH_MS,
    )


def test_the_tests_override_holds_one_replica_without_the_refresher() -> None:
    override = yaml.safe_load(COMPOSE_FILES[1].read_text())
    assert override == {
        "services": {
            "api": {
                "deploy": {"replicas": 1},
                "environment": {"THREATGRAPH_CLOSURE_REFRESH_MS": "0"},
            }
        }
    }


def test_the_suites_stack_runs_one_quiet_replica_on_free_ports() -> None:
    env = compose_test_env("a-password", "k" * 32)
    config = configured(COMPOSE_FILES, env)
    api = config["services"]["api"]
    assert (api["deploy"]["replicas"], api["environment"]["THREATGRAPH_CLOSURE_REFRESH_MS"]) == (
        1,
        "0",
    )
    assert host_ports(config, "neo4j") == [
        env["THREATGRAPH_COMPOSE_NEO4J_HTTP_PORT"],
        env["THREATGRAPH_COMPOSE_NEO4J_BOLT_PORT"],
    ]
    assert host_ports(config, "api") == [env["THREATGRAPH_COMPOSE_API_PORTS"]]
    ports = {int(port) for name in ("neo4j", "api") for port in host_ports(config, name)}
    assert len(ports) == 3
    assert ports.isdisjoint({7474, 7687, *range(8000, 8010)})
    # The rest of the stack is compose.yaml's: the same services and the same Neo4j.
    assert set(config["services"]) == {"neo4j", "seed", "api"}
    assert config["services"]["neo4j"]["image"] == "neo4j:5.26-community"
    assert config["services"]["api"]["environment"]["NEO4J_PASSWORD"] == "a-password"


def test_the_suites_stack_has_a_project_of_its_own_and_starts_neo4j_alone() -> None:
    assert re.fullmatch(r"threatgraph-tests-\d+", COMPOSE_PROJECT)
    assert COMPOSE_SETUP == ["up -d neo4j"]
    assert compose()["name"] == "threatgraph"


def test_closure_refresh_setting_defaults_to_every_second_and_zero_turns_it_off() -> None:
    assert ApiSettings.from_env({}).closure_refresh_ms == 1000
    assert ApiSettings.from_env({"THREATGRAPH_CLOSURE_REFRESH_MS": "0"}).closure_refresh_ms == 0
    with pytest.raises(ConfigurationError) as refused:
        ApiSettings.from_env({"THREATGRAPH_CLOSURE_REFRESH_MS": "-5"})
    assert str(refused.value) == "THREATGRAPH_CLOSURE_REFRESH_MS=-5 is below the minimum of 0"
