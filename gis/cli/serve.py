"""``gisplan serve``: the web API and the web map, with the access log on standard error."""

from __future__ import annotations

import ipaddress
import logging
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gis.cli.common import err, out, settings

if TYPE_CHECKING:
    from gis.settings import Settings

ACCESS_LOGGER = "gisplan.access"
GRACE_S = 4


def is_loopback(host: str) -> bool:
    """Is ``host`` an address only this machine reaches (127.0.0.0/8, ::1, ``localhost``)?"""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost: it may resolve to anything


def tls_warning(host: str, public_url: str | None) -> str | None:
    """What to say when serving beyond this machine: tokens travel in clear text without TLS."""
    if is_loopback(host):
        return None
    text = (
        f"warning: serving on {host}, reachable from other machines. gisplan speaks plain HTTP: tokens and"
        " restricted data travel in clear text unless TLS is terminated in front (a reverse proxy with"
        " https). 警告：未加密，须在前端反向代理配置 TLS (https)。"
    )
    if not public_url:
        text += " Set GISPLAN_PUBLIC_URL to the https address users reach, so links point there."
    return text


def access_handlers(s: Settings) -> list[logging.Handler]:
    """Where the access log goes: standard error, and ``GISPLAN_ACCESS_LOG`` when set (appended)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if s.access_log is not None:
        s.access_log.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(s.access_log, encoding="utf-8"))
    return handlers


def configure_access_log(s: Settings) -> logging.Logger:
    """The ``gisplan.access`` logger: one JSON line per request, as the app writes it."""
    log = logging.getLogger(ACCESS_LOGGER)
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    for handler in access_handlers(s):
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


def worker_app() -> Any:
    """The app of one server process (the factory ``uvicorn`` calls in each worker): its settings
    from the environment, its own access log handlers."""
    from api.main import create_app

    s = settings()
    configure_access_log(s)
    return create_app(s)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (beyond 127.0.0.1: only behind TLS).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes; they share the database, and nothing else.")
    ] = 1,
) -> None:
    """Serve the web API (OGC API – Features at /ogc, docs at /docs); the access log goes to stderr."""
    import uvicorn

    s = settings()
    warning = tls_warning(host, s.public_url)
    if warning:
        err.print(f"[yellow]{warning}[/]")
    shown = host if ":" not in host else f"[{host}]"
    base = s.public_url or f"http://{shown}:{port}"
    out.print(f"gisplan on {base}/ogc  (docs: {base}/docs)" + (f", {workers} workers" if workers > 1 else ""))
    uvicorn.run(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        # SIGTERM: requests in flight get this long, then the jobs are stopped and marked (well within 10 s)
        timeout_graceful_shutdown=GRACE_S,
    )
