"""The engines behind the OGC API: feature queries, vector tiles, edits."""
