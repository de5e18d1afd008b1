"""API settings, read from the environment in one place (units in the names)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from graph.errors import ConfigurationError
from graph.store.settings import env_flag, env_int

TRUSTED_DOCUMENTS_ENV = "THREATGRAPH_TRUSTED_DOCUMENTS"
# Where `threatgraph serve` listens (THREATGRAPH_API_HOST / THREATGRAPH_API_PORT).
DEFAULT_API_HOST = "127.0.0.1"
DEFAULT_API_PORT = 8000
# Automatic persisted queries kept per process: at most this many texts, and
# THREATGRAPH_APQ_CACHE_BYTES in all (api/persisted.py).
DEFAULT_APQ_CACHE_ENTRIES = 1000


@dataclass(frozen=True)
class ApiSettings:
    api_tokens: tuple[str, ...]
    require_read_token: bool
    introspection: bool
    cors_origins: tuple[str, ...]
    max_body_bytes: int
    max_depth: int
    max_aliases: int
    max_tokens: int
    debug: bool
    executor: str = "compiled"
    trusted_documents: Path | None = None
    apq_cache_bytes: int = 4_000_000
    apq_cache_entries: int = DEFAULT_APQ_CACHE_ENTRIES
    change_poll_ms: int = 500

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        tokens = tuple(
            t.strip() for t in env.get("THREATGRAPH_API_TOKENS", "").split(",") if t.strip()
        )
        origins = tuple(
            o.strip() for o in env.get("THREATGRAPH_CORS_ORIGINS", "").split(",") if o.strip()
        )
        return cls(
            api_tokens=tokens,
            require_read_token=env_flag(env, "THREATGRAPH_REQUIRE_READ_TOKEN", False),
            introspection=env_flag(env, "THREATGRAPH_INTROSPECTION", True),
            cors_origins=origins,
            max_body_bytes=env_int(env, "THREATGRAPH_MAX_BODY_BYTES", 1_000_000, minimum=1024),
            max_depth=env_int(env, "THREATGRAPH_MAX_QUERY_DEPTH", 12, minimum=2),
            max_aliases=env_int(env, "THREATGRAPH_MAX_ALIASES", 30, minimum=1),
            max_tokens=env_int(env, "THREATGRAPH_MAX_TOKENS", 5_000, minimum=100),
            debug=env_flag(env, "THREATGRAPH_DEBUG", False),
            executor=executor_choice(env),
            trusted_documents=Path(trusted)
            if (trusted := env.get(TRUSTED_DOCUMENTS_ENV))
            else None,
            apq_cache_bytes=env_int(env, "THREATGRAPH_APQ_CACHE_BYTES", 4_000_000, minimum=0),
            apq_cache_entries=env_int(
                env, "THREATGRAPH_APQ_CACHE_ENTRIES", DEFAULT_APQ_CACHE_ENTRIES, minimum=1
            ),
            change_poll_ms=env_int(env, "THREATGRAPH_CHANGE_POLL_MS", 500, minimum=10),
        )


EXECUTORS = ("compiled", "resolvers")


def executor_choice(env: Mapping[str, str]) -> str:
    """THREATGRAPH_EXECUTOR: `compiled` (one Cypher statement per root field) or `resolvers`."""
    value = env.get("THREATGRAPH_EXECUTOR", "").strip() or "compiled"
    if value not in EXECUTORS:
        raise ConfigurationError(
            f"THREATGRAPH_EXECUTOR={value!r} is not an executor: use compiled or resolvers"
        )
    return value
