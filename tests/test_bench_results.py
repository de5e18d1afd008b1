"""Where the benchmark writes its results (a smaller run never overwrites a full one), and
docs/performance.md's block made from them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench import report, run

ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE_PAGE = ROOT / "docs" / "performance.md"


def test_results_files_by_profile_and_what_the_day_already_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "RESULTS_DIR", tmp_path)
    assert run.results_path("2026-11-26", "quick") == tmp_path / "2026-11-26.json"
    assert run.results_path("2026-11-26", "scaling") == tmp_path / "2026-11-26-scaling.json"
    (tmp_path / "2026-11-26.json").write_text('{"profile": "quick"}')
    # A later run of the day replaces a quick one...
    assert run.results_path("2026-11-26", "quick") == tmp_path / "2026-11-26.json"
    assert run.results_path("2026-11-26", "full") == tmp_path / "2026-11-26.json"
    # ...but a quick run goes beside a full one (it took hours), which only a full run replaces.
    (tmp_path / "2026-11-26.json").write_text('{"profile": "full"}')
    assert run.results_path("2026-11-26", "quick") == tmp_path / "2026-11-26-quick.json"
    assert run.results_path("2026-11-26", "full") == tmp_path / "2026-11-26.json"


CHART = re.compile(r"!\[latency by size\]\((\.\./bench/results/[^)]+\.png)\)")


def test_the_performance_page_block_is_the_one_its_results_file_makes() -> None:
    # docs/performance.md's block is generated (`python -m bench performance <results.json>`):
    # a hand edit, or a results file replaced by a later run without regenerating it, shows here.
    page = PERFORMANCE_PAGE.read_text()
    start = page.index(report.BLOCK_START)
    end = page.index(report.BLOCK_END) + len(report.BLOCK_END)
    block = page[start:end]
    chart = CHART.search(block)
    assert chart, "docs/performance.md's block names no chart"
    chart_file = (PERFORMANCE_PAGE.parent / chart.group(1)).resolve()
    results_file = chart_file.with_suffix(".json")
    assert chart_file.exists() and results_file.exists()
    results = json.loads(results_file.read_text())
    assert block == report.performance_section(results, run.QUESTION_NAMES, chart.group(1))


def test_the_block_lives_on_the_performance_page_not_in_the_readme() -> None:
    assert run.PERFORMANCE_PAGE == PERFORMANCE_PAGE
    assert report.BLOCK_START not in (ROOT / "README.md").read_text()


def test_regenerating_rewrites_only_the_block_linking_the_chart_from_the_page(
    tmp_path: Path,
) -> None:
    original = PERFORMANCE_PAGE.read_text()
    chart = CHART.search(original)
    assert chart
    results_file = (PERFORMANCE_PAGE.parent / chart.group(1)).resolve().with_suffix(".json")
    assert run.chart_link(results_file.with_suffix(".png"), PERFORMANCE_PAGE) == chart.group(1)
    # The same page one folder up links the same chart by another path.
    page = tmp_path / "performance.md"
    page.write_text(original)
    run.update_performance_page(str(results_file), page)
    text = page.read_text()
    link = run.chart_link(results_file.with_suffix(".png"), page)
    assert link != chart.group(1) and f"![latency by size]({link})" in text
    before, after = original.split(report.BLOCK_START)[0], original.split(report.BLOCK_END)[1]
    assert text.startswith(before) and text.endswith(after)
