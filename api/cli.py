"""`threatgraph`: the one command-line entry point, a thin layer over the packages.

Every command turns the graph layer's errors into one line on stderr and a
non-zero exit (`fail`), so scripts and people see the same message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from api.browser import managed_server_settings
from api.cli_changes import changes_app
from api.cli_graphiql import graphiql_app
from api.cli_help import ReadableCommand, ReadableGroup
from api.cli_import import export_app, import_app
from api.settings import DEFAULT_API_HOST, DEFAULT_API_PORT, ApiSettings, share_bookmark_key
from api.trusted_documents import TrustedDocuments
from graph.errors import GraphError
from graph.linking.upkeep import rebuild_closure, refresh_deferred
from graph.server.process import ManagedServer
from graph.setup import ensure_schema
from graph.store.database import Graph
from graph.writes.loading import (
    cyclic_gc_paused,
    load_documents,
    raise_on_reference_problems,
    undeclared_references,
)
from schema.sdl import SCHEMA_FILE, schema_sdl
from seed.files import read_seed_files, shipped_seed_files

app = typer.Typer(
    cls=ReadableGroup,
    help="threatgraph: a knowledge graph of cyber-threat attributions, served over GraphQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(
    cls=ReadableGroup,
    help="The Neo4j server threatgraph assembles and runs itself (when NEO4J_URI is unset).",
    no_args_is_help=True,
)
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(graphiql_app, name="graphiql")
app.add_typer(changes_app, name="changes")
schema_app = typer.Typer(cls=ReadableGroup, help="The GraphQL schema.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
closure_app = typer.Typer(
    cls=ReadableGroup,
    help='The stored "linked to" closure that incidents(linkedTo:) reads.',
    no_args_is_help=True,
)
app.add_typer(closure_app, name="closure")

T = TypeVar("T")


def _show_version(asked: bool) -> None:
    if asked:
        typer.echo(f"threatgraph {version('threatgraph')}")
        raise typer.Exit()


@app.callback()
def main_options(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """threatgraph: a knowledge graph of cyber-threat attributions, served over GraphQL."""


def fail(message: str, exit_code: int = 1) -> NoReturn:
    typer.echo(f"threatgraph: {message}", err=True)
    raise typer.Exit(exit_code)


def guarded(action: Callable[[], T]) -> T:
    """Run `action`, turning a GraphError into a one-line message and exit 1."""
    try:
        return action()
    except GraphError as error:
        fail(str(error))


def managed_server() -> ManagedServer:
    return guarded(lambda: ManagedServer(managed_server_settings()))


@neo4j_app.command("install", cls=ReadableCommand)
def neo4j_install() -> None:
    """Fetch the Neo4j jars from Maven Central (once; a no-op when present)."""
    server = managed_server()
    fetched = guarded(server.install)
    where = server.settings.lib_dir
    verb = "installed in" if fetched else "already in"
    typer.echo(f"Neo4j {server.settings.neo4j_version} {verb} {where}")


@neo4j_app.command("start", cls=ReadableCommand)
def neo4j_start() -> None:
    """Start the managed server (or reuse the running one) and wait until Bolt answers."""
    server = managed_server()
    started = guarded(server.start)
    verb = "started" if started else "already running, reused"
    typer.echo(
        f"Neo4j {verb}: Bolt {server.settings.bolt_uri}, Browser {server.settings.browser_url}"
    )


@neo4j_app.command("stop", cls=ReadableCommand)
def neo4j_stop() -> None:
    """Stop the managed server cleanly; its data is kept."""
    server = managed_server()
    stopped = guarded(server.stop)
    typer.echo("Neo4j stopped" if stopped else "Neo4j was not running")


@neo4j_app.command("status", cls=ReadableCommand)
def neo4j_status() -> None:
    """Say whether the managed server runs, with its version and ports (exit 3 when stopped)."""
    server = managed_server()
    status = guarded(server.status)
    typer.echo(status.describe())
    if not status.running:
        raise typer.Exit(3)


@neo4j_app.command("env", cls=ReadableCommand)
def neo4j_env() -> None:
    """Print NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD for `eval "$(threatgraph neo4j env)"`."""
    server = managed_server()
    for line in guarded(server.env_lines):
        typer.echo(line)


@neo4j_app.command("check", cls=ReadableCommand)
def neo4j_check() -> None:
    """Connect to the configured Neo4j (NEO4J_URI, or the managed server) and run RETURN 1."""

    async def probe() -> str:
        async with Graph.connect() as graph:
            rows = await graph.read(
                "CALL dbms.components() YIELD versions, edition "
                "RETURN versions[0] AS version, edition"
            )
            version, edition = rows[0]["version"], rows[0]["edition"]
            return f"Neo4j at {graph.connection.uri} answers: {version} {edition}"

    typer.echo(guarded(lambda: asyncio.run(probe())))


@app.command("seed", cls=ReadableCommand)
def seed(
    files: list[Path] = typer.Argument(  # noqa: B008 - typer's way of declaring arguments
        None,
        help="Seed files to load (default: every seed file shipped in seed/).",
        metavar="FILE...",
    ),
    if_empty: bool = typer.Option(
        False, "--if-empty", help="Load only when the graph has no entities yet."
    ),
) -> None:
    """Validate seed files as one load, then write each in one transaction."""
    paths = list(files) if files else shipped_seed_files()

    async def run() -> str:
        async with Graph.connect(bulk=True) as graph:
            if if_empty:
                rows = await graph.read("MATCH (e:Entity) RETURN count(e) AS n")
                if rows[0]["n"]:
                    return f"graph already holds {rows[0]['n']} entities; seed skipped (--if-empty)"
            with cyclic_gc_paused():
                documents = read_seed_files(paths)
                await ensure_schema(graph)
                summary = await load_documents(graph, documents)
            await refresh_deferred(graph)
            return f"seeded {summary.describe()}"

    typer.echo(guarded(lambda: asyncio.run(run())))


@closure_app.command("rebuild", cls=ReadableCommand)
def closure_rebuild() -> None:
    """Build the closure again, after writes made with Cypher around threatgraph."""

    async def run() -> str:
        async with Graph.connect(bulk=True) as graph:
            await rebuild_closure(graph)
            rows = await graph.read("MATCH (l:LinkedIncident) RETURN count(l) AS n")
        return f"rebuilt the linked-to closure: {rows[0]['n']} entries"

    typer.echo(guarded(lambda: asyncio.run(run())))


@app.command("check", cls=ReadableCommand)
def check(
    files: list[Path] = typer.Argument(  # noqa: B008 - typer's way of declaring arguments
        ..., help="Seed files to check.", metavar="FILE..."
    ),
) -> None:
    """Check seed files as `seed` would, without Neo4j: every problem, none written."""

    def run() -> str:
        documents = read_seed_files(list(files))
        elsewhere = undeclared_references(documents)
        # Ids the files use without declaring are taken to be in the graph with a kind
        # their use allows; the rest is checked as `seed` checks it, with its messages.
        assumed = {
            ref: uses[0].allowed[0]
            for document in documents
            for ref, uses in document.unresolved.items()
            if ref in elsewhere
        }
        raise_on_reference_problems(documents, assumed)
        entities = sum(len(document.entities) for document in documents)
        claims = sum(len(document.claims) for document in documents)
        lines = [f"checked {len(documents)} document(s): {entities} entities, {claims} claims"]
        if elsewhere:
            lines.append(
                f"{len(elsewhere)} id(s) they use but do not declare must be in the graph "
                f"when they are loaded: {', '.join(elsewhere)}"
            )
        return "\n".join(lines)

    typer.echo(guarded(run))


@app.command("serve", cls=ReadableCommand)
def serve(
    host: str = typer.Option(
        DEFAULT_API_HOST,
        envvar="THREATGRAPH_API_HOST",
        help="Address to listen on.",
        metavar="ADDRESS",
    ),
    port: int = typer.Option(
        DEFAULT_API_PORT, envvar="THREATGRAPH_API_PORT", help="Port to listen on.", metavar="PORT"
    ),
    workers: int = typer.Option(1, help="Worker processes (the API is stateless).", metavar="N"),
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql) with uvicorn."""
    import uvicorn

    # Settings and the trusted-documents manifest are checked here too, so a bad value
    # is one line on stderr rather than a traceback from inside uvicorn's factory call.
    settings = guarded(ApiSettings.from_env)
    manifest = settings.trusted_documents
    if manifest is not None:
        guarded(lambda: TrustedDocuments.load(manifest))
    # Workers build their settings afresh: one key lets each honour the others' bookmarks.
    share_bookmark_key(os.environ)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    typer.echo(f"threatgraph API on http://{host}:{port}/graphql (GraphiQL in a browser)")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ws_max_size=settings.max_ws_message_bytes,
        access_log=False,
        log_level="warning",
    )


@schema_app.command("export", cls=ReadableCommand)
def schema_export(
    output: Path = typer.Option(  # noqa: B008 - typer's way of declaring options
        SCHEMA_FILE, "-o", "--output", help="Where to write the SDL.", metavar="FILE"
    ),
) -> None:
    """Write the GraphQL schema (SDL) to schema/schema.graphql."""
    output.write_text(schema_sdl())
    typer.echo(f"wrote {output}")


def main() -> None:  # pragma: no cover - console entry for `python -m api.cli`
    app(prog_name="threatgraph")
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
