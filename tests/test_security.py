"""The security review's findings (issue: security hardening), each pinned by a test."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from starlette.testclient import TestClient

from api.auth import TokenChecker
from graph.errors import ConfigurationError
from tests.api_client import WRITER_TOKEN, make_client

REFUSAL = "a valid bearer token is required (Authorization: Bearer <token>)"


def refused(response: object) -> tuple[int, list[tuple[str, str]]]:
    body = response.json()  # type: ignore[attr-defined]
    errors = [(e["message"], e["extensions"]["code"]) for e in body["errors"]]
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
