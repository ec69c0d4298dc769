"""``gisplan demo`` and the bundled sample: ``run`` loads the sample (:func:`load_sample`), runs the
gap analysis and writes the exports; ``programme`` the programme's synthetic year (progress,
evidence, acceptance, inspections); ``funds`` the synthetic 跟踪审计 ledger; ``residents`` the
consultation, notice and feedback; ``assessment`` the quarter's 考核. Each later part of the
programme adds its demo module here.
"""

from gis.demo.assessment import run_assessment_demo
from gis.demo.funds import run_funds_demo
from gis.demo.programme import (
    run_acceptance_demo,
    run_evidence_demo,
    run_findings_demo,
    run_programme_demo,
    synthetic_photo,
)
from gis.demo.residents import run_residents_demo
from gis.demo.run import run_demo, write_exports
from gis.demo.sample import SAMPLE_LAYERS, SOURCE, load_sample, sample_path

__all__ = [
    "SAMPLE_LAYERS",
    "SOURCE",
    "load_sample",
    "run_acceptance_demo",
    "run_assessment_demo",
    "run_demo",
    "run_evidence_demo",
    "run_findings_demo",
    "run_funds_demo",
    "run_programme_demo",
    "run_residents_demo",
    "sample_path",
    "synthetic_photo",
    "write_exports",
]
