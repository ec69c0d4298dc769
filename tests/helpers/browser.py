"""Headless Chromium (Debian's) with every host but 127.0.0.1 unresolvable, a watched page, and the
data an exported folium page carries."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

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


ADD_DATA = re.compile(r"geo_json_[0-9a-f]+_add\(")


def page_geojson(page: str) -> list[dict[str, Any]]:
    """Every GeoJSON FeatureCollection a folium page adds to its map, in the order drawn."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(page, m.end())[0] for m in ADD_DATA.finditer(page)]
