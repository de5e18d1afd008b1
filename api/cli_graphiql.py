"""`threatgraph graphiql install`: vendor GraphiQL's scripts so the IDE works offline."""

from __future__ import annotations

import typer
from strawberry.http.ides import get_graphql_ide_html

from api.cli_help import ReadableCommand, ReadableGroup
from api.graphiql_assets import VENDOR_DIR, AssetError, install_assets, unpkg_assets

graphiql_app = typer.Typer(
    cls=ReadableGroup, help="The GraphiQL IDE served at /graphql.", no_args_is_help=True
)


@graphiql_app.command("install", cls=ReadableCommand)
def graphiql_install() -> None:
    """Fetch the React/GraphiQL files Strawberry's page loads (npm; once), checked by hash."""
    html = get_graphql_ide_html(graphql_ide="graphiql")
    try:
        fetched = install_assets(html)
    except AssetError as error:
        typer.echo(f"threatgraph: {error}", err=True)
        raise typer.Exit(1) from None
    total = len(unpkg_assets(html))
    verb = f"fetched {len(fetched)} of" if fetched else "already had all"
    typer.echo(f"GraphiQL: {verb} {total} files in {VENDOR_DIR}")
