"""Exports a bureau hands on: the offline map (HTML), the GeoPackage with QGIS styles, gap tables
(CSV/XLSX) and the per-compound report (一区一策); each works with no network. Also what a map
shows (``symbology``), the web map's configuration (``webmap``) and the progress figures
(``progress``).

Every export takes an :class:`~gis.export.context.ExportContext` that the workspace builds
(``ws.export_context(role, module.NEEDS)``), never the workspace itself.
"""
