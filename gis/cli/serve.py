"""``gisplan serve``: the web API and the web map."""

from __future__ import annotations

from typing import Annotated

import typer

from gis.cli.common import out, settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the web API (OGC API – Features at /ogc, docs at /docs)."""
    import uvicorn

    from api.main import create_app

    out.print(f"gisplan on http://{host}:{port}/ogc  (docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings()), host=host, port=port, log_level="warning")
