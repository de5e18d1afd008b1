"""`threatgraph changes ...`: look at and prune the change feed (see README, "Change feed").

Registered by api/cli.py as `app.add_typer(changes_app, name="changes")`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import typer

from api.cli_help import ReadableCommand, ReadableGroup
from graph.errors import GraphError
from graph.store.database import Graph
from graph.writes.changes import latest_change, prune_changes

changes_app = typer.Typer(
    cls=ReadableGroup, help="The change feed other services follow.", no_args_is_help=True
)


@changes_app.command("head", cls=ReadableCommand)
def head() -> None:
    """Print the newest change's sequence number (0: none recorded yet)."""

    async def run() -> str:
        async with Graph.connect() as graph:
            return str(await latest_change(graph))

    _echo_or_fail(run)


@changes_app.command("prune", cls=ReadableCommand)
def prune(
    through: int = typer.Option(
        ...,
        "--through",
        min=1,
        help="Delete changes numbered up to this one (never past the newest).",
        metavar="N",
    ),
) -> None:
    """Delete old changes; consumers whose cursor is older get CURSOR_EXPIRED, never a gap."""

    async def run() -> str:
        async with Graph.connect() as graph:
            deleted, pruned_through = await prune_changes(graph, through)
            return f"pruned {deleted} change(s); the feed now starts after change {pruned_through}"

    _echo_or_fail(run)


def _echo_or_fail(run: Callable[[], Coroutine[Any, Any, str]]) -> None:
    try:
        typer.echo(asyncio.run(run()))
    except GraphError as error:
        typer.echo(f"threatgraph: {error}", err=True)
        raise typer.Exit(1) from None
