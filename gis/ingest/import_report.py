"""What an import found and did: counts, repairs, features set aside with their reasons."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from gis.cells import safe_row


class Problem(BaseModel):
    """One feature that was repaired or set aside."""

    index: int = Field(description="0-based position of the feature in what was read")
    key: str | None = Field(default=None, description="its id in the source, when it has one")
    reason: str
    geometry_wkt: str | None = None
    attributes: dict[str, Any] = {}


class ImportReport(BaseModel):
    """The outcome of one import (also stored in the ``imports`` table)."""

    layer: str
    path: str
    source: str
    import_id: int | None = None
    driver: str | None = None
    source_layers: list[str] = []
    crs_declared: str | None = None
    crs_used: str | None = None
    crs_note: str | None = None
    working_crs: str | None = None
    encoding: str | None = None
    encoding_note: str | None = None
    coords: str = "wgs84"
    read: int = 0
    not_relevant: int = 0
    loaded: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    not_in_file: int = 0
    repaired: list[Problem] = []
    rejected: list[Problem] = []
    field_issues: list[Problem] = []
    warnings: list[str] = []
    refused: str | None = None
    strict: bool = False
    replace: bool = False
    seconds: float = 0.0
    finished_at: datetime | None = None
    report_path: str | None = None
    rejects_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None

    def summary(self) -> dict[str, Any]:
        """The counts, without the per-feature lists (for the ``imports`` table and logs)."""
        data = self.model_dump(mode="json", exclude={"repaired", "rejected", "field_issues"})
        data["repaired"] = len(self.repaired)
        data["rejected"] = len(self.rejected)
        data["field_issues"] = len(self.field_issues)
        return data

    def write(self, directory: Path, stem: str) -> None:
        """Write ``<stem>.report.json`` and, when features were set aside, ``<stem>.rejects.csv``."""
        directory.mkdir(parents=True, exist_ok=True)
        report_path = directory / f"{stem}.report.json"
        if self.rejected:
            rejects_path = directory / f"{stem}.rejects.csv"
            write_problems(rejects_path, self.rejected)
            self.rejects_path = str(rejects_path)
        self.report_path = str(report_path)
        report_path.write_text(self.model_dump_json(indent=2), encoding="utf-8")


def write_problems(path: Path, problems: list[Problem]) -> None:
    """A CSV a planner opens in Excel: index, key, reason, geometry (WKT), then every attribute; text
    neutralised (:func:`gis.cells.safe_row`) so no value runs as a formula."""
    attr_names: list[str] = []
    for p in problems:
        for name in p.attributes:
            if name not in attr_names:
                attr_names.append(name)
    # utf-8-sig so Excel on Windows shows the Chinese text
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(safe_row(["index", "key", "reason", "geometry_wkt", *attr_names]))
        for p in problems:
            writer.writerow(
                safe_row(
                    [
                        p.index,
                        p.key or "",
                        p.reason,
                        p.geometry_wkt or "",
                        *[_cell(p.attributes.get(n)) for n in attr_names],
                    ]
                )
            )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
