"""The layer registry: layer definitions and code lists read from ``layers/*.yaml``.

The definitions are data shipped inside the package; this module validates them (pydantic) and
answers questions about them: which field an input column maps to, which code a label means,
which fields the public may see. It never touches the database.
"""

from __future__ import annotations

import re
from functools import cache, cached_property
from importlib import resources
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gis.errors import RegistryError, UnknownLayerError
from gis.yamlfiles import load_yaml

GeometryName = Literal["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
FieldType = Literal["text", "integer", "number", "boolean", "date", "datetime", "code", "codes"]

# Columns every layer table has, whatever its definition says (see the migrations).
SYSTEM_COLUMNS = (
    "fid",
    "source",
    "source_key",
    "synthetic",
    "extra",
    "version",
    "created_at",
    "updated_at",
    "geom",
)


def normalise_label(value: str) -> str:
    """Fold a label for matching: trim, case-fold, drop spaces, unify brackets."""
    value = value.strip().casefold()
    value = value.replace("（", "(").replace("）", ")").replace("²", "2")
    return re.sub(r"\s+", "", value)


class Labels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str
    aliases: list[str] = []
    parent: str | None = None
    names: list[str] = []  # regular expressions searched in a feature's name (facility types)
    osm_tags: list[str] = []  # "key=value" that alone classify an OSM feature

    @field_validator("osm_tags")
    @classmethod
    def _tags_are_pairs(cls, v: list[str]) -> list[str]:
        for tag in v:
            if "=" not in tag:
                raise ValueError(f"osm tag {tag!r} must read key=value")
        return v


class CodeList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = ""
    label: Labels
    source: str | None = None
    osm_ambiguous_tags: list[str] = []
    osm_candidate_keys: list[str] = []
    codes: list[Code]

    @cached_property
    def lookup(self) -> dict[str, str]:
        """Every accepted spelling (id, zh, en, alias), folded, to the code id."""
        table: dict[str, str] = {}
        for code in self.codes:
            for spelling in (code.id, code.zh, code.en, *code.aliases):
                table.setdefault(normalise_label(spelling), code.id)
        return table

    def resolve(self, value: str) -> str | None:
        """The code id that ``value`` spells, or None."""
        return self.lookup.get(normalise_label(value))

    def get(self, code_id: str) -> Code:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.codes]


class FieldDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: FieldType
    zh: str
    en: str
    aliases: list[str] = []
    codes: str | None = None
    required: bool = False
    public: bool = True
    min: float | None = None
    max: float | None = None
    # Values read as given before the type's own reading, matched case-folded: a convention of one
    # field that the type's general rule would misread (Geofabrik's oneway F, "forward", is one-way).
    values: dict[str, bool | int | float | str] = {}

    @model_validator(mode="after")
    def _codes_for_code_fields(self) -> FieldDef:
        if self.type in ("code", "codes") and not self.codes:
            raise ValueError(f"field {self.id}: a {self.type} field names its code list")
        return self

    @cached_property
    def value_lookup(self) -> dict[str, bool | int | float | str]:
        """:attr:`values` by their folded spelling."""
        return {normalise_label(k): v for k, v in self.values.items()}


class OsmRule(BaseModel):
    """Which OpenStreetMap features feed a layer: GDAL OSM layer, tag conditions (all must hold)."""

    model_config = ConfigDict(extra="forbid")
    layer: Literal["points", "lines", "multilinestrings", "multipolygons"]
    where: dict[str, list[str] | Literal["*"]]
    exclude: dict[str, list[str]] = {}
    name_required: bool = False
    set: dict[str, str] = {}


class OsmClassify(BaseModel):
    """Facilities: classify by the code list's tags and name patterns."""

    model_config = ConfigDict(extra="forbid")
    classify: str
    layers: list[Literal["points", "multipolygons"]]


class LayerDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    table: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Labels
    description: Labels
    geometry: list[GeometryName]
    restricted: bool = False
    key_aliases: list[str] = []
    type_field: str | None = None
    fields: list[FieldDef]
    osm: list[OsmRule] | OsmClassify | None = None
    # OSM tags that mean another field than their name says (pipelines: operator= is the owner company)
    osm_rename: dict[str, str] = {}
    not_walkable: list[str] = []
    style: dict[str, Any] = {}
    # Vector tiles below zoom 13 carry only these fields (all the role may see when empty): a
    # city-wide overview needs what it is styled by, not every attribute of ten thousand features.
    overview_fields: list[str] = []
    # A feature too small to draw at a tile's zoom is drawn as a point on its surface, so that a
    # city-wide map shows every one (compounds, facilities); without, it drops out as in any tile
    # server (buildings, water: a z0 tile of 90,000 buildings as points would be a megabyte).
    small_as_points: bool = False
    # Written by its own commands only (evidence: added, withdrawn with a reason, never edited or
    # deleted): imports and OGC edits refuse it.
    read_only: bool = False
    # A feature may have no geometry (a scanned document, a photo without an EXIF position).
    geometry_optional: bool = False

    @model_validator(mode="after")
    def _check(self) -> LayerDef:
        ids = [f.id for f in self.fields]
        if len(ids) != len(set(ids)):
            raise ValueError(f"layer {self.id}: duplicate field ids")
        clash = set(ids) & set(SYSTEM_COLUMNS)
        if clash:
            raise ValueError(f"layer {self.id}: fields {sorted(clash)} clash with system columns")
        if set(self.overview_fields) - set(ids):
            raise ValueError(
                f"layer {self.id}: overview_fields {sorted(set(self.overview_fields) - set(ids))} are not fields"
            )
        if self.type_field and self.type_field not in ids:
            raise ValueError(f"layer {self.id}: type_field {self.type_field} is not a field")
        return self

    def field(self, field_id: str) -> FieldDef:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    @cached_property
    def alias_lookup(self) -> dict[str, str]:
        """Folded input column name -> field id (field ids and labels first, then aliases)."""
        table: dict[str, str] = {}
        for f in self.fields:
            for spelling in (f.id, f.zh, f.en):
                table.setdefault(normalise_label(spelling), f.id)
        for f in self.fields:
            for spelling in f.aliases:
                table.setdefault(normalise_label(spelling), f.id)
        table.setdefault("synthetic", "synthetic")
        table.setdefault("合成字段", "synthetic")
        return table

    @property
    def public_fields(self) -> list[str]:
        return [f.id for f in self.fields if f.public]

    @property
    def storage_types(self) -> set[str]:
        """The geometry types stored (inputs are promoted to these)."""
        return set(self.geometry)


class Registry(BaseModel):
    """All layer definitions and code lists, validated together."""

    layers: dict[str, LayerDef]
    codes: dict[str, CodeList]

    @model_validator(mode="after")
    def _cross_check(self) -> Registry:
        for layer in self.layers.values():
            for f in layer.fields:
                if f.codes and f.codes not in self.codes:
                    raise ValueError(f"layer {layer.id} field {f.id}: unknown code list {f.codes}")
            if isinstance(layer.osm, OsmClassify) and layer.osm.classify not in self.codes:
                raise ValueError(f"layer {layer.id}: osm.classify names unknown code list")
            if isinstance(layer.osm, list):
                for rule in layer.osm:
                    for fid, value in rule.set.items():
                        fdef = layer.field(fid)
                        if fdef.codes and self.codes[fdef.codes].resolve(value) is None:
                            raise ValueError(f"layer {layer.id}: osm rule sets {fid}={value}, not a code")
        return self

    def layer(self, layer_id: str) -> LayerDef:
        """The definition of ``layer_id``; an unknown id raises with the valid ones listed."""
        try:
            return self.layers[layer_id]
        except KeyError:
            raise UnknownLayerError(layer_id, sorted(self.layers)) from None

    def code_list(self, list_id: str) -> CodeList:
        return self.codes[list_id]


def _read_yaml(name: str) -> Any:
    text = resources.files("layers").joinpath(name).read_text(encoding="utf-8")
    return load_yaml(text)


def load_registry() -> Registry:
    """Read and validate every layer definition and code list shipped in ``layers/``."""
    try:
        raw_codes = _read_yaml("codes.yaml")
        codes = {k: CodeList.model_validate({"id": k, **v}) for k, v in raw_codes.items()}
        layers: dict[str, LayerDef] = {}
        for entry in sorted(resources.files("layers").iterdir(), key=lambda p: p.name):
            if entry.name.endswith(".yaml") and entry.name != "codes.yaml":
                layer = LayerDef.model_validate(_read_yaml(entry.name))
                layers[layer.id] = layer
        return Registry(layers=layers, codes=codes)
    except (ValueError, yaml.YAMLError) as exc:
        raise RegistryError(f"invalid layer definitions in layers/: {exc}") from exc


M = TypeVar("M", bound=BaseModel)


def read_rules(name: str, model: type[M], package: str = "layers.programme") -> M:
    """A rules file shipped in ``layers/`` (``package``) validated as ``model``; a RegistryError
    names the file when it is not what the model says."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    where = "/".join([*package.split(".")[1:], name])
    try:
        return model.model_validate(load_yaml(text))
    except ValidationError as exc:
        raise RegistryError(f"invalid layers/{where}: {exc}") from exc


@cache
def registry() -> Registry:
    """The registry, read once per process (the files are package data and do not change)."""
    return load_registry()
