"""Operations sent by hash: trusted documents and automatic persisted queries (APQ).

`PersistedOperations` is ASGI middleware in front of /graphql. It turns a
request that names its operation by hash (`documentId`, or
`extensions.persistedQuery.sha256Hash`) into an ordinary one carrying the
document text, or answers it with a GraphQL error itself:

- With a trusted-documents manifest, only registered operations run: a
  request without a hash is refused (PERSISTED_QUERY_ID_REQUIRED), an unknown
  hash too (PERSISTED_QUERY_NOT_IN_LIST). APQ registration is off.
- Without one, APQ works as Apollo's clients expect: an unknown hash answers
  "PersistedQueryNotFound" (PERSISTED_QUERY_NOT_FOUND), the client resends
  hash and text, the text is checked against the hash and remembered in a
  per-process LRU bounded in bytes and in entries. A process that never saw a
  hash just asks again, so a cache miss on another replica costs one
  round-trip, never a wrong answer.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import RequestRefused
from api.metrics import Metrics
from api.settings import DEFAULT_APQ_CACHE_ENTRIES
from api.trusted_documents import TrustedDocuments, normalised_hash

APQ_VERSION = 1


class PersistedQueryError(RequestRefused):
    """A hash-named request that cannot run; sent as one GraphQL error."""


class DocumentCache:
    """Query texts by SHA-256, least recently used dropped first: at most `max_bytes` in
    all and at most `max_entries` texts (many tiny texts cost more than their bytes)."""

    def __init__(self, max_bytes: int, max_entries: int = DEFAULT_APQ_CACHE_ENTRIES) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.size_bytes = 0
        self._documents: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, key: str) -> str | None:
        document = self._documents.get(key)
        if document is not None:
            self._documents.move_to_end(key)
        return document

    def put(self, key: str, document: str) -> None:
        size = len(document.encode("utf-8"))
        if key in self._documents or size > self.max_bytes:
            return
        self._documents[key] = document
        self.size_bytes += size
        while self.size_bytes > self.max_bytes or len(self._documents) > self.max_entries:
            _, dropped = self._documents.popitem(last=False)
            self.size_bytes -= len(dropped.encode("utf-8"))


@dataclass(frozen=True)
class RequestedHash:
    value: str  # bare lowercase hex
    argument: str  # where the client put it, for error messages


def requested_hash(body: dict[str, Any]) -> RequestedHash | None:
    """The operation hash a GraphQL request body names, if any (validated)."""
    extensions = body.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is not None:
        argument = "extensions.persistedQuery"
        if not isinstance(persisted, dict):
            raise PersistedQueryError(f"{argument}: must be an object", "BAD_REQUEST")
        if persisted.get("version") != APQ_VERSION:
            raise PersistedQueryError(
                f"{argument}.version: only version {APQ_VERSION} is supported, "
                f"not {persisted.get('version')!r}",
                "PERSISTED_QUERY_VERSION_UNSUPPORTED",
            )
        value = persisted.get("sha256Hash")
        found = normalised_hash(value) if isinstance(value, str) else None
        if found is None or len(found) != 64:
            raise PersistedQueryError(
                f"{argument}.sha256Hash: must be a SHA-256 hex digest (64 hex digits)",
                "BAD_REQUEST",
            )
        return RequestedHash(found, f"{argument}.sha256Hash")
    document_id = body.get("documentId")
    if document_id is None:
        return None
    found = normalised_hash(document_id) if isinstance(document_id, str) else None
    if found is None:
        raise PersistedQueryError(
            "documentId: must be a SHA-1 or SHA-256 hex digest, optionally prefixed sha256:",
            "BAD_REQUEST",
        )
    return RequestedHash(found, "documentId")


class OperationResolver:
    """Decides, per request body, which document runs (see the module docstring)."""

    def __init__(
        self,
        trusted: TrustedDocuments | None,
        apq_cache_bytes: int,
        apq_cache_entries: int = DEFAULT_APQ_CACHE_ENTRIES,
    ) -> None:
        self.trusted = trusted
        self.cache = (
            DocumentCache(apq_cache_bytes, apq_cache_entries) if apq_cache_bytes > 0 else None
        )

    def resolve(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The body to run instead (its query filled in), or None to run it as sent."""
        wanted = requested_hash(body)
        query = body.get("query")
        if self.trusted is not None:
            return self._trusted(body, wanted, query)
        if wanted is None:
            return None
        if self.cache is None:
            raise PersistedQueryError(
                "automatic persisted queries are turned off (THREATGRAPH_APQ_CACHE_BYTES=0): "
                "send the query text",
                "PERSISTED_QUERY_NOT_SUPPORTED",
            )
        if query is None:
            document = self.cache.get(wanted.value)
            if document is None:
                # Apollo's clients look for this exact message, then resend with the text.
                raise PersistedQueryError(
                    "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", status=200
                )
            return {**body, "query": document}
        if not isinstance(query, str) or sha256(query) != wanted.value:
            raise PersistedQueryError(
                f"{wanted.argument}: provided sha does not match query",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        self.cache.put(wanted.value, query)
        return None

    def _trusted(
        self, body: dict[str, Any], wanted: RequestedHash | None, query: Any
    ) -> dict[str, Any]:
        assert self.trusted is not None
        if wanted is None:
            raise id_required()
        document = self.trusted.get(wanted.value)
        if document is None:
            raise PersistedQueryError(
                f"{wanted.argument}: operation {wanted.value} is not in the trusted documents "
                "manifest",
                "PERSISTED_QUERY_NOT_IN_LIST",
            )
        if query is not None and query != document:
            raise PersistedQueryError(
                f"{wanted.argument}: the query sent is not the registered document for "
                f"{wanted.value}",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        return {**body, "query": document}


def id_required() -> PersistedQueryError:
    return PersistedQueryError(
        "this API runs only registered operations: send the operation's hash as "
        "documentId or extensions.persistedQuery.sha256Hash, not its text",
        "PERSISTED_QUERY_ID_REQUIRED",
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PersistedOperations:
    """ASGI middleware applying an OperationResolver to POST /graphql bodies."""

    def __init__(self, app: ASGIApp, resolver: OperationResolver, metrics: Metrics) -> None:
        self.app = app
        self.resolver = resolver
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        raw = await _read_body(receive)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        try:
            if isinstance(body, dict):
                replaced = self.resolver.resolve(body)
            elif self.resolver.trusted is not None:
                # Batches and non-JSON bodies name no registered operation.
                raise id_required()
            else:
                replaced = None
        except PersistedQueryError as error:
            self.metrics.errors.labels(code=error.code).inc()
            await error.response()(scope, receive, send)
            return
        if replaced is not None:
            raw = orjson.dumps(replaced)
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(raw)).encode())]}
        await self.app(scope, _replay(raw, receive), send)


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body.extend(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
