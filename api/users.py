"""The users over HTTP (admins only): who may sign in, and cutting off a token at once.

Creating users and rotating tokens stay on the command line (``gisplan users``): a new token is
shown once, to the person at the server, never sent over the network.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from api.deps import CallerDep, WorkspaceDep, require_admin
from gis.store import users

router = APIRouter(prefix="/api/users", tags=["Users"])
Name = Annotated[str, PathParam(max_length=64, description="a user name")]


@router.get("", summary="Every user: role, expiry, state (admins)")
def list_users(ws: WorkspaceDep, caller: CallerDep) -> dict[str, Any]:
    require_admin(caller, "listing the users")
    return {
        "users": [
            {
                "name": u.name,
                "role": u.role,
                "state": u.state(),
                "created_at": u.created_at.isoformat(),
                "expires_on": u.expires_on.isoformat() if u.expires_on else None,
                "disabled_at": u.disabled_at.isoformat() if u.disabled_at else None,
                "rotated_at": u.rotated_at.isoformat() if u.rotated_at else None,
            }
            for u in users.list_users(ws.engine)
        ]
    }


@router.post("/{name}/disable", summary="Disable a user: their token stops working at once (admins)")
def disable(ws: WorkspaceDep, caller: CallerDep, name: Name) -> dict[str, Any]:
    require_admin(caller, "disabling a user")
    changed = users.disable_user(ws.engine, name, actor=caller.actor)
    return {"name": name, "state": "disabled", "changed": changed}
