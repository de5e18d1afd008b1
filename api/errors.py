"""Error responses: the one place the API renders an error for HTTP.

Every error a client sees has GraphQL's shape,
{"errors": [{"message": ..., "extensions": {"code": ...}}]}. GraphQL results
are rendered by Strawberry from errors schema/errors.py translated; this module
renders the rest (requests refused before GraphQL runs them: a missing token,
a body too large, a bad bookmark header, a persisted operation that cannot run,
a body that is no operation) and chooses the status of a result Neo4j could
not serve. Codes come from the exception raised, with one exception:
Strawberry's own refusals, told apart by their text only (`HTTP_REFUSAL_CODES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cross_web import HTTPException
from starlette.responses import JSONResponse

from schema.errors import error_extensions

# Retry-After on SERVER_BUSY, in seconds: long enough for a few turns at Neo4j to end.
RETRY_BUSY_AFTER_S = "1"


class RequestRefused(Exception):
    """A request answered with one error before GraphQL runs it."""

    def __init__(
        self,
        message: str,
        code: str,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return error_response(self.message, self.code, self.status, self.headers)


class NotAnOperation(HTTPException):
    """A request body that is JSON but not one operation object (Strawberry's
    exception type, so Strawberry lets it through to GraphQLView like its own)."""

    code = "MALFORMED_JSON"

    def __init__(self) -> None:
        super().__init__(
            400, 'the request body must be one JSON object: {"query": "...", "variables": {}}'
        )


# Strawberry refuses a malformed request with a cross_web.HTTPException whose only
# distinguishing field is its reason text, so its codes are looked up by that text;
# any other reason is BAD_REQUEST.
HTTP_REFUSAL_CODES = {
    "Batching is not enabled": "BATCHING_NOT_SUPPORTED",
    "Unable to parse request body as JSON": "MALFORMED_JSON",
    "Unsupported content type": "UNSUPPORTED_MEDIA_TYPE",
}


def refusal_code(error: HTTPException) -> str:
    """The code of an HTTPException: ours carry it, Strawberry's are found by reason."""
    if isinstance(error, NotAnOperation):
        return error.code
    return HTTP_REFUSAL_CODES.get(error.reason, "BAD_REQUEST")


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": error_extensions(code)}]}


def error_response(
    message: str, code: str, status: int = 400, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, code), status_code=status, headers=headers)


def unavailable_status(
    codes: list[str], writes_committed: int
) -> tuple[int, dict[str, str]] | None:
    """503 for a request Neo4j could not serve (away, or every turn taken: then with
    Retry-After), the server's problem rather than the client's; None otherwise.

    Not when a write of the request committed first (a mutation refused at the read of
    what it wrote, or at its second root field): that client must see that a write
    stands, in a 200 with the error, rather than be told to come back as if nothing ran.
    """
    if writes_committed or not {"NEO4J_UNAVAILABLE", "SERVER_BUSY"} & set(codes):
        return None
    return 503, {"retry-after": RETRY_BUSY_AFTER_S} if "SERVER_BUSY" in codes else {}
