"""Dependencies: the workspace, the caller's role (from the bearer token), a collection they may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from gis.registry import LayerDef
from gis.roles import Role, can_see
from gis.store.users import role_of
from gis.workspace import Workspace


def get_workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def get_role(request: Request, ws: WorkspaceDep) -> Role:
    header = request.headers.get("authorization")
    if not header:
        return "public"
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "use Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"})
    found = role_of(ws.engine, token.strip())
    if found is None:
        raise HTTPException(401, "unknown or disabled token", headers={"WWW-Authenticate": "Bearer"})
    return found[1]


RoleDep = Annotated[Role, Depends(get_role)]


def get_collection(collection_id: str, ws: WorkspaceDep, role: RoleDep) -> LayerDef:
    """The layer behind a collection id; a restricted one does not exist for the public (404, not 403)."""
    layer = ws.registry.layers.get(collection_id)
    if layer is None or not can_see(layer, role):
        raise HTTPException(404, f"no collection {collection_id!r}")
    return layer


CollectionDep = Annotated[LayerDef, Depends(get_collection)]


# Row ids are PostgreSQL bigints: a larger number is a bad request, not a database error.
IdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="a row id")]
