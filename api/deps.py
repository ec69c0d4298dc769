"""Dependencies: the workspace, its worker processes, the caller (a person and their role), a collection they may see.

Who the caller is was settled before any route ran (``api.middleware.Guard`` checks the token on
every request and answers 401 for a bad one); here it is read, and admin-only routes are enforced.

The dependencies only read what the app and the request already hold: they are ``async`` so that
they run on the event loop (FastAPI runs a plain ``def`` dependency in its thread pool, a hop each:
four per tile before its query).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from api.auth import Caller
from api.workers import Workers
from gis.errors import ServerError
from gis.registry import LayerDef
from gis.roles import Role, can_see
from gis.workspace import Workspace

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gisplan"'}


async def get_workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


async def get_workers(request: Request) -> Workers:
    pool: Workers = request.app.state.workers
    return pool


WorkersDep = Annotated[Workers, Depends(get_workers)]


async def get_caller(request: Request) -> Caller:
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):  # the app was built without its middleware: refuse, never guess
        raise ServerError("no caller: the authentication middleware is not installed")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_role(caller: CallerDep) -> Role:
    return caller.role


RoleDep = Annotated[Role, Depends(get_role)]


def require_planner(caller: Caller, doing: str) -> None:
    """401 for an anonymous caller (a planner's token is what is missing), 403 for a signed-in user of
    the public role (signing in again would not help)."""
    if caller.role != "public":
        return
    if caller.name is None:
        raise HTTPException(401, f"{doing} needs a planner's token", headers=CHALLENGE)
    raise HTTPException(403, f"only planners may do this: {doing} / 仅规划人员可操作")


def require_admin(caller: Caller, doing: str) -> None:
    """401 for an anonymous caller, 403 for a signed-in planner or public user: only an admin may."""
    if caller.role == "admin":
        return
    if caller.name is None:
        raise HTTPException(401, f"{doing} needs an admin's token", headers=CHALLENGE)
    raise HTTPException(403, f"only an admin may do this: {doing} / 仅管理员可操作")


async def get_collection(request: Request, collection_id: str, ws: WorkspaceDep, role: RoleDep) -> LayerDef:
    """The layer behind a collection id; a restricted one does not exist for the public (404, not 403).
    The access log names the collection read, and whether it is restricted."""
    layer = ws.registry.layers.get(collection_id)
    if layer is None or not can_see(layer, role):
        raise HTTPException(404, f"no collection {collection_id!r}")
    request.state.collection = layer.id
    request.state.restricted = layer.restricted
    return layer


CollectionDep = Annotated[LayerDef, Depends(get_collection)]


# Row ids are PostgreSQL bigints: a larger number is a bad request, not a database error.
IdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="a row id")]
