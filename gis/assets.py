"""Front-end assets installed from npm at set-up (``web/package.json`` with its lock file).

The web map and the offline exports use only these files: nothing is fetched from a CDN.
``GISPLAN_ASSETS_DIR`` may point elsewhere (an installed copy); by default the repository's
``web/`` is used.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
from functools import cache
from pathlib import Path

from gis.errors import AssetsMissingError

WEB_DIR = Path(__file__).resolve().parents[1] / "web"


def web_dir() -> Path:
    """Where ``node_modules/`` of the npm-installed packages is."""
    return Path(os.environ.get("GISPLAN_ASSETS_DIR") or WEB_DIR)


def static_dir() -> Path:
    """The web map's own page, script and style (part of the source tree)."""
    return WEB_DIR / "static"


def vendor_file(package: str, relative: str) -> Path:
    """A file of an npm package, e.g. ``vendor_file("leaflet", "dist/leaflet.js")``."""
    path = web_dir() / "node_modules" / package / relative
    if not path.is_file():
        raise AssetsMissingError(
            f"{path} is missing: the front-end assets are installed by `make assets` (npm ci in web/)"
        )
    return path


def _data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


@cache
def inline_css(package: str, relative: str) -> str:
    """A stylesheet with the images it refers to inlined as data URIs, so it works from a file."""
    path = vendor_file(package, relative)
    css = path.read_text(encoding="utf-8")

    def embed(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "#", "http:", "https:")):
            return match.group(0)
        target = (path.parent / ref).resolve()
        return f"url({_data_uri(target)})" if target.is_file() else match.group(0)

    return re.sub(r"url\((['\"]?)([^'\")]+)\1\)", embed, css)


@cache
def inline_js(package: str, relative: str) -> str:
    """A script's text, with its source-map comment dropped (the map file is not shipped)."""
    text = vendor_file(package, relative).read_text(encoding="utf-8")
    text = re.sub(r"//# sourceMappingURL=\S+\s*$", "", text)
    # a literal "</script>" inside the code would end the inline <script> element
    return text.replace("</script", "<\\/script")
