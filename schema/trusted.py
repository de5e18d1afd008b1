"""Trusted documents inside the schema: a validation rule no transport can skip.

The HTTP layer (api/persisted.py) already refuses requests that do not name a
registered operation; this rule refuses any *document* that is not one of the
registered ones, whichever way it arrived (HTTP today, a WebSocket tomorrow).
Documents are compared in graphql-core's printed form, so whitespace and
comments do not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    ValidationContext,
    parse,
    print_ast,
)
from graphql.language import BREAK

NOT_TRUSTED_MESSAGE = "this operation is not in the trusted documents manifest"


def trusted_documents_rule(documents: Iterable[str]) -> type[ASTValidationRule]:
    """A validation rule accepting only the given documents."""
    allowed = frozenset(print_ast(parse(document)) for document in documents)

    class TrustedDocumentsOnly(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)

        def enter_document(self, node: DocumentNode, *_args: Any) -> Any:
            if print_ast(node) not in allowed:
                self.report_error(
                    GraphQLError(
                        NOT_TRUSTED_MESSAGE, extensions={"code": "PERSISTED_QUERY_NOT_IN_LIST"}
                    )
                )
            return BREAK

    return TrustedDocumentsOnly
