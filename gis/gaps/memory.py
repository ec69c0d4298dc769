"""Will an analysis fit? Its peak memory estimated from its inputs, against what the machine has free.

A gap analysis holds the road network (nodes, segments and their spatial index), the access points
of every compound and facility, and one row of distances per node for each search: its peak grows
with the road segments. The figure per segment is measured (``bench/access.py``: ``gisplan gaps``
peaked at 397 MB for 55,954 segments, 692 MB for 503,826 and 745 MB for 559,800, about 650 bytes a
segment over a 360 MB start), taken here with about twice the headroom; an analysis
whose estimate exceeds what the machine has available is refused at once with the figures, rather
than dying at the operating system's hand an hour in.
"""

from __future__ import annotations

from pathlib import Path

from gis.errors import TooLargeError

# peak bytes per road segment (with its share of nodes, index, access points and distance rows),
# and what every run needs whatever its size (the interpreter and the libraries)
BYTES_PER_SEGMENT = 1_600
BASE_BYTES = 400 * 1024 * 1024
MEMINFO = Path("/proc/meminfo")


def available_bytes() -> int | None:
    """The memory the kernel says is available to a new process (``MemAvailable``); None if unknown."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_fits(segments: int, available: int | None = None) -> int:
    """The estimated peak of an analysis over ``segments`` road segments; raises
    :class:`~gis.errors.TooLargeError` when it exceeds ``available`` (default: the machine's)."""
    need = BASE_BYTES + BYTES_PER_SEGMENT * segments
    free = available_bytes() if available is None else available
    if free is not None and need > free:
        raise TooLargeError(
            f"the walking network has {segments:,} road segments: the analysis would need about "
            f"{need / 2**30:.1f} GB of memory and {free / 2**30:.1f} GB is available: run it on a machine "
            "with more memory, or on part of the area / 路网过大，内存不足，请换用更大内存的机器或分区计算"
        )
    return need
