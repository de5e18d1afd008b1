"""The processes under test: the bench's own Neo4j, our API, the peer.

Every one runs on free ports in bench/.work/, never on the defaults, so the
benchmark runs beside `make run` and the test suite.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import neo4j

from bench.peer_tuned import ALIAS_INDEX_STATEMENT, tuned_typedefs
from bench.writes import WRITE_TOKEN
from graph.server.config import ManagedServerSettings
from graph.server.install import install_plugins
from graph.server.process import ManagedServer, free_port
from graph.store.settings import PROJECT_ROOT

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / ".work"
PEER_DIR = BENCH_DIR / "peer"
PLUGINS_DIR = PROJECT_ROOT / ".neo4j" / "plugins"
LIB_DIR = PROJECT_ROOT / ".neo4j" / "lib"


@dataclass(frozen=True)
class Memory:
    heap_mb: int
    page_cache_mb: int


def memory_for(nodes: int) -> Memory:
    """Enough page cache to hold the store (the questions are about the graph, not the disk).

    Measured after loading (data/databases/neo4j, range indexes included): 37 MB at
    10k nodes, 406 MB at 100k, 3.5 GB at 1M. Until 2026-11-27 the 1M server had 3 GB.
    """
    if nodes >= 500_000:
        return Memory(heap_mb=3072, page_cache_mb=5120)
    return Memory(heap_mb=1536, page_cache_mb=1024)


@contextlib.contextmanager
def bench_neo4j(name: str, nodes: int) -> Iterator[ManagedServer]:
    """A fresh Neo4j (empty data folder) with APOC core in its plugins; stopped afterwards."""
    home = WORK_DIR / f"neo4j-{name}"
    shutil.rmtree(home, ignore_errors=True)
    memory = memory_for(nodes)
    settings = ManagedServerSettings(
        home=home,
        lib_dir=LIB_DIR,
        neo4j_version=ManagedServerSettings.from_env({}).neo4j_version,
        bolt_port=free_port(),
        http_port=free_port(),
        heap_mb=memory.heap_mb,
        page_cache_mb=memory.page_cache_mb,
        transaction_timeout_ms=600_000,
        # No cap on one transaction's memory (Neo4j's 0), as before the managed server had
        # one: the bench's bulk loads and deletes of up to 1M nodes need more than the
        # API's default (graph/server/config.py), and questions stay bounded by the
        # server's global transaction pool as in every earlier run.
        transaction_memory_mb=0,
    )
    install_plugins(PLUGINS_DIR, LIB_DIR)
    (home / "plugins").mkdir(parents=True, exist_ok=True)
    for jar in PLUGINS_DIR.glob("*.jar"):
        shutil.copy2(jar, home / "plugins" / jar.name)
    server = ManagedServer(settings)
    server.start(timeout_s=300)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def neo4j_env(server: ManagedServer) -> dict[str, str]:
    return {
        "NEO4J_URI": server.settings.bolt_uri,
        "NEO4J_USER": server.user,
        "NEO4J_PASSWORD": server.password,
        "NEO4J_DATABASE": "neo4j",
    }


@dataclass
class Service:
    """A server process we started, with the URL it answers on."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def peak_rss_mb(self) -> float | None:
        """VmHWM: the most resident memory the process has held since it started."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_until_answers(service: Service, probe: bytes, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode} while starting; "
                f"its log ({service.log}):\n{service.log.read_text(errors='replace')[-2000:]}"
            )
        request = urllib.request.Request(
            service.url, data=probe, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    service.stop()
    raise RuntimeError(f"{service.name} did not answer on {service.url} within {timeout_s:.0f} s")


PROBE = b'{"query": "{ __typename }"}'


def start_api(server: ManagedServer, executor: str) -> Service:
    """Our API under uvicorn (one worker, as `threatgraph serve`), with THREATGRAPH_EXECUTOR."""
    port = free_port()
    log = WORK_DIR / f"api-{executor}.log"
    env = {
        **os.environ,
        **neo4j_env(server),
        "THREATGRAPH_EXECUTOR": executor,
        "THREATGRAPH_API_TOKENS": WRITE_TOKEN,
    }
    command = [
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
        "--no-access-log",
    ]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    service = Service(f"api-{executor}", process, f"http://127.0.0.1:{port}/graphql", log)
    _wait_until_answers(service, PROBE)
    return service


def start_peer(server: ManagedServer, tuned: bool = False) -> Service:
    """@neo4j/graphql 7 on Apollo Server 5 (bench/peer/server.mjs) over the same database:
    as typically written, or `tuned` as its documentation advises (bench/peer_tuned.py)."""
    if not (PEER_DIR / "node_modules" / "@neo4j" / "graphql").exists():
        raise RuntimeError(f"the peer is not installed: run `make bench-install` ({PEER_DIR})")
    name = "peer-tuned" if tuned else "peer"
    port = free_port()
    log = WORK_DIR / f"{name}.log"
    typedefs = PEER_DIR / "typedefs.graphql"
    env = {**os.environ, **neo4j_env(server), "PORT": str(port), "NODE_ENV": "production"}
    if tuned:
        typedefs = WORK_DIR / "typedefs-tuned.graphql"
        typedefs.write_text(tuned_typedefs(PEER_DIR / "typedefs.graphql"))
        with neo4j.GraphDatabase.driver(
            env["NEO4J_URI"], auth=(env["NEO4J_USER"], env["NEO4J_PASSWORD"])
        ) as driver:
            driver.execute_query(ALIAS_INDEX_STATEMENT, database_="neo4j")
            driver.execute_query("CALL db.awaitIndexes(600)", database_="neo4j")
    env["TYPEDEFS"] = str(typedefs)
    with log.open("wb") as handle:
        process = subprocess.Popen(
            ["node", "server.mjs"], cwd=PEER_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    service = Service(name, process, f"http://127.0.0.1:{port}/", log)
    _wait_until_answers(service, PROBE)
    return service
