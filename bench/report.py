"""Figures from raw latencies, the ratios the issue asks for, and the three outputs:
results JSON, a matplotlib chart, a rich table."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TARGETS = {
    "api_over_direct_p50": ("<=", 1.2, "API / direct Cypher p50 at 100k nodes"),
    "ours_over_peer_tuned_throughput_16": (
        ">=",
        1.5,
        "ours / tuned @neo4j/graphql req/s at 16 clients",
    ),
    "ours_over_peer_tuned_throughput_16_lowest": (
        ">=",
        1.0,
        "the lowest question's ours / tuned @neo4j/graphql req/s at 16 clients",
    ),
    "ours_over_peer_tuned_p99_16": ("<=", 1.0, "ours / tuned @neo4j/graphql p99 at 16 clients"),
    "p50_1m_over_10k": ("<=", 2.0, "p50(1M) / p50(10k), every question"),
    "ingest_over_floor": (">=", 0.8, "ingest throughput, ours / bare UNWIND floor"),
    "api_peak_rss_mb": ("<=", 300.0, "API peak RSS under 64 clients (MB)"),
}
# Reported beside the targets, without one of their own.
CONTEXT_RATIOS = {
    "ours_over_peer_throughput_16": "ours / @neo4j/graphql as typically written, req/s, 16 clients",
    "ours_over_peer_p99_16": "ours / @neo4j/graphql as typically written, p99 at 16 clients",
    "ingest_over_indexed_floor": "ingest throughput, ours / the same floor into the API's indexes",
}
# The ratios over questions: (the other target, the figure, clients).
QUESTION_RATIOS = {
    "ours_over_peer_tuned_throughput_16": ("peer-tuned", "req_per_s", 16),
    "ours_over_peer_tuned_p99_16": ("peer-tuned", "p99_counting_failures_ms", 16),
    "ours_over_peer_throughput_16": ("peer", "req_per_s", 16),
    "ours_over_peer_p99_16": ("peer", "p99_counting_failures_ms", 16),
}
PEER_TARGETS = ("peer", "peer-tuned")
API_MODES = ("api-compiled", "api-resolvers")
# Each mode's floor: the same Cypher it runs, sent straight through the driver.
DIRECT_FOR = {"api-compiled": "direct", "api-resolvers": "direct-resolvers"}


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN when there are none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's figures. Latencies are of answered requests; `p99_counting_failures_ms`
    counts each failed request (error, refusal, empty answer) as taking the request
    timeout, so that a target does not look faster for failing: the ratios use it."""
    values = sorted(cell["latencies_ms"])
    timeout_ms = (cell.get("timeout_s") or 0) * 1000
    counting_failures = sorted(values + [timeout_ms] * cell["errors"]) if timeout_ms else values
    return {
        "requests": len(values),
        "errors": cell["errors"],
        "first_error": cell["first_error"],
        "p50_ms": round(percentile(values, 0.50), 3),
        "p95_ms": round(percentile(values, 0.95), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
        "p99_counting_failures_ms": round(percentile(counting_failures, 0.99), 3),
        "req_per_s": round(len(values) / cell["wall_s"], 2) if cell["wall_s"] else 0.0,
    }


def geomean(values: Iterable[float]) -> float | None:
    usable = [v for v in values if v and v > 0 and math.isfinite(v)]
    if not usable:
        return None
    return round(math.exp(sum(math.log(v) for v in usable) / len(usable)), 3)


def figure(
    results: dict[str, Any], size: str, target: str, question: str, concurrency: int
) -> dict[str, Any] | None:
    cells: dict[str, Any] = results["sizes"].get(size, {}).get("latency", {})
    found: dict[str, Any] | None = cells.get(target, {}).get(question, {}).get(str(concurrency))
    return found


def _value(cell: dict[str, Any] | None, key: str) -> float | None:
    if not cell:
        return None
    if key == "p99_counting_failures_ms" and key not in cell:  # runs before 2026-12-04
        key = "p99_ms"
    value = cell.get(key)
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def question_ratios(
    results: dict[str, Any],
    questions: list[str],
    ours_at: tuple[str, str],
    theirs_at: tuple[str, str],
    key: str,
    concurrency: int,
) -> tuple[dict[str, float | None], dict[str, str]]:
    """ours / theirs for each question, and why, for each one that has no value.

    `ours_at` and `theirs_at` are (size, target)."""
    values: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    for question in questions:
        pair = []
        for size, target in (ours_at, theirs_at):
            cell = figure(results, size, target, question, concurrency)
            value = _value(cell, key)
            if value is None:
                answered = cell["requests"] if cell else 0
                errors = cell["errors"] if cell else 0
                reasons[question] = (
                    f"{target} at {int(size):,} nodes, {concurrency} clients: not measured"
                    if not cell
                    else f"{target} at {int(size):,} nodes, {concurrency} clients: "
                    f"{answered} answered, {errors} failed"
                )
            pair.append(value)
        ours, theirs = pair
        values[question] = (
            float(f"{ours / theirs:.4g}") if ours is not None and theirs is not None else None
        )
    return values, reasons


def over_all(values: dict[str, float | None], reasons: dict[str, str]) -> tuple[float | None, str]:
    """The geometric mean over every question, or None and why: a question missing on
    either side never makes the mean of the others."""
    if not values:
        return None, "no question was measured"
    if reasons:
        question, reason = next(iter(reasons.items()))
        return None, f"{question}: {reason}"
    return geomean(v for v in values.values() if v is not None), ""


def ratios(results: dict[str, Any], questions: list[str]) -> dict[str, Any]:
    """The headline ratios: geometric means over every question, each question's value
    beside it (`per_question`), and the reason for each ratio that has none (`why_null`)."""
    sizes = list(results["sizes"])
    at = "100000" if "100000" in sizes else sizes[-1]
    out: dict[str, Any] = {"measured_at_nodes": int(at)}
    per_question: dict[str, dict[str, float | None]] = {}
    why_null: dict[str, str] = {}

    def record(name: str, values: dict[str, float | None], reasons: dict[str, str]) -> Any:
        per_question[name] = values
        value, why = over_all(values, reasons)
        if value is None:
            why_null[name] = why
        return value

    by_mode: dict[str, Any] = {}
    for mode in API_MODES:
        if not any(figure(results, at, mode, q, 1) for q in questions):
            continue
        mode_ratios: dict[str, Any] = {}
        name = "api_over_direct_p50"
        values, reasons = question_ratios(
            results, questions, (at, mode), (at, DIRECT_FOR[mode]), "p50_ms", 1
        )
        mode_ratios[name] = record(f"{mode}:{name}", values, reasons)
        for name, (other, key, concurrency) in QUESTION_RATIOS.items():
            values, reasons = question_ratios(
                results, questions, (at, mode), (at, other), key, concurrency
            )
            mode_ratios[name] = record(f"{mode}:{name}", values, reasons)
        if "10000" in sizes and "1000000" in sizes:
            values, reasons = question_ratios(
                results, questions, ("1000000", mode), ("10000", mode), "p50_ms", 1
            )
            mode_ratios["p50_1m_over_10k"] = record(f"{mode}:p50_1m_over_10k", values, reasons)
        by_mode[mode] = mode_ratios
    headline = by_mode.get(API_MODES[0], {})
    out.update(headline)
    lowest = [
        v
        for v in per_question.get(f"{API_MODES[0]}:ours_over_peer_tuned_throughput_16", {}).values()
        if v is not None
    ]
    out["ours_over_peer_tuned_throughput_16_lowest"] = (
        min(lowest) if lowest and out.get("ours_over_peer_tuned_throughput_16") else None
    )
    if "p50_1m_over_10k" not in headline:
        out["p50_1m_over_10k"] = None
        why_null[f"{API_MODES[0]}:p50_1m_over_10k"] = (
            "the 1M profile did not run (make bench-full runs it)"
        )
    ingest = results["sizes"][at].get("ingest", {})
    if ingest.get("ours") and ingest.get("floor"):
        out["ingest_over_floor"] = round(ingest["floor"]["seconds"] / ingest["ours"]["seconds"], 3)
    if ingest.get("ours") and ingest.get("indexed_floor"):
        # Not a target: the same floor writing into a copy of the API's indexes.
        out["ingest_over_indexed_floor"] = round(
            ingest["indexed_floor"]["seconds"] / ingest["ours"]["seconds"], 3
        )
    rss = [results["sizes"][s].get("api_peak_rss_mb", {}).get(API_MODES[0]) for s in sizes]
    rss_values = [value for value in rss if value is not None]
    out["api_peak_rss_mb"] = max(rss_values) if rss_values else None
    out["by_mode"] = by_mode
    out["per_question"] = per_question
    out["why_null"] = why_null
    out["targets"] = {
        key: {
            "target": f"{op} {limit}",
            "what": what,
            "met": _met(out.get(key), op, limit),
        }
        for key, (op, limit, what) in TARGETS.items()
    }
    return out


def _at_least(results: dict[str, Any]) -> str:
    minimum = results.get("min_requests_per_cell")  # absent from runs before 2026-11-26 evening
    if not minimum:
        return ""
    return f" and at least {minimum} requests (within {results['max_seconds_per_cell']} s a target)"


def _met(value: Any, op: str, limit: float) -> bool | None:
    if value is None:
        return None
    return bool(value <= limit) if op == "<=" else bool(value >= limit)


def write_chart(results: dict[str, Any], questions: list[str], path: Path) -> None:
    """Latency (p50 at 1 client, log scale) by graph size, one panel per question."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results["sizes"], key=int)
    targets = [
        ("direct", "direct Cypher (compiled)"),
        ("direct-resolvers", "direct Cypher (resolvers)"),
        *[(m, m) for m in API_MODES],
        ("peer", "@neo4j/graphql"),
        ("peer-tuned", "@neo4j/graphql, tuned"),
    ]
    figure_, axes = plt.subplots(1, len(questions), figsize=(4 * len(questions), 3.6), sharey=True)
    for axis, question in zip(axes, questions, strict=True):
        for target, label in targets:
            points = [
                (int(size), cell["p50_ms"])
                for size in sizes
                if (cell := figure(results, size, target, question, 1)) and cell["requests"]
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, marker="o", label=label)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(question.replace("_", " "), fontsize=9)
        axis.set_xlabel("nodes")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("p50 latency, 1 client (ms)")
    axes[-1].legend(fontsize=7)
    figure_.suptitle(f"threatgraph benchmark {results['date']}: ours vs peer vs direct Cypher")
    figure_.tight_layout()
    figure_.savefig(path, dpi=110)
    plt.close(figure_)


def table_rows(results: dict[str, Any], questions: list[str]) -> list[list[str]]:
    """size, question, target: p50/p99 at 1 and 16 clients, req/s at 16 and 64."""
    rows = []
    targets = ["direct", "direct-resolvers", *API_MODES, *PEER_TARGETS]
    for size in sorted(results["sizes"], key=int):
        for question in questions:
            for target in targets:
                one = figure(results, size, target, question, 1)
                sixteen = figure(results, size, target, question, 16)
                sixty_four = figure(results, size, target, question, 64)
                if not one:
                    continue
                rows.append(
                    [
                        f"{int(size):,}",
                        question,
                        target,
                        _ms(one, "p50_ms"),
                        _ms(one, "p99_ms"),
                        _ms(sixteen, "p50_ms"),
                        _ms(sixteen, "p99_ms"),
                        _rate(sixteen),
                        _rate(sixty_four),
                        str(sum(c["errors"] for c in (one, sixteen, sixty_four) if c)),
                    ]
                )
    return rows


TABLE_HEADER = [
    "nodes",
    "question",
    "target",
    "p50 c1",
    "p99 c1",
    "p50 c16",
    "p99 c16",
    "req/s c16",
    "req/s c64",
    "errors",
]


def _ms(cell: dict[str, Any] | None, key: str) -> str:
    if not cell or not cell["requests"]:
        return "-"
    return f"{cell[key]:.1f}"


def _rate(cell: dict[str, Any] | None) -> str:
    return f"{cell['req_per_s']:.0f}" if cell and cell["requests"] else "-"


PER_QUESTION_COLUMNS = (
    "api_over_direct_p50",
    "ours_over_peer_tuned_throughput_16",
    "ours_over_peer_tuned_p99_16",
    "ours_over_peer_throughput_16",
    "ours_over_peer_p99_16",
    "p50_1m_over_10k",
)


def per_question_rows(results: dict[str, Any], questions: list[str]) -> list[list[str]]:
    """Each question's value of each ratio (api-compiled), the geometric mean last."""
    ratio_values = results["ratios"]
    found = ratio_values.get("per_question", {})
    rows = []
    for question in questions:
        row = [question]
        for name in PER_QUESTION_COLUMNS:
            value = found.get(f"{API_MODES[0]}:{name}", {}).get(question)
            row.append("-" if value is None else str(value))
        rows.append(row)
    mean = ["geometric mean"]
    for name in PER_QUESTION_COLUMNS:
        value = ratio_values.get(name)
        mean.append("null" if value is None else str(value))
    return [*rows, mean]


def write_to_visible_lines(results: dict[str, Any]) -> list[str]:
    """Markdown: each size's write-to-visible latency (bench/writes.py), if measured."""
    lines = []
    for size in sorted(results["sizes"], key=int):
        found = results["sizes"][size].get("write_to_visible")
        if not found:
            continue
        parts = [
            f"{clients} client{'s' if clients != '1' else ''}: p50 {cell['p50_ms']:.0f} ms, "
            f"p99 {cell['p99_counting_failures_ms']:.0f} ms ({cell['requests']} writes, "
            f"{cell['errors']} failed)"
            for clients, cell in found.items()
            if "not_measured" not in cell
        ]
        lines.append(
            f"- write to visible at {int(size):,} nodes (`upsertRelation`, then "
            f"`incidents(linkedTo:)` until it answers with the claim): " + "; ".join(parts)
        )
    return lines


def print_table(results: dict[str, Any], questions: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"threatgraph benchmark {results['date']} (latency ms)")
    for column in TABLE_HEADER:
        table.add_column(column, justify="left" if column in ("question", "target") else "right")
    for row in table_rows(results, questions):
        table.add_row(*row)
    console = Console(width=160)
    console.print(table)
    ratios_table = Table(title="ratios (targets are reported, never asserted)")
    for column in ("ratio", "value", "target", "met"):
        ratios_table.add_column(column)
    for key, target in results["ratios"]["targets"].items():
        value = results["ratios"].get(key)
        ratios_table.add_row(
            key, "-" if value is None else str(value), target["target"], str(target["met"])
        )
    for key in CONTEXT_RATIOS:
        if results["ratios"].get(key) is not None:
            ratios_table.add_row(key, str(results["ratios"][key]), "(context)", "-")
    console.print(ratios_table)
    by_question = Table(title="each question's ratio (api-compiled)")
    for column in ("question", *PER_QUESTION_COLUMNS):
        by_question.add_column(column)
    for row in per_question_rows(results, questions):
        by_question.add_row(*row)
    console.print(by_question)
    for name, why in results["ratios"].get("why_null", {}).items():
        console.print(f"{name} is null: {why}")
    for line in write_to_visible_lines(results):
        console.print(line)


def markdown_table(results: dict[str, Any], questions: list[str]) -> str:
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results, questions)]
    return "\n".join(lines)


# docs/performance.md holds the latest run between these markers (`python -m bench performance`).
BLOCK_START = "<!-- bench:start -->"
BLOCK_END = "<!-- bench:end -->"


def performance_section(results: dict[str, Any], questions: list[str], chart: str) -> str:
    """docs/performance.md's generated block: command, conditions, ratios, table, chart."""
    sizes = ", ".join(f"{int(size):,}" for size in results["sizes"])
    ratio_lines = ["| ratio | value | target | met |", "|---|---|---|---|"]
    for key, target in results["ratios"]["targets"].items():
        value = results["ratios"].get(key)
        shown = "not measured" if value is None else str(value)
        ratio_lines.append(f"| `{key}` | {shown} | {target['target']} | {target['met']} |")
    for key, what in CONTEXT_RATIOS.items():
        if results["ratios"].get(key) is not None:
            ratio_lines.append(f"| `{key}` | {results['ratios'][key]} | ({what}) | - |")
    load = results["machine"]["load_average_at_start"]
    question_lines = [
        "| question | " + " | ".join(f"`{c}`" for c in PER_QUESTION_COLUMNS) + " |",
        "|---|" + "---|" * len(PER_QUESTION_COLUMNS),
        *["| " + " | ".join(row) + " |" for row in per_question_rows(results, questions)],
    ]
    null_lines = [
        f"- `{name}` is null: {why}" for name, why in results["ratios"].get("why_null", {}).items()
    ]
    note_lines = [f"- {q}: {note}" for q, note in results.get("peer_notes", {}).items()]
    write_lines = write_to_visible_lines(results)
    checked = (
        "Every target's answers were checked against the reference before timing "
        f"(`answers_checked: {str(results.get('answers_checked', False)).lower()}`, "
        f"{len(results.get('mismatches', []))} mismatches), commit `{results.get('commit')}`."
    )
    return "\n".join(
        [
            BLOCK_START,
            f"Latest run: `{results['command']}` on {results['date']} ({results['profile']} "
            f"profile; sizes measured: {sizes} nodes; {results['seconds_per_cell']} s per "
            f"cell{_at_least(results)}; load average {load[0]:.1f} on "
            f"{results['machine']['cpus']} CPUs at the start; the machine is shared and "
            "absolute times drift between runs: compare the ratios).",
            "",
            *ratio_lines,
            "",
            checked,
            "",
            *question_lines,
            "",
            *null_lines,
            *([""] if null_lines else []),
            *write_lines,
            *([""] if write_lines else []),
            "How the peers' answers are compared where they cannot ask exactly our question:",
            "",
            *note_lines,
            "",
            markdown_table(results, questions),
            "",
            f"![latency by size]({chart})",
            "",
            results["executor_note"],
            BLOCK_END,
        ]
    )


def update_block(page: Path, section: str) -> None:
    """Replace the generated block in `page` (between BLOCK_START and BLOCK_END)."""
    text = page.read_text()
    start, end = text.index(BLOCK_START), text.index(BLOCK_END) + len(BLOCK_END)
    page.write_text(text[:start] + section + text[end:])
