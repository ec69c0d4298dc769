"""YAML read with libyaml's C parser where the build has it: the layer definitions, standards and
programme rules are parsed at every start, and the pure-Python parser took about a second of each
``gisplan`` command (measured: ``gisplan gaps`` under cProfile)."""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, by the C parser when present (the same safe subset of YAML)."""
    return yaml.load(text, Loader=SAFE_LOADER)
