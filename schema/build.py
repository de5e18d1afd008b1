"""Assemble the Strawberry schema with its limits and error translation."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, Final

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.changes import Subscription
from schema.cost import DEFAULT_MAX_COST
from schema.errors import ErrorTranslation, HideSuggestions
from schema.federation import FEDERATION_VERSION, SubgraphSchema
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import DATE_SCALAR, Date
from schema.types import ENTITY_TYPES
from schema.validation import limit_rules

# The longest query text (in characters) whose parse and validation are cached.
# The caches are keyed by the full text (or its whole syntax tree), so 1,024
# entries of near-1 MB documents would hold gigabytes; anything longer is parsed
# and validated afresh on each request. The compiled executor's document and
# plan caches (schema/compiled/executor.py) are keyed the same way.
MAX_CACHED_QUERY_CHARS: Final = 16 * 1024
CACHE_ENTRIES: Final = 1024


def is_cacheable(query: str | None) -> bool:
    """Whether a query text is short enough for the per-document caches."""
    return query is not None and len(query) <= MAX_CACHED_QUERY_CHARS


class SmallDocumentParserCache(ParserCache):
    """Strawberry's parser cache for documents up to MAX_CACHED_QUERY_CHARS.

    A longer one leaves `graphql_document` unset, so Strawberry parses it itself,
    uncached (with the same parse options: the token limit).
    """

    def on_parse(self) -> Iterator[None]:
        if is_cacheable(self.execution_context.query):
            yield from super().on_parse()
        else:
            yield


class SmallDocumentValidationCache(ValidationCache):
    """Strawberry's validation cache for documents up to MAX_CACHED_QUERY_CHARS.

    A longer one leaves `pre_execution_errors` unset, so Strawberry validates it
    itself, uncached, with the same rules.
    """

    def on_validate(self) -> Iterator[None]:
        if is_cacheable(self.execution_context.query):
            yield from super().on_validate()
        else:
            yield


@dataclass(frozen=True)
class SchemaLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_cost: int = DEFAULT_MAX_COST
    max_tokens: int = 5_000
    introspection: bool = True


def build_schema(
    limits: SchemaLimits | None = None, trusted_documents: Collection[str] | None = None
) -> strawberry.Schema:
    """The schema; with `trusted_documents`, it validates only those documents."""
    limits = limits or SchemaLimits()
    # The limits' rules, built once: the compiled executor validates with the same
    # list (schema/validation.py), and the same rule classes on every request let
    # the validation cache find a document it validated before.
    rules = limit_rules(
        max_depth=limits.max_depth,
        max_aliases=limits.max_aliases,
        max_cost=limits.max_cost,
        introspection=limits.introspection,
        trusted_documents=trusted_documents,
    )
    # Factories: Strawberry builds fresh extensions per request; the parser and
    # validation caches live at module level, so they are shared all the same.
    # Documents longer than MAX_CACHED_QUERY_CHARS bypass both.
    extensions: list[Any] = [
        ErrorTranslation,
        lambda: SmallDocumentParserCache(maxsize=CACHE_ENTRIES),
        lambda: SmallDocumentValidationCache(maxsize=CACHE_ENTRIES),
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
    ]
    if not limits.introspection:
        extensions.append(HideSuggestions)
    # A federation schema serves the normal API unchanged, plus _service and _entities.
    return SubgraphSchema(
        federation_version=FEDERATION_VERSION,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(ENTITY_TYPES.values()),
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True, scalar_map={Date: DATE_SCALAR}),
    )
