"""What evidence must be, as data: ``layers/programme/evidence.yaml`` validated."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict

from gis.registry import read_rules
from gis.standards import Rule


class EvidenceDefs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    media_types: list[str]
    max_bytes: Rule
    max_distance_m: Rule
    stage_grace_days: Rule
    thumbnail_px: int


@cache
def evidence_defs() -> EvidenceDefs:
    """The evidence rules shipped in ``layers/programme/evidence.yaml`` (read once)."""
    return read_rules("evidence.yaml", EvidenceDefs)
