"""The HTML encoding of the OGC API documents (``?f=html``, or a browser's ``Accept: text/html``): a
planner browses the landing page, the collections and their features, in Chinese and English.

One template (``api/templates/ogc.html``), rendered by Jinja2 with autoescaping on: every value of
a document (a compound's name from any contributor) is text, never markup. The pages run no script
(the middleware's Content-Security-Policy for them allows none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader

from gis.ogc.features import QueryError

ENV = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True)
FORMATS = ("json", "html")


def wants_html(request: Request) -> bool:
    """``f=html``; without ``f``, a client that asks for HTML (a browser) and not JSON first."""
    f = request.query_params.get("f")
    if f is not None:
        if f.lower() not in FORMATS:
            raise QueryError(f"f={f[:50]!r}: json or html")
        return f.lower() == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split(",")[0]


def with_format(href: str, f: str) -> str:
    """``href`` with its ``f`` parameter set to ``f``."""
    parts = urlsplit(href)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "f"] + [("f", f)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def alternate(href: str) -> dict[str, str]:
    """The link to a document's HTML encoding (OGC API – Features: every document links its others)."""
    return {"href": with_format(href, "html"), "rel": "alternate", "type": "text/html", "title": "HTML 网页"}


@dataclass
class Cell:
    text: Any
    href: str | None = None


def page(
    request: Request,
    title: str,
    links: list[dict[str, Any]],
    *,
    description: str | None = None,
    columns: list[str] | None = None,
    rows: list[list[Cell]] | None = None,
    facts: list[tuple[str, Any]] | None = None,
) -> HTMLResponse:
    """One OGC document as a page: its title, a table, facts and its links (JSON links go to their
    HTML pages)."""
    home = str(request.base_url).rstrip("/") + "/ogc"
    shown = [
        {**link, "href": with_format(link["href"], "html")} if "json" in str(link.get("type", "")) else link
        for link in links
        if link.get("rel") != "alternate"
    ]
    html = ENV.get_template("ogc.html").render(
        title=title,
        description=description,
        columns=columns or [],
        rows=rows or [],
        facts=facts or [],
        links=shown,
        home=home,
        json_href=with_format(str(request.url), "json"),
    )
    return HTMLResponse(html)
