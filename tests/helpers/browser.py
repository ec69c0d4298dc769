"""Headless Chromium (Debian's) with every host but 127.0.0.1 unresolvable, and a watched page."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",  # the tests run as root in CI
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # the network is "unplugged": only loopback resolves
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
GAP_TYPES = ["kindergarten", "elderly_station", "health_center", "primary_school"]


@dataclass
class Watched:
    """A page and everything it asked for and complained about."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("http://127.0.0.1", "file:", "data:", "blob:", "about:"))]
