"""Who is calling: the request's credentials (``Authorization: Bearer TOKEN``, or HTTP Basic with the
user's name and the token as the password, for QGIS and GDAL), and a limit on failed attempts.

The failure limit is `limits`' moving window in this process's memory: each server process (each
uvicorn worker) counts on its own, so N workers allow up to N times the limit before all answer 429.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from gis.roles import Role


@dataclass(frozen=True)
class Caller:
    """The person behind a request: their user name (None for an anonymous caller) and role."""

    name: str | None
    role: Role

    @property
    def actor(self) -> str:
        """Who the audit log, the programme's events and the runs record: ``api:<user name>``."""
        return f"api:{self.name}" if self.name else "api:anonymous"


ANONYMOUS = Caller(None, "public")


@dataclass(frozen=True)
class Credentials:
    """A token as presented, and the user name HTTP Basic sends with it (None for a bearer token)."""

    token: str
    name: str | None


def parse(header: str | None) -> Credentials | str | None:
    """The credentials of an ``Authorization`` header; None without one; ``"malformed"`` when they
    cannot be read (a scheme other than Bearer or Basic, an empty token, Basic that is not base64)."""
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return Credentials(value, None)
    if scheme.lower() == "basic" and value:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "malformed"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        name, colon, token = text.partition(":")
        if colon and name and token:
            return Credentials(token, name)
    return "malformed"


class FailureLimiter:
    """At most ``failures`` failed authentications per client address in a moving ``window_s``."""

    def __init__(self, failures: int, window_s: int) -> None:
        self.item = RateLimitItemPerSecond(failures, window_s)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def wait(self, client: str) -> int | None:
        """Seconds ``client`` must wait before trying again (≥ 1), or None when it may try now."""
        if self.limiter.test(self.item, client):
            return None
        reset = self.limiter.get_window_stats(self.item, client).reset_time
        return max(1, math.ceil(reset - time.time()))

    def failed(self, client: str) -> None:
        """Count one failed attempt of ``client``."""
        self.limiter.hit(self.item, client)
