"""Pipelines (restricted): the GB 50289 checks, overhead lines to bury, the inventory.

``ws.pipelines`` (:class:`gis.pipelines.tools.PipelineTools`) is the way in; the rules are data in
``layers/standards/pipelines/gb50289.yaml`` (:mod:`gis.pipelines.rules`).
"""

from gis.pipelines.inside import bury_summary
from gis.pipelines.rules import categories, rules

__all__ = ["bury_summary", "categories", "rules"]
