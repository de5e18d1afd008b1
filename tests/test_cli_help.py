"""Every `threatgraph ... --help` names values as FILE..., N, DATE, never as Python types."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.cli import app


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


ALL_COMMANDS = list(command_paths(typer.main.get_command(app)))


def help_of(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="threatgraph", terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_walked() -> None:
    assert len(ALL_COMMANDS) == 26
    assert ("import", "misp-galaxy") in ALL_COMMANDS


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(path) or "threatgraph")
def test_help_shows_no_python_type(path: tuple[str, ...]) -> None:
    # Typer's way of showing a type is `<list[Path]>`; a range (`0<=x<=10`) stays.
    assert re.findall(r"<\w[^<>]*>", help_of(path)) == []


@pytest.mark.parametrize(
    ("path", "usage"),
    [
        (("check",), "Usage: threatgraph check [OPTIONS] FILE..."),
        (("seed",), "Usage: threatgraph seed [OPTIONS] [FILE...]"),
        (("import", "stix"), "Usage: threatgraph import stix [OPTIONS] PATH..."),
    ],
)
def test_arguments_are_named_by_their_metavar(path: tuple[str, ...], usage: str) -> None:
    lines = [line.strip() for line in help_of(path).splitlines()]
    assert [line for line in lines if line.startswith("Usage:")] == [usage]


def test_options_show_their_metavar_and_flags_none() -> None:
    rows = [line.strip("│ ").rstrip("│ ") for line in help_of(("export", "stix")).splitlines()]
    assert "--hops            N [0<=x<=10]  Claims to follow from --ref. [default: 1]" in rows
    assert "--help                          Show this message and exit." in rows
