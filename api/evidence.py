"""Evidence (资料留存) over HTTP: multipart upload and the items for planners; the files and thumbnails
of published items (公示) for everyone, every other item "not found" to the public.

The upload's body is capped as it streams (``GISPLAN_MAX_EVIDENCE_MB``, :mod:`api.bodies`); Starlette
spools its files to disk, each is checked against the per-file limit before it is read, and the
files are recognised by their content in a worker process (:mod:`api.workers`), never by name.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from api import jsonable, workers
from api.auth import Caller
from api.deps import CallerDep, IdPath, RoleDep, WorkersDep, WorkspaceDep, require_planner
from gis.evidence.service import Attachment

router = APIRouter(prefix="/api", tags=["Evidence 资料留存"])
MAX_FILES = 20
FIELDS = ("compound_id", "category", "stage", "note", "side", "building_id")
Compound = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="only this compound's items")]


def _int(form: Any, name: str) -> int | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise HTTPException(400, f"{name} must be a positive whole number")
    return int(raw)


@router.post("/evidence", status_code=201, summary="Upload evidence (multipart: compound_id, category, files)")
async def upload(request: Request, ws: WorkspaceDep, pool: WorkersDep, caller: CallerDep) -> JSONResponse:
    """``multipart/form-data`` with ``compound_id``, ``category`` (违建 临建 环境卫生 管线 施工 完工 验收 其他),
    optional ``stage``, ``note``, ``side`` (before/after), ``building_id``, and one or more ``files``.
    All are stored or none; each item says its flags."""
    require_planner(caller, "uploading evidence")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(415, "send multipart/form-data with the files as 'files'")
    cap = int(ws.evidence.defs.max_bytes.value)
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=len(FIELDS) + 4)
    except HTTPException:
        raise
    except Exception as exc:  # python-multipart's refusals of a malformed body
        raise HTTPException(400, f"the multipart body cannot be read: {str(exc)[:200]}") from None
    try:
        unknown = sorted({k for k in form if k not in (*FIELDS, "files")})
        if unknown:
            raise HTTPException(400, f"unknown form fields {unknown}; send {', '.join(FIELDS)} and files")
        compound = _int(form, "compound_id")
        if compound is None:
            raise HTTPException(400, "compound_id is required")
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            raise HTTPException(400, "no files: send one or more parts named 'files'")
        files: list[tuple[str, bytes]] = []
        for f in uploads:
            if f.size is not None and f.size > cap:
                raise HTTPException(413, f"{(f.filename or 'a file')[:80]} is over {cap:,} bytes (evidence.yaml)")
            files.append((f.filename or "upload", await f.read()))
        text = {
            k: v if isinstance(v := form.get(k), str) and v else None for k in ("category", "stage", "note", "side")
        }
        attachment = Attachment(
            compound,
            category=text["category"] or "other",
            stage=text["stage"],
            note=text["note"],
            side=text["side"],
            building_id=_int(form, "building_id"),
        )
    finally:
        await form.close()  # the spooled files
    added = await pool.run(_add, caller, attachment, files)
    return JSONResponse(added, status_code=201)


def _add(caller: Caller, attachment: Attachment, files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """In a worker process: inspect and store the files (Pillow decodes each image whole)."""
    return jsonable.records(workers.workspace().evidence.add(attachment, files, actor=caller.actor, role=caller.role))


@router.get("/evidence", summary="Evidence items with their flags (planners)")
def items(ws: WorkspaceDep, caller: CallerDep, compound_id: Compound = None) -> list[dict[str, Any]]:
    require_planner(caller, "evidence")
    return jsonable.records(ws.evidence.items(compound_id))


@router.get("/evidence/published", summary="Published evidence (公示: before/after photos), for everyone")
def published(ws: WorkspaceDep, compound_id: Compound = None) -> list[dict[str, Any]]:
    return jsonable.records(ws.evidence.published(compound_id))


@router.get("/evidence/verify", summary="Every file present and matching its SHA-256 (planners)")
def verify(ws: WorkspaceDep, caller: CallerDep) -> dict[str, Any]:
    require_planner(caller, "verifying evidence")
    report = ws.evidence.verify()
    return {
        "ok": report.ok,
        "items": report.items,
        "files": report.files,
        "bytes": report.bytes,
        "missing": jsonable.value(report.missing),
        "changed": jsonable.value(report.changed),
    }


@router.get("/evidence/{item_id}", summary="One item (the public: a published one only)")
def item(ws: WorkspaceDep, role: RoleDep, item_id: IdPath) -> dict[str, Any]:
    found: dict[str, Any] = jsonable.value(ws.evidence.item(item_id, role))
    return found


def _file(ws: Any, role: Any, item_id: int, thumb: bool) -> Response:
    media_type, data, name = ws.evidence.file(item_id, role, thumb=thumb)
    headers = {
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        # a withdrawal takes a file off the public map at once: revalidate, never serve it stale
        "Cache-Control": "no-cache" if role == "public" else "no-store",
    }
    return Response(data, media_type=media_type, headers=headers)


@router.get("/evidence/{item_id}/file", summary="An item's file as stored (the public: published only)")
def file(ws: WorkspaceDep, role: RoleDep, item_id: IdPath) -> Response:
    return _file(ws, role, item_id, thumb=False)


@router.get("/evidence/{item_id}/thumbnail", summary="An item's thumbnail, JPEG (the public: published only)")
def thumbnail(ws: WorkspaceDep, role: RoleDep, item_id: IdPath) -> Response:
    return _file(ws, role, item_id, thumb=True)


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="why (kept, audited)")


@router.post(
    "/evidence/{item_id}/withdraw", summary="Withdraw an item with a reason (after its month is submitted: admins)"
)
def withdraw(ws: WorkspaceDep, caller: CallerDep, item_id: IdPath, body: Withdrawal) -> dict[str, Any]:
    require_planner(caller, "withdrawing evidence")
    row = ws.evidence.withdraw(item_id, body.reason, actor=caller.actor, role=caller.role)
    found: dict[str, Any] = jsonable.value(row)
    return found


class Publication(BaseModel):
    model_config = ConfigDict(extra="forbid")
    published: bool = True


@router.post("/evidence/{item_id}/publish", summary="Publish a photo for 公示, or take it back (planners)")
def publish(ws: WorkspaceDep, caller: CallerDep, item_id: IdPath, body: Publication) -> dict[str, Any]:
    require_planner(caller, "publishing evidence")
    row = ws.evidence.publish(item_id, body.published, actor=caller.actor, role=caller.role)
    found: dict[str, Any] = jsonable.value(row)
    return found
