"""Request bodies capped while they stream, before anything reads or parses them (authentication included).

One table of limits (:data:`LIMITS`): a feature edit may send up to ``GISPLAN_MAX_FEATURE_MB``, the
schedule table up to ``GISPLAN_MAX_SCHEDULE_MB``, every other request up to ``GISPLAN_MAX_BODY_MB``.
:class:`api.middleware.Guard` asks :func:`capped` first thing, before it checks a token:

- a ``Content-Length`` above the limit is refused at once, nothing of the body read;
- a body without one (``Transfer-Encoding: chunked``) is read here, counting, and refused as soon as
  it passes the limit; one within it is handed on as read (so nothing downstream reads it twice);
- the refusal is 413 problem+json with ``Connection: close``: the server stops reading, and the
  client stops sending once it sees the answer.

Starlette's own limit (``FastAPI(max_body_size=...)``) is not used: it counts only as a route reads
the body, so a chunked body to a request answered before that (401 for a bad token, 403 for a public
caller) is never counted, a Content-Length over it becomes 413 only after the route and the token's
check ran, and that 413 is ``text/plain``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope

from api.errors import problem
from gis.settings import Settings

MB = 1024 * 1024

# (methods, path, which limit): the first match wins; every other request gets "body"
LIMITS: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = (
    (frozenset({"POST"}), re.compile(r"/ogc/collections/[^/]+/items"), "feature"),
    (frozenset({"PUT", "PATCH"}), re.compile(r"/ogc/collections/[^/]+/items/[^/]+"), "feature"),
    (frozenset({"POST"}), re.compile(r"/api/programme/schedule"), "schedule"),
    (frozenset({"POST"}), re.compile(r"/api/evidence"), "evidence"),
    (frozenset({"POST"}), re.compile(r"/api/findings/[^/]+/close"), "evidence"),  # the closing photo
    (frozenset({"POST"}), re.compile(r"/api/feedback"), "feedback"),  # the public's, without an account
)
# The public's feedback: 1000 characters of text and a contact fit many times over; fixed, no setting.
FEEDBACK_BYTES = 16 * 1024
WHAT = {
    "body": ("a request", "GISPLAN_MAX_BODY_MB"),
    "feature": ("a feature", "GISPLAN_MAX_FEATURE_MB"),
    "schedule": ("a schedule table", "GISPLAN_MAX_SCHEDULE_MB"),
    "evidence": ("an evidence upload", "GISPLAN_MAX_EVIDENCE_MB"),
    "feedback": ("a feedback message", "fixed: 16 KB"),
}


@dataclass(frozen=True)
class Limit:
    """How many bytes a request's body may have, and which limit that is (a key of :data:`WHAT`)."""

    bytes: int
    kind: str

    def refusal(self, path: str) -> JSONResponse:
        """The 413 to send: problem+json, closing the connection (the rest of the body is never read)."""
        what, setting = WHAT[self.kind]
        response = problem(413, "Content Too Large", f"{what} is at most {self.bytes / MB:g} MB ({setting})", path)
        response.headers["Connection"] = "close"
        return response


def limit_for(method: str, path: str, settings: Settings) -> Limit:
    """The limit of a request, from :data:`LIMITS` and the settings."""
    kind = next((k for methods, rx, k in LIMITS if method in methods and rx.fullmatch(path)), "body")
    mb = {
        "body": settings.max_body_mb,
        "feature": settings.max_feature_mb,
        "schedule": settings.max_schedule_mb,
        "evidence": settings.max_evidence_mb,
        "feedback": FEEDBACK_BYTES / MB,
    }
    return Limit(int(mb[kind] * MB), kind)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() else None
    return None


def _has_body_without_length(scope: Scope) -> bool:
    return any(key == b"transfer-encoding" for key, _ in scope["headers"])


async def capped(scope: Scope, receive: Receive, limit: Limit) -> Receive | None:
    """The ``receive`` to hand on, or None when the body is over ``limit`` (send the refusal).

    With a ``Content-Length`` the server itself stops the body there, so only the header is
    compared. Without one the body is read now, to at most one chunk past the limit.
    """
    length = _content_length(scope)
    if length is not None:
        return receive if length <= limit.bytes else None
    if not _has_body_without_length(scope):
        return receive  # no body at all
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return _replay([message], receive)
        body += message.get("body", b"")
        if len(body) > limit.bytes:
            return None
        if not message.get("more_body", False):
            return _replay([{"type": "http.request", "body": bytes(body), "more_body": False}], receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` first, then what the server sends (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
