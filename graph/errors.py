"""Domain errors of the graph layer.

Each carries enough context to be shown to a person as one line. The API and
the CLI translate them in one place each (api/errors.py, api/cli.py).
"""

from __future__ import annotations


class GraphError(Exception):
    """Base of every error this package raises on purpose.

    Its message is for whoever runs the server, and may name Neo4j's address or
    quote the driver; `public` (when given) says what failed without them, for
    anyone else, and is what the API tells its clients.
    """

    code = "GRAPH_ERROR"

    def __init__(self, *args: object, public: str | None = None) -> None:
        super().__init__(*args)
        self.public = public

    @property
    def public_message(self) -> str:
        return str(self) if self.public is None else self.public


class ConfigurationError(GraphError):
    """A setting (environment variable) has a value that cannot be used."""

    code = "BAD_CONFIGURATION"


class DatabaseFault(GraphError):
    """Neo4j did not answer: away, refusing the credentials, out of time or out of turns.

    The request was not at fault, and asking again another way (the resolvers after the
    compiled executor) would meet the same fault after doing the work again.
    """


class Neo4jUnavailable(DatabaseFault):
    """Neo4j could not be reached (down, restarting, wrong address)."""

    code = "NEO4J_UNAVAILABLE"


class Neo4jAuthError(DatabaseFault):
    """Neo4j refused the configured credentials."""

    code = "NEO4J_AUTH_FAILED"


class QueryTimeout(DatabaseFault):
    """A statement ran past the per-transaction time limit."""

    code = "QUERY_TIMEOUT"


class QueryOverMemory(DatabaseFault):
    """A statement needed more memory than one transaction may take
    (db.memory.transaction.max, THREATGRAPH_NEO4J_TRANSACTION_MEMORY_MB): asking again
    meets the same limit, so it is not retried."""

    code = "QUERY_MEMORY_LIMIT"


class ServerBusy(DatabaseFault):
    """No turn at Neo4j came free in time (graph/store/admission.py, or the driver's pool).

    The transaction refused was never sent to Neo4j.
    """

    code = "SERVER_BUSY"


class InvalidBookmark(GraphError):
    """Neo4j does not recognise a causal-consistency bookmark the caller passed on."""

    code = "BAD_BOOKMARK"


class ServerError(GraphError):
    """The managed Neo4j server could not be installed, started or stopped."""

    code = "NEO4J_SERVER_ERROR"


class ValidationError(GraphError):
    """A graph document (seed file, import, mutation) broke the model's rules.

    ``problems`` lists every problem found, each as "where: what is wrong", so
    an analyst fixes a file in one pass rather than one error at a time.
    """

    code = "VALIDATION_FAILED"

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        shown = "\n".join(f"  {origin}: {p}" for p in problems)
        super().__init__(f"{origin}: {len(problems)} problem(s), nothing written\n{shown}")


class WriteConflict(GraphError):
    """Something a write relied on changed under it (another writer); nothing was written."""

    code = "WRITE_CONFLICT"


class NotFound(GraphError):
    """A reference (id, name or alias) matched no entity."""

    code = "NOT_FOUND"

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"no entity matches {ref!r} (by id, name or alias)")


class AmbiguousReference(GraphError):
    """A reference matched several entities; the caller must pick one by id."""

    code = "AMBIGUOUS_REFERENCE"

    def __init__(self, ref: str, candidates: list[str]) -> None:
        self.ref = ref
        self.candidates = candidates
        listed = ", ".join(candidates)
        super().__init__(f"{ref!r} matches {len(candidates)} entities: {listed}; use an id")
