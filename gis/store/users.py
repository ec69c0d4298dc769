"""The users and their tokens (``users``; stored hashed): the one owner of the table.

A token is a long random string shown once; only its SHA-256 is kept. A token works while its user is
enabled and its expiry day (``expires_on``, in the programme's time zone) has not passed. Rotating a
token replaces its hash, so the old one stops working at once. Every change of a user is written to
the audit log (who did it, the user's name, role and state before and after; never a hash).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from gis import clock
from gis.errors import NotFoundError, UserError
from gis.roles import ROLES, Role
from gis.store.audit import audited, record

USER_EXISTS = "SELECT 1 FROM users WHERE name = :n"
INSERT_USER = "INSERT INTO users (name, role, token_hash, expires_on) VALUES (:n, :r, :h, :e) RETURNING id"
LOOKUP = "SELECT name, role, disabled, expires_on FROM users WHERE token_hash = :h"
LIST_USERS = "SELECT id, name, role, created_at, expires_on, disabled, disabled_at, rotated_at FROM users ORDER BY name"
ONE_USER = (
    "SELECT id, name, role, created_at, expires_on, disabled, disabled_at, rotated_at FROM users "
    "WHERE name = :n FOR UPDATE"
)
DISABLE = "UPDATE users SET disabled = true, disabled_at = :at WHERE id = :id AND NOT disabled"
ROTATE = "UPDATE users SET token_hash = :h, rotated_at = :at WHERE id = :id"

# A user name is what HTTP Basic sends before the colon, and what the audit log and the access log
# print: letters (any script), digits and . _ @ - only; no colon, space, markup or control character.
NAME = re.compile(r"[^\W_][\w.@-]{0,63}")


@dataclass(frozen=True)
class User:
    """A user as ``gisplan users list`` shows them (never their token or its hash)."""

    name: str
    role: Role
    created_at: datetime
    expires_on: date | None
    disabled_at: datetime | None
    rotated_at: datetime | None
    disabled: bool

    def state(self, today: date | None = None) -> str:
        """``active``, ``disabled`` or ``expired`` (on ``today``, default the programme's today)."""
        if self.disabled:
            return "disabled"
        if self.expires_on is not None and self.expires_on < clock.today(today):
            return "expired"
        return "active"


@dataclass(frozen=True)
class TokenCheck:
    """What a presented token is: its user and role when it works, else why not (``problem``)."""

    name: str | None
    role: Role | None
    problem: str | None  # None: the token works; "unknown", "disabled", "expired", "wrong user"


def token_hash(token: str) -> str:
    """SHA-256 of a token: tokens are long random strings, so a plain hash suffices (no password)."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """The name when it can be a user's name; UserError saying what is allowed otherwise."""
    if not NAME.fullmatch(name):
        raise UserError(
            f"a user name is 1–64 letters or digits (any script) and . _ @ -, starting with a letter or digit;"
            f" got {name!r}"
        )
    return name


def _user(row: Any) -> User:
    return User(
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        expires_on=row.expires_on,
        disabled_at=row.disabled_at,
        rotated_at=row.rotated_at,
        disabled=row.disabled,
    )


def _state(user: User) -> dict[str, Any]:
    """What the audit log keeps of a user: never the token or its hash."""
    return {"name": user.name, "role": user.role, "disabled": user.disabled, "expires_on": user.expires_on}


def add_user(
    engine: Engine,
    name: str,
    role: Role,
    *,
    expires: date | None = None,
    actor: str = "gisplan",
    today: date | None = None,
) -> str:
    """Create a user and return their token; only its hash is stored, so it is shown once.

    ``expires`` is the last day the token works (in the programme's time zone); a day already past
    is refused. ``actor`` is who creates the user, for the audit log.
    """
    check_name(name)
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if expires is not None and expires < clock.today(today):
        raise UserError(f"the expiry {expires} has passed already")
    token = secrets.token_urlsafe(32)
    with audited(engine, actor) as conn:
        if conn.execute(text(USER_EXISTS), {"n": name}).first():
            raise UserError(f"a user called {name!r} exists already")
        uid: int = conn.execute(
            text(INSERT_USER), {"n": name, "r": role, "h": token_hash(token), "e": expires}
        ).scalar_one()
        after = {"name": name, "role": role, "disabled": False, "expires_on": expires}
        record(conn, table="users", layer="users", action="insert", fid=uid, change=(None, after), actor=actor)
    return token


def list_users(engine: Engine) -> list[User]:
    """Every user, by name."""
    with engine.connect() as conn:
        return [_user(row) for row in conn.execute(text(LIST_USERS))]


def _locked(conn: Connection, name: str) -> tuple[int, User]:
    row = conn.execute(text(ONE_USER), {"n": name}).first()
    if row is None:
        raise NotFoundError(f"no user called {name!r}")
    return int(row.id), _user(row)


def disable_user(engine: Engine, name: str, *, actor: str = "gisplan") -> bool:
    """Disable a user: their token stops working at once. False when they were disabled already."""
    with audited(engine, actor) as conn:
        uid, before = _locked(conn, name)
        if before.disabled:
            return False
        conn.execute(text(DISABLE), {"id": uid, "at": clock.now()})
        change = (_state(before), {**_state(before), "disabled": True})
        record(conn, table="users", layer="users", action="disable", fid=uid, change=change, actor=actor)
    return True


def rotate_token(engine: Engine, name: str, *, actor: str = "gisplan") -> str:
    """A new token for ``name``, returned once; the old one stops working at once.

    A disabled user stays disabled (rotate, then there is nothing to re-enable: make a new user)."""
    token = secrets.token_urlsafe(32)
    with audited(engine, actor) as conn:
        uid, before = _locked(conn, name)
        conn.execute(text(ROTATE), {"id": uid, "h": token_hash(token), "at": clock.now()})
        state = _state(before)
        record(conn, table="users", layer="users", action="rotate", fid=uid, change=(state, state), actor=actor)
    return token


def check_token(engine: Engine, token: str, *, name: str | None = None, today: date | None = None) -> TokenCheck:
    """Does ``token`` work (for user ``name`` when given, as HTTP Basic sends it), on ``today``?"""
    with engine.connect() as conn:
        row = conn.execute(text(LOOKUP), {"h": token_hash(token)}).first()
    if row is None:
        return TokenCheck(None, None, "unknown")
    if name is not None and not secrets.compare_digest(name.encode(), row.name.encode()):
        return TokenCheck(None, None, "wrong user")
    if row.disabled:
        return TokenCheck(row.name, row.role, "disabled")
    if row.expires_on is not None and row.expires_on < clock.today(today):
        return TokenCheck(row.name, row.role, "expired")
    return TokenCheck(row.name, row.role, None)


def role_of(engine: Engine, token: str) -> tuple[str, Role] | None:
    """(user name, role) of a token that works today; None otherwise."""
    found = check_token(engine, token)
    if found.problem is not None or found.name is None or found.role is None:
        return None
    return found.name, found.role
