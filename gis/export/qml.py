"""QGIS layer styles (QML) from the symbology data, stored in a GeoPackage's ``layer_styles``
table so that QGIS applies them when the layer is opened (QGIS's GeoPackage styling convention,
https://github.com/pka/qgpkg/blob/master/qgis_geopackage_extension.md).

Colours and categories come from ``layers/styles/symbology.yaml`` and the code lists; field
aliases give the attribute table its Chinese column names.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import quoteattr

Kind = Literal["fill", "line", "marker"]
QGIS_VERSION = "3.22.0"  # the oldest QGIS these styles are written for (Debian 12's)


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _option(name: str, value: str) -> str:
    return f'<Option type="QString" name="{name}" value={quoteattr(value)}/>'


def symbol(kind: Kind, name: str, colour: str, *, outline: str = "#5a1a12", dashed: bool = False) -> str:
    """One QGIS symbol (a fill, a line or a circle marker)."""
    if kind == "fill":
        layer_class = "SimpleFill"
        options = [
            _option("color", _rgba(colour, 190)),
            _option("outline_color", _rgba(outline)),
            _option("outline_width", "0.4"),
            _option("outline_width_unit", "MM"),
            _option("style", "solid"),
        ]
    elif kind == "line":
        layer_class = "SimpleLine"
        options = [
            _option("line_color", _rgba(colour)),
            _option("line_width", "0.6"),
            _option("line_width_unit", "MM"),
            _option("line_style", "dash" if dashed else "solid"),
            _option("capstyle", "round"),
        ]
    else:
        layer_class = "SimpleMarker"
        options = [
            _option("color", _rgba(colour)),
            _option("name", "circle"),
            _option("size", "2.6"),
            _option("size_unit", "MM"),
            _option("outline_color", "255,255,255,255"),
            _option("outline_width", "0.3"),
        ]
    return (
        f'<symbol type="{kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="{layer_class}" enabled="1" locked="0" pass="0"><Option type="Map">{"".join(options)}'
        "</Option></layer></symbol>"
    )


def categorized(
    kind: Kind,
    field: str,
    categories: list[tuple[str, str, str]],
    *,
    fallback: tuple[str, str] | None = None,
    dashed: set[str] | None = None,
) -> str:
    """A categorized renderer: ``categories`` as (value, label, colour); ``fallback`` (label,
    colour) for every other value, including empty."""
    cats, symbols = [], []
    for i, (value, label, colour) in enumerate(categories):
        cats.append(f'<category render="true" symbol="{i}" value={quoteattr(value)} label={quoteattr(label)}/>')
        symbols.append(symbol(kind, str(i), colour, dashed=value in (dashed or set())))
    if fallback is not None:
        i = len(categories)
        cats.append(f'<category render="true" symbol="{i}" value="" label={quoteattr(fallback[0])}/>')
        symbols.append(symbol(kind, str(i), fallback[1]))
    return (
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} symbollevels="0" enableorderby="0" '
        f'forceraster="0"><categories>{"".join(cats)}</categories><symbols>{"".join(symbols)}</symbols>'
        f"<source-symbol>{symbol(kind, '0', '#999999')}</source-symbol></renderer-v2>"
    )


def single(kind: Kind, colour: str, *, outline: str = "#5a1a12") -> str:
    return (
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
        f"<symbols>{symbol(kind, '0', colour, outline=outline)}</symbols></renderer-v2>"
    )


def qml(renderer: str, *, aliases: dict[str, str], label_field: str | None = None) -> str:
    """A whole QML document: renderer, Chinese field aliases, optional labels."""
    alias_xml = "".join(
        f'<alias field={quoteattr(f)} index="{i}" name={quoteattr(a)}/>' for i, (f, a) in enumerate(aliases.items())
    )
    labels = ""
    if label_field:
        labels = (
            '<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={quoteattr(label_field)} fontFamily="WenQuanYi Micro Hei" fontSize="9" '
            'fontSizeUnit="Point" textColor="59,15,10,255" isExpression="0">'
            '<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" bufferColor="255,255,255,255"/>'
            '</text-style><placement placement="1"/><rendering scaleVisibility="1" scaleMin="1" scaleMax="25000"/>'
            "</settings></labeling>"
        )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{QGIS_VERSION}" styleCategories="Symbology|Labeling|Fields" '
        f'labelsEnabled="{1 if label_field else 0}">{renderer}{labels}<aliases>{alias_xml}</aliases></qgis>'
    )


LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS "layer_styles" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "f_table_catalog" TEXT(256), "f_table_schema" TEXT(256),
    "f_table_name" TEXT(256), "f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT,
    "styleSLD" TEXT, "useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30),
    "update_time" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))
"""


def write_styles(path: Path, styles: dict[str, str], *, geometry_column: str = "geom") -> None:
    """Store each layer's QML as its default style, and register the table as GeoPackage content."""
    with sqlite3.connect(path) as db:
        db.execute(LAYER_STYLES_DDL)
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
            "SELECT 'layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles', "
            "strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE NOT EXISTS "
            "(SELECT 1 FROM gpkg_contents WHERE table_name = 'layer_styles')"
        )
        for table, document in styles.items():
            db.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (table,))
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                "VALUES ('', '', ?, ?, ?, ?, '', 1, 'gisplan', '', NULL)",
                (table, geometry_column, f"gisplan {table}", document),
            )
