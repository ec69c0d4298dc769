"""Crashes lose nothing (issue #15, item 6): ``kill -9`` of the command line or of ``gisplan serve``
during ``load --replace``, a schedule import, a month's submission, a gap run, an API edit and a gap
job leaves every table exactly as before or exactly as after, with one audit or event row per change,
no half-written run and no job left running, and the next command succeeds.

The code of ``bench/crash.py`` (``tests/helpers/crash.py``, ``crash_ops.py``) at 2 points per
operation — the moment the operation is seen writing (plus a random part of its measured write), then
the moment its change is seen committed — against the suite's server; the benchmark runs 20 per
operation (README, Reliability). The commands are forked from a process that imported the library
(``tests/helpers/forked.py``); the server is a real ``gisplan serve`` process, shared by the two
operations served.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.crash import Lab, lab_on, run_operation, table
from tests.helpers.crash_ops import OPERATIONS
from tests.helpers.database import SuiteServer


@pytest.fixture(scope="module")
def lab(test_server: SuiteServer, template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The databases before (made once for the module), the scratch files, the shared server."""
    with lab_on(test_server, tmp_path_factory.mktemp("crash")) as found:
        found.bases["empty"] = template
        yield found


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_a_crash_leaves_every_table_as_before_or_as_after(lab: Lab, name: str) -> None:
    result = run_operation(lab, OPERATIONS[name](), 2)
    report = table([result])
    print(report)
    assert [p.kind for p in result.points] == ["writing", "committed"], report
    assert result.count("before") + result.count("after") == 2, report
    assert result.other == 0, report
