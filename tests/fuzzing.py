"""Schemathesis against the running app: generated GraphQL operations, every root field.

Used by tests/test_fuzz.py (a few hundred operations) and the soak (thousands).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# The one custom scalar hypothesis-graphql cannot guess: ISO dates (and nonsense text,
# which must be refused cleanly).
schemathesis.graphql.scalar(
    "Date",
    st.one_of(st.dates().map(str), st.text(max_size=12)).map(schemathesis.graphql.nodes.String),
)


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    server_errors: list[tuple[str, str]] = field(default_factory=list)


def fuzz(url: str, token: str | None, examples_per_operation: int, seed: int = 0) -> FuzzReport:
    """Send generated operations for every Query and Mutation field; record every 5xx.

    Without a token the mutations are refused: the graph stays as it was."""
    report = FuzzReport()
    schema = schemathesis.graphql.from_url(f"{url}/graphql")
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=examples_per_operation,
            deadline=None,
            database=None,
            derandomize=seed == 0,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            response = case.call(headers=headers, timeout=60)
            report.requests += 1
            report.statuses[response.status_code] += 1
            if response.status_code >= 500:
                report.server_errors.append((str(case.body), response.text[:500]))

        run()
    return report
