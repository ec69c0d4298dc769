"""What evidence must be, as data: ``layers/programme/evidence.yaml`` validated."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from gis.errors import RegistryError
from gis.registry import registry
from gis.yamlfiles import load_yaml

Status = Literal["confirmed", "strong", "local_rule", "unverified"]


class Rule(BaseModel):
    """A number with the status of its source."""

    model_config = ConfigDict(extra="forbid")
    value: float
    status: Status


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
    text = resources.files("layers.programme").joinpath("evidence.yaml").read_text(encoding="utf-8")
    try:
        return EvidenceDefs.model_validate(load_yaml(text))
    except ValidationError as exc:
        raise RegistryError(f"invalid layers/programme/evidence.yaml: {exc}") from exc
