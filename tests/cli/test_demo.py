"""The demo loads the bundled sample completely, labels what is synthetic, and re-runs idempotently."""

from __future__ import annotations

from pathlib import Path

import pyogrio
from rich.console import Console

from gis.demo import SAMPLE_LAYERS, run_demo, sample_path
from gis.workspace import Workspace


def test_demo_loads_every_sample_feature(ws: Workspace, tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    run_demo(ws, console, out_dir=tmp_path / "out")
    expected = {name: pyogrio.read_info(sample_path(), layer=name)["features"] for name in SAMPLE_LAYERS}
    counts = ws.layers().set_index("id")["count"].to_dict()
    assert {k: counts[k] for k in SAMPLE_LAYERS} == expected
    text = console.export_text()
    assert "compounds 小区" in text and str(expected["roads"]) in text
    assert (tmp_path / "out" / "layers.csv").read_text(encoding="utf-8-sig").startswith("id,")

    # Synthetic data are labelled in the data: every pipeline but the real OSM power line, all compounds.
    pipes = ws.layer("pipelines")
    real = pipes[pipes["synthetic"].isna()]
    assert len(real) == 1 and real.iloc[0]["extra"]["osm_id"].startswith("way/")
    assert ws.layer("compounds")["synthetic"].str.contains("households").all()

    # Re-running changes nothing. (The programme advanced compounds' stages to today; re-loading the
    # sample puts the file's stages back and the schedule import restores the programme's, both audited.)
    from sqlalchemy import text as sql

    def state() -> tuple[object, ...]:
        with ws.engine.connect() as conn:
            events = conn.execute(sql("SELECT count(*) FROM programme_events")).scalar_one()
            events = (events, *conn.execute(sql("SELECT count(*) FROM audit_log WHERE layer = 'evidence'")).one())
            events = (*events, *conn.execute(sql("SELECT count(*) FROM acceptances")).one())
        layer = ws.layer("compounds").drop(columns=["version", "geometry"])
        return events, layer.astype(str).to_dict("records")

    first = state()
    changed = "SELECT count(*) FROM audit_log WHERE action <> 'insert' AND layer <> 'compounds'"
    with ws.engine.connect() as conn:  # the demo's own closing of a finding is an update: made once
        updates = conn.execute(sql(changed)).scalar_one()
    again = Console(record=True, width=200)
    run_demo(ws, again, out_dir=tmp_path / "out")
    assert ws.layers().set_index("id")["count"].to_dict() == counts
    assert state() == first
    with ws.engine.connect() as conn:
        assert conn.execute(sql(changed)).scalar_one() == updates
