"""Operations by hash: trusted-documents manifests (both formats) and APQ."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli
from api.persisted import DocumentCache
from api.settings import ApiSettings
from api.trusted_documents import TrustedDocuments
from graph.errors import ConfigurationError
from schema.build import build_schema
from tests.api_client import make_client

ACTOR = "query Actor($ref: String!) { entity(ref: $ref) { id name } }"
APT31 = {"entity": {"id": "actor:apt31", "name": "APT31"}}
INCIDENT_COUNT = "query IncidentCount { incidents { totalCount } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def post(client: TestClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post("/graphql", json=body)
    return response.status_code, response.json()


def apq(query_hash: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": query_hash}}


def only_error(status: int, body: dict[str, Any]) -> tuple[int, str, str]:
    assert "data" not in body, body
    [error] = body["errors"]
    return status, error["extensions"]["code"], error["message"]


def apollo_manifest(*documents: str) -> dict[str, Any]:
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256(d), "body": d, "name": d.split()[1], "type": "query"} for d in documents
        ],
    }


def write(tmp_path: Path, manifest: object, name: str = "manifest.json") -> Path:
    path = tmp_path / name
    path.write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    return path


@pytest.fixture
def trusted_api(tmp_path: Path, neo4j_env: dict[str, str]) -> Iterator[TestClient]:
    path = write(tmp_path, apollo_manifest(ACTOR))
    with make_client(THREATGRAPH_TRUSTED_DOCUMENTS=str(path)) as client:
        yield client


# -- automatic persisted queries (no manifest) ---------------------------------


def test_apq_unknown_hash_asks_for_the_query(api: TestClient) -> None:
    unseen = "query NeverSent { __typename }"
    status, body = post(api, {"extensions": apq(sha256(unseen))})
    assert only_error(status, body) == (200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")


def test_apq_registers_then_runs_by_hash_alone(api: TestClient, seeded_graph: None) -> None:
    query = ACTOR + " # apq register"
    first = post(api, {"extensions": apq(sha256(query)), "variables": {"ref": "APT31"}})
    assert first[1]["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = post(
        api, {"query": query, "extensions": apq(sha256(query)), "variables": {"ref": "APT31"}}
    )
    assert registered == (200, {"data": APT31})
    by_hash = post(api, {"extensions": apq(sha256(query)), "variables": {"ref": "APT31"}})
    assert by_hash == (200, {"data": APT31})


def test_apq_hash_that_does_not_match_the_query_is_refused(api: TestClient) -> None:
    status, body = post(api, {"query": ACTOR, "extensions": apq(sha256(ACTOR + " "))})
    assert only_error(status, body) == (
        400,
        "PERSISTED_QUERY_HASH_MISMATCH",
        "extensions.persistedQuery.sha256Hash: provided sha does not match query",
    )
    # And nothing was registered under the wrong hash.
    status, body = post(api, {"extensions": apq(sha256(ACTOR + " "))})
    assert only_error(status, body)[1] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        pytest.param(
            apq(sha256(ACTOR), version=2),
            (
                400,
                "PERSISTED_QUERY_VERSION_UNSUPPORTED",
                "extensions.persistedQuery.version: only version 1 is supported, not 2",
            ),
            id="version",
        ),
        pytest.param(
            apq("not-a-hash"),
            (
                400,
                "BAD_REQUEST",
                "extensions.persistedQuery.sha256Hash: must be a SHA-256 hex digest "
                "(64 hex digits)",
            ),
            id="hash",
        ),
    ],
)
def test_apq_malformed_extension_is_refused(
    api: TestClient, extensions: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    assert only_error(*post(api, {"query": ACTOR, "extensions": extensions})) == expected


def test_apq_turned_off_says_so(neo4j_env: dict[str, str]) -> None:
    with make_client(THREATGRAPH_APQ_CACHE_BYTES="0") as client:
        status, body = post(client, {"extensions": apq(sha256(ACTOR))})
    assert only_error(status, body) == (
        400,
        "PERSISTED_QUERY_NOT_SUPPORTED",
        "automatic persisted queries are turned off (THREATGRAPH_APQ_CACHE_BYTES=0): "
        "send the query text",
    )


def test_apq_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = DocumentCache(max_bytes=30)
    cache.put("a", "x" * 10)
    cache.put("b", "y" * 10)
    cache.put("c", "z" * 10)
    assert cache.get("a") == "x" * 10  # now b is the least recently used
    cache.put("d", "w" * 10)
    assert (cache.get("b"), len(cache), cache.size_bytes) == (None, 3, 30)
    cache.put("huge", "h" * 31)  # larger than the whole cache: never stored
    assert (cache.get("huge"), cache.get("a"), cache.get("c")) == (None, "x" * 10, "z" * 10)


# -- trusted documents -----------------------------------------------------------


def test_registered_operation_runs_by_apq_hash(trusted_api: TestClient, seeded_graph: None) -> None:
    body = {"extensions": apq(sha256(ACTOR)), "variables": {"ref": "APT31"}}
    assert post(trusted_api, body) == (200, {"data": APT31})


def test_registered_operation_runs_by_document_id(
    trusted_api: TestClient, seeded_graph: None
) -> None:
    body = {"documentId": f"sha256:{sha256(ACTOR)}", "variables": {"ref": "APT31"}}
    assert post(trusted_api, body) == (200, {"data": APT31})


def test_registered_operation_with_its_own_text_runs(
    trusted_api: TestClient, seeded_graph: None
) -> None:
    body = {"query": ACTOR, "documentId": sha256(ACTOR), "variables": {"ref": "APT31"}}
    assert post(trusted_api, body) == (200, {"data": APT31})


def test_freeform_query_is_refused(trusted_api: TestClient) -> None:
    status, body = post(trusted_api, {"query": ACTOR, "variables": {"ref": "APT31"}})
    assert only_error(status, body) == (
        400,
        "PERSISTED_QUERY_ID_REQUIRED",
        "this API runs only registered operations: send the operation's hash as documentId "
        "or extensions.persistedQuery.sha256Hash, not its text",
    )


def test_unregistered_hash_is_refused(trusted_api: TestClient) -> None:
    unknown = sha256(INCIDENT_COUNT)
    status, body = post(trusted_api, {"query": INCIDENT_COUNT, "extensions": apq(unknown)})
    assert only_error(status, body) == (
        400,
        "PERSISTED_QUERY_NOT_IN_LIST",
        f"extensions.persistedQuery.sha256Hash: operation {unknown} is not in the trusted "
        "documents manifest",
    )


def test_registered_hash_with_other_text_is_refused(trusted_api: TestClient) -> None:
    status, body = post(trusted_api, {"query": INCIDENT_COUNT, "documentId": sha256(ACTOR)})
    assert only_error(status, body) == (
        400,
        "PERSISTED_QUERY_HASH_MISMATCH",
        f"documentId: the query sent is not the registered document for {sha256(ACTOR)}",
    )


def test_codegen_manifest_runs_sha1_and_sha256_keys(
    tmp_path: Path, neo4j_env: dict[str, str], seeded_graph: None
) -> None:
    # The client preset's persisted-documents.json: hash → document, SHA-1 unless configured.
    manifest = {sha1(ACTOR): ACTOR, f"sha256:{sha256(INCIDENT_COUNT)}": INCIDENT_COUNT}
    path = write(tmp_path, manifest, "persisted-documents.json")
    with make_client(THREATGRAPH_TRUSTED_DOCUMENTS=str(path)) as client:
        actor = post(client, {"documentId": sha1(ACTOR), "variables": {"ref": "APT31"}})
        count = post(client, {"documentId": f"sha256:{sha256(INCIDENT_COUNT)}"})
        refused = post(client, {"query": "{ __typename }"})
    assert actor == (200, {"data": APT31})
    assert count[0] == 200
    assert count[1]["data"]["incidents"]["totalCount"] == 3
    assert only_error(*refused)[1] == "PERSISTED_QUERY_ID_REQUIRED"


def test_schema_validation_refuses_unregistered_documents_on_any_transport() -> None:
    # The rule inside the schema: what a WebSocket or any other path would meet.
    schema = build_schema(trusted_documents=["query Name { __typename }"])
    allowed = schema.execute_sync("query   Name {\n  __typename # same document\n}")
    refused = schema.execute_sync("query Other { __typename }")
    assert (allowed.data, allowed.errors) == ({"__typename": "Query"}, None)
    assert refused.data is None
    assert [(e.message, e.extensions) for e in refused.errors or []] == [
        (
            "this operation is not in the trusted documents manifest",
            {"code": "PERSISTED_QUERY_NOT_IN_LIST"},
        )
    ]


BAD_MANIFESTS = [
    pytest.param(
        "{not json",
        "not JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        id="not-json",
    ),
    pytest.param(
        "[]",
        "must be a JSON object (Apollo's manifest or Codegen's hash → document map)",
        id="not-object",
    ),
    pytest.param({}, "registers no operations, so every request would be refused", id="empty"),
    pytest.param(
        {"format": "relay", "version": 1, "operations": []},
        "format: expected 'apollo-persisted-query-manifest', not 'relay'",
        id="format",
    ),
    pytest.param(
        {**apollo_manifest(ACTOR), "version": 2},
        "version: only version 1 is understood, not 2",
        id="version",
    ),
    pytest.param(
        {"format": "apollo-persisted-query-manifest", "version": 1, "operations": {}},
        "operations: must be a list of {id, body, name, type} objects",
        id="operations",
    ),
    pytest.param(
        {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "x"}]},
        "operations[0]: must be an object with 'id' and 'body'",
        id="no-body",
    ),
    pytest.param(
        {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{"id": sha256(ACTOR), "body": ACTOR + " ", "name": "Actor"}],
        },
        f"operations[0] (Actor): {sha256(ACTOR)!r} is not the sha256 of its document",
        id="wrong-hash",
    ),
    pytest.param(
        {"abc": ACTOR},
        "entry 'abc': 'abc' is not a SHA-1 or SHA-256 hex digest",
        id="not-a-digest",
    ),
    pytest.param(
        {sha1("query {"): "query {"},
        f"entry {sha1('query {')!r}: the document is not GraphQL (Syntax Error: Expected Name, "
        "found <EOF>.)",
        id="not-graphql",
    ),
    pytest.param(
        {sha1(ACTOR): 42},
        f"entry {sha1(ACTOR)!r}: the hash and the document must both be strings",
        id="not-a-string",
    ),
]


@pytest.mark.parametrize(("manifest", "problem"), BAD_MANIFESTS)
def test_bad_manifest_stops_start_up_naming_file_and_problem(
    tmp_path: Path, manifest: object, problem: str
) -> None:
    path = write(tmp_path, manifest)
    settings = ApiSettings.from_env({"THREATGRAPH_TRUSTED_DOCUMENTS": str(path)})
    with pytest.raises(ConfigurationError) as raised:
        make_client(THREATGRAPH_TRUSTED_DOCUMENTS=str(path))
    assert str(raised.value) == f"THREATGRAPH_TRUSTED_DOCUMENTS: {path}: {problem}"
    assert settings.trusted_documents == path


def test_missing_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        TrustedDocuments.load(tmp_path / "absent.json")
    assert str(raised.value) == (
        f"THREATGRAPH_TRUSTED_DOCUMENTS: {tmp_path / 'absent.json'}: no such file"
    )


def test_documented_manifest_examples_are_valid_manifests_of_the_same_operation(
    tmp_path: Path,
) -> None:
    guide = Path(__file__).resolve().parent.parent / "docs" / "service-owners.md"
    text = guide.read_text(encoding="utf-8")
    section = text[text.index("## Trusted documents") : text.index("## Automatic")]
    blocks = re.findall(r"```json\n(.*?)```", section, re.S)
    loaded = [
        TrustedDocuments.load(write(tmp_path, block, f"example-{i}.json"))
        for i, block in enumerate(blocks)
    ]
    assert [dict(manifest.documents) for manifest in loaded] == [
        {sha256(ACTOR): ACTOR},
        {sha1(ACTOR): ACTOR},
    ]


def test_serve_refuses_to_start_with_a_bad_manifest(tmp_path: Path) -> None:
    path = write(tmp_path, {})
    result = CliRunner().invoke(cli, ["serve"], env={"THREATGRAPH_TRUSTED_DOCUMENTS": str(path)})
    assert result.exit_code == 1
    assert result.output == (
        f"threatgraph: THREATGRAPH_TRUSTED_DOCUMENTS: {path}: registers no operations, so "
        "every request would be refused\n"
    )
