"""Lab-scale storage: one Tiled catalog server on PostgreSQL for every reactor of a lab.

::

    reactor 1: queue server ─ session ─ journal + HDF5 ─┐        ┌──────────────────────┐
    reactor 2: queue server ─ session ─ journal + HDF5 ─┼─HTTP──▶│ Tiled (this module)  │
    reactor N: queue server ─ session ─ journal + HDF5 ─┘        │   catalog: PostgreSQL│
               (spool directories on shared storage) ◀──reads────│   tables:  PostgreSQL│
                                                                 └──────────────────────┘

``photoreactor catalog-server start`` (or :class:`CatalogServer`) sets up and runs:

* a **PostgreSQL cluster** of its own (``initdb`` in ``<dir>/postgres/data``,
  listening on 127.0.0.1 only, admin access by peer authentication on a Unix
  socket inside ``<dir>``), with a login role ``tiled`` and two databases:
  ``photoreactor_catalog`` (Tiled's catalog: nodes, metadata, data sources)
  and ``photoreactor_tables`` (the appendable ``internal`` tables of every
  event stream).  Or, with ``--database``, an existing PostgreSQL server;
* a **Tiled server** on that catalog: single-user API key, writable storage
  ``<dir>/files`` (arrays a client writes through the server) and the
  PostgreSQL table database, readable storage = the reactors' spool
  directories (``--read``), whose HDF5 files the ingesters register in place.

Each reactor's profile switches from the embedded catalog to the server with::

    catalog:
      kind: tiled
      uri: http://catalog.lab.example:8000
      path: /srv/photoreactor/spool/reactor-2    # this reactor's spool, on shared storage
      # api_key: omitted -> TILED_API_KEY from the environment

Decisions (where the brief is silent)
-------------------------------------
* **Tables in PostgreSQL, not DuckDB.**  Measured on this Tiled (0.2.20):
  both keep ``list<float64>`` / ``list<uint16>`` columns bit-exact (2048-point
  spectra, 100 rows: ~0.6 s to append, ~0.13 s to read either way), but DuckDB
  storage shares one connection between the server's threads: four clients
  appending at once got HTTP 500 ("cannot commit - no transaction is active")
  and then the server process died.  PostgreSQL took the same four writers
  (18 appends/s in total) without an error.  Several reactors writing at once
  is the point of a lab server, so the tables go to PostgreSQL.  (PostgreSQL
  has no unsigned 64-bit column; the ingester writes scalars as int64,
  float64, bool or text, which it stores exactly.)  Arrays do not go through
  tables at all: the ingesters write them to HDF5 in their spool and register
  the files (see :mod:`photoreactor.storage`).
* **Tiled runs in a child process we launch** (``python -m
  photoreactor.catalog_server --run-tiled DIR``), doing what ``tiled serve
  catalog`` does — ``tiled.catalog.from_uri`` + ``build_app`` + uvicorn — with
  two differences: the API key and the database password come from the
  environment (``tiled serve catalog --api-key`` would show the key to every
  user in ``ps``, and without it Tiled prints the key into its log), and the
  per-request access log is off (one line per ingester batch per reactor
  would fill a disk over a 360 h run; errors are still logged).
* **Secrets**: the API key is ``$TILED_SINGLE_USER_API_KEY`` when set (not
  stored), else the key kept in ``<dir>/secrets.json`` (mode 600), else a new
  one is generated, stored there and printed once.  The ``tiled`` role's
  password is generated at ``initdb`` and kept in the same file.  The cluster
  has no superuser password at all (peer authentication on its socket only).
* **Database credentials never appear in a URI** Tiled sees: they are passed as
  ``PGUSER`` / ``PGPASSWORD`` (honoured by asyncpg for the catalog and libpq for
  the tables).  This also avoids a Tiled 0.2.20 bug that turns a URI with a user
  and no password into the password ``"None"`` for table storage.
* **Running as root** (containers, CI): PostgreSQL refuses to run as root, so the
  cluster runs as the Debian ``postgres`` system user through ``runuser``; its
  files live in ``<dir>/postgres`` owned by that user.  The default directory is
  then ``/var/lib/photoreactor/catalog-server`` (reachable by ``postgres``);
  otherwise ``~/.local/share/photoreactor/catalog-server``.  In a lab, run the
  server as an unprivileged service account instead.
* **Missing PostgreSQL**: the binaries are searched on ``PATH``, in
  ``$PG_BINDIR``, ``/usr/lib/postgresql/<version>/bin`` (Debian, newest first) and
  ``/usr/pgsql-<version>/bin`` (RHEL).  ``install=True`` (``--install-postgres``)
  runs ``apt-get install -y postgresql`` when we are root and apt exists;
  otherwise the error says what to install.
* Settings given once (ports, host, read directories) are kept in
  ``<dir>/server.json``, so a restart needs no options.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

#: Tiled's HTTP port (the profiles' ``catalog.uri``)
DEFAULT_PORT = 8000
#: PostgreSQL port of a cluster we manage (Debian's own cluster keeps 5432)
DEFAULT_PG_PORT = 55432
CATALOG_DB = "photoreactor_catalog"
TABLES_DB = "photoreactor_tables"
DB_ROLE = "tiled"
#: Tiled accepts only these characters in a single-user API key
API_KEY_PATTERN = re.compile(r"[a-zA-Z0-9]+")
#: the system account PostgreSQL runs as when we are root (Debian's package creates it)
ROOT_PG_USER = "postgres"


class CatalogServerError(RuntimeError):
    """The catalog server cannot be set up, started or stopped (says why and what to do)."""


class PostgresNotFound(CatalogServerError):
    """The PostgreSQL server binaries (``initdb``, ``pg_ctl``, ``postgres``) are not installed."""


# -- finding and installing PostgreSQL ---------------------------------------------------

def _version_key(path: Path) -> tuple:
    parts = re.findall(r"\d+", path.parent.name if path.name == "bin" else path.name)
    return tuple(int(p) for p in parts) or (0,)


def find_postgres_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl``, ``postgres`` and ``psql``, or None.

    Order: ``$PG_BINDIR``; ``initdb`` on ``PATH``; Debian's
    ``/usr/lib/postgresql/<version>/bin`` and RHEL's ``/usr/pgsql-<version>/bin``,
    newest version first.
    """
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"):
        found = [Path(p) for p in _glob(pattern)]
        candidates.extend(sorted(found, key=_version_key, reverse=True))
    for d in candidates:
        if all((d / exe).is_file() and os.access(d / exe, os.X_OK)
               for exe in ("initdb", "pg_ctl", "postgres", "psql")):
            return d
    return None


def _glob(pattern: str) -> list[str]:
    import glob

    return glob.glob(pattern)


def install_postgres() -> None:
    """``apt-get install -y postgresql`` (root and apt only); raises :class:`PostgresNotFound`."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresNotFound(
            "PostgreSQL is not installed and cannot be installed from here "
            f"({'not root' if os.geteuid() != 0 else 'no apt-get'}): install the server "
            "package (Debian/Ubuntu: sudo apt-get install postgresql; Fedora/RHEL: "
            "sudo dnf install postgresql-server), or set PG_BINDIR to its bin directory")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        # a fresh container has no package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True)
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0 or find_postgres_bindir() is None:
        raise PostgresNotFound(f"apt-get install postgresql failed (exit {out.returncode}): "
                               f"{(out.stderr or out.stdout).strip()[-800:]}")


def require_postgres(install: bool = False) -> Path:
    """The PostgreSQL bin directory; installs the package first if asked and possible."""
    bindir = find_postgres_bindir()
    if bindir is None and install:
        install_postgres()
        bindir = find_postgres_bindir()
    if bindir is None:
        raise PostgresNotFound(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH, in "
            "$PG_BINDIR or /usr/lib/postgresql/*/bin: install PostgreSQL (Debian: apt-get "
            "install postgresql; or `photoreactor catalog-server start --install-postgres` "
            "as root), or give an existing server with --database")
    return bindir


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests and first-time setup)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, n_chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n_chars:].strip()
    except OSError:
        return "(no log)"


# -- a PostgreSQL cluster of our own -----------------------------------------------------

class PostgresCluster:
    """A PostgreSQL cluster in a directory, run as ``os_user`` (see module notes).

    Parameters
    ----------
    root : path
        Owned by ``os_user``: ``data/`` (the cluster), ``run/`` (its Unix
        socket), ``postgres.log``.
    port : int
        TCP port on 127.0.0.1.
    bindir : path, optional
        PostgreSQL binaries (default: :func:`require_postgres`).
    os_user : str, optional
        Account the server runs as: default ``postgres`` when we are root, else us.
    """

    def __init__(self, root: Path, port: int, *, bindir: Path | None = None,
                 os_user: str | None = None):
        self.root = Path(root)
        self.data = self.root / "data"
        self.run_dir = self.root / "run"
        self.log = self.root / "postgres.log"
        self.port = int(port)
        self.bindir = Path(bindir) if bindir else require_postgres()
        if os_user is None:
            os_user = ROOT_PG_USER if os.geteuid() == 0 else _current_user()
        self.os_user = os_user
        self.as_other = os_user != _current_user()
        if self.as_other and os.geteuid() != 0:
            raise CatalogServerError(f"cannot run PostgreSQL as {os_user!r}: only root can "
                                     f"switch users; run as {os_user!r} or leave os_user unset")
        if self.as_other:
            import pwd

            try:
                pwd.getpwnam(os_user)
            except KeyError:
                raise CatalogServerError(
                    f"PostgreSQL refuses to run as root and there is no {os_user!r} account to "
                    f"run it as: install the distribution's postgresql package (it creates the "
                    f"account) or start the catalog server as an unprivileged user") from None

    # commands run as the cluster's owner
    def _cmd(self, exe: str, *args: str) -> list[str]:
        argv = [str(self.bindir / exe), *args]
        if self.as_other:
            return ["runuser", "-u", self.os_user, "--", *argv]
        return argv

    def _run(self, exe: str, *args: str, input: str | None = None, timeout_s: float = 120,
             check: bool = True) -> subprocess.CompletedProcess:
        # cwd: runuser keeps ours, and postgres complains if it cannot read it
        out = subprocess.run(self._cmd(exe, *args), input=input, capture_output=True, text=True,
                             timeout=timeout_s, cwd=str(self.root))
        if check and out.returncode != 0:
            raise CatalogServerError(f"{exe} {' '.join(args[:2])}... failed (exit "
                                     f"{out.returncode}): {(out.stderr or out.stdout).strip()[-1500:]}")
        return out

    @property
    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    def init(self) -> None:
        """``initdb`` (once): UTF-8, peer auth on the socket, SCRAM passwords over TCP."""
        if self.initialized:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(exist_ok=True)
        if self.as_other:
            import pwd

            pw = pwd.getpwnam(self.os_user)
            for p in (self.root, self.run_dir):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            probe = subprocess.run(["runuser", "-u", self.os_user, "--", "test", "-w",
                                    str(self.root)], capture_output=True)
            if probe.returncode != 0:
                raise CatalogServerError(
                    f"PostgreSQL runs as {self.os_user!r}, which cannot reach {self.root}: "
                    f"choose a state directory whose parents it can traverse (e.g. "
                    f"/var/lib/photoreactor/catalog-server, --dir)")
        os.chmod(self.root, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", self.os_user, "--auth-local=peer",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", timeout_s=300)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# -- photoreactor catalog server --\n"
                "listen_addresses = '127.0.0.1'   # the Tiled server is on this machine\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.run_dir}'\n"
                "password_encryption = 'scram-sha-256'\n")

    def running(self) -> bool:
        if not self.initialized:
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def start(self, timeout_s: float = 120) -> None:
        """Start the cluster and wait until it accepts connections."""
        if self.running():
            return
        out = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                        "-t", str(int(timeout_s)), check=False, timeout_s=timeout_s + 30)
        if out.returncode != 0:
            raise CatalogServerError(
                f"PostgreSQL did not start on port {self.port} (exit {out.returncode}); "
                f"its log ({self.log}) ends with:\n{_tail(self.log)}")

    def stop(self, timeout_s: float = 60) -> None:
        """Fast shutdown (open transactions rolled back, committed data safe)."""
        if not self.running():
            return
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t",
                  str(int(timeout_s)), timeout_s=timeout_s + 30)

    def psql(self, script: str, database: str = "postgres") -> str:
        """Run an SQL script as the cluster owner (peer auth on the socket); stdout."""
        out = self._run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.run_dir),
                        "-p", str(self.port), "-U", self.os_user, "-d", database, "-At",
                        "-f", "-", input=script)
        return out.stdout

    def ensure_role_and_databases(self, role: str, password: str,
                                  databases: tuple[str, ...]) -> None:
        """Create (or update) the login role and the databases it owns; idempotent."""
        if not re.fullmatch(r"[A-Za-z0-9_]+", role + password):
            raise CatalogServerError("role names and passwords must be [A-Za-z0-9_]")
        script = [
            f"SELECT 'CREATE ROLE {role} LOGIN' WHERE NOT EXISTS "
            f"(SELECT FROM pg_roles WHERE rolname = '{role}')\\gexec",
            f"ALTER ROLE {role} WITH LOGIN PASSWORD '{password}';",
        ]
        for db in databases:
            script.append(f"SELECT 'CREATE DATABASE {db} OWNER {role}' WHERE NOT EXISTS "
                          f"(SELECT FROM pg_database WHERE datname = '{db}')\\gexec")
        self.psql("\n".join(script) + "\n")


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return str(os.geteuid())


# -- the catalog server --------------------------------------------------------------------

def default_state_dir() -> Path:
    """``$PHOTOREACTOR_CATALOG_DIR``, else ``/var/lib/...`` for root, else ``~/.local/share/...``."""
    if os.environ.get("PHOTOREACTOR_CATALOG_DIR"):
        return Path(os.environ["PHOTOREACTOR_CATALOG_DIR"]).expanduser()
    if os.geteuid() == 0:
        return Path("/var/lib/photoreactor/catalog-server")
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "photoreactor" / "catalog-server"


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """``postgresql://user:pw@host:port/db`` → (``postgresql://host:port/db``, user, pw).

    Credentials travel as ``PGUSER`` / ``PGPASSWORD`` instead (see module notes).
    """
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise CatalogServerError(f"--database must be a postgresql:// URI, not {uri!r}")
    if not parsed.path.strip("/"):
        raise CatalogServerError(f"the database URI {uri!r} names no database "
                                 "(postgresql://user@host:5432/photoreactor_catalog)")
    user = urllib.parse.unquote(parsed.username) if parsed.username else None
    password = urllib.parse.unquote(parsed.password) if parsed.password is not None else None
    host = parsed.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parsed.port}" if parsed.port else "")
    clean = urllib.parse.urlunsplit(("postgresql", netloc, parsed.path, parsed.query, ""))
    return clean, user, password


class CatalogServer:
    """A Tiled server on PostgreSQL for the lab's reactors (see module docstring).

    Parameters
    ----------
    state_dir : path, optional
        Settings, secrets, logs, the managed cluster (default :func:`default_state_dir`).
    host, port : str, int, optional
        Where Tiled listens (default 127.0.0.1:8000; ``0.0.0.0`` for the lab network).
    readable : list of paths, optional
        Directories the server may read HDF5 files from: the reactors' spool
        directories (or a parent of them), at the same path as the reactors see.
    database : str, optional
        ``postgresql://user:password@host:port/dbname`` of an existing server for
        the catalog (no managed cluster then); ``tables_database`` defaults to it.
    pg_port : int, optional
        Port of the managed cluster (default 55432, or a free port if taken at init).

    Options left None keep their value from a previous start (``server.json``).
    """

    def __init__(self, state_dir: str | os.PathLike | None = None, *, host: str | None = None,
                 port: int | None = None, readable: list | None = None,
                 database: str | None = None, tables_database: str | None = None,
                 pg_port: int | None = None):
        self.state_dir = Path(state_dir or default_state_dir()).expanduser().absolute()
        self.settings_path = self.state_dir / "server.json"
        self.secrets_path = self.state_dir / "secrets.json"
        self.log_path = self.state_dir / "tiled.log"
        self.pid_path = self.state_dir / "tiled.pid"
        self.files_dir = self.state_dir / "files"
        stored = self._load(self.settings_path)
        self.settings = {
            "host": "127.0.0.1", "port": DEFAULT_PORT, "readable": [], "pg_port": None,
            "database": None, "tables_database": None, "db_user": DB_ROLE, **stored}
        given = {"host": host, "port": port, "pg_port": pg_port}
        self.settings.update({k: v for k, v in given.items() if v is not None})
        if readable is not None:
            self.settings["readable"] = [str(Path(p).expanduser().resolve()) for p in readable]
        self._external_password: str | None = None
        if database is not None:
            db, user, password = split_credentials(database)
            tables, t_user, t_password = split_credentials(tables_database or database)
            if (t_user or user) != (user or t_user) or (
                    t_password or password) != (password or t_password):
                raise CatalogServerError("the catalog and table databases must use the same "
                                         "credentials (one PGUSER/PGPASSWORD for the server)")
            self.settings.update(database=db, tables_database=tables,
                                 db_user=user or t_user or self.settings["db_user"])
            self._external_password = password or t_password
        self._secrets: dict = {}
        self._proc: subprocess.Popen | None = None
        self._cluster: PostgresCluster | None = None

    # -- settings and secrets ------------------------------------------------------------
    @staticmethod
    def _load(path: Path) -> dict:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CatalogServerError(f"cannot read {path}: {exc}") from None

    def _write_private(self, path: Path, data: dict) -> None:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    @property
    def managed(self) -> bool:
        """True when the PostgreSQL cluster is ours (no ``--database`` given)."""
        return not self.settings.get("database")

    @property
    def cluster(self) -> PostgresCluster:
        if self._cluster is None:
            if not self.managed:
                raise CatalogServerError("this catalog uses an external PostgreSQL server")
            self._cluster = PostgresCluster(self.state_dir / "postgres",
                                            self.settings["pg_port"] or DEFAULT_PG_PORT)
        return self._cluster

    @property
    def uri(self) -> str:
        """What reactors put in ``catalog.uri``."""
        host = self.settings["host"]
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.settings['port']}"

    @property
    def _connect_host(self) -> str:
        """Where this machine reaches the server (a wildcard listen address → loopback)."""
        host = self.settings["host"]
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)

    @property
    def _local_url(self) -> str:
        host = self._connect_host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.settings['port']}"

    @property
    def api_key(self) -> str:
        """``$TILED_SINGLE_USER_API_KEY`` if set, else the stored (or generated) key."""
        env = os.environ.get("TILED_SINGLE_USER_API_KEY")
        if env:
            if not API_KEY_PATTERN.fullmatch(env):
                raise CatalogServerError("TILED_SINGLE_USER_API_KEY may contain only letters "
                                         "and digits (Tiled's rule)")
            return env
        if not self._secrets:
            self._secrets = self._load(self.secrets_path)
        if not self._secrets.get("api_key"):
            raise CatalogServerError(f"no API key: run `photoreactor catalog-server start "
                                     f"--dir {self.state_dir}` once, or set "
                                     f"TILED_SINGLE_USER_API_KEY")
        return self._secrets["api_key"]

    @property
    def new_api_key(self) -> str | None:
        """A generated key nobody has been shown yet (see :meth:`mark_api_key_shown`), or None."""
        if os.environ.get("TILED_SINGLE_USER_API_KEY"):
            return None
        if not self._secrets:
            self._secrets = self._load(self.secrets_path)
        if self._secrets.get("api_key") and self._secrets.get("api_key_shown") is False:
            return self._secrets["api_key"]
        return None

    def mark_api_key_shown(self) -> None:
        """The generated key was printed: do not print it again."""
        self._secrets["api_key_shown"] = True
        self._write_private(self.secrets_path, self._secrets)

    def catalog_config(self) -> dict:
        """The profile ``catalog`` section for this server (with the API key)."""
        return {"kind": "tiled", "uri": self.uri, "api_key": self.api_key}

    def _uris(self) -> tuple[str, str]:
        if self.managed:
            base = f"postgresql://127.0.0.1:{self.cluster.port}"
            return f"{base}/{CATALOG_DB}", f"{base}/{TABLES_DB}"
        return self.settings["database"], self.settings["tables_database"]

    # -- setting up ----------------------------------------------------------------------
    def init(self, *, install: bool = False) -> None:
        """Create what is missing: directories, secrets, cluster, role, databases.

        Idempotent.  A new API key is kept with ``api_key_shown: false`` until the
        caller has printed it (:attr:`new_api_key`, :meth:`mark_api_key_shown`), so
        it is shown once even if the first start fails after making it.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # 0711: the postgres account may traverse to its own directory, not list ours
        os.chmod(self.state_dir, 0o711)
        self.files_dir.mkdir(exist_ok=True)
        self._secrets = self._load(self.secrets_path)
        changed = False
        if not self._secrets.get("api_key") and not os.environ.get("TILED_SINGLE_USER_API_KEY"):
            self._secrets["api_key"] = secrets.token_hex(24)
            self._secrets["api_key_shown"] = False
            changed = True
        if self.managed and not self._secrets.get("db_password"):
            self._secrets["db_password"] = secrets.token_hex(24)
            changed = True
        if not self.managed and self._external_password is not None:
            self._secrets["db_password"] = self._external_password
            changed = True
        if changed:
            self._write_private(self.secrets_path, self._secrets)
        if self.managed:
            if self.settings["pg_port"] is None:
                port = DEFAULT_PG_PORT if not _port_in_use(DEFAULT_PG_PORT) else free_port()
                self.settings["pg_port"] = port
                self._cluster = None
            bindir = require_postgres(install=install)
            self._cluster = PostgresCluster(self.state_dir / "postgres",
                                            self.settings["pg_port"], bindir=bindir)
            self.cluster.init()
        for d in self.settings["readable"]:
            if not Path(d).is_dir():
                print(f"catalog-server: warning: read directory {d} does not exist (yet); "
                      f"runs spooled there cannot be served until it does", file=sys.stderr)
        tmp = self.settings_path.with_name(self.settings_path.name + ".tmp")
        tmp.write_text(json.dumps(self.settings, indent=2) + "\n")
        tmp.replace(self.settings_path)

    # -- running ---------------------------------------------------------------------------
    def _env(self) -> dict:
        env = dict(os.environ)
        env["TILED_SINGLE_USER_API_KEY"] = self.api_key
        env["PGUSER"] = self.settings["db_user"]
        password = self._secrets.get("db_password")
        if password:
            env["PGPASSWORD"] = password
        env.pop("TILED_API_KEY", None)
        return env

    def tiled_pid(self) -> int | None:
        """Pid of this directory's running Tiled child, or None (stale pid files ignored)."""
        try:
            pid = int(self.pid_path.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return None
        if b"--run-tiled" in cmdline and str(self.state_dir).encode() in cmdline:
            return pid
        return None

    def healthy(self, timeout_s: float = 2.0) -> bool:
        """Tiled answers ``/healthz``."""
        try:
            with urllib.request.urlopen(f"{self._local_url}/healthz", timeout=timeout_s) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def start(self, *, timeout_s: float = 180, install: bool = False) -> CatalogServer:
        """Set up what is missing, start PostgreSQL, then Tiled; return when Tiled answers.

        A server already running from this directory is left as it is.
        """
        self.init(install=install)
        if self.tiled_pid() is not None and self.healthy():
            return self
        if self.managed:
            self.cluster.start()
            self.cluster.ensure_role_and_databases(DB_ROLE, self._secrets["db_password"],
                                                   (CATALOG_DB, TABLES_DB))
        if _port_in_use(int(self.settings["port"]), self._connect_host):
            raise CatalogServerError(f"port {self.settings['port']} is already in use: stop "
                                     f"what listens there or choose --port")
        logf = open(self.log_path, "ab")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "photoreactor.catalog_server", "--run-tiled",
                 str(self.state_dir)],
                env=self._env(), stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True, close_fds=True, cwd=str(self.state_dir))
        finally:
            logf.close()
        self.pid_path.write_text(f"{self._proc.pid}\n")
        deadline = time.monotonic() + timeout_s
        while not self.healthy(timeout_s=1.0):
            if self._proc.poll() is not None:
                raise CatalogServerError(f"the Tiled server exited with {self._proc.returncode} "
                                         f"during start-up; {self.log_path} ends with:\n"
                                         f"{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                self._terminate(self._proc.pid, 10)
                raise CatalogServerError(f"the Tiled server did not answer within {timeout_s:.0f} s;"
                                         f" {self.log_path} ends with:\n{_tail(self.log_path)}")
            time.sleep(0.2)
        return self

    @staticmethod
    def _terminate(pid: int, timeout_s: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    return
            except ChildProcessError:  # not our child: poll for its disappearance
                if not Path(f"/proc/{pid}").exists():
                    return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def stop(self, timeout_s: float = 60) -> None:
        """Stop Tiled (graceful, then killed after ``timeout_s``), then our PostgreSQL."""
        pid = self.tiled_pid()
        if pid is not None:
            self._terminate(pid, timeout_s)
        self.pid_path.unlink(missing_ok=True)
        self._proc = None
        if self.managed and self.settings.get("pg_port") is not None:
            self.cluster.stop(timeout_s)

    def status(self) -> dict:
        """What runs: ``{"uri", "tiled_pid", "tiled_healthy", "postgres", "state_dir"}``."""
        out = {"uri": self.uri, "state_dir": str(self.state_dir), "tiled_pid": self.tiled_pid(),
               "tiled_healthy": self.healthy(), "read": self.settings["readable"]}
        if self.managed:
            out["postgres"] = ("running" if self.settings.get("pg_port") and self.cluster.running()
                               else "stopped")
            out["postgres_port"] = self.settings.get("pg_port")
        else:
            out["postgres"] = f"external {self.settings['database']}"
        return out

    def serve_forever(self, on_ready=None, **start_kwargs) -> int:
        """Start, then supervise until SIGINT/SIGTERM or Tiled exits; stop everything.

        ``on_ready(server)`` is called once Tiled answers.  Returns the exit code:
        0 after a signal, Tiled's own (or 1) if it died.
        """
        if self.tiled_pid() is not None:
            # never supervise (and later stop) a server another command started
            raise CatalogServerError(f"a catalog server already runs from {self.state_dir} "
                                     f"(pid {self.tiled_pid()}): stop it first")
        stopping = []

        def on_signal(signum, frame):
            stopping.append(signum)

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start(**start_kwargs)
            if on_ready is not None:
                on_ready(self)
            while not stopping and self._proc.poll() is None:
                time.sleep(0.5)
            code = 0 if stopping else (self._proc.returncode or 1)
            if not stopping:
                print(f"catalog-server: Tiled exited with {self._proc.returncode}; see "
                      f"{self.log_path}", file=sys.stderr)
            return code
        finally:
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# -- the Tiled child process -----------------------------------------------------------------

def _run_tiled(state_dir: Path) -> None:
    """Serve the catalog (runs in the child process :meth:`CatalogServer.start` launches)."""
    import uvicorn
    from tiled.catalog import from_uri
    from tiled.config import Authentication
    from tiled.server.app import build_app
    from tiled.server.logging_config import LOGGING_CONFIG

    from .storage.catalog import init_catalog_database

    server = CatalogServer(state_dir)
    catalog_uri, tables_uri = server._uris()
    if init_catalog_database(catalog_uri):
        print(f"photoreactor catalog server: new catalog in {catalog_uri}", file=sys.stderr,
              flush=True)
    tree = from_uri(catalog_uri, writable_storage=[str(server.files_dir), tables_uri],
                    readable_storage=server.settings["readable"], init_if_not_exists=False)
    # key from the environment only: never on a command line, never printed
    app = build_app(tree, Authentication(single_user_api_key=os.environ[
        "TILED_SINGLE_USER_API_KEY"]))
    print(f"photoreactor catalog server: catalog {catalog_uri}, tables {tables_uri}, "
          f"files {server.files_dir}, reads {server.settings['readable']}", file=sys.stderr,
          flush=True)
    uvicorn.run(app, host=server.settings["host"], port=int(server.settings["port"]),
                log_config=LOGGING_CONFIG, access_log=False)


# -- command line (``photoreactor catalog-server``) ----------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``photoreactor catalog-server``."""
    p.add_argument("action", choices=["start", "stop", "status"],
                   help="start (set up on first use), stop, or show what runs")
    p.add_argument("--dir", default=None,
                   help="state directory (default $PHOTOREACTOR_CATALOG_DIR, "
                        "/var/lib/photoreactor/catalog-server as root, else "
                        "~/.local/share/photoreactor/catalog-server)")
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1; 0.0.0.0 for "
                                                "the lab network)")
    p.add_argument("--port", type=int, default=None, help=f"HTTP port (default {DEFAULT_PORT})")
    p.add_argument("--read", action="append", default=None, metavar="DIR",
                   help="a reactors' spool directory the server may read (repeatable)")
    p.add_argument("--database", default=None, metavar="URI",
                   help="existing PostgreSQL for the catalog: postgresql://user:pw@host/db")
    p.add_argument("--tables-database", default=None, metavar="URI",
                   help="PostgreSQL database for the tables (default: --database)")
    p.add_argument("--pg-port", type=int, default=None,
                   help=f"port of the managed PostgreSQL (default {DEFAULT_PG_PORT})")
    p.add_argument("--foreground", action="store_true",
                   help="stay in the foreground until Ctrl-C / SIGTERM (for systemd)")
    p.add_argument("--install-postgres", action="store_true",
                   help="apt-get install postgresql if missing (root only)")


def run_command(args: argparse.Namespace) -> int:
    """``photoreactor catalog-server ACTION``; returns the exit code."""
    try:
        server = CatalogServer(args.dir, host=args.host, port=args.port, readable=args.read,
                               database=args.database, tables_database=args.tables_database,
                               pg_port=args.pg_port)
        if args.action == "stop":
            server.stop()
            print(f"catalog server in {server.state_dir} stopped")
            return 0
        if args.action == "status":
            st = server.status()
            for k, v in st.items():
                print(f"{k:14s} {v}")
            return 0 if st["tiled_healthy"] else 1
        if args.foreground:
            return server.serve_forever(on_ready=_announce, install=args.install_postgres)
        server.start(install=args.install_postgres)
        _announce(server)
        print(f"stop it with: photoreactor catalog-server stop --dir {server.state_dir}")
        return 0
    except CatalogServerError as exc:
        print(f"photoreactor: catalog-server: {exc}", file=sys.stderr)
        return 1


def _announce(server: CatalogServer) -> None:
    print(f"catalog server: {server.uri}  (state in {server.state_dir})")
    if server.settings["readable"]:
        print(f"reads HDF5 spooled under: {', '.join(server.settings['readable'])}")
    else:
        print("warning: no --read directory: the server cannot serve the spectra reactors "
              "spool as HDF5; restart with --read <shared spool directory>", file=sys.stderr)
    if server.new_api_key:
        print("new API key (shown once; kept in "
              f"{server.secrets_path}, mode 600):\n    {server.new_api_key}")
        server.mark_api_key_shown()
    print("reactor profiles:\n    catalog: {kind: tiled, uri: " + server.uri +
          ", path: <this reactor's spool under a --read directory>}\n"
          "  with TILED_API_KEY=<key> in the queue server's environment", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "--run-tiled":
        _run_tiled(Path(argv[1]))
        return 0
    p = argparse.ArgumentParser(prog="python -m photoreactor.catalog_server",
                                description="The lab's shared Tiled catalog on PostgreSQL")
    add_arguments(p)
    return run_command(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
