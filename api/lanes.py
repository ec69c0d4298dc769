"""The reading lane: the threads that tiles, pages and features are read in, apart from FastAPI's pool.

With FastAPI's forty threads, sixteen reads at once each held a thread and fought for the
interpreter lock with the event loop, and the slowest waited longest: small tiles had a p99 of
270-330 ms against 210 ms in a lane of four, at the same throughput (one server process, 2 cores,
``wrk`` with 16 connections). PostgreSQL does the reading; four threads keep it busy. Other routes
(exports, analyses, edits) keep the shared pool, so a read never waits behind an export.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request

READ_THREADS = 4
T = TypeVar("T")


def read_lane() -> anyio.CapacityLimiter:
    """A new lane (made in the app's lifespan: a limiter belongs to its event loop)."""
    return anyio.CapacityLimiter(READ_THREADS)


async def in_read_lane(request: Request, read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``read(*args, **kwargs)`` in a thread of the app's reading lane."""
    return await anyio.to_thread.run_sync(functools.partial(read, *args, **kwargs), limiter=request.app.state.read_lane)
