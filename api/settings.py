"""API settings, read from the environment in one place (units in the names)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from graph.settings import env_flag, env_int


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
            change_poll_ms=env_int(env, "THREATGRAPH_CHANGE_POLL_MS", 500, minimum=10),
        )
