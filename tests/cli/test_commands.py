"""The command line's own parts, without a database: option parsing and a start that loads no library."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pandas as pd
import pytest
import typer

from gis.cli.common import parse_date_option
from gis.cli.progress import actual_dates, joined_lists

# Run in a fresh interpreter: the help of a group and of a command, then what was imported.
START = """
import sys
from gis.cli.app import app
for args in (["--help"], ["progress", "set", "--help"], ["export", "map", "--help"]):
    try:
        app(args)
    except SystemExit:
        pass
heavy = ("geopandas", "pandas", "shapely", "sqlalchemy", "folium", "pyproj", "openpyxl")
own = [m for m in sys.modules if m.startswith("gis.") and not m.startswith(("gis.cli", "gis.errors"))]
print("LOADED", sorted(own + [m for m in heavy if m in sys.modules]), file=sys.stderr)
"""


def test_help_loads_no_library_module() -> None:
    done = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True, timeout=120, check=True)
    assert "LOADED []" in done.stderr, done.stderr


def test_date_options_read_the_programme_formats_and_name_the_option() -> None:
    assert parse_date_option("2026年3月15日", "--date") == date(2026, 3, 15)
    assert parse_date_option("2026/3/5", "--on") == date(2026, 3, 5)
    assert parse_date_option(None, "--on") is None
    with pytest.raises(typer.BadParameter) as bad:
        parse_date_option("15.3.", "--as-of")
    assert bad.value.param_hint == "--as-of"


def test_actual_options_set_and_clear_stage_dates() -> None:
    dates = actual_dates(["construction=2026-10-05", "completed=", "survey=20260112"])
    assert dates == {"construction": date(2026, 10, 5), "completed": None, "survey": date(2026, 1, 12)}
    assert actual_dates([]) == {}
    with pytest.raises(typer.BadParameter):
        actual_dates(["construction 2026-10-05"])


def test_list_values_are_joined_for_files() -> None:
    frame = pd.DataFrame({"id": [1, 2], "reasons": [["a", "b"], "c"], "name": ["x", "y"]})
    joined = joined_lists(frame)
    assert joined["reasons"].tolist() == ["a,b", "c"]
    assert joined["name"].tolist() == ["x", "y"]
    assert frame["reasons"].iloc[0] == ["a", "b"]  # the caller's frame is left as it was
