"""The API definition in OpenAPI 3.0, for the OGC landing page's ``service-desc``.

FastAPI writes OpenAPI 3.1 (``/openapi.json``); OGC API – Features Part 1's OpenAPI class asks for
3.0, which many clients still read. The 3.1 document is rewritten in 3.0's terms, keyword by
keyword, where the two differ for what gisplan's routes use (JSON Schema 2020-12 → 3.0's subset):

- a type list or an ``anyOf``/``oneOf`` with ``{"type": "null"}`` → the other schema, ``nullable``;
- ``const`` → a one-value ``enum``; a list of ``examples`` in a schema → its first as ``example``;
- numeric ``exclusiveMinimum``/``exclusiveMaximum`` → ``minimum``/``maximum`` with a boolean;
- ``contentMediaType`` (an uploaded file) → ``format: binary``;
- 3.1's ``info.summary``, ``license.identifier``, ``jsonSchemaDialect`` and ``webhooks`` dropped.

The result is checked against the OpenAPI 3.0 schema in the tests (openapi-spec-validator).
"""

from __future__ import annotations

from typing import Any

MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_CONTAINERS = ("properties", "patternProperties", "$defs", "definitions", "schemas")


def downgrade(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 ``document`` as an OpenAPI 3.0.3 document (a new dict; the input is kept)."""
    out = {k: _walk(v) for k, v in document.items() if k not in ("jsonSchemaDialect", "webhooks")}
    out["openapi"] = "3.0.3"
    info = dict(out.get("info", {}))
    summary = info.pop("summary", None)
    if summary and "description" not in info:
        info["description"] = summary
    if "license" in info:
        info["license"] = {k: v for k, v in info["license"].items() if k != "identifier"}
    out["info"] = info
    return out


def under(document: dict[str, Any], prefix: str, base: str) -> dict[str, Any]:
    """The part of ``document`` under the path ``prefix``, its paths relative to ``base`` (the
    prefix's URL, given as the one ``servers`` entry)."""
    paths = {
        path[len(prefix) :] or "/": item
        for path, item in document.get("paths", {}).items()
        if path == prefix or path.startswith(prefix + "/")
    }
    return {**document, "servers": [{"url": base}], "paths": paths}


def _walk(value: Any) -> Any:
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if not isinstance(value, dict):
        return value
    node = {k: _walk(v) for k, v in value.items()}
    return _schema(node) if _is_schema(node) else node


def _is_schema(node: dict[str, Any]) -> bool:
    keys = ("type", "anyOf", "oneOf", "allOf", "const", "$ref", "properties", "items", "enum")
    return any(k in node for k in keys) or "exclusiveMinimum" in node or "contentMediaType" in node


def _schema(node: dict[str, Any]) -> dict[str, Any]:
    node = _nullable(node)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list):
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), int | float) and not isinstance(node[bound], bool):
            node[plain] = node.pop(bound)
            node[bound] = True
    if "contentMediaType" in node:
        node.pop("contentMediaType")
        node.setdefault("format", "binary")
    if "$ref" in node and len(node) > 1:  # 3.0 ignores a $ref's siblings: keep them through allOf
        ref = {"$ref": node.pop("$ref")}
        node["allOf"] = [ref, *node.get("allOf", [])]
    return node


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """3.1's null type (in a type list, or an ``anyOf``/``oneOf`` option) as 3.0's ``nullable``."""
    kind = node.get("type")
    if isinstance(kind, list):
        others = [t for t in kind if t != "null"]
        if "null" in kind:
            node["nullable"] = True
        if len(others) == 1:
            node["type"] = others[0]
        else:  # several types: one schema each
            node.pop("type")
            node["anyOf"] = [{"type": t} for t in others]
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if not (isinstance(options, list) and {"type": "null"} in options):
            continue
        rest = [o for o in options if o != {"type": "null"}]
        node.pop(key)
        node["nullable"] = True
        if len(rest) == 1 and "$ref" not in rest[0]:
            node = {**rest[0], **node}
        elif len(rest) == 1:
            node["allOf"] = rest  # a $ref has no siblings in 3.0
        else:
            node[key] = rest
    return node
