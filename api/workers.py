"""Worker processes for the work that would hold Python's interpreter lock for seconds at a time.

A feature edit of up to 10 MB (its JSON parsed, the geometry built, checked and repaired by GEOS,
written as EWKB, the audit's before and after encoded) and the schedule import (openpyxl over
10,000 rows, then a round trip per row) run here, not in the event loop's process: a thread would not
do, since C code such as a 10 MB ``json.loads`` keeps the lock, and with it the event loop, for up to
a second. ``GISPLAN_EDIT_WORKERS`` processes (started with ``spawn``: by ``gisplan serve`` as the app starts,
else when first given work) each open a workspace of their own on the app's database.

A task is a module-level function (sent by name) taking plain values (ids, bytes, a caller); its
library errors come back whole (:class:`gis.errors.GisError` pickles with its attributes).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from gis.errors import UnavailableError
from gis.settings import Settings
from gis.store.engine import database_fault
from gis.workspace import Workspace, connect

T = TypeVar("T")

# In a worker process: the settings it was started with, and its workspace once opened.
_settings: Settings | None = None
_workspace: Workspace | None = None


def _start(settings: Settings) -> None:
    global _settings
    _settings = settings


def workspace() -> Workspace:
    """The worker process's own workspace (opened on first use; the app's process migrated the schema)."""
    global _workspace
    if _workspace is None:
        if _settings is None:
            raise RuntimeError("api.workers.workspace() is for tasks running in a worker process")
        _workspace = connect(settings=_settings, check=False)
    return _workspace


def _call(task: Callable[..., T], *args: Any) -> T:
    """In a worker process: ``task(*args)``, a database fault coming back as the library's error."""
    try:
        return task(*args)
    except Exception as error:
        fault = database_fault(error)
        if fault is None:
            raise
        raise fault from None


def _ready() -> None:
    workspace()  # the imports done, the engine made (no connection yet: the database may be down)


class Workers:
    """The app's pool of worker processes (``app.state.workers``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = self._pool()

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.settings.edit_workers,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a process that runs threads
            initializer=_start,
            initargs=(self.settings,),
        )

    def warm(self) -> None:
        """Start every worker process now (a spawned worker takes seconds to import its libraries),
        without waiting for them."""
        for _ in range(self.settings.edit_workers):
            self.pool.submit(_ready)

    async def run(self, task: Callable[..., T], *args: Any) -> T:
        """``task(*args)`` in a worker process, awaited without holding up the event loop.

        Raises
        ------
        UnavailableError
            A worker process died (killed, out of memory): the pool is started afresh; try again.
        """
        try:
            return await asyncio.wrap_future(self.pool.submit(_call, task, *args))
        except BrokenProcessPool:
            broken, self.pool = self.pool, self._pool()
            broken.shutdown(wait=False, cancel_futures=True)
            raise UnavailableError("a worker process stopped while working on this request; try again") from None

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
