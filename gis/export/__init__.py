"""Exports a bureau hands on: the offline map (HTML), the GeoPackage with QGIS styles, gap tables
(CSV/XLSX) and the per-compound report (一区一策). Each works with no network."""
