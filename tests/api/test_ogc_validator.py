"""OGC API – Features Part 1 as someone else reads it: ogctests, a black-box verifier of Part 1's
abstract tests (landing page, conformance, collections, items, a feature, error conditions, the API
definition), run in a venv of its own (``make test`` builds it) against the served sample."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gis.demo import sample_path
from gis.workspace import Workspace

pytestmark = pytest.mark.heavy
VALIDATOR = Path(__file__).resolve().parents[2] / ".venv-ogctests" / "bin" / "python"


def ogctests(scope: str, base: str, cwd: Path) -> None:
    """Run the verifier's ``scope`` against the API at ``base``: every test must pass."""
    assert VALIDATOR.exists(), "the validator's venv is missing: make ogc-validator (make test builds it)"
    run = subprocess.run(
        [str(VALIDATOR), "-m", "ogctests", scope, "-i", f"{base}/ogc"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,  # its pytest run writes its cache here, not in the checkout
        check=False,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0 and " passed" in summary and "failed" not in summary, run.stdout[-4000:]


def test_ogctests_passes_every_part_1_test(server: tuple[str, str], ws: Workspace, tmp_path: Path) -> None:
    base, _ = server
    # buildings and water are still empty: their collections must still be valid documents (an
    # empty layer has no extent, not an empty bbox)
    ogctests("features/core/test_collections.py", base, tmp_path)
    for layer in ("buildings", "water"):  # the whole suite reads a feature of every collection
        ws.load(layer, sample_path(), source_layer=layer)
    ogctests("features/core", base, tmp_path)
