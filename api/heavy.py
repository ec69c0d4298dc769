"""A bound on the heavy requests each server process serves at once: past it, 503 with Retry-After.

Heavy: what reads or draws a whole layer or run per request — the whole-file exports (the offline
map, the GeoPackage, the gap tables, a 一区一策 report), a walking catchment, a run's GeoJSON or CSV.
Rather than queue behind each other until every worker thread and database connection is taken
(and the light requests — pages of features, tiles, the web map — wait with them), the ones past
``GISPLAN_HEAVY_REQUESTS`` are refused at once, and the client is told when to come back. The count
is per process: N workers serve up to N times as many.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from fastapi import Depends, HTTPException, Request

RETRY_AFTER_S = 5


class Slots:
    """At most ``n`` holders at once; :meth:`take` never waits."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.busy = 0
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.busy >= self.n:
                return False
            self.busy += 1
            return True

    def give_back(self) -> None:
        with self.lock:
            self.busy -= 1


def heavy_slot(request: Request) -> Iterator[None]:
    """Hold one of the process's heavy slots for the request, or answer 503 when none is free."""
    slots: Slots = request.app.state.heavy
    if not slots.take():
        raise HTTPException(
            503,
            f"the server is busy with {slots.n} large requests; try again in {RETRY_AFTER_S} s"
            " / 服务器繁忙，请稍后再试",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    try:
        yield
    finally:
        slots.give_back()


# "function": the slot is given back when the route returns, before the response is sent
HEAVY = [Depends(heavy_slot, scope="function")]
