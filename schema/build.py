"""Assemble the Strawberry schema with its limits and error translation."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.changes import Subscription
from schema.errors import ErrorTranslation, HideSuggestions
from schema.federation import FEDERATION_VERSION, SubgraphSchema
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import DATE_SCALAR, Date
from schema.trusted import trusted_documents_rule
from schema.types import ENTITY_TYPES


@dataclass(frozen=True)
class SchemaLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    introspection: bool = True


def build_schema(
    limits: SchemaLimits | None = None, trusted_documents: Collection[str] | None = None
) -> strawberry.Schema:
    """The schema; with `trusted_documents`, it validates only those documents."""
    limits = limits or SchemaLimits()
    # Factories: Strawberry builds fresh extensions per request; the parser and
    # validation caches live at module level, so they are shared all the same.
    extensions: list[Any] = [
        ErrorTranslation,
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
    ]
    if not limits.introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
        extensions.append(HideSuggestions)
    if trusted_documents is not None:
        trusted_only = trusted_documents_rule(trusted_documents)
        extensions.append(lambda: AddValidationRules([trusted_only]))
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
