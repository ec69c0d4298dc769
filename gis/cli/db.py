"""``gisplan db ...``: the embedded PostgreSQL/PostGIS database."""

from __future__ import annotations

import typer
from rich.table import Table

from gis.cli.common import err, out, settings

app = typer.Typer(help="The embedded PostgreSQL/PostGIS database (内置数据库).", no_args_is_help=True)


@app.command("up")
def db_up() -> None:
    """Create (first time) and start the embedded database; print the app's URL (role gisplan_app)."""
    from gis.store.cluster import EmbeddedCluster

    current = settings()
    if current.database_url:
        err.print("[yellow]GISPLAN_DATABASE_URL is set: gisplan uses that server, not the embedded one.[/]")
    cluster = EmbeddedCluster(current.home)
    url = cluster.up()
    st = cluster.status()
    out.print(f"[green]running[/] data: {st.data_dir}  port: {st.port}")
    out.print(url, soft_wrap=True)


@app.command("down")
def db_down() -> None:
    """Stop the embedded database."""
    from gis.store.cluster import EmbeddedCluster

    stopped = EmbeddedCluster(settings().home).down()
    out.print("stopped" if stopped else "was not running")


@app.command("status")
def db_status() -> None:
    """Where the embedded database lives and whether it runs (exit 1 when it does not)."""
    from gis.store.cluster import EmbeddedCluster

    current = settings()
    st = EmbeddedCluster(current.home).status()
    table = Table(show_header=False, box=None)
    table.add_row("home (GISPLAN_HOME)", str(current.home))
    table.add_row("in use", "GISPLAN_DATABASE_URL (external server)" if current.database_url else "embedded")
    table.add_row("initialised", "yes" if st.initialised else "no (run: gisplan db up)")
    table.add_row("running", "[green]yes[/]" if st.running else "[red]no[/]")
    if st.data_dir:
        table.add_row("data directory", st.data_dir)
        table.add_row("port", str(st.port))
        table.add_row("log", str(st.log))
    out.print(table)
    raise typer.Exit(0 if st.running else 1)


@app.command("url")
def db_url() -> None:
    """Print the database URL gisplan uses: the app's role (gisplan_app), never the superuser's
    (starting the embedded database if needed)."""
    from gis.store.cluster import EmbeddedCluster

    current = settings()
    if current.database_url:
        out.print(current.database_url)
    else:
        out.print(EmbeddedCluster(current.home).up(), soft_wrap=True)
