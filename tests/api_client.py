"""An HTTP client for the real app over the real test Neo4j."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings

WRITER_TOKEN = "writer-token-for-tests"


def make_client(**env: str) -> TestClient:
    settings = ApiSettings.from_env({"THREATGRAPH_API_TOKENS": WRITER_TOKEN, **env})
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def api(neo4j_env: dict[str, str]) -> Iterator[TestClient]:
    with make_client() as client:
        yield client


@pytest.fixture(scope="module")
def resolvers(neo4j_env: dict[str, str]) -> Iterator[TestClient]:
    """A client of an app whose queries the resolvers answer (`api`'s are compiled)."""
    with make_client(THREATGRAPH_EXECUTOR="resolvers") as client:
        yield client


def gql(
    client: TestClient, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    body["_status"] = response.status_code
    body["_round_trips"] = int(response.headers.get("x-threatgraph-round-trips", "-1"))
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    """Each error's `extensions.code`, with its `reason` after a slash when it has one
    ("BAD_USER_INPUT/NOT_FOUND")."""
    return [
        "/".join(filter(None, (error["extensions"]["code"], error["extensions"].get("reason"))))
        for error in body.get("errors") or []
    ]


def ask_both(api: TestClient, resolvers: TestClient, query: str, **variables: Any) -> Any:
    """The answer's `data`, without errors and the same through both executors."""
    compiled = gql(api, query, **variables)
    assert "errors" not in compiled, compiled
    assert gql(resolvers, query, **variables)["data"] == compiled["data"]
    return compiled["data"]
