"""The driver's exceptions as graph errors: the one place that translates them.

Each graph error says what failed for whoever runs the server (Neo4j's address, the
driver's text) and, in `public`, for anyone else (graph/errors.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConnectionAcquisitionTimeoutError,
    DatabaseUnavailable,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graph.errors import (
    InvalidBookmark,
    Neo4jAuthError,
    Neo4jUnavailable,
    QueryOverMemory,
    QueryTimeout,
    ServerBusy,
)


def over_transaction_memory(error: Neo4jError) -> bool:
    """Neo4j stopped one transaction at its own memory limit (db.memory.transaction.max).

    Neo4j reports it as transient, as it does the server-wide pool running out, which
    other transactions finishing can cure; one transaction's own limit is met again by
    the same statement, so it is told apart by the setting the message names."""
    return bool(
        error.code
        and "MemoryPoolOutOfMemoryError" in error.code
        and "db.memory.transaction.max" in (error.message or "")
    )


@contextlib.contextmanager
def translated(uri: str, gated: bool = False) -> Iterator[None]:
    """Turn the driver's exceptions into graph errors (the one place that does).

    `gated`: a TransactionGate admits no more than the pool holds, so a wait for a
    connection that times out means Neo4j is not handing any over, not that all are busy.
    """
    try:
        yield
    except AuthError as error:
        raise Neo4jAuthError(
            f"Neo4j at {uri} refused the credentials: {error.message}",
            public="Neo4j refused the credentials the API signs in with",
        ) from None
    except ClientError as error:
        # A transaction that times out while waiting for a lock is stopped with
        # LockClientStopped rather than TransactionTimedOut: the same fault for a client.
        if error.code and (
            "TransactionTimedOut" in error.code or "LockClientStopped" in error.code
        ):
            raise QueryTimeout("the query ran past the transaction time limit") from None
        if error.code and "InvalidBookmark" in error.code:
            raise InvalidBookmark(
                f"Neo4j does not recognise the bookmark sent: {error.message}",
                public="Neo4j does not recognise the bookmark sent",
            ) from None
        raise
    except TransientError as error:
        if error.code and "TransactionTimedOut" in error.code:
            raise QueryTimeout("the query ran past the transaction time limit") from None
        if over_transaction_memory(error):
            raise QueryOverMemory(
                f"the query needed more memory than one transaction may take: {error.message}",
                public="the query needed more memory than one transaction may take; "
                "ask for less (smaller pages, fewer hops)",
            ) from None
        raise Neo4jUnavailable(
            f"Neo4j at {uri} is temporarily unavailable", public="Neo4j is temporarily unavailable"
        ) from None
    except ConnectionAcquisitionTimeoutError as error:
        # The driver's wait covers opening a connection and fetching a routing table too.
        if gated:
            raise Neo4jUnavailable(
                f"Neo4j at {uri} gave no connection in time: {error}",
                public="Neo4j gave no connection in time",
            ) from None
        raise ServerBusy(
            f"the server is busy: {error}; retry shortly",
            public="the server is busy: no connection to Neo4j came free in time; retry shortly",
        ) from None
    except (ServiceUnavailable, SessionExpired, DatabaseUnavailable, OSError):
        raise Neo4jUnavailable(
            f"Neo4j at {uri} is unavailable", public="Neo4j is unavailable"
        ) from None
