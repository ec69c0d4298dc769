"""What every command group shares: the consoles, the settings, the workspace opener, the actor
recorded in the audit log, and the parsing of date options.

Only typer and rich are imported at module level so that ``gisplan --help`` starts fast; the
library is imported inside the functions that need it (allowed in ``gis/cli`` only).
"""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # names for the annotations only: the modules load when a command runs
    import geopandas as gpd

    from gis.settings import Settings
    from gis.store.database import Database
    from gis.workspace import Workspace

out = Console()
err = Console(stderr=True)


def settings() -> Settings:
    """The ``GISPLAN_*`` settings of this process."""
    from gis.settings import Settings

    return Settings()


def open_workspace() -> Workspace:
    """The workspace every command works on (the embedded database, or ``GISPLAN_DATABASE_URL``)."""
    from gis.workspace import connect

    return connect(settings=settings())


def open_database(config: Settings) -> Database:
    """The database alone, brought up to date and checked as :func:`open_workspace` does: for a
    command that needs none of the rest of the workspace (maps, imports, the programme) and so
    loads none of it."""
    from gis.registry import registry
    from gis.store import schema
    from gis.store.database import Database
    from gis.store.engine import make_engine, resolve_url

    engine = make_engine(resolve_url(config), settings=config)
    schema.bring_up_to_date(engine, registry())
    return Database(engine)


def actor() -> str:
    """Who the audit log records for a change made from the command line: ``cli:<OS user>``."""
    return f"cli:{getpass.getuser()}"


def parse_date_option(value: str | None, param: str) -> date | None:
    """A date option's value (2026-03-15, 2026年3月15日 ...), or a usage error naming ``param``."""
    from gis.programme import parse_date

    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=param) from None


def compound_id(ws: Workspace, value: str) -> int:
    """A COMPOUND argument: a compound's id (fid), or its unique name."""
    if value.isascii() and value.isdigit():
        return int(value)
    found = ws.layer("compounds", where={"name": value})
    if len(found) != 1:
        raise typer.BadParameter(
            f"{len(found)} compounds are named {value!r}; give the id" if len(found) else f"no compound {value!r}",
            param_hint="COMPOUND",
        )
    return int(found.iloc[0]["fid"])


def print_refused(exc: Exception) -> None:
    """Why a file was refused whole, and that nothing changed (an import is one transaction)."""
    err.print(f"[red]refused / 拒绝导入:[/] {escape(str(exc))}")  # a file name may hold [/]
    err.print("nothing was changed / 数据库未作任何改动")


def write_frame(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write a command's rows (``.csv``, ``.gpkg``, ``.geojson``) and say where."""
    from gis.export.files import write_results

    write_results(frame, path)
    out.print(f"wrote {path}")
