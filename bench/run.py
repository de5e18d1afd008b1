"""One benchmark run: for each size, a fresh Neo4j, ingest, the five questions through
direct Cypher, our API (both executors) and the peer, at 1, 16 and 64 clients.

Everything for one size is measured in the same run on the same database, and
the targets side by side (each question at each concurrency on every target in
turn, bench/loadgen.py), so the ratios hold even though the machine is shared and
absolute times drift.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import ingest, report, verify
from bench.answers import PEER_NOTES, answer_path
from bench.generate import generate
from bench.questions import Question, questions
from bench.reference import Reference
from bench.servers import (
    PEER_DIR,
    WORK_DIR,
    Service,
    bench_neo4j,
    neo4j_env,
    start_api,
    start_peer,
)
from bench.writes import measure_writes
from graph.server.process import ManagedServer
from graph.store.database import Graph

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PEERS = ("peer", "peer-tuned")
EXECUTORS = ("compiled", "resolvers")
CONCURRENCY = (1, 16, 64)
REQUEST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Profile:
    name: str
    sizes: tuple[int, ...]
    seconds_per_cell: float
    warmup: int
    concurrency: tuple[int, ...] = CONCURRENCY
    # Each cell's warm-up stops after `warmup` requests or this many seconds, whichever
    # comes first (at 1M nodes one hub question takes seconds).
    warmup_seconds: float = 3.0
    # A request slower than this fails, counted as an error (bench/loadgen.py).
    request_timeout_s: float = REQUEST_TIMEOUT_S
    # A cell measures for `seconds_per_cell` and until it has sent this many requests,
    # within `max_seconds_per_cell` (slow questions: bench/loadgen.py).
    min_requests: int = 30
    max_seconds_per_cell: float = 60.0
    # False: only the compiled API and its direct floor (no resolvers, peer, floor
    # ingest or importers), for the scaling ratio alone.
    compare: bool = True
    # The resolvers executor and its floor (api-resolvers, direct-resolvers): no
    # target depends on them, and they are two fifths of the measuring time.
    resolvers: bool = True


PROFILES = {
    # About 10 minutes: the targets' figures (direct, api-compiled, peer), ingest.
    "quick": Profile("quick", (10_000, 100_000), 2.5, 5, resolvers=False),
    "full": Profile("full", (10_000, 100_000, 1_000_000), 4.0, 10),
    # The smallest size only: a few minutes, for a check after a change.
    "small": Profile("small", (10_000,), 2.5, 5),
    # Seconds, for developing the benchmark itself.
    "smoke": Profile("smoke", (2_000,), 0.5, 2),
    # p50(1M) / p50(10k) alone: one client, api-compiled and direct only (about 35
    # minutes here, 18 of them loading 1M nodes), for when bench-full cannot run.
    "scaling": Profile("scaling", (10_000, 1_000_000), 4.0, 5, (1,), compare=False),
}


def warm_up_pass(profile: Profile) -> Profile:
    """The discarded pass before measuring: every cell of the profile, one second each."""
    return dataclasses.replace(
        profile, name="warm-up", seconds_per_cell=1.0, warmup=5, min_requests=0
    )


def say(message: str) -> None:
    print(
        f"[bench {dt.datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True
    )


def run_loadgen(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The load generator in its own process (see bench/loadgen.py for why)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=json.dumps(plan).encode(),
        capture_output=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{completed.stderr.decode()[-3000:]}")
    cells: list[dict[str, Any]] = json.loads(completed.stdout)["cells"]
    return cells


@dataclass(frozen=True)
class Target:
    """What is measured: a question phrasing sent to one endpoint.

    `phrasing` is "direct" (the compiled executor's Cypher), "direct-resolvers"
    (graph/reads/questions.py's), "ours" (GraphQL to our API) or "peer"; `endpoint` is
    the load generator's {"kind": "http", "url"} or {"kind": "bolt", "neo4j": {...}}.
    """

    phrasing: str
    endpoint: dict[str, Any]


def bolt(server: ManagedServer) -> dict[str, Any]:
    env = neo4j_env(server)
    return {"uri": env["NEO4J_URI"], "user": env["NEO4J_USER"], "password": env["NEO4J_PASSWORD"]}


def payloads(question: Question, phrasing: str) -> list[dict[str, Any]]:
    if phrasing == "direct":
        return [r.compiled for r in question.requests]
    if phrasing == "direct-resolvers":
        return [r.resolvers for r in question.requests]
    return [getattr(r, phrasing.replace("-", "_")) for r in question.requests]


def interleaved_cells(
    asked: list[Question], targets: dict[str, Target], profile: Profile
) -> list[dict[str, Any]]:
    """Every question at every concurrency on every target, side by side.

    Each (question, concurrency) group is measured on all targets in turn, so their
    ratios compare measurements seconds apart; the order turns from group to group,
    so that no target is always first (the cycle itself stays the same). One-client
    groups go further: the load generator alternates our targets request by request.
    The peer's one-client cell runs on its own right after them (a group of its own):
    at 1M nodes its alias look-up is a 236 ms scan, and every answer alternating with
    it came slower, our alias look-up's p50 1.02 -> 2.02 ms direct and 1.74 -> 2.93 ms
    through the API (kept 1M graph, 2026-11-27), while at 10k its 5 ms scan cost ours
    nothing (0.95 -> 0.93 ms direct): the scaling ratio counted the peer's scans as our
    growth.
    """
    names = list(targets)
    cells = []
    for index, question in enumerate(asked):
        for level, concurrency in enumerate(profile.concurrency):
            # Turned by question and by concurrency level alike, so that each level's
            # first target changes from question to question.
            turn = (index + level) % len(names)
            group = index * len(profile.concurrency) + level
            order = names[turn:] + names[:turn]
            if concurrency == 1:  # the peer's cell last (a stable sort keeps ours turning)
                order.sort(key=lambda name: _alone(targets[name]))
            for name in order:
                alone = concurrency == 1 and _alone(targets[name])
                cells.append(
                    {
                        "group": f"{group}-{name}" if alone else str(group),
                        "target": name,
                        "question": question.name,
                        "concurrency": concurrency,
                        "seconds": profile.seconds_per_cell,
                        "min_requests": profile.min_requests,
                        "max_seconds": profile.max_seconds_per_cell,
                        "warmup": profile.warmup,
                        "warmup_seconds": profile.warmup_seconds,
                        "first_of_question": concurrency == profile.concurrency[0],
                        "requests": payloads(question, targets[name].phrasing),
                        "answer_path": answer_path(question.name, targets[name].phrasing),
                        "timeout_s": profile.request_timeout_s,
                    }
                )
    return cells


def _alone(target: Target) -> bool:
    """Whether a target's one-client cell runs apart from the request-by-request turns."""
    return target.phrasing in PEERS


@dataclass
class Measured:
    latency: dict[str, dict[str, dict[str, Any]]]  # target -> question -> concurrency -> figures
    leftover_transactions_ended: dict[str, int]  # target -> transactions terminated after it


def measure(
    server: ManagedServer, asked: list[Question], profile: Profile, targets: dict[str, Target]
) -> Measured:
    say(f"  {', '.join(targets)}: {len(asked)} questions x {profile.concurrency} clients")
    plan = {
        "targets": {name: target.endpoint for name, target in targets.items()},
        "request_timeout_s": profile.request_timeout_s,
        "end_leftovers": bolt(server),
        "cells": interleaved_cells(asked, targets, profile),
    }
    latency: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in targets}
    leftovers = dict.fromkeys(targets, 0)
    for cell in run_loadgen(plan):
        latency[cell["target"]].setdefault(cell["question"], {})[str(cell["concurrency"])] = (
            report.summarise(cell)
        )
        leftovers[cell["target"]] += cell["leftover_transactions_ended"]
    return Measured(latency, leftovers)


def _loader_graph(server: ManagedServer) -> Graph:
    """A Graph for bulk writes: the API's 10 s transaction limit is for questions, not loads."""
    return Graph.connect(env={**neo4j_env(server), "THREATGRAPH_TRANSACTION_TIMEOUT_MS": "600000"})


async def _ingest(
    server: ManagedServer, raw: list[dict[str, Any]], nodes: int
) -> ingest.IngestResult:
    async with _loader_graph(server) as graph:
        await ingest.warm_up_ours(graph, nodes)
        return await ingest.load_ours(graph, raw)


async def _floors_and_importers(
    server: ManagedServer, raw: list[dict[str, Any]], nodes: int, importers: bool
) -> tuple[ingest.IngestResult, ingest.IngestResult, dict[str, Any] | None]:
    """The bare floor, the indexed floor, then (when asked) the importers."""
    async with _loader_graph(server) as graph:
        documents = ingest.validated(raw)
        await ingest.warm_up_floor(graph, nodes, indexed=False)
        floor = await ingest.load_floor(graph, documents, indexed=False)
        await ingest.warm_up_floor(graph, nodes, indexed=True)
        indexed = await ingest.load_floor(graph, documents, indexed=True)
        imported = await ingest.import_misp_and_attack(graph) if importers else None
        return floor, indexed, imported


def endpoints(targets: dict[str, Target]) -> dict[str, verify.Endpoint]:
    """Each target as bench/verify.py asks it."""
    return {
        name: verify.Endpoint(
            target.phrasing, url=target.endpoint.get("url"), neo4j=target.endpoint.get("neo4j")
        )
        for name, target in targets.items()
    }


def run_size(nodes: int, profile: Profile, first: bool) -> dict[str, Any]:
    say(f"{nodes:,} nodes: generating")
    started = time.perf_counter()
    synthetic = generate(nodes)
    generate_seconds = time.perf_counter() - started
    asked = questions(synthetic)
    result: dict[str, Any] = {
        "nodes": nodes,
        "claims": synthetic.claim_count,
        "documents": len(synthetic.documents),
        "counts": synthetic.counts,
        "generate_seconds": round(generate_seconds, 3),
        "hub_agency": synthetic.hub_agency,
        "latency": {},
        "api_peak_rss_mb": {},
        # Transactions still running after each of a target's cells, terminated before the
        # next cell (bench/loadgen.py).
        "leftover_transactions_ended": {},
    }
    with bench_neo4j(str(nodes), nodes) as server:
        say(f"{nodes:,} nodes: loading through graph/writes/loading.py")
        ours = asyncio.run(_ingest(server, synthetic.documents, nodes))
        say(
            f"  loaded {ours.nodes:,} nodes, {ours.relationships:,} relationships "
            f"in {ours.seconds:.1f} s"
        )
        result["ingest"] = {"ours": ours.as_json()}
        # A fresh server's first reads pay for planning and for the JVM compiling the
        # runtime: one discarded pass of every question first, so that whichever
        # target is measured first is not billed for it.
        say(f"{nodes:,} nodes: warm-up pass (discarded)")
        direct = Target("direct", {"kind": "bolt", "neo4j": bolt(server)})
        measure(server, asked, warm_up_pass(profile), {"direct": direct})
        both = profile.compare and profile.resolvers
        targets = {"direct": direct}
        if both:
            targets["direct-resolvers"] = Target("direct-resolvers", direct.endpoint)
        # Every server up at once, idle while another is measured: the cells alternate.
        services: list[Service] = []
        try:
            for executor in EXECUTORS if both else EXECUTORS[:1]:
                api = start_api(server, executor)
                services.append(api)
                targets[api.name] = Target("ours", {"kind": "http", "url": api.url})
            if profile.compare:
                for tuned in (False, True):
                    peer = start_peer(server, tuned=tuned)
                    services.append(peer)
                    targets[peer.name] = Target(peer.name, {"kind": "http", "url": peer.url})
            say(f"{nodes:,} nodes: checking every target's answers")
            reference = Reference(synthetic)
            found = verify.mismatches(reference, asked, endpoints(targets))
            result["mismatches"] = found
            if found:
                raise verify.AnswersDiffer(found)
            measured = measure(server, asked, profile, targets)
            if profile.compare:
                say(f"{nodes:,} nodes: write to visible, api-compiled")
                writes = measure_writes(
                    targets["api-compiled"].endpoint["url"], reference, profile.request_timeout_s
                )
                # Each write's latency is kept too, in the order sent: a few writes,
                # where one slow one is p99 and which one it was matters.
                result["write_to_visible"] = {
                    clients: cell
                    if "not_measured" in cell
                    else {
                        **report.summarise(cell),
                        "each_ms": [round(x, 1) for x in cell["latencies_ms"]],
                    }
                    for clients, cell in writes.items()
                }
            for service in services:
                if service.name in PEERS:
                    result.setdefault("peer_peak_rss_mb", {})[service.name] = service.peak_rss_mb()
                else:
                    result["api_peak_rss_mb"][service.name] = service.peak_rss_mb()
        finally:
            for service in services:
                service.stop()
        result["latency"] = measured.latency
        result["leftover_transactions_ended"] = measured.leftover_transactions_ended
        if not profile.compare:
            return result
        say(f"{nodes:,} nodes: floor ingest" + (" and MISP + ATT&CK import" if first else ""))
        floor, indexed, imported = asyncio.run(
            _floors_and_importers(server, synthetic.documents, nodes, first)
        )
        result["ingest"]["floor"] = floor.as_json()
        result["ingest"]["indexed_floor"] = indexed.as_json()
        result["ingest"]["ours_over_floor"] = round(floor.seconds / ours.seconds, 3)
        result["ingest"]["ours_over_indexed_floor"] = round(indexed.seconds / ours.seconds, 3)
        if imported is not None:
            result["importers"] = {**imported, "onto": f"the {nodes:,}-node synthetic graph"}
    return result


def _commit() -> str | None:
    """The commit measured, with "+changes" when the working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS_DIR.parent.parent,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS_DIR.parent.parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def _version(command: list[str]) -> str | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return None


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    peer_lock = json.loads((PEER_DIR / "package-lock.json").read_text())["packages"]
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "node": _version(["node", "--version"]),
        "java": (_version(["java", "-version"]) or None),
        "versions": {
            "neo4j_server": ManagedServer.__module__ and _neo4j_version(),
            "neo4j_python_driver": version("neo4j"),
            "strawberry_graphql": version("strawberry-graphql"),
            "uvicorn": version("uvicorn"),
            "starlette": version("starlette"),
            "neo4j_graphql": peer_lock["node_modules/@neo4j/graphql"]["version"],
            "apollo_server": peer_lock["node_modules/@apollo/server"]["version"],
            "graphql_js": peer_lock["node_modules/graphql"]["version"],
            "neo4j_driver_js": peer_lock["node_modules/neo4j-driver"]["version"],
            "apoc_core": "5.26.19",
        },
        "shared_machine_note": (
            "other work shared these 2 cores during the run: absolute times drift, "
            "ratios measured in the same run are what to compare"
        ),
    }


def _neo4j_version() -> str:
    from graph.server.config import ManagedServerSettings

    return ManagedServerSettings.from_env({}).neo4j_version


EXECUTOR_NOTE = (
    "api-compiled and api-resolvers are the API run with THREATGRAPH_EXECUTOR=compiled and "
    "=resolvers. Where the API has no compiled executor (it ignores the variable), both rows "
    "measure the same code and differ only by noise."
)


COMMANDS = {"quick": "make bench", "full": "make bench-full"}


def results_path(date: str, profile: str) -> Path:
    """Where a run's results go: <date>.json for the runs docs/performance.md shows (quick, full),
    <date>-<profile>.json for any other profile, and for a quick run on a day whose
    <date>.json already holds a full run (hours of measuring a smaller run must not
    overwrite)."""
    plain = RESULTS_DIR / f"{date}.json"
    beside = RESULTS_DIR / f"{date}-{profile}.json"
    if profile not in COMMANDS:
        return beside
    full_run_there = plain.exists() and json.loads(plain.read_text()).get("profile") == "full"
    return beside if profile != "full" and full_run_there else plain


def run(profile: Profile) -> Path:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    results: dict[str, Any] = {
        "date": date,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "profile": profile.name,
        "command": COMMANDS.get(profile.name, f"python -m bench {profile.name}"),
        "seconds_per_cell": profile.seconds_per_cell,
        "min_requests_per_cell": profile.min_requests,
        "max_seconds_per_cell": profile.max_seconds_per_cell,
        "warmup_seconds_per_cell": profile.warmup_seconds,
        "request_timeout_s": profile.request_timeout_s,
        "concurrency": list(profile.concurrency),
        "machine": machine(),
        "commit": _commit(),
        # Every target's answer to every request was checked against bench/reference.py
        # before timing (bench/verify.py); a run with a mismatch stops and writes nothing.
        "answers_checked": True,
        "mismatches": [],
        "peer_notes": PEER_NOTES,
        "executor_note": EXECUTOR_NOTE,
        "load_generator": (
            "bench/loadgen.py, its own process: closed-loop asyncio clients "
            "(aiohttp for HTTP, the async neo4j driver for direct Cypher)"
        ),
        "sizes": {},
    }
    say(EXECUTOR_NOTE)
    json_path = results_path(date, profile.name)
    for index, nodes in enumerate(profile.sizes):
        try:
            results["sizes"][str(nodes)] = run_size(nodes, profile, first=index == 0)
        except verify.AnswersDiffer as differ:
            say(str(differ))
            raise SystemExit(f"{nodes:,} nodes: the answers differ; nothing was timed") from differ
        # Written after every size, so an interrupted run still leaves what it measured.
        results["sizes_done"] = list(results["sizes"])
        write_outputs(results, json_path)
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    write_outputs(results, json_path)
    report.print_table(results, QUESTION_NAMES)
    say(f"results: {json_path}")
    return json_path


QUESTION_NAMES = [q.name for q in questions(generate(2_000))]


def write_outputs(results: dict[str, Any], json_path: Path) -> None:
    """The results JSON, the chart beside it (.png) and the table (.md)."""
    results["ratios"] = report.ratios(results, QUESTION_NAMES)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    report.write_chart(results, QUESTION_NAMES, json_path.with_suffix(".png"))
    table = report.markdown_table(results, QUESTION_NAMES)
    json_path.with_suffix(".md").write_text(table + "\n")


PERFORMANCE_PAGE = RESULTS_DIR.parent.parent / "docs" / "performance.md"


def chart_link(chart: Path, page: Path) -> str:
    """The chart's path as the page links it (relative to the page's folder, with /)."""
    return Path(os.path.relpath(chart, page.parent)).as_posix()


def update_performance_page(json_path: str, page: Path | None = None) -> None:
    """Put a results file's ratios, table and chart into docs/performance.md's block."""
    page = page or PERFORMANCE_PAGE
    path = Path(json_path).resolve()
    results = json.loads(path.read_text())
    chart = chart_link(path.with_suffix(".png"), page.resolve())
    report.update_block(page, report.performance_section(results, QUESTION_NAMES, chart))
