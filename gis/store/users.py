"""The users and their bearer tokens (``users``; stored hashed): the one owner of the table."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Engine, text

from gis.errors import UserError
from gis.roles import ROLES, Role

USER_EXISTS = "SELECT 1 FROM users WHERE name = :n"
INSERT_USER = "INSERT INTO users (name, role, token_hash) VALUES (:n, :r, :h)"
ROLE_OF = "SELECT name, role FROM users WHERE token_hash = :h AND NOT disabled"


def token_hash(token: str) -> str:
    """SHA-256 of a token: tokens are long random strings, so a plain hash suffices (no password)."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(engine: Engine, name: str, role: Role) -> str:
    """Create a user and return their bearer token; only its hash is stored, so it is shown once."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        exists = conn.execute(text(USER_EXISTS), {"n": name}).first()
        if exists:
            raise UserError(f"a user called {name!r} exists already")
        conn.execute(text(INSERT_USER), {"n": name, "r": role, "h": token_hash(token)})
    return token


def role_of(engine: Engine, token: str) -> tuple[str, Role] | None:
    """(user name, role) of a valid, enabled token; None otherwise."""
    with engine.connect() as conn:
        row = conn.execute(text(ROLE_OF), {"h": token_hash(token)}).first()
    return (row.name, row.role) if row else None
