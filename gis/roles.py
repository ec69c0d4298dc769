"""Who may see what: the roles and the layers and fields each role sees (the users: gis.store.users).

Which layer is restricted and which field is public comes from ``layers/*.yaml``, never from code:
the public sees the unrestricted layers and their public fields; planners and admins see all.
"""

from __future__ import annotations

from typing import Literal

from gis.registry import LayerDef, Registry

Role = Literal["public", "planner", "admin"]
ROLES: tuple[Role, ...] = ("public", "planner", "admin")


def can_see(layer: LayerDef, role: Role) -> bool:
    return role != "public" or not layer.restricted


def visible_layers(registry: Registry, role: Role) -> list[LayerDef]:
    return [layer for layer in registry.layers.values() if can_see(layer, role)]


def visible_fields(layer: LayerDef, role: Role) -> list[str]:
    """Declared fields the role may read. Provenance — ``source``, ``source_key``, ``extra`` and
    ``synthetic`` (which values of the sample were made up) — is for planners only."""
    if role == "public":
        return [f.id for f in layer.fields if f.public]
    return [*[f.id for f in layer.fields], "synthetic"]
