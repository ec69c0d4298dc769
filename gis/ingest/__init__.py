"""Importing files into layers: readers, feature checks and mapping, transactional writes."""

from gis.ingest.load import load_file
from gis.ingest.report import ImportReport, Problem

__all__ = ["ImportReport", "Problem", "load_file"]
