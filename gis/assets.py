"""The web map's own files and the front-end packages it and the offline exports use.

Both live inside the package, so an installed gisplan (a wheel) serves the map and writes exports
with nothing fetched from a CDN: ``gis/web/static/`` is the page, its script and style (source);
``gis/web/vendor/`` holds the few files of the npm packages gisplan uses (MapLibre GL JS, Leaflet
with its images, their licences), copied there by ``make assets`` from ``web/node_modules`` (``npm
ci`` of ``web/package-lock.json``), laid out as in ``node_modules`` (``<package>/<path>``).
``GISPLAN_ASSETS_DIR`` names another directory laid out that way (a ``node_modules``, say) instead.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
from functools import cache
from pathlib import Path

from gis.errors import AssetsMissingError

WEB_DIR = Path(__file__).resolve().parent / "web"


def vendor_dir() -> Path:
    """Where the front-end packages' files are: ``GISPLAN_ASSETS_DIR``, else ``gis/web/vendor``."""
    return Path(os.environ.get("GISPLAN_ASSETS_DIR") or WEB_DIR / "vendor")


def static_dir() -> Path:
    """The web map's own page, script and style (part of the source tree, shipped in the wheel)."""
    return WEB_DIR / "static"


def vendor_file(package: str, relative: str) -> Path:
    """A file of an npm package, e.g. ``vendor_file("leaflet", "dist/leaflet.js")``."""
    path = vendor_dir() / package / relative
    if not path.is_file():
        raise AssetsMissingError(
            f"{path} is missing: the front-end assets are installed by `make assets` "
            "(npm ci in web/, then the files gisplan uses copied into gis/web/vendor/)"
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
