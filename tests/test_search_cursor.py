"""search(after:): each hit's cursor, and the hits after it, through both executors."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from schema.pagination import encode_cursor
from tests.api_client import ask_both, gql

SEARCH = """query ($text: String!, $first: Int! = 20, $after: String, $kinds: [EntityKind!],
  $asOf: Date) {
  search(text: $text, first: $first, after: $after, kinds: $kinds, asOf: $asOf) {
    cursor entity { id } } }"""


def hits(api: TestClient, resolvers: TestClient, **variables: Any) -> list[tuple[str, str]]:
    found = ask_both(api, resolvers, SEARCH, **variables)["search"]
    return [(hit["cursor"], hit["entity"]["id"]) for hit in found]


@pytest.mark.parametrize(
    "asked",
    [
        pytest.param({}, id="any-kind"),
        pytest.param({"kinds": ["ORGANISATION", "ASSET"]}, id="kinds"),
        pytest.param({"asOf": "2024-12-31"}, id="as-of"),
    ],
)
def test_pages_after_a_cursor_continue_the_whole_answer(
    api: TestClient, resolvers: TestClient, seeded_graph: None, asked: dict[str, Any]
) -> None:
    whole = hits(api, resolvers, text="UK Electoral", **asked)
    assert len(whole) >= 5
    # Each hit's cursor is its place in the whole answer.
    assert [cursor for cursor, _ in whole] == [encode_cursor(i) for i in range(len(whole))]
    paged: list[tuple[str, str]] = []
    after = None
    while True:
        page = hits(api, resolvers, text="UK Electoral", first=2, after=after, **asked)
        paged += page
        if len(page) < 2:
            break
        after = page[-1][0]
    assert paged == whole


def test_the_hits_after_one_start_with_the_next(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    whole = hits(api, resolvers, text="Electoral Commission")
    assert whole[:3] == [
        ("b2Zmc2V0OjA=", "org:uk-electoral-commission"),
        ("b2Zmc2V0OjE=", "asset:electoral-commission-systems"),
        ("b2Zmc2V0OjI=", "incident:2021-2022-uk-electoral-commission-compromise"),
    ]
    assert hits(api, resolvers, text="Electoral Commission", first=1, after="b2Zmc2V0OjA=") == [
        ("b2Zmc2V0OjE=", "asset:electoral-commission-systems")
    ]
    past_the_end = encode_cursor(len(whole) - 1)
    assert hits(api, resolvers, text="Electoral Commission", after=past_the_end) == []


def test_a_list_of_hits_without_cursors_still_answers(
    api: TestClient, resolvers: TestClient, seeded_graph: None
) -> None:
    query = '{ search(text: "APT31", first: 1) { score entity { id } } }'
    found = ask_both(api, resolvers, query)["search"]
    assert [hit["entity"] for hit in found] == [{"id": "actor:apt31"}]


def test_a_cursor_this_api_did_not_issue_is_refused(api: TestClient, resolvers: TestClient) -> None:
    for client in (api, resolvers):
        body = gql(client, SEARCH, text="APT31", after="not-a-cursor")
        assert [e["message"] for e in body["errors"]] == [
            "after: 'not-a-cursor' is not a cursor this API issued"
        ]
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
