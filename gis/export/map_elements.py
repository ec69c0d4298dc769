"""The fixed boxes drawn over the offline map (legend, the month's figures per street, title) and
the tooltips and popups of its features.

Every value a page shows is text, never markup: the boxes escape what they write, and the tooltips
and popups (:class:`TextTooltip`, :class:`TextPopup`) fill their tables with ``textContent``, where
folium's ``GeoJsonTooltip``/``GeoJsonPopup`` put raw property values into ``innerHTML`` (a compound
named ``<img src=x onerror=...>`` would run script in every exported map).
"""

from __future__ import annotations

import html
from typing import Any

from branca.element import MacroElement
from folium import GeoJsonPopup, GeoJsonTooltip
from folium.template import Template as FoliumTemplate
from jinja2 import Template

# (colour, text, shape): shape "dot", "line" or "" (a square)
LegendRow = tuple[str, str, str]
LegendSection = tuple[str, list[LegendRow]]


class Legend(MacroElement):
    """A fixed legend box (HTML), in Chinese with English beneath."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gisplan-legend" style="position: fixed; bottom: 28px; right: 10px; z-index: 9999;
             background: rgba(255,255,255,.93); border: 1px solid #999; border-radius: 4px; padding: 8px 10px;
             font-size: 13px; max-height: 70%; overflow-y: auto;
             font-family: 'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;">
        {{ this.body }}
        </div>
        {% endmacro %}
    """)

    def __init__(self, sections: list[LegendSection]) -> None:
        super().__init__()
        self._name = "Legend"
        parts = []
        for title, rows in sections:
            parts.append(f'<div style="font-weight:bold;margin:4px 0 2px">{html.escape(title)}</div>')
            for colour, text, shape in rows:
                radius = "50%" if shape == "dot" else "0"
                height = "3px" if shape == "line" else "11px"
                swatch = (
                    f"display:inline-block;width:14px;height:{height};border-radius:{radius};"
                    f"background:{colour};border:1px solid rgba(0,0,0,.3)"
                )
                parts.append(
                    '<div style="display:flex;align-items:center;gap:6px;margin:1px 0">'
                    f'<span style="{swatch}"></span>{html.escape(text)}</div>'
                )
        self.body = "\n".join(parts)


class StreetFigures(MacroElement):
    """The month's programme figures per street (挂图作战), a fixed table on the map."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gisplan-figures" style="position: fixed; top: 74px; left: 60px; z-index: 9999;
             background: rgba(255,255,255,.94); border: 1px solid #999; border-radius: 4px; padding: 6px 8px;
             font-size: 12px; font-family: 'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;">
        {{ this.body }}</div>
        {% endmacro %}
    """)

    def __init__(self, figures: dict[str, Any]) -> None:
        super().__init__()
        self._name = "StreetFigures"
        head = "".join(f'<th style="padding:1px 5px">{h}</th>' for h in ("街道", "项目", "已开工", "已完工", "滞后"))
        rows = []
        for s in figures["streets"]:
            late = ' style="color:#d73027;font-weight:bold"' if s["overdue"] else ""
            cells = (s["projects"], s["started"], s["finished"])
            rows.append(
                f"<tr><td>{html.escape(str(s['street']))}</td>"
                + "".join(f'<td style="text-align:right">{html.escape(str(v))}</td>' for v in cells)
                + f'<td style="text-align:right"{late}>{html.escape(str(s["overdue"]))}</td></tr>'
            )
        title = f"{figures['year']} 年度改造进度（{figures['month']}）"
        self.body = f"<b>{html.escape(title)}</b><table>{'<tr>' + head + '</tr>'}{''.join(rows)}</table>"


class Title(MacroElement):
    """The map's title and, beneath it, the attribution and any notes on what was left out."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gisplan-title" style="position: fixed; top: 10px; left: 60px; z-index: 9999;
             background: rgba(140,28,19,.92); color: #fff; padding: 6px 12px; border-radius: 4px; font-size: 17px;
             font-family: 'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;">
        {{ this.text }}<div style="font-size: 12px; opacity: .9">{{ this.sub }}</div></div>
        {% endmacro %}
    """)

    def __init__(self, text: str, sub: str) -> None:
        super().__init__()
        self._name = "Title"
        self.text = html.escape(text)
        self.sub = html.escape(sub)


# A feature's fields as a table built from DOM nodes: every value is set as textContent, so nothing
# in a property is parsed as HTML (folium's own template concatenates them into innerHTML).
_TEXT_TABLE = """
    function(layer){
    let div = L.DomUtil.create('div');
    let fields = {{ this.fields | tojson }};
    let aliases = {{ this.aliases | tojson }};
    let table = L.DomUtil.create('table', '', div);
    fields.forEach(function(field, i) {
        let value = layer.feature.properties[field];
        if (value === null || value === undefined) { value = ''; }
        else if (typeof value === 'object') { value = JSON.stringify(value); }
        let tr = L.DomUtil.create('tr', '', table);
        {%- if this.labels %}
        L.DomUtil.create('th', '', tr).textContent = String(aliases[i]);
        {%- endif %}
        let td = L.DomUtil.create('td', '', tr);
        td.textContent = {% if this.localize %}value.toLocaleString(){% else %}String(value){% endif %};
    });
    return div;
    }
"""


class TextTooltip(GeoJsonTooltip):
    """``folium.GeoJsonTooltip`` whose values are shown as text (``textContent``), never as HTML."""

    _template = FoliumTemplate(
        "{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.bindTooltip("
        + _TEXT_TABLE
        + ",{{ this.tooltip_options | tojavascript }});{% endmacro %}"
    )


class TextPopup(GeoJsonPopup):
    """``folium.GeoJsonPopup`` whose values are shown as text (``textContent``), never as HTML."""

    _template = FoliumTemplate(
        "{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.bindPopup("
        + _TEXT_TABLE
        + ",{{ this.popup_options | tojavascript }});{% endmacro %}"
    )
