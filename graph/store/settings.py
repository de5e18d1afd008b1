"""Where the graph lives: Neo4j connection settings read from the environment.

Every setting is an environment variable; units are in the names. A bad value
is a ConfigurationError naming the variable, raised when settings are read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from graph.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Transactions one API process runs at once, and how long the next waits for a turn.
DEFAULT_MAX_TRANSACTIONS = 8
DEFAULT_QUEUE_TIMEOUT_MS = 2_000


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """Read an integer variable, with a clear error for anything else."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Read a 0/1 (or true/false) switch."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a switch: use 1 or 0")


@dataclass(frozen=True)
class Neo4jSettings:
    """How to reach Neo4j.

    ``uri`` is None when NEO4J_URI is unset: the project then uses the Neo4j
    server it manages itself (graph/server/), whose credentials it knows.
    """

    uri: str | None
    user: str
    password: str | None
    database: str
    transaction_timeout_ms: int
    connection_timeout_ms: int
    # Admission control for API requests (graph/store/admission.py); 0: no limit.
    max_transactions: int = DEFAULT_MAX_TRANSACTIONS
    queue_timeout_ms: int = DEFAULT_QUEUE_TIMEOUT_MS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Neo4jSettings:
        env = os.environ if env is None else env
        uri = env.get("NEO4J_URI") or None
        if uri is not None and not uri.startswith(
            ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")
        ):
            raise ConfigurationError(
                f"NEO4J_URI={uri!r} is not a Neo4j URI: use bolt://host:7687 or neo4j://host"
            )
        return cls(
            uri=uri,
            user=env.get("NEO4J_USER") or "neo4j",
            password=env.get("NEO4J_PASSWORD") or None,
            database=env.get("NEO4J_DATABASE") or "neo4j",
            transaction_timeout_ms=env_int(
                env, "THREATGRAPH_TRANSACTION_TIMEOUT_MS", 10_000, minimum=1
            ),
            connection_timeout_ms=env_int(
                env, "THREATGRAPH_CONNECTION_TIMEOUT_MS", 5_000, minimum=1
            ),
            max_transactions=env_int(
                env, "THREATGRAPH_MAX_TRANSACTIONS", DEFAULT_MAX_TRANSACTIONS, minimum=0
            ),
            queue_timeout_ms=env_int(
                env, "THREATGRAPH_QUEUE_TIMEOUT_MS", DEFAULT_QUEUE_TIMEOUT_MS, minimum=1
            ),
        )
