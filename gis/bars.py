"""Progress bars for slow work: a widget in Jupyter, a text bar on a terminal, silent otherwise
(a pipe, a log, a test, the web API's worker thread). ``GISPLAN_PROGRESS=0`` turns them off,
``=1`` forces the text bar."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import std


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _bar_class() -> type[std.tqdm] | None:
    forced = os.environ.get("GISPLAN_PROGRESS")
    if forced == "0" or threading.current_thread() is not threading.main_thread():
        return None
    if _in_notebook() and forced != "1":
        try:
            import ipywidgets  # noqa: F401  (tqdm's notebook bar needs it)
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm
        except ImportError:
            return std.tqdm
    if forced == "1" or sys.stderr.isatty():
        return std.tqdm
    return None


class _Silent:
    def update(self, n: int = 1) -> None:
        return None

    def set_postfix_str(self, s: str) -> None:
        return None


@contextmanager
def progress(description: str, total: int, unit: str = "步") -> Iterator[Any]:
    """A bar of ``total`` steps (``bar.update()``, ``bar.set_postfix_str("...")``), or a silent
    stand-in where no one is watching."""
    cls = _bar_class()
    if cls is None:
        yield _Silent()
        return
    bar = cls(total=total, desc=description, unit=unit, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def track(items: list[Any], description: str, unit: str = "项") -> Iterator[Any]:
    """Iterate over ``items`` with a bar showing the current one."""
    with progress(description, total=len(items), unit=unit) as bar:
        for item in items:
            bar.set_postfix_str(str(item))
            yield item
            bar.update()
