"""API settings, read from the environment in one place (units in the names)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from api.closure_refresher import DEFAULT_REFRESH_MS
from graph.errors import ConfigurationError
from graph.store.settings import env_flag, env_int
from graph.writes.change_poller import DEFAULT_CHANGE_POLL_MS
from schema.cost import DEFAULT_MAX_COST

TRUSTED_DOCUMENTS_ENV = "THREATGRAPH_TRUSTED_DOCUMENTS"
# Where `threatgraph serve` listens (THREATGRAPH_API_HOST / THREATGRAPH_API_PORT).
DEFAULT_API_HOST = "127.0.0.1"
DEFAULT_API_PORT = 8000
# Automatic persisted queries kept per process: at most this many texts, and
# THREATGRAPH_APQ_CACHE_BYTES in all (api/persisted.py).
DEFAULT_APQ_CACHE_ENTRIES = 1000
# The largest request body; a WebSocket message may be as large (the same operations
# travel both ways), unless THREATGRAPH_MAX_WS_MESSAGE_BYTES says otherwise.
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 20
DEFAULT_MAX_WEBSOCKETS = 200
# Signs the bookmarks the API issues (api/bookmarks.py). Unset, each process draws
# its own, so a bookmark from one replica is refused by another.
BOOKMARK_KEY_ENV = "THREATGRAPH_BOOKMARK_KEY"
MIN_BOOKMARK_KEY_CHARS = 32


def random_bookmark_key() -> bytes:
    return secrets.token_bytes(32)


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
    change_poll_ms: int = DEFAULT_CHANGE_POLL_MS
    max_cost: int = DEFAULT_MAX_COST
    max_ws_message_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_subscriptions_per_connection: int = DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_websockets: int = DEFAULT_MAX_WEBSOCKETS
    closure_refresh_ms: int = DEFAULT_REFRESH_MS
    bookmark_key: bytes = field(default_factory=random_bookmark_key, repr=False)

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
            max_body_bytes=env_int(
                env, "THREATGRAPH_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1024
            ),
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
            change_poll_ms=env_int(
                env, "THREATGRAPH_CHANGE_POLL_MS", DEFAULT_CHANGE_POLL_MS, minimum=10
            ),
            max_cost=env_int(env, "THREATGRAPH_MAX_COST", DEFAULT_MAX_COST, minimum=1),
            max_ws_message_bytes=env_int(
                env, "THREATGRAPH_MAX_WS_MESSAGE_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1024
            ),
            max_subscriptions_per_connection=env_int(
                env,
                "THREATGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION",
                DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
                minimum=1,
            ),
            max_websockets=env_int(
                env, "THREATGRAPH_MAX_WEBSOCKETS", DEFAULT_MAX_WEBSOCKETS, minimum=1
            ),
            closure_refresh_ms=env_int(
                env, "THREATGRAPH_CLOSURE_REFRESH_MS", DEFAULT_REFRESH_MS, minimum=0
            ),
            bookmark_key=bookmark_key(env),
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


def bookmark_key(env: Mapping[str, str]) -> bytes:
    """THREATGRAPH_BOOKMARK_KEY (at least 32 characters), or a key of this process's own."""
    value = env.get(BOOKMARK_KEY_ENV, "")
    if not value:
        return random_bookmark_key()
    if len(value) < MIN_BOOKMARK_KEY_CHARS:
        raise ConfigurationError(
            f"{BOOKMARK_KEY_ENV}: at least {MIN_BOOKMARK_KEY_CHARS} characters, not {len(value)} "
            "(for example the output of `openssl rand -hex 32`)"
        )
    return value.encode()


def share_bookmark_key(environ: MutableMapping[str, str]) -> None:
    """Give the worker processes `environ` starts one bookmark key, when none is set, so
    that a bookmark one of them issues is honoured by the others."""
    if not environ.get(BOOKMARK_KEY_ENV):
        environ[BOOKMARK_KEY_ENV] = secrets.token_hex(32)
