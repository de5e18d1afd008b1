"""Generated GraphQL operations (schemathesis) never make the server fail or log a crash."""

from __future__ import annotations

from tests.api_client import WRITER_TOKEN
from tests.fuzzing import fuzz
from tests.live_server import LiveApi

EXAMPLES_PER_OPERATION = 25  # 9 root fields: about 225 operations


def test_generated_operations_never_get_a_5xx_or_crash(
    live_api: LiveApi, seeded_graph: None
) -> None:
    report = fuzz(live_api.url, WRITER_TOKEN, EXAMPLES_PER_OPERATION)
    assert report.requests >= 200
    assert report.server_errors == []
    log = live_api.log()
    assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]
