"""``gisplan users ...``: the users of the web API and their tokens (add, list, disable, rotate)."""

from __future__ import annotations

from typing import Annotated

import typer

from gis.cli.common import actor, err, open_workspace, out, parse_date_option

app = typer.Typer(help="Users and their tokens (用户).", no_args_is_help=True)

HOW = (
    "send it as `Authorization: Bearer TOKEN`, or as HTTP Basic with the user name and the token as the"
    " password (QGIS: authentication method Basic; GDAL: GDAL_HTTP_USERPWD=NAME:TOKEN)"
)


@app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name: letters (any script), digits, . _ @ -.")],
    role: Annotated[str, typer.Option(help="public, planner or admin.")] = "planner",
    expires: Annotated[
        str | None, typer.Option(help="The last day the token works, e.g. 2027-06-30 (default: no expiry).")
    ] = None,
) -> None:
    """Create a user and print their token ONCE (only its hash is stored)."""
    from gis.roles import ROLES
    from gis.store.users import add_user

    if role not in ROLES:
        raise typer.BadParameter(f"choose one of {', '.join(ROLES)}", param_hint="--role")
    until = parse_date_option(expires, "--expires")
    ws = open_workspace()
    ws.db.require_schema()
    token = add_user(ws.engine, name, role, expires=until, actor=actor())
    until_text = f", valid through {until}" if until else ""
    err.print(f"user {name} ({role}{until_text}) created; its token is shown once — keep it / 令牌仅显示一次:")
    out.print(token, soft_wrap=True)
    err.print(HOW)


@app.command("list")
def users_list() -> None:
    """Every user: role, state (active, disabled, expired), expiry, created, last rotated. No tokens."""
    from rich.table import Table

    from gis.store.users import list_users

    ws = open_workspace()
    ws.db.require_schema()
    table = Table("name", "role", "state", "expires", "created", "rotated", "disabled")
    for u in list_users(ws.engine):
        table.add_row(
            u.name,
            u.role,
            u.state(),
            str(u.expires_on or "—"),
            f"{u.created_at:%Y-%m-%d %H:%M}",
            f"{u.rotated_at:%Y-%m-%d %H:%M}" if u.rotated_at else "—",
            f"{u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else "—",
        )
    out.print(table)


@app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user: their token stops working at once (the user stays listed, for the audit)."""
    from gis.store.users import disable_user

    ws = open_workspace()
    ws.db.require_schema()
    changed = disable_user(ws.engine, name, actor=actor())
    out.print(f"user {name} disabled / 已停用" if changed else f"user {name} was disabled already / 早已停用")


@app.command("rotate")
def users_rotate(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Give a user a new token, printed ONCE; the old token stops working at once."""
    from gis.store.users import rotate_token

    ws = open_workspace()
    ws.db.require_schema()
    token = rotate_token(ws.engine, name, actor=actor())
    err.print(f"user {name}: new token, shown once; the old one no longer works / 新令牌仅显示一次:")
    out.print(token, soft_wrap=True)
