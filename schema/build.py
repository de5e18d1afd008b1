"""Assemble the Strawberry schema with its limits and error translation."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.changes import Subscription
from schema.errors import ErrorTranslation, HideSuggestions
from schema.federation import FEDERATION_VERSION, SubgraphSchema
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import DATE_SCALAR, Date
from schema.types import ENTITY_TYPES
from schema.validation import limit_rules


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
    # The limits' rules, built once: the compiled executor validates with the same
    # list (schema/validation.py), and the same rule classes on every request let
    # the validation cache find a document it validated before.
    rules = limit_rules(
        max_depth=limits.max_depth,
        max_aliases=limits.max_aliases,
        introspection=limits.introspection,
        trusted_documents=trusted_documents,
    )
    # Factories: Strawberry builds fresh extensions per request; the parser and
    # validation caches live at module level, so they are shared all the same.
    extensions: list[Any] = [
        ErrorTranslation,
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
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
