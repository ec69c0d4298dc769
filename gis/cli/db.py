"""``gisplan db ...``: the embedded PostgreSQL/PostGIS database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    cluster.up()
    st = cluster.status()
    out.print(f"[green]running[/] data: {st.data_dir}  port: {st.port}")
    out.print(cluster.app_url(driver="postgresql"), soft_wrap=True)


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
def db_url(
    owner: Annotated[
        bool, typer.Option("--owner", help="The schema owner's URL (gisplan_owner: migrations, dumps) instead.")
    ] = False,
) -> None:
    """Print the database URL, in libpq's form (postgresql://): psql, QGIS, ogr2ogr (PG:URL) and psycopg
    take it. The app's role (gisplan_app) unless --owner; never the superuser's. Starts the embedded
    database if needed."""
    from gis.store.engine import database_url

    current = settings()
    if owner and current.database_url and not current.owner_database_url:
        err.print("GISPLAN_OWNER_DATABASE_URL is not set: this is GISPLAN_DATABASE_URL (a single-role setup).")
    out.print(database_url(current, owner=owner), soft_wrap=True)


@app.command("dump")
def db_dump(
    file: Annotated[Path, typer.Argument(help="The archive to write (pg_dump custom format), e.g. gisplan.dump.")],
) -> None:
    """Back the database up: FILE (pg_dump's custom format, as the schema owner) and FILE.manifest.json
    beside it (schema revision, gisplan version, rows per table, checksum). Both mode 0600: they hold
    the restricted layers and the users' token hashes."""
    from gis.store import backup
    from gis.store.engine import database_url

    result = backup.dump(database_url(settings(), owner=True), file)
    m = result.manifest
    out.print(f"wrote {result.path} ({result.path.stat().st_size:,} bytes) and {result.manifest_path.name}")
    out.print(
        f"schema {m.revision}, {len(m.tables)} tables, {m.rows:,} rows, gisplan {m.gisplan_version}, "
        f"{result.seconds:.1f} s"
    )


@app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="An archive written by `gisplan db dump` (its manifest beside it).")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a database that holds data (refused without it).")
    ] = False,
) -> None:
    """Restore a dump into the database (the embedded one, or GISPLAN_DATABASE_URL), as the schema owner,
    in one transaction: every table, its rows, the triggers, the users and their tokens; the app role's
    privileges made again. A database holding data is refused unless --replace; a failure changes nothing."""
    from gis.store import backup
    from gis.store.engine import database_url
    from gis.store.schema import head_revision

    result = backup.restore(database_url(settings(), owner=True), file, replace=replace)
    m = result.manifest
    if result.replaced:
        out.print(f"replaced {sum(result.replaced.values()):,} rows in {len(result.replaced)} tables")
    out.print(f"restored {len(m.tables)} tables, {m.rows:,} rows (dump of {m.created_at}), {result.seconds:.1f} s")
    if not result.granted:
        err.print("[yellow]no role gisplan_app on this server: the app's privileges were not granted[/]")
    if m.revision != head_revision():
        out.print(f"schema {m.revision}: gisplan brings it to {head_revision()} when it next connects")
