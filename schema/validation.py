"""The validation rules a document must pass, defined once for both executors.

Strawberry's execution (schema/build.py) and the compiled executor
(schema/compiled/executor.py) validate with the same list, so a document one
of them refuses the other refuses too. Each limit's rule attaches its error
code (`extensions.code`) to the errors it reports, where it makes them:
schema/errors.py reads the code, never the message.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from graphql import ASTValidationRule, GraphQLError, ValidationContext, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from schema.cost import max_cost_rule
from schema.errors import error_extensions
from schema.federation import NoServiceSdlRule
from schema.trusted import trusted_documents_rule


class _CodingContext:
    """A rule's view of its ValidationContext: what it reports gets `code`.

    A rule reports through its context (strawberry's depth and alias rules call
    the context directly, in their __init__), so the context is where to attach it.
    Everything else is the rule's real context.
    """

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), **error_extensions(self._code)}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def coded(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    """`rule`, its errors carrying `extensions.code` = `code`; messages unchanged."""

    class Coded(rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(cast(ValidationContext, _CodingContext(context, code)))

    Coded.__name__ = Coded.__qualname__ = rule.__name__
    return cast(type[ASTValidationRule], Coded)


def limit_rules(
    *,
    max_depth: int,
    max_aliases: int,
    max_cost: int,
    introspection: bool,
    trusted_documents: Collection[str] | None = None,
) -> list[type[ASTValidationRule]]:
    """The rules beyond the GraphQL specification's, in the order their errors are listed.

    The token limit is not among them: the parser enforces it (max_tokens).
    """
    rules = [
        coded(max_depth_rule(max_depth, None, None), "QUERY_TOO_DEEP"),
        coded(max_aliases_rule(max_aliases), "TOO_MANY_ALIASES"),
        coded(max_cost_rule(max_cost, max_depth), "QUERY_TOO_COSTLY"),
    ]
    if not introspection:
        rules.append(coded(NoSchemaIntrospectionCustomRule, "INTROSPECTION_DISABLED"))
        # `_service { sdl }` (federation) returns the whole schema as text.
        rules.append(coded(NoServiceSdlRule, "INTROSPECTION_DISABLED"))
    if trusted_documents is not None:
        # Its errors carry PERSISTED_QUERY_NOT_IN_LIST already (schema/trusted.py).
        rules.append(trusted_documents_rule(trusted_documents))
    return rules


def validation_rules(
    *,
    max_depth: int,
    max_aliases: int,
    max_cost: int,
    introspection: bool,
    trusted_documents: Collection[str] | None = None,
) -> list[type[ASTValidationRule]]:
    """Every rule Strawberry validates a document with, in its order.

    Strawberry runs the specification's rules, then those its extensions add
    (`limit_rules`, through AddValidationRules in schema/build.py), then two of its
    own (Maybe and @oneOf inputs, strawberry.schema.schema.validate_document).
    """
    return [
        *specified_rules,
        *limit_rules(
            max_depth=max_depth,
            max_aliases=max_aliases,
            max_cost=max_cost,
            introspection=introspection,
            trusted_documents=trusted_documents,
        ),
        MaybeNullValidationRule,
        OneOfInputValidationRule,
    ]
