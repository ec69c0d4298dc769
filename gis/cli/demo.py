"""``gisplan demo``: the bundled sample, loaded and summarised (the demo itself is :mod:`gis.demo`)."""

from __future__ import annotations

from gis.cli.common import open_workspace, out


def demo() -> None:
    """Load the bundled sample (Beijing Haidian, OSM ODbL + labelled synthetic fields) and summarise it."""
    from gis.demo import run_demo

    run_demo(open_workspace(), out)
