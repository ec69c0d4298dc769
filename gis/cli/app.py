"""The ``gisplan`` command (also ``python -m gis``): the command groups assembled, errors reported.

Thin over the library, one way to do each thing. Each group lives in a module of its own and
imports the library inside its commands, so that ``gisplan --help`` loads typer and rich only.
"""

from __future__ import annotations

import typer
from rich.markup import escape

from gis.cli import (
    acceptance,
    assess,
    db,
    demo,
    evidence,
    export,
    findings,
    funds,
    gaps,
    load,
    pipelines,
    progress,
    report,
    residents,
    serve,
    users,
)
from gis.cli.common import err
from gis.errors import GisError

app = typer.Typer(
    help="gisplan — 老旧小区改造空间规划 / GIS planning for old residential compound renovation.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
# The commands in the order `gisplan --help` lists them, then the groups.
app.command("load", epilog=load.EXAMPLES)(load.load)
app.command("gaps")(gaps.gaps)
app.command("serve")(serve.serve)
app.command("layers")(load.layers)
app.command("demo")(demo.demo)
app.add_typer(db.app, name="db")
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(progress.app, name="progress")
app.add_typer(report.app, name="report")
app.add_typer(users.app, name="users")
app.add_typer(export.app, name="export")
app.add_typer(evidence.app, name="evidence")
app.add_typer(acceptance.app, name="acceptance")
app.add_typer(residents.app, name="residents")
app.add_typer(findings.app, name="findings")
app.add_typer(funds.app, name="funds")
app.add_typer(assess.app, name="assess")


def main() -> None:
    """Run the command line; a :class:`gis.errors.GisError`, or the database being out of reach, is
    reported in one line, exit code 1 (a planner reads what to do, not the driver's traceback)."""
    try:
        app()
    except GisError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(1) from None
    except Exception as exc:
        from gis.store.engine import database_fault

        fault = database_fault(exc)
        if fault is None:
            raise
        err.print(f"[red]error:[/] {escape(str(fault))} / 数据库暂不可用，请稍后重试")
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
