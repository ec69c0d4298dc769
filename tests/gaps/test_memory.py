"""An analysis that would not fit is refused before it starts, with the figures (issue #16, item 2)."""

from __future__ import annotations

import pytest

from gis.errors import TooLargeError
from gis.gaps.memory import BASE_BYTES, BYTES_PER_SEGMENT, available_bytes, check_fits


def test_a_network_too_large_for_the_memory_is_refused_with_the_figures() -> None:
    five_million = 5_000_000
    with pytest.raises(TooLargeError) as refused:
        check_fits(five_million, available=4 * 2**30)
    text = str(refused.value)
    assert "5,000,000 road segments" in text and "4.0 GB is available" in text and "内存不足" in text
    assert refused.value.status == 507


def test_what_fits_is_estimated_and_allowed() -> None:
    assert check_fits(560_000, available=8 * 2**30) == BASE_BYTES + 560_000 * BYTES_PER_SEGMENT
    assert check_fits(0, available=None) == BASE_BYTES  # this machine: the estimate of an empty network fits
    free = available_bytes()
    assert free is not None and free > 2**28  # Linux says what is available
