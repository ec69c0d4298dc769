"""Evidence (资料): photos, scans and PDFs that prove a reported step.

The modules, from the bottom: ``definitions`` (``layers/programme/evidence.yaml``), ``files`` (what
a file is, read from its bytes: type, hash, EXIF time and position, thumbnail; pure), ``checks``
(when a photo does not prove what it is attached to: the flags; pure).
"""

from gis.evidence.checks import Flag, StageWindow, flags, stage_window
from gis.evidence.definitions import EvidenceDefs, evidence_defs
from gis.evidence.files import FileFacts, inspect, thumbnail

__all__ = [
    "EvidenceDefs",
    "FileFacts",
    "Flag",
    "StageWindow",
    "evidence_defs",
    "flags",
    "inspect",
    "stage_window",
    "thumbnail",
]
