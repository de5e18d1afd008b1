"""Where the benchmark writes its results (a smaller run never overwrites a full one), and
README's performance block made from them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench import report, run

ROOT = Path(__file__).resolve().parent.parent


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


def test_the_readme_performance_section_is_the_one_its_results_file_makes() -> None:
    # README's block is generated (`python -m bench readme <results.json>`): a hand edit,
    # or a results file replaced by a later run without regenerating it, shows here.
    readme = (ROOT / "README.md").read_text()
    start = readme.index(report.README_START)
    end = readme.index(report.README_END) + len(report.README_END)
    block = readme[start:end]
    chart = re.search(r"!\[latency by size\]\((bench/results/[^)]+\.png)\)", block)
    assert chart, "README's performance block names no chart"
    results_file = ROOT / Path(chart.group(1)).with_suffix(".json")
    assert (ROOT / chart.group(1)).exists() and results_file.exists()
    results = json.loads(results_file.read_text())
    assert block == report.readme_section(results, run.QUESTION_NAMES, chart.group(1))
