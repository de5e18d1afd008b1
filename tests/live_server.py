"""The real app under uvicorn in its own process, and a steady load of clients against it.

Used where TestClient is not enough: Neo4j going away under a served load,
clients served while others send hostile requests, fuzzing, the soak.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from graph.server.process import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LiveApi:
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def served(env: dict[str, str], log_path: Path) -> Iterator[LiveApi]:
    """uvicorn serving api.app:create_app with `env`, until the block ends."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"uvicorn exited {process.returncode}:\n{log_path.read_text()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"uvicorn did not answer:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield LiveApi(url=url, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Outcome:
    """One request: when it was sent and answered (monotonic s), status and error codes."""

    sent: float
    answered: float
    status: int
    codes: tuple[str, ...]
    failure: str | None = None


def post_graphql(
    client: httpx.Client, url: str, body: Any, token: str | None = None, timeout_s: float = 30
) -> Outcome:
    """POST a GraphQL body; a transport failure (timeout, reset) becomes status 0."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    sent = time.monotonic()
    try:
        response = client.post(f"{url}/graphql", json=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as error:
        return Outcome(sent, time.monotonic(), 0, (), f"{type(error).__name__}: {error}")
    answered = time.monotonic()
    try:
        payload = response.json()
    except ValueError:
        return Outcome(sent, answered, response.status_code, (), "body is not JSON")
    results = payload if isinstance(payload, list) else [payload]
    codes = tuple(
        str((error.get("extensions") or {}).get("code"))
        for result in results
        if isinstance(result, dict)
        for error in result.get("errors") or []
    )
    return Outcome(sent, answered, response.status_code, codes)


@dataclass
class SteadyLoad:
    """`workers` threads each calling `request(client)` in a loop until stopped."""

    request: Callable[[httpx.Client], Outcome]
    workers: int = 3
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self) -> None:
        with httpx.Client() as client:
            while not self._stop.is_set():
                outcome = self.request(client)
                with self._lock:
                    self.outcomes.append(outcome)
                if outcome.status != 200:
                    time.sleep(0.05)  # no hot loop while the server refuses

    def __enter__(self) -> SteadyLoad:
        for _ in range(self.workers):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def wait_for(
        self, wanted: Callable[[Outcome], bool], count: int, timeout_s: float = 120
    ) -> None:
        """Keep the load going until `count` answered requests match `wanted`."""
        deadline = time.monotonic() + timeout_s
        while sum(map(wanted, self.snapshot())) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} wanted answers in {timeout_s:.0f} s")
            time.sleep(0.2)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)


@pytest.fixture(scope="module")
def live_api(
    neo4j_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    """The app under uvicorn over the suite's Neo4j, with the tests' writer token."""
    from tests.api_client import WRITER_TOKEN

    env = {**os.environ, **neo4j_env, "THREATGRAPH_API_TOKENS": WRITER_TOKEN}
    with served(env, tmp_path_factory.mktemp("live-api") / "api.log") as live:
        yield live
