import pandas as pd
import pytest

from gis.workspace import Workspace


@pytest.mark.sample
def test_scratch(ws: Workspace) -> None:
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    f = ws.assessment.figures("2026Q3")
    print(f.table())
    print(ws.programme.submissions())
    print(ws.findings.items()[["street", "deadline", "closed_on"]])
    s = ws.assessment.scores("2026Q3")
    print(s.ranking())
    print(s.items.head(10))
    ev = ws.evidence.items()
    print(ev[["id", "compound_id", "category"]])
