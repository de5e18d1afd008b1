"""Where the benchmark writes its results: a smaller run never overwrites a full one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import run


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
