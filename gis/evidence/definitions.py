"""What evidence must be, as data: ``layers/programme/evidence.yaml`` validated."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict

from gis.registry import read_rules, registry
from gis.standards import Rule


class EvidenceDefs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    media_types: list[str]
    max_bytes: Rule
    max_distance_m: Rule
    stage_grace_days: Rule
    thumbnail_px: int

    @property
    def categories(self) -> list[str]:
        """The category codes (``evidence_category`` of ``layers/codes.yaml``)."""
        return registry().code_list("evidence_category").ids

    def resolve_category(self, value: str) -> str | None:
        """A category code from a code or a label (违建, 施工 ...); None if it is none."""
        return registry().code_list("evidence_category").resolve(value)


@cache
def evidence_defs() -> EvidenceDefs:
    """The evidence rules shipped in ``layers/programme/evidence.yaml`` (read once)."""
    return read_rules("evidence.yaml", EvidenceDefs)
