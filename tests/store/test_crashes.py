"""Crashes lose nothing (issue #15, item 6): ``kill -9`` of the command line or of ``gisplan serve``
during ``load --replace``, a schedule import, a month's submission, a gap run, an API edit and a gap
job leaves every table exactly as before or exactly as after, with one audit or event row per change,
no half-written run and no job left running, and the next command succeeds.

The code of ``bench/crash.py`` (``tests/helpers/crash.py``, ``crash_ops.py``) against the suite's
server: the commands at 2 points each (the moment the operation is seen writing, plus a random part of
its measured write, then the moment its change is seen committed), the two served operations at the
latter only (each kill there costs a server start, and it is the moment that found the one fault).
The benchmark runs 20 points per operation (README, Reliability). The commands are forked from a
process that imported the library (``tests/helpers/forked.py``); the server is a real ``gisplan
serve`` process, shared by the two operations served.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.crash import Lab, lab_on, run_operation, table
from tests.helpers.crash_ops import OPERATIONS
from tests.helpers.database import SuiteServer

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)
SERVED = {"edit", "gap-job"}


@pytest.fixture(scope="module")
def lab(test_server: SuiteServer, template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The databases before (made once for the module), the scratch files, the shared server."""
    with lab_on(test_server, tmp_path_factory.mktemp("crash")) as found:
        found.bases["empty"] = template
        yield found


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_a_crash_leaves_every_table_as_before_or_as_after(lab: Lab, name: str) -> None:
    kinds = ("committed",) if name in SERVED else ("writing", "committed")
    result = run_operation(lab, OPERATIONS[name](), len(kinds), kinds)
    report = table([result])
    print(report)
    assert [p.kind for p in result.points] == list(kinds), report
    assert result.count("before") + result.count("after") == len(kinds), report
    assert result.other == 0, report
