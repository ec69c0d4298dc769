"""Who may see what: roles, bearer tokens (stored hashed) and the layers and fields each role sees.

Which layer is restricted and which field is public comes from ``layers/*.yaml``, never from code:
the public sees the unrestricted layers and their public fields; planners and admins see all.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

from sqlalchemy import Engine, text

from gis.errors import UserError
from gis.registry import LayerDef, Registry

Role = Literal["public", "planner", "admin"]
ROLES: tuple[Role, ...] = ("public", "planner", "admin")


def token_hash(token: str) -> str:
    """SHA-256 of a token: tokens are long random strings, so a plain hash suffices (no password)."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(engine: Engine, name: str, role: Role) -> str:
    """Create a user and return their bearer token; only its hash is stored, so it is shown once."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM users WHERE name = :n"), {"n": name}).first()
        if exists:
            raise UserError(f"a user called {name!r} exists already")
        conn.execute(
            text("INSERT INTO users (name, role, token_hash) VALUES (:n, :r, :h)"),
            {"n": name, "r": role, "h": token_hash(token)},
        )
    return token


def role_of(engine: Engine, token: str) -> tuple[str, Role] | None:
    """(user name, role) of a valid, enabled token; None otherwise."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT name, role FROM users WHERE token_hash = :h AND NOT disabled"), {"h": token_hash(token)}
        ).first()
    return (row.name, row.role) if row else None


def can_see(layer: LayerDef, role: Role) -> bool:
    return role != "public" or not layer.restricted


def visible_layers(registry: Registry, role: Role) -> list[LayerDef]:
    return [layer for layer in registry.layers.values() if can_see(layer, role)]


def visible_fields(layer: LayerDef, role: Role) -> list[str]:
    """Declared fields the role may read (``extra`` and ``source`` are for planners only)."""
    fields = [f.id for f in layer.fields if role != "public" or f.public]
    return [*fields, "synthetic"]  # which values are synthetic is said to everyone
