"""The web map's configuration for a role: the layers and fields it may see, where to open, the
labels and colours, and what has been analysed. Nothing here knows HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from gis.export.symbology import TITLE, code_labels, symbology
from gis.gaps import runs
from gis.registry import LayerDef, Registry
from gis.roles import Role, visible_fields, visible_layers
from gis.standards import DOUBTFUL, STATUS_LABELS
from gis.store import layers

# the map opens on the first of these that holds anything
OPEN_ON = ("compounds", "roads", "facilities")


@dataclass(frozen=True)
class Basemap:
    """An outside raster basemap the page may draw under the project's own layers."""

    tiles: str
    attribution: str | None = None


@dataclass(frozen=True)
class MapState:
    """What the database holds that the configuration tells the page."""

    bounds: list[float] | None
    gaps: dict[str, Any]
    facility_counts: dict[str, int]


def map_state(engine: Engine, registry: Registry) -> MapState:
    """The extent to open on, the latest gap run of each type and the facilities per type."""
    bounds = None
    for layer_id in OPEN_ON:
        bounds = layers.extent_lonlat(engine, registry.layer(layer_id))
        if bounds:
            break
    return MapState(
        bounds=bounds,
        gaps=runs.gap_overview(engine),
        facility_counts=layers.counts_by(engine, registry.layer("facilities"), "type"),
    )


def layer_config(layer: LayerDef, role: Role) -> dict[str, Any]:
    """One layer as the page draws it: labels, style, the fields the role sees, its tile URL."""
    defs = {f.id: f for f in layer.fields}
    return {
        "id": layer.id,
        "label": {"zh": layer.label.zh, "en": layer.label.en},
        "geometry": layer.geometry,
        "restricted": layer.restricted,
        "style": layer.style,
        "fields": [
            {"id": f, "zh": defs[f].zh, "en": defs[f].en, "codes": defs[f].codes}
            for f in visible_fields(layer, role)
            if f in defs
        ],
        "tiles": f"/ogc/collections/{layer.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}",
    }


def visible_code_lists(registry: Registry, role: Role) -> set[str]:
    """The code lists behind the fields a role sees, on the layers it sees."""
    return {
        f.codes
        for layer in visible_layers(registry, role)
        for f in layer.fields
        if f.codes and f.id in visible_fields(layer, role)
    }


def map_config(
    registry: Registry, role: Role, state: MapState, *, attribution: str, basemap: Basemap | None = None
) -> dict[str, Any]:
    """The web map's configuration for a role: only the layers and fields the role may see.

    A public caller's configuration names no restricted layer, nor the code lists, colours or fields
    that only a restricted layer uses (the pipeline kinds and their symbology), so the page never
    asks for them and a reader of the page learns nothing of them.
    """
    lists = visible_code_lists(registry, role)
    hidden = set(registry.codes) - lists  # a symbology table named after a code list the role does not see
    return {
        "title": TITLE,
        "role": role,
        "bounds": state.bounds,
        "attribution": attribution,
        "basemap": {"tiles": basemap.tiles, "attribution": basemap.attribution} if basemap else None,
        "layers": [layer_config(layer, role) for layer in visible_layers(registry, role)],
        "codes": {name: labels for name, labels in code_labels(registry).items() if name in lists},
        "symbology": {key: value for key, value in symbology().items() if key not in hidden},
        "gaps": state.gaps,
        # the labels of the standard values' statuses: a radius with a doubtful one is marked on the page
        "statuses": {
            status: {"zh": zh, "en": en, "doubtful": status in DOUBTFUL} for status, (zh, en) in STATUS_LABELS.items()
        },
        "facility_counts": state.facility_counts,
    }
