"""Pipelines (restricted): the GB 50289 checks, overhead lines to bury, the inventory."""
