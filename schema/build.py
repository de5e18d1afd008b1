"""Assemble the Strawberry schema with its limits and error translation."""

from __future__ import annotations

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

from schema.errors import ErrorTranslation
from schema.mutation import Mutation
from schema.query import Query
from schema.types import ENTITY_TYPES


@dataclass(frozen=True)
class SchemaLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    introspection: bool = True


def build_schema(limits: SchemaLimits | None = None) -> strawberry.Schema:
    limits = limits or SchemaLimits()
    extensions: list[Any] = [
        ErrorTranslation,
        ParserCache(maxsize=1024),
        ValidationCache(maxsize=1024),
        QueryDepthLimiter(max_depth=limits.max_depth),
        MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        MaxTokensLimiter(max_token_count=limits.max_tokens),
    ]
    if not limits.introspection:
        extensions.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=list(ENTITY_TYPES.values()),
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )
