"""The embedded database: a private PostgreSQL + PostGIS cluster from Debian's binaries.

``gisplan db up`` creates it on first use (``initdb``), picks a free port, starts it and creates
the ``gisplan`` database with PostGIS (and pgRouting when installed). Its description (data
directory, port, the passwords of its three roles) is kept in ``$GISPLAN_HOME/cluster.json``
(mode 0600), so ``db up`` after a machine restart starts the same cluster again.

Nobody else on the machine gets in. The server listens on 127.0.0.1 only; its Unix socket lies in
the cluster's directory, mode 0700 and owned by the server's OS user, so no other account can even
reach it; and ``pg_hba.conf`` asks every connection, local or TCP, for its password (SCRAM-SHA-256):
no line trusts anyone. The roles (see :mod:`gis.store.privileges`): the superuser ``postgres`` only
creates the cluster, the database, the extensions and the roles; migrations run as
``gisplan_owner``; the app connects as ``gisplan_app`` (:meth:`EmbeddedCluster.app_url`, what
``gisplan db url`` prints). A cluster made by an older gisplan (local connections trusted, a 0755
directory, everything as ``postgres``) is brought to this on its next ``db up``.

PostgreSQL refuses to run as root. When gisplan runs as root, the server runs as the ``postgres``
OS user, and its data directory lives under ``/var/lib/gisplan`` (the default home is under
``/root``, which ``postgres`` cannot enter).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from gis.errors import ClusterError
from gis.store import privileges
from gis.store.privileges import APP_ROLE, OWNER_ROLE

DATABASE = "gisplan"
SUPERUSER = "postgres"
ROOT_DATA_BASE = Path("/var/lib/gisplan")

# Settings for throwaway test clusters: durability is not wanted there, speed is.
FAST_OPTIONS = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")

# Written over initdb's: a password for every connection, trust for none.
PG_HBA = """\
# Written by gisplan (rewritten on every `gisplan db up`): every connection, over the Unix socket
# (whose directory only the server's OS user may enter) or over TCP on 127.0.0.1, proves its
# password with SCRAM-SHA-256. No connection is trusted.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
"""


def find_bindir() -> Path:
    """The newest Debian PostgreSQL server binaries (``/usr/lib/postgresql/N/bin``)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        found = shutil.which("initdb")
        if found:
            return Path(found).parent
        raise ClusterError(
            "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin). "
            "Install them with: apt-get install postgresql-15-postgis-3 postgresql-15-pgrouting "
            "(or run `make demo`, which does), or set GISPLAN_DATABASE_URL to an existing PostGIS."
        )
    return candidates[-1].parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ClusterInfo:
    """What ``cluster.json`` holds; ``password`` is the superuser's (a file by an older gisplan
    has no role passwords: ``db up`` adds them)."""

    data_dir: str
    port: int
    password: str
    bindir: str
    owner_password: str = ""
    app_password: str = ""


@dataclass
class ClusterStatus:
    running: bool
    initialised: bool
    data_dir: str | None
    port: int | None
    url: str | None
    log: str | None


class EmbeddedCluster:
    """A private PostgreSQL cluster described by ``home/cluster.json``.

    Parameters
    ----------
    home
        The gisplan home (``GISPLAN_HOME``).
    data_dir
        Where the cluster's files go; by default ``home/cluster``, or under ``/var/lib/gisplan``
        when running as root.
    fast
        Run without fsync (for throwaway test clusters).
    """

    def __init__(self, home: Path, *, data_dir: Path | None = None, fast: bool = False) -> None:
        self.home = Path(home).expanduser()
        self.fast = fast
        self._data_dir = data_dir

    # -- description -------------------------------------------------------------------------
    @property
    def info_path(self) -> Path:
        return self.home / "cluster.json"

    def _default_data_dir(self) -> Path:
        if os.geteuid() == 0:
            digest = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:10]
            return ROOT_DATA_BASE / f"cluster-{digest}"
        return self.home / "cluster"

    def info(self) -> ClusterInfo | None:
        if not self.info_path.exists():
            return None
        return ClusterInfo(**json.loads(self.info_path.read_text()))

    def _save(self, info: ClusterInfo) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(info), indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.info_path)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "cluster.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- commands -----------------------------------------------------------------------------
    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SUPERUSER, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    def _pgdata(self, info: ClusterInfo) -> Path:
        return Path(info.data_dir) / "data"

    def _log(self, info: ClusterInfo) -> Path:
        return Path(info.data_dir) / "postgresql.log"

    def _described(self) -> ClusterInfo:
        info = self.info()
        if info is None:
            raise ClusterError("the embedded database has not been created yet: run `gisplan db up`")
        return info

    def url(self, database: str = DATABASE, *, driver: str = "postgresql+psycopg") -> str:
        """The superuser's URL: for creating databases, extensions and roles, never for the app."""
        info = self._described()
        return f"{driver}://{SUPERUSER}:{quote(info.password)}@127.0.0.1:{info.port}/{database}"

    def app_url(self, database: str = DATABASE, *, driver: str = "postgresql+psycopg") -> str:
        """The URL the app connects with (role ``gisplan_app``)."""
        info = self._described()
        return f"{driver}://{APP_ROLE}:{quote(info.app_password)}@127.0.0.1:{info.port}/{database}"

    def owner_url(self, database: str = DATABASE, *, driver: str = "postgresql+psycopg") -> str:
        """The URL migrations run with (role ``gisplan_owner``, which owns the schema)."""
        info = self._described()
        return f"{driver}://{OWNER_ROLE}:{quote(info.owner_password)}@127.0.0.1:{info.port}/{database}"

    @property
    def socket_dir(self) -> Path | None:
        """The directory of the server's Unix socket (the cluster's own, mode 0700)."""
        info = self.info()
        return Path(info.data_dir) if info else None

    def is_running(self) -> bool:
        info = self.info()
        if info is None or not self._pgdata(info).exists():
            return False
        result = self._run([str(Path(info.bindir) / "pg_ctl"), "-D", str(self._pgdata(info)), "status"])
        return result.returncode == 0

    def _initdb(self) -> ClusterInfo:
        bindir = find_bindir()
        base = self._data_dir or self._default_data_dir()
        if (base / "data").exists() and any((base / "data").iterdir()):
            raise ClusterError(
                f"{base / 'data'} holds a cluster that {self.info_path} does not describe; "
                "remove it or point GISPLAN_HOME at the home that created it"
            )
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o700)
        password = secrets.token_urlsafe(24)
        info = ClusterInfo(
            data_dir=str(base),
            port=free_port(),
            password=password,
            bindir=str(bindir),
            owner_password=secrets.token_urlsafe(24),
            app_password=secrets.token_urlsafe(24),
        )
        with tempfile.NamedTemporaryFile("w", dir=base, delete=False, prefix=".pw") as pw:
            pw.write(password + "\n")
        pwfile = Path(pw.name)
        if os.geteuid() == 0:
            shutil.chown(base, SUPERUSER, SUPERUSER)
            shutil.chown(pwfile, SUPERUSER, SUPERUSER)
        try:
            result = self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self._pgdata(info)),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed:\n{result.stderr.strip()}")
        self._save(info)
        return info

    def up(self) -> str:
        """Create (first time) and start the cluster; create the database. Returns its URL."""
        with self._lock():
            info = self.info()
            if info is None or not self._pgdata(info).exists():
                info = self._initdb()
            info = self._with_role_passwords(info)
            hba_changed = self._harden(info)
            if self.is_running():
                if hba_changed:
                    self._reload(info)
            else:
                if port_in_use(info.port):  # someone else took our port since last time
                    info.port = free_port()
                    self._save(info)
                # the socket itself 0700 too, inside its 0700 directory
                options = [f"-p {info.port}", f"-k {info.data_dir}", "-c listen_addresses=127.0.0.1"]
                options.append("-c unix_socket_permissions=0700")
                if self.fast:
                    options += FAST_OPTIONS
                result = self._run(
                    [
                        str(Path(info.bindir) / "pg_ctl"),
                        "-D",
                        str(self._pgdata(info)),
                        "-l",
                        str(self._log(info)),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        " ".join(options),
                        "start",
                    ]
                )
                if result.returncode != 0:
                    tail = ""
                    with contextlib.suppress(OSError):
                        tail = "\n".join(self._log(info).read_text().splitlines()[-10:])
                    raise ClusterError(f"could not start PostgreSQL:\n{result.stderr.strip()}\n{tail}")
            self._ensure_roles(info)
            self._ensure_database(DATABASE)
        return self.app_url()

    def _with_role_passwords(self, info: ClusterInfo) -> ClusterInfo:
        """Give a description written by an older gisplan the passwords of the owner and the app."""
        if not info.owner_password or not info.app_password:
            info.owner_password = info.owner_password or secrets.token_urlsafe(24)
            info.app_password = info.app_password or secrets.token_urlsafe(24)
            self._save(info)
        return info

    def _harden(self, info: ClusterInfo) -> bool:
        """The socket's directory private to the server's OS user; no trust in ``pg_hba.conf``.

        Returns True when ``pg_hba.conf`` was rewritten (a running server must then reload it).
        """
        base = Path(info.data_dir)
        if os.geteuid() == 0:
            shutil.chown(base, SUPERUSER, SUPERUSER)
        base.chmod(0o700)
        hba = self._pgdata(info) / "pg_hba.conf"
        if hba.exists() and hba.read_text() == PG_HBA:
            return False
        tmp = hba.with_name("pg_hba.conf.gisplan")
        tmp.write_text(PG_HBA)
        tmp.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(tmp, SUPERUSER, SUPERUSER)
        tmp.replace(hba)
        return True

    def _reload(self, info: ClusterInfo) -> None:
        result = self._run([str(Path(info.bindir) / "pg_ctl"), "-D", str(self._pgdata(info)), "reload"])
        if result.returncode != 0:
            raise ClusterError(f"could not reload PostgreSQL's configuration:\n{result.stderr.strip()}")

    def _ensure_roles(self, info: ClusterInfo) -> None:
        with psycopg.connect(self.url("postgres", driver="postgresql"), autocommit=True) as conn:
            privileges.ensure_login_role(conn, OWNER_ROLE, info.owner_password)
            privileges.ensure_login_role(conn, APP_ROLE, info.app_password)

    def down(self) -> bool:
        """Stop the cluster. Returns False when it was not running."""
        with self._lock():
            info = self.info()
            if info is None or not self.is_running():
                return False
            result = self._run(
                [str(Path(info.bindir) / "pg_ctl"), "-D", str(self._pgdata(info)), "-m", "fast", "-w", "stop"]
            )
            if result.returncode != 0:
                raise ClusterError(f"could not stop PostgreSQL:\n{result.stderr.strip()}")
            return True

    def destroy(self) -> None:
        """Stop the cluster and delete its files (used by throwaway test clusters)."""
        self.down()
        info = self.info()
        if info is not None:
            shutil.rmtree(info.data_dir, ignore_errors=True)
            self.info_path.unlink(missing_ok=True)

    def status(self) -> ClusterStatus:
        info = self.info()
        running = self.is_running()
        return ClusterStatus(
            running=running,
            initialised=info is not None,
            data_dir=str(self._pgdata(info)) if info else None,
            port=info.port if info else None,
            url=self.app_url() if info else None,
            log=str(self._log(info)) if info else None,
        )

    def _ensure_database(self, name: str) -> None:
        admin = self.url("postgres", driver="postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        prepare_database(self.url(name, driver="postgresql"))


def prepare_database(url: str) -> list[str]:
    """As the superuser at ``url``: the extensions, the roles' access, and (for a database made
    by an older gisplan) its objects handed to the owner role. Returns the objects handed over."""
    ensure_extensions(url)
    with psycopg.connect(url) as conn:
        database = conn.info.dbname
        privileges.prepare(conn, database)
        return privileges.adopt(conn)


def ensure_extensions(url: str) -> None:
    """Create PostGIS (required) and pgRouting (when installed) in the database at ``url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting'").fetchone()
        if available:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
