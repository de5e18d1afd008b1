"""Errors a client may see, and the one place that turns exceptions into them.

Expected errors (graph.errors.GraphError and UserInputError) keep their
message (a GraphError's public one: no Neo4j address or driver text) and get
`extensions.code`; GraphQL's own parse and validation errors
get a code too (from the rule that made them, schema/validation.py, or from
their type); everything else is masked as "Unexpected error." with code
INTERNAL_SERVER_ERROR and logged server-side, so no stack trace, Cypher or
credential ever reaches a client.

`extensions.code` is one of Apollo's standard codes wherever one applies, since
clients, routers and gateways classify errors by them (an unknown code with a
`path` reads as a server fault): an error the client's input caused is
BAD_USER_INPUT, GRAPHQL_VALIDATION_FAILED or GRAPHQL_PARSE_FAILED, and its
specific reason (NOT_FOUND, AMBIGUOUS_REFERENCE, ...) is `extensions.reason`
(STANDARD_CODES). Neo4j being away or overloaded keeps its own code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from graph.errors import GraphError

log = logging.getLogger("threatgraph.errors")


class UserInputError(Exception):
    """An argument out of range or malformed: the client must change its request."""

    code = "BAD_USER_INPUT"


class Forbidden(Exception):
    """The request lacks a valid bearer token for what it asks."""

    code = "UNAUTHENTICATED"


# graphql-core raises every parse failure as a GraphQLSyntaxError: its token limit
# (max_tokens) and its nesting limit (the parser's RecursionError) have no type or
# attribute of their own, only their description text (graphql/language/parser.py
# and lexer.py). These two are the only codes still read from text, and only from
# a syntax error's description, never from a message that echoes the client's input.
_TOO_MANY_TOKENS = re.compile(r"Document contains more than \d+ tokens\. Parsing aborted\.")
_NESTED_TOO_DEEPLY = "Document is nested too deeply. Parsing aborted."


# The specific reasons and the standard code each is reported under.
STANDARD_CODES: dict[str, str] = {
    "NOT_FOUND": "BAD_USER_INPUT",
    "AMBIGUOUS_REFERENCE": "BAD_USER_INPUT",
    "VALIDATION_FAILED": "BAD_USER_INPUT",
    "BAD_BOOKMARK": "BAD_USER_INPUT",
    "QUERY_TOO_DEEP": "GRAPHQL_VALIDATION_FAILED",
    "TOO_MANY_ALIASES": "GRAPHQL_VALIDATION_FAILED",
    "QUERY_TOO_COSTLY": "GRAPHQL_VALIDATION_FAILED",
    "INTROSPECTION_DISABLED": "GRAPHQL_VALIDATION_FAILED",
    "TOO_MANY_TOKENS": "GRAPHQL_PARSE_FAILED",
    "TOO_MANY_SUBSCRIPTIONS": "BAD_REQUEST",
}


def error_extensions(code: str) -> dict[str, str]:
    """The extensions for an error of `code`: the standard code, and the specific
    reason when it has one."""
    standard = STANDARD_CODES.get(code)
    return {"code": code} if standard is None else {"code": standard, "reason": code}


def _syntax_error_code(error: GraphQLSyntaxError) -> str:
    if _TOO_MANY_TOKENS.fullmatch(error.description):
        return "TOO_MANY_TOKENS"
    if error.description == _NESTED_TOO_DEEPLY:
        return "QUERY_TOO_DEEP"
    return "GRAPHQL_PARSE_FAILED"


def error_code(error: GraphQLError) -> str:
    """The specific code of an error, from where it was made: the code a validation
    rule attached (schema/validation.py), the type of the exception, or the parse
    error's (`error_extensions` gives the standard one it is reported under)."""
    given = (error.extensions or {}).get("reason") or (error.extensions or {}).get("code")
    if isinstance(given, str):
        return given
    if isinstance(error, GraphQLSyntaxError):
        return _syntax_error_code(error)
    original = error.original_error
    if isinstance(original, (GraphError, UserInputError, Forbidden)):
        return original.code
    if original is None:
        # The specification's validation rules (unknown field, wrong argument type, ...).
        return "GRAPHQL_VALIDATION_FAILED"
    if isinstance(original, GraphQLError):
        return error_code(original)
    if isinstance(original, ValueError) and error.path is None:
        # A custom scalar (Date) refused a literal or variable during validation.
        return "BAD_USER_INPUT"
    return "INTERNAL_SERVER_ERROR"


def _graph_error(error: GraphQLError) -> GraphError | None:
    original = error.original_error
    if isinstance(original, GraphQLError):
        return _graph_error(original)
    return original if isinstance(original, GraphError) else None


def translate(error: GraphQLError) -> GraphQLError:
    code = error_code(error)
    message = error.message
    if code == "INTERNAL_SERVER_ERROR":
        log.error("unexpected error in %s", error.path, exc_info=error.original_error)
        message = "Unexpected error."
    elif (graph_error := _graph_error(error)) is not None:
        # What failed, without Neo4j's address or the driver's text (graph/errors.py).
        message = graph_error.public_message
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), **error_extensions(code)},
    )


class ErrorTranslation(SchemaExtension):
    """Translate every error of an operation once, after it ran."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [translate(error) for error in errors]
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [translate(error) for error in pre]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # A subscription's results (and its errors) are sent one by one, after on_operation.
        # Errors on_operation already translated (queries sent over the socket) keep theirs.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [
                error if (error.extensions or {}).get("code") else translate(error)
                for error in errors
            ]
        yield


class TranslatedErrorsSchema(strawberry.Schema):
    """A schema that leaves error logging to `translate`.

    Strawberry logs every error with its traceback; a client's bad argument or
    Neo4j being away is not a server fault, and a fuzzer or an outage would
    flood the log. `translate` logs the unexpected ones (INTERNAL_SERVER_ERROR).
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


# graphql-core appends its suggestions last, as " Did you mean 'a', 'b', or 'c'?"
# (graphql.pyutils.did_you_mean). Names cannot contain the marker, so its last
# occurrence starts the suggestion; finding it is linear in the message, which
# echoes client literals of up to the body limit.
SUGGESTION_MARKER = " Did you mean "


def without_suggestions(message: str) -> str:
    """`message` without graphql-core's trailing "Did you mean …?" suggestion."""
    start = message.rfind(SUGGESTION_MARKER)
    if start < 0 or not message.endswith("?"):
        return message
    return message[:start].rstrip()


class HideSuggestions(SchemaExtension):
    """With introspection off, "Did you mean 'entity'?" would list the schema's names
    one typo at a time: drop the suggestions from every error message."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = [
            *(getattr(result, "errors", None) or []),
            *(self.execution_context.pre_execution_errors or []),
        ]
        for error in errors:
            error.message = without_suggestions(error.message)
