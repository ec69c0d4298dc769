"""``gisplan users ...``: the users of the web API and their bearer tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from gis.cli.common import err, open_workspace, out

app = typer.Typer(help="Users and their bearer tokens (用户).", no_args_is_help=True)


@app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="public, planner or admin.")] = "planner",
) -> None:
    """Create a user and print their bearer token ONCE (only its hash is stored)."""
    from gis.roles import ROLES
    from gis.store.users import add_user

    if role not in ROLES:
        raise typer.BadParameter(f"choose one of {', '.join(ROLES)}", param_hint="--role")
    ws = open_workspace()
    ws.db.require_schema()
    token = add_user(ws.engine, name, role)
    err.print(f"user {name} ({role}) created; its token is shown once — keep it / 令牌仅显示一次:")
    out.print(token, soft_wrap=True)
