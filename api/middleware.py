"""What every request goes through, before any route: the body's cap, the caller, the links' base, the
headers, the log, and a 503 when the database is down.

0. **The body's cap.** Before anything else (the token included), a body over its limit is refused
   413 while it streams (:mod:`api.bodies`).
1. **The address links are built from.** The client's ``Host`` header is dropped: absolute links
   start with ``GISPLAN_PUBLIC_URL`` when set (its scheme, host and path), else with the address
   the server itself listens on. A request with ``Host: evil.example`` cannot point links elsewhere.
2. **The caller.** No ``Authorization`` header: the anonymous public caller. A bearer token, or HTTP
   Basic (user name, token as the password): the user, when the token works; an unknown, disabled
   or expired token, a Basic name that is not the token's user or an unreadable header answers 401
   on every path (``/`` and the static files included: a client that sends credentials wants them
   checked, and a browser opening the web map sends none). Too many failures from one client
   address answer 429 with ``Retry-After`` (:class:`api.auth.FailureLimiter`). Routes read the
   caller through ``api.deps``.
3. **Headers on every response.** ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``, a
   Content-Security-Policy (the web map's allows only its own origin, plus what MapLibre needs and
   the configured online basemap; other pages run no script at all; every one forbids framing), and
   ``Cache-Control: no-store`` on every response to a planner or an admin (they may hold restricted
   data: nothing of it stays in a browser's or a proxy's cache).
4. **The access log.** One JSON line per request on the ``gisplan.access`` logger: time, user,
   role, method, path, query, status, duration in ms, client address, the server process's pid, and the collection read
   (``restricted: true`` for a restricted layer). Never a token or an ``Authorization`` header.
   The probes (``/healthz``, ``/readyz``) are logged only when they do not answer 200, so a load
   balancer asking every few seconds does not bury the requests.
5. **The database down.** Whatever the route (or the token's check) raised, a database that is
   down, restarting or out of connections is answered 503 with ``Retry-After`` (:mod:`api.errors`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import bodies
from api.auth import ANONYMOUS, Caller, Credentials, FailureLimiter, parse
from api.errors import problem, unavailable
from gis import clock
from gis.store.users import check_token

access_log = logging.getLogger("gisplan.access")

CHALLENGE = 'Bearer realm="gisplan"'
BASIC_CHALLENGE = 'Basic realm="gisplan", charset="UTF-8"'
NO_SCRIPT = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
SECRET = re.compile(r"token|key|pass|auth|secret|sig", re.IGNORECASE)
DOCS = "/docs"
PROBES = ("/healthz", "/readyz")


def webmap_policy(basemap_url: str | None) -> str:
    """The web map's Content-Security-Policy: its own origin only, blob: workers and data:/blob:
    images for MapLibre, and the origin of the online basemap when one is configured."""
    extra = ""
    if basemap_url:
        parts = urlsplit(basemap_url)
        extra = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; "
        "worker-src blob:; child-src blob:; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'"
    )


def policy_for(path: str, basemap_url: str | None) -> str:
    if path == "/":
        base = webmap_policy(basemap_url)
    elif path == DOCS:  # Swagger UI, from the app's own files; its start is an inline script
        base = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'"
        )
    else:
        base = NO_SCRIPT
    return f"{base}; frame-ancestors 'none'"


def pin_host(scope: Scope, public_url: str | None) -> None:
    """Replace the client's Host header by the configured public address (or the server's own)."""
    headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
    if public_url:
        parts = urlsplit(public_url)
        scope["scheme"] = parts.scheme
        headers.append((b"host", parts.netloc.encode("ascii")))
        if parts.path:
            scope["root_path"] = parts.path
    elif scope.get("server"):
        host, port = scope["server"]
        netloc = f"[{host}]" if ":" in host else host
        headers.append((b"host", f"{netloc}:{port}".encode("ascii")))
    scope["headers"] = headers


def same_without_slash(scope: Scope) -> None:
    """``/ogc/``, ``/ogc/collections/`` …: an OGC path with a trailing slash is the path without it
    (OGC API clients add one; a redirect would make them follow it, and some do not)."""
    path = scope["path"]
    if path.startswith("/ogc/") and path.endswith("/"):
        scope["path"] = path.rstrip("/")
        raw = scope.get("raw_path")
        if raw:
            scope["raw_path"] = raw.rstrip(b"/")


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def redacted(query: str) -> str | None:
    """The query string with the value of anything that looks like a secret cut out (the API takes
    none there, but a client might send one)."""
    if not query:
        return None
    parts = []
    for part in query.split("&"):
        key, eq, _ = part.partition("=")
        parts.append(f"{key}=***" if eq and SECRET.search(key) else part)
    return "&".join(parts)


class Guard:
    """The ASGI middleware doing the six things above (installed by ``api.main.create_app``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        same_without_slash(scope)
        state = scope["app"].state
        settings = state.workspace.settings
        pin_host(scope, settings.public_url)
        client = scope["client"][0] if scope.get("client") else "unknown"
        entry: dict[str, Any] = {"status": 500}
        caller = ANONYMOUS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"], entry["started"] = message["status"], True
                h = MutableHeaders(scope=message)
                h["X-Content-Type-Options"] = "nosniff"
                h["Referrer-Policy"] = "no-referrer"
                h["X-Frame-Options"] = "DENY"
                h["Content-Security-Policy"] = policy_for(scope["path"], settings.basemap_url)
                if caller.role != "public":
                    h["Cache-Control"] = "no-store"
            await send(message)

        try:
            limit = bodies.limit_for(scope["method"], scope["path"], settings)
            body = await bodies.capped(scope, receive, limit)
            if body is None:
                entry["body"] = f"over {limit.bytes} bytes"
                await limit.refusal(scope["path"])(scope, receive, send_with_headers)
                return
            receive = body
            found = await self.authenticate(scope, state.auth_limiter, client, entry)
            if isinstance(found, Caller):
                caller = found
                scope.setdefault("state", {})["caller"] = caller
                await self.app(scope, receive, send_with_headers)
            else:
                await found(scope, receive, send_with_headers)
        except Exception as error:  # the database down (a route, a token's check): 503, never 500
            down = unavailable(error, scope["path"])
            if down is None or "started" in entry:
                raise
            await down(scope, receive, send_with_headers)
        finally:
            self.log(scope, caller, client, entry, started)

    async def authenticate(self, scope: Scope, limiter: FailureLimiter, client: str, entry: dict[str, Any]) -> Any:
        """The caller, or the 401 / 429 response to send instead."""
        creds = parse(header(scope, b"authorization"))
        if creds is None:
            return ANONYMOUS
        wait = limiter.wait(client)
        if wait is not None:
            entry["auth"] = "rate limited"
            response = problem(429, "Too Many Requests", f"too many failed sign-ins; try again in {wait} s")
            response.headers["Retry-After"] = str(wait)
            return response
        basic = isinstance(creds, Credentials) and creds.name is not None
        if isinstance(creds, Credentials):
            engine = scope["app"].state.workspace.engine
            check = await run_in_threadpool(check_token, engine, creds.token, name=creds.name)
            if check.problem is None and check.name is not None and check.role is not None:
                return Caller(check.name, check.role)
            entry["auth"], entry["user"] = check.problem, check.name
        else:
            entry["auth"] = creds
        limiter.failed(client)
        response = problem(401, "Unauthorized", "unknown, disabled or expired token (or an unreadable header)")
        response.headers["WWW-Authenticate"] = BASIC_CHALLENGE if basic else CHALLENGE
        return response

    def log(self, scope: Scope, caller: Caller, client: str, entry: dict[str, Any], started: float) -> None:
        if scope["path"] in PROBES and entry["status"] == 200:
            return
        seen = scope.get("state") or {}
        line: dict[str, Any] = {
            "time": clock.now().isoformat(timespec="milliseconds"),
            "user": entry.get("user", caller.name),
            "role": caller.role if "auth" not in entry else None,
            "method": scope["method"],
            "path": scope["path"],
            "query": redacted(scope.get("query_string", b"").decode("latin-1")),
            "status": entry["status"],
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "client": client,
            "pid": os.getpid(),  # which server process answered (gisplan serve --workers N)
        }
        if "collection" in seen:
            line["collection"] = seen["collection"]
            line["restricted"] = bool(seen.get("restricted"))
        for key in ("auth", "body"):
            if key in entry:
                line[key] = entry[key]
        access_log.info(json.dumps(line, ensure_ascii=False))
