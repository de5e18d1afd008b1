"""The security review's findings (issue: security hardening), each pinned by a test."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from api.auth import TokenChecker
from graph.errors import ConfigurationError
from schema import build as schema_build
from schema.build import SchemaLimits, build_schema
from tests.api_client import WRITER_TOKEN, make_client

ROOT = Path(__file__).resolve().parent.parent
# schema/build.py's MAX_CACHED_QUERY_CHARS and the caches' size, pinned.
CACHED_CHARS = 16_384
CACHE_ENTRIES = 1024

REFUSAL = "a valid bearer token is required (Authorization: Bearer <token>)"


def refused(response: object) -> tuple[int, list[tuple[str, str]]]:
    body = response.json()  # type: ignore[attr-defined]
    errors = [
        (
            e["message"],
            "/".join(filter(None, (e["extensions"]["code"], e["extensions"].get("reason")))),
        )
        for e in body["errors"]
    ]
    return response.status_code, errors  # type: ignore[attr-defined]


def test_a_get_with_a_query_needs_the_read_token_whatever_it_accepts(
    neo4j_env: dict[str, str],
) -> None:
    with make_client(THREATGRAPH_REQUIRE_READ_TOKEN="1") as client:
        html = {"accept": "text/html"}
        asked = client.get("/graphql", params={"query": "{ __typename }"}, headers=html)
        assert refused(asked) == (401, [(REFUSAL, "UNAUTHENTICATED")])
        subscription = client.get(
            "/graphql", params={"query": "subscription { changed { seq } }"}, headers=html
        )
        assert refused(subscription) == (401, [(REFUSAL, "UNAUTHENTICATED")])
        assert client.get("/graphql", headers=html).status_code == 200  # the page itself


def test_metrics_follow_the_read_token_setting(neo4j_env: dict[str, str]) -> None:
    with make_client(THREATGRAPH_REQUIRE_READ_TOKEN="1") as client:
        assert refused(client.get("/metrics")) == (401, [(REFUSAL, "UNAUTHENTICATED")])
        allowed = client.get("/metrics", headers={"authorization": f"Bearer {WRITER_TOKEN}"})
        assert allowed.status_code == 200
        assert "threatgraph_http_requests_total" in allowed.text


def test_an_uppercase_or_prefixed_digest_admits_its_token_and_not_itself() -> None:
    hex_digest = hashlib.sha256(b"s3cret-token").hexdigest()
    for configured in (hex_digest.upper(), f"sha256:{hex_digest}", f"sha256:{hex_digest.upper()}"):
        checker = TokenChecker((configured,))
        assert checker.is_valid("Bearer s3cret-token"), configured
        assert not checker.is_valid(f"Bearer {configured}"), configured


def test_a_malformed_prefixed_digest_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigurationError) as refused_config:
        TokenChecker(("a-token", "sha256:not-a-digest"))
    assert str(refused_config.value) == (
        "THREATGRAPH_API_TOKENS: item 2 starts with 'sha256:' but is not followed by 64 hex "
        "digits (a SHA-256 digest)"
    )


def test_the_graphiql_page_sends_a_policy_that_admits_its_own_script(api: TestClient) -> None:
    response = api.get("/graphql", headers={"accept": "text/html"})
    headers = response.headers
    assert (headers["x-frame-options"], headers["x-content-type-options"]) == ("DENY", "nosniff")
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert "shouldPersistHeaders: false" in response.text
    assert "shouldPersistHeaders: true" not in response.text


# -- finding 3: caches keyed by the full query text --------------------------------


def cache_lookups() -> dict[str, tuple[int, int]]:
    """(misses, hits) so far of Strawberry's shared parser and validation caches."""
    parse: Any = _get_parse_cache(CACHE_ENTRIES)
    validate: Any = _get_validate_cache(CACHE_ENTRIES)
    return {
        "parse": (parse.cache_info().misses, parse.cache_info().hits),
        "validate": (validate.cache_info().misses, validate.cache_info().hits),
    }


def test_documents_beyond_the_size_threshold_are_parsed_and_validated_uncached() -> None:
    schema = build_schema()
    alias = f"t{uuid.uuid4().hex}"  # a text no earlier test sent

    def query_of(size: int) -> str:
        query = f"{{ {alias}: __typename }}"
        return query + " " * (size - len(query))

    counted: dict[int, dict[str, tuple[int, int]]] = {}
    for size in (CACHED_CHARS, CACHED_CHARS + 1):
        before = cache_lookups()
        for _ in range(2):
            result = schema.execute_sync(query_of(size))
            assert (result.data, result.errors) == ({alias: "Query"}, None)
        after = cache_lookups()
        counted[size] = {
            step: (after[step][0] - before[step][0], after[step][1] - before[step][1])
            for step in after
        }
    assert counted == {
        # Sent twice: looked up twice, a miss and then a hit.
        CACHED_CHARS: {"parse": (1, 1), "validate": (1, 1)},
        # One character longer: never looked up, so never kept.
        CACHED_CHARS + 1: {"parse": (0, 0), "validate": (0, 0)},
    }
    assert (schema_build.MAX_CACHED_QUERY_CHARS, schema_build.CACHE_ENTRIES) == (
        CACHED_CHARS,
        CACHE_ENTRIES,
    )


def test_a_document_beyond_the_threshold_is_still_refused_by_the_limits() -> None:
    schema = build_schema(SchemaLimits(max_aliases=1))
    query = "{ a: __typename b: __typename }"
    result = schema.execute_sync(query + " " * CACHED_CHARS)
    assert [(e.message, e.extensions) for e in result.errors or []] == [
        (
            "2 aliases found. Allowed: 1",
            {"code": "GRAPHQL_VALIDATION_FAILED", "reason": "TOO_MANY_ALIASES"},
        )
    ]


# -- finding 8: `_service { sdl }` with introspection off ---------------------------

SERVICE_REFUSAL = (
    "GraphQL introspection has been disabled, but the requested query contained the field "
    "'_service'."
)
SERVICE_QUERIES = [
    "{ _service { sdl } }",
    "{ schemaText: _service { sdl } }",
    "query { ...F } fragment F on Query { _service { sdl } }",
]


@pytest.mark.parametrize("executor", ["compiled", "resolvers"])
def test_service_sdl_is_refused_like_introspection_when_introspection_is_off(
    neo4j_env: dict[str, str], executor: str
) -> None:
    with make_client(THREATGRAPH_INTROSPECTION="0", THREATGRAPH_EXECUTOR=executor) as client:
        answers = [
            refused(client.post("/graphql", json={"query": query})) for query in SERVICE_QUERIES
        ]
    assert (
        answers
        == [(200, [(SERVICE_REFUSAL, "GRAPHQL_VALIDATION_FAILED/INTROSPECTION_DISABLED")])] * 3
    )


def test_service_sdl_is_served_when_introspection_is_on(api: TestClient) -> None:
    # schema/schema.graphql is the served SDL plus a final newline.
    sdl = (ROOT / "schema" / "schema.graphql").read_text().removesuffix("\n")
    answers = [api.post("/graphql", json={"query": query}).json() for query in SERVICE_QUERIES]
    assert answers == [
        {"data": {"_service": {"sdl": sdl}}},
        {"data": {"schemaText": {"sdl": sdl}}},
        {"data": {"_service": {"sdl": sdl}}},
    ]


def test_the_compiled_executor_keeps_only_documents_within_the_size_threshold() -> None:
    from schema.compiled.executor import CompiledExecutor

    limits = SchemaLimits()
    executor = CompiledExecutor(
        build_schema(limits)._schema,
        max_depth=limits.max_depth,
        max_aliases=limits.max_aliases,
        max_tokens=limits.max_tokens,
        introspection=limits.introspection,
    )
    query = '{ entity(ref: "apt31") { id } }'
    short, long = query + " " * (CACHED_CHARS - len(query)), query + " " * CACHED_CHARS
    for text in (short, long):
        statements = executor.statements(text)
        assert statements is not None and len(statements) == 1  # both planned
    assert (list(executor._documents), [key[0] for key in executor._plans]) == ([short], [short])
