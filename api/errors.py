"""RFC 9457 problem details for every error; never a database message or a stack trace.

A database that is down, restarting or out of connections is 503 with ``Retry-After`` on every
route (:func:`unavailable`, asked here and by :class:`api.middleware.Guard` for what no handler
takes), never a 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.errors import GisError, ServerError, UnknownLayerError
from gis.store.engine import database_fault

log = logging.getLogger("gisplan.api")
PROBLEM = "application/problem+json"
RETRY_AFTER_S = 5  # a restart takes a few seconds; the pool reconnects on the next request


def problem(status: int, title: str, detail: str, instance: str | None = None) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def unavailable(error: BaseException, instance: str | None = None) -> JSONResponse | None:
    """503 problem+json with ``Retry-After`` when ``error`` is the database being unavailable, else None."""
    fault = database_fault(error)
    if fault is None:
        return None
    cause = fault.__cause__ or fault
    log.warning(
        "database unavailable on %s: %s", instance, (str(cause).strip().splitlines() or [repr(cause)])[0]
    )  # one line each
    response = problem(fault.status, fault.title, str(fault), instance)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = TITLES
        response = problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail), request.url.path)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()]
        return problem(400, "Bad Request", "; ".join(parts), request.url.path)

    @app.exception_handler(GisError)
    async def gis_error(request: Request, exc: GisError) -> JSONResponse:
        """Every library error by its class's status; the message is written for the caller."""
        down = unavailable(exc, request.url.path)  # an import that failed because the database went away
        if down is not None:
            return down
        if isinstance(exc, UnknownLayerError):  # never list the layers: some are restricted
            return problem(exc.status, exc.title, f"no collection {exc.layer_id!r}", request.url.path)
        if isinstance(exc, ServerError):  # gisplan's own fault: the details stay in the log
            log.error("server error on %s: %s", request.url.path, exc)
            return problem(exc.status, exc.title, "the server could not answer this request", request.url.path)
        response = problem(exc.status, exc.title, str(exc), request.url.path)
        if exc.status == 405:  # a read-only layer: RFC 9110 asks for the methods it takes
            response.headers["Allow"] = "GET, HEAD"
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        down = unavailable(exc, request.url.path)  # the Guard answers these; a last resort without it
        if down is not None:
            return down
        log.exception("unexpected error on %s", request.url.path)  # the details stay in the log
        return problem(500, "Internal Server Error", "the server could not answer this request", request.url.path)
