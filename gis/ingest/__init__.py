"""Importing files into layers: readers, feature checks and mapping, transactional writes."""

from gis.ingest.import_report import ImportReport, Problem
from gis.ingest.load import load_file

__all__ = ["ImportReport", "Problem", "load_file"]
