"""The trusted-documents manifest: the only operations the API runs when it is set.

THREATGRAPH_TRUSTED_DOCUMENTS names a JSON file in one of the two formats
client build tools write:

- Apollo's persisted query manifest (@apollo/generate-persisted-query-manifest,
  Apollo Kotlin/iOS): {"format": "apollo-persisted-query-manifest", "version": 1,
  "operations": [{"id": "<sha256>", "body": "query ...", "name": "...", "type": "query"}]}
- GraphQL Codegen's client preset (persistedDocuments: true), persisted-documents.json:
  {"<hash>": "query ..."}, the hash SHA-1 by default or SHA-256 when configured.

Every entry is checked when the API starts: the hash must be a SHA-1 or SHA-256
hex digest (optionally prefixed "sha1:" / "sha256:") of exactly its document,
and the document must parse. A bad manifest stops start-up with one message
naming the file, the entry and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLSyntaxError, parse

from api.settings import TRUSTED_DOCUMENTS_ENV as ENV_VARIABLE
from graph.errors import ConfigurationError

APOLLO_FORMAT = "apollo-persisted-query-manifest"

_HEX_DIGEST = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_ALGORITHMS = {40: "sha1", 64: "sha256"}


def normalised_hash(value: str) -> str | None:
    """The bare lowercase hex digest in `value` ("sha256:ABC…" → "abc…"), or None."""
    bare = value.strip().lower().removeprefix("sha256:").removeprefix("sha1:")
    return bare if _HEX_DIGEST.fullmatch(bare) else None


def digest(algorithm: str, document: str) -> str:
    return hashlib.new(algorithm, document.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TrustedDocuments:
    """Registered operations by hash (bare lowercase hex), read from `source`."""

    source: Path
    documents: Mapping[str, str]

    def get(self, document_hash: str) -> str | None:
        return self.documents.get(document_hash)

    @classmethod
    def load(cls, path: Path) -> TrustedDocuments:
        def bad(what: str) -> ConfigurationError:
            return ConfigurationError(f"{ENV_VARIABLE}: {path}: {what}")

        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise bad("no such file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise bad(f"cannot be read ({error})") from None
        try:
            manifest = json.loads(text)
        except json.JSONDecodeError as error:
            raise bad(
                f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
            ) from None
        entries = _entries(manifest, bad)
        if not entries:
            raise bad("registers no operations, so every request would be refused")
        documents: dict[str, str] = {}
        for where, key, document in entries:
            if not isinstance(key, str) or not isinstance(document, str):
                raise bad(f"{where}: the hash and the document must both be strings")
            document_hash = normalised_hash(key)
            if document_hash is None:
                raise bad(f"{where}: {key!r} is not a SHA-1 or SHA-256 hex digest")
            algorithm = _ALGORITHMS[len(document_hash)]
            if digest(algorithm, document) != document_hash:
                raise bad(f"{where}: {key!r} is not the {algorithm} of its document")
            try:
                parse(document)
            except GraphQLSyntaxError as error:
                raise bad(f"{where}: the document is not GraphQL ({error.message})") from None
            documents[document_hash] = document
        return cls(source=path, documents=documents)


def _entries(manifest: Any, bad: Any) -> list[tuple[str, Any, Any]]:
    """(where, hash, document) for each entry of either manifest format."""
    if not isinstance(manifest, dict):
        raise bad("must be a JSON object (Apollo's manifest or Codegen's hash → document map)")
    if "format" not in manifest:
        return [(f"entry {key!r}", key, document) for key, document in manifest.items()]
    if manifest["format"] != APOLLO_FORMAT:
        raise bad(f"format: expected {APOLLO_FORMAT!r}, not {manifest['format']!r}")
    if manifest.get("version") != 1:
        raise bad(f"version: only version 1 is understood, not {manifest.get('version')!r}")
    operations = manifest.get("operations")
    if not isinstance(operations, list):
        raise bad("operations: must be a list of {id, body, name, type} objects")
    entries: list[tuple[str, Any, Any]] = []
    for index, operation in enumerate(operations):
        where = f"operations[{index}]"
        if not isinstance(operation, dict) or "id" not in operation or "body" not in operation:
            raise bad(f"{where}: must be an object with 'id' and 'body'")
        name = operation.get("name")
        entries.append((f"{where} ({name})" if name else where, operation["id"], operation["body"]))
    return entries
