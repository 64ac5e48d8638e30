"""The catalog a session writes to and a chemist reads from.

:func:`open_catalog` returns a :class:`Catalog`:

* ``writer`` — the RunEngine callback (a :class:`~.journal.JournalWriter`);
* ``client`` — a Tiled client on the catalog (embedded, or a Tiled server);
* ``read_slice(uid, stream, field, t0, t1)`` — a time window of a long run
  without loading the whole array;
* ``sync()`` — wait until the catalog holds everything written so far;
* ``runs()``, ``search(...)``, ``catalog[uid]``, ``problems()``, ``close()``.

Ingestion runs in one child process per Python process (:class:`IngestService`),
shared by every catalog opened for writing there and started by the first one
(its start-up — importing Tiled, a few seconds — overlaps the session's own).
It runs in its own session (Ctrl-C in the chemist's terminal does not reach it)
at the lowest CPU priority, and exits once its parent is gone and every run
whose writer stopped is in the catalog.

An embedded catalog is read through an in-process Tiled app; a process runs one
such app per catalog, shared by all its threads (see :func:`make_client`).

Profile ``catalog`` keys used here: ``kind`` (``embedded`` | ``tiled``),
``path`` (data directory), ``uri`` and ``api_key`` (Tiled server), and the
optional ``fsync_interval_s`` (journal fsync period, default 0.5 s) and
``start_timeout_s`` (how long an embedded catalog's in-process Tiled app may take
to start, default 120 s).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .journal import SUFFIX, JournalWriter, StorageError, writer_alive

log = logging.getLogger(__name__)

CATALOG_DB = "catalog.db"
TABLES_DB = "tables.sqlite"


# -- Tiled clients ---------------------------------------------------------------------

def default_spool_dir() -> Path:
    """Where journals and HDF5 files go when the catalog is a remote Tiled server."""
    if os.environ.get("PHOTOREACTOR_DATA"):
        return Path(os.environ["PHOTOREACTOR_DATA"]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "photoreactor" / "tiled-spool"


def init_catalog_database(uri: str) -> bool:
    """``tiled catalog init --if-not-exists`` in this process; True if it created one.

    Tiled's own ``init_if_not_exists`` runs that command in a second interpreter,
    which costs another 5-10 s of imports at every start.  A catalog made by an
    older Tiled raises here, with Tiled's instructions to upgrade it.  Runs an
    event loop, so call it from a thread without one.
    """
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine
    from tiled.alembic_utils import UninitializedDatabase, check_database, stamp_head
    from tiled.catalog.alembic_constants import ALEMBIC_DIR, ALEMBIC_INI_TEMPLATE_PATH
    from tiled.catalog.core import ALL_REVISIONS, REQUIRED_REVISION, initialize_database
    from tiled.utils import ensure_specified_sql_driver

    full = ensure_specified_sql_driver(uri)

    async def setup() -> bool:
        engine = create_async_engine(full)
        try:
            await check_database(engine, REQUIRED_REVISION, ALL_REVISIONS)
            return False
        except UninitializedDatabase:
            await initialize_database(engine)
            return True
        finally:
            await engine.dispose()

    created = asyncio.run(setup())
    if created:
        stamp_head(ALEMBIC_INI_TEMPLATE_PATH, ALEMBIC_DIR, full)
    return created


def _init_embedded(data_dir: Path) -> None:
    """Create the catalog database (once), serialised between processes by a flock."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "files").mkdir(exist_ok=True)
    db = data_dir / CATALOG_DB
    ready = data_dir / ".catalog-initialized"
    if ready.exists():
        return
    with open(data_dir / ".init.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return
        uri = f"sqlite:///{db}"
        # in a fresh thread there is no running event loop, which asyncio.run needs
        err: list[BaseException] = []

        def init():
            try:
                init_catalog_database(uri)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                err.append(exc)

        t = threading.Thread(target=init, name="catalog-init")
        t.start()
        t.join()
        if err:
            raise StorageError(f"cannot create the catalog database {db}: {err[0]}") from err[0]
        import sqlite3

        # WAL: the session's reader and the ingester's writer never block each other
        with sqlite3.connect(data_dir / TABLES_DB) as con:
            con.execute("PRAGMA journal_mode=WAL")
        ready.write_text("tiled catalog initialised\n")


#: how long an embedded catalog's in-process Tiled app may take to start (s); a few
#: seconds normally, tens on a loaded machine
APP_START_TIMEOUT_S = 120.0


class _EmbeddedApp:
    """The in-process Tiled app of one embedded catalog, shared by this process's clients."""

    def __init__(self, key: Path, context):
        self.key = key
        self.context = context
        self.users = 0
        self.pid = os.getpid()


#: one in-process Tiled app per embedded catalog in this process (see make_client)
_APPS: dict[Path, _EmbeddedApp] = {}
#: serialises starting and stopping those apps
_APPS_LOCK = threading.Lock()


def _forget_apps_after_fork() -> None:
    """In a forked child: the parent's apps are unusable here (their event-loop threads and
    the database connections' worker threads were not copied), and the lock may have been
    held by another thread at the fork.  Tiled's per-process registries of database engines
    and storage pools are dropped too — not disposed: that would act on the parent's
    connections — or the child's first app would reuse the parent's engine and its start-up
    would wait forever on a connection thread that does not exist here."""
    global _APPS_LOCK
    _APPS_LOCK = threading.Lock()
    _APPS.clear()
    pools = sys.modules.get("tiled.server.connection_pool")
    if pools is not None:
        pools._connection_pools.clear()
    storage = sys.modules.get("tiled.storage")
    if storage is not None:
        for registry in ("_SQL_STORAGE_INSTANCES", "_STORAGE", "_STORAGE_REFCOUNTS"):
            getattr(storage, registry, {}).clear()


os.register_at_fork(after_in_child=_forget_apps_after_fork)


class EmbeddedLease:
    """A client's hold on a shared in-process app: ``close()`` releases it, and the app
    stops when its last user releases it (``context`` is Tiled's Context)."""

    def __init__(self, app: _EmbeddedApp):
        self._app = app
        self.context = app.context

    def close(self) -> None:
        app, self._app = self._app, None
        if app is None or app.pid != os.getpid():
            return          # released already, or inherited through a fork: not ours to stop
        with _APPS_LOCK:
            app.users -= 1
            if app.users > 0:
                return
            if _APPS.get(app.key) is app:
                del _APPS[app.key]
            try:
                app.context.close()
            except Exception as exc:  # noqa: BLE001 - stopping must not fail the caller
                log.debug("stopping the in-process Tiled app of %s: %s", app.key, exc)


def _start_app(data_dir: Path, timeout_s: float):
    """``Context.from_app`` on a new in-process Tiled app over the catalog in ``data_dir``,
    bounded by ``timeout_s`` (:class:`StorageError` on timeout)."""
    from tiled.catalog import from_uri
    from tiled.client import Context
    from tiled.server.app import build_app

    box: dict = {}
    lock = threading.Lock()

    def start():
        try:
            adapter = from_uri(
                f"sqlite:///{data_dir / CATALOG_DB}",
                writable_storage=[f"file://{data_dir / 'files'}",
                                  f"sqlite:///{data_dir / TABLES_DB}"],
                readable_storage=[str(data_dir)],
                init_if_not_exists=False,
            )
            context = Context.from_app(build_app(adapter))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
            return
        with lock:
            if not box.get("abandoned"):
                box["context"] = context
                return
        context.close()     # the caller gave up on it (timeout): do not leave it running

    t = threading.Thread(target=start, name=f"tiled-app-start {data_dir.name}", daemon=True)
    t.start()
    t.join(timeout_s)
    with lock:
        if "context" in box:
            return box["context"]
        if "error" in box:
            raise box["error"]
        box["abandoned"] = True
    raise StorageError(f"the embedded catalog in {data_dir} did not start within "
                       f"{timeout_s:g} s (Tiled's in-process app never finished its start-up); "
                       f"the data are safe in {data_dir / 'journal'}")


def make_client(config: dict, data_dir: Path | None, *, writer: bool = False):
    """A Tiled client for a catalog section; returns ``(client, closer)``.

    ``closer.close()`` ends the client: for a Tiled server it closes the client's
    connection (``closer`` is its Tiled ``Context``), for an embedded catalog it releases
    this client's hold on the process's in-process app (an :class:`EmbeddedLease`).

    **One in-process app per embedded catalog per process.**  An embedded catalog is
    served by a Tiled app inside this process (``Context.from_app``: a starlette
    TestClient running the app's event loop on a thread of its own).  Two such apps on
    the same catalog cannot coexist safely: Tiled keeps one SQLAlchemy ``AsyncEngine``
    per database per process (``tiled.server.connection_pool._connection_pools``), so
    the two apps share an engine while each drives it from its own event loop — which
    SQLAlchemy does not support.  The visible failure: the engine's first connection
    runs the dialect's set-up under an ``asyncio.Lock`` (SQLAlchemy's first-connect
    mutex); when the second app's start-up reaches it while the first holds it, the
    first releases it from *its* thread, the waiting loop is never woken, and the
    second ``Context.from_app`` waits for its lifespan start-up forever.  That hung a
    restarted queue-server worker (its session opening ``catalog.client`` while the
    interrupted-run notice looked the killed run up, both at start-up; 2 runs in 6 of
    the crash test under load).  Hence every client of an embedded catalog in a process
    is a client of the same app (requests from any thread go to that app's single
    loop), apps are started and stopped under one lock, and the last user's ``close()``
    stops it.  Serialising the start-ups alone would not do: the two apps would still
    share the engine from two loops, and one app's shutdown disposes of the engine the
    other is using.  The hang has nothing to do with the worker being forked (it
    happens with two threads of one process), so neither the "spawn" start method nor
    a longer wait would fix it.

    After a fork the child starts its own app (the parent's event-loop threads do not
    exist there; see :func:`_forget_apps_after_fork`).  The start-up is bounded (profile ``catalog.start_timeout_s``,
    default :data:`APP_START_TIMEOUT_S`): a catalog that does not start raises
    :class:`StorageError` saying so rather than hanging an unattended session.
    """
    kind = (config or {}).get("kind", "embedded")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "embedded":
            from tiled.client import from_context

            data_dir = Path(data_dir).expanduser().resolve()
            _init_embedded(data_dir)
            timeout_s = float((config or {}).get("start_timeout_s", APP_START_TIMEOUT_S))
            with _APPS_LOCK:
                app = _APPS.get(data_dir)
                if app is None or app.pid != os.getpid():
                    app = _APPS[data_dir] = _EmbeddedApp(data_dir,
                                                         _start_app(data_dir, timeout_s))
                app.users += 1
            closer = EmbeddedLease(app)
            try:
                client = from_context(app.context)
            except BaseException:
                closer.close()
                raise
        elif kind == "tiled":
            from tiled.client import from_uri as client_from_uri

            client = client_from_uri(config["uri"], api_key=config.get("api_key"))
            closer = client.context
        else:
            raise StorageError(f"catalog kind {kind!r} is not 'embedded' or 'tiled'")
    if writer:
        client = client.include_data_sources()
    return client, closer


def embedded_client(data_dir: Path):
    """A Tiled client on a catalog in ``data_dir`` (created when missing), no server."""
    return make_client({"kind": "embedded"}, Path(data_dir))


# -- the ingester process ---------------------------------------------------------------

class IngestService:
    """The one ingester child process of this Python process (see :mod:`.ingest`)."""

    _instance: IngestService | None = None
    _lock = threading.Lock()

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.watched: dict[Path, dict] = {}
        self.users: dict[Path, int] = {}
        self.log_path: Path | None = None
        atexit.register(self.shutdown)

    @classmethod
    def get(cls) -> IngestService:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _spawn(self, log_path: Path) -> None:
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as logf:
            # A session of its own: Ctrl-C in the chemist's terminal must not kill the
            # ingester halfway through a batch.  It exits when our end of its stdin closes.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "photoreactor.storage.ingest"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=logf,
                start_new_session=True, close_fds=True)

    def _send(self, cmd: dict) -> None:
        line = (json.dumps(cmd) + "\n").encode()
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def watch(self, data_dir: Path, catalog: dict, *, new_user: bool = True) -> None:
        with self._lock:
            data_dir = Path(data_dir)
            if new_user:
                self.users[data_dir] = self.users.get(data_dir, 0) + 1
            self.watched[data_dir] = catalog
            if not self.alive():
                if self.proc is not None:
                    log.warning("the catalog ingester (pid %s) exited with %s; restarting it",
                                self.proc.pid, self.proc.returncode)
                self._spawn(data_dir / "ingest.log")
                for d, cfg in self.watched.items():
                    self._send({"op": "watch", "data_dir": str(d), "catalog": cfg})
            else:
                self._send({"op": "watch", "data_dir": str(data_dir), "catalog": catalog})

    def release(self, data_dir: Path) -> None:
        with self._lock:
            data_dir = Path(data_dir)
            self.users[data_dir] = self.users.get(data_dir, 1) - 1
            if self.users[data_dir] > 0:
                return  # another catalog of this process still uses that directory
            del self.users[data_dir]
            if self.watched.pop(data_dir, None) is not None and self.alive():
                try:
                    self._send({"op": "release", "data_dir": str(data_dir)})
                except OSError:
                    pass

    def shutdown(self) -> None:
        """Ask the ingester to finish what it has and exit; do not wait for it."""
        with self._lock:
            if self.alive():
                try:
                    self._send({"op": "quit"})
                    self.proc.stdin.close()
                except OSError:
                    pass


# -- the catalog --------------------------------------------------------------------------

@dataclass
class Slice:
    """A time window of one field: ``time`` (s, epoch), ``data`` (rows = events), ``seq_num``."""

    time: np.ndarray
    data: np.ndarray
    seq_num: np.ndarray
    units: str | None = None


class Catalog:
    """The runs of one reactor: written through a journal, read through Tiled.

    Parameters
    ----------
    config : dict
        The profile's ``catalog`` section: ``{kind: embedded}`` (default) or
        ``{kind: tiled, uri: ..., api_key: ...}``.
    data_dir : path
        Embedded catalog directory; with a Tiled server, where journals and HDF5
        files are spooled (the server must be able to read that path).
    write : bool
        False opens the catalog for reading only (no writer, no ingester);
        interrupted runs are still recovered first.
    ingest : bool
        False writes journals only and leaves them for another process to
        ingest (a reader's recovery, or a session opened later).
    fsync_interval_s : float
        Longest time a journaled document waits for its fsync (power-loss window).
    """

    def __init__(self, config: dict, data_dir: Path, *, write: bool = True, ingest: bool = True,
                 fsync_interval_s: float = 0.5, recover: bool = True):
        self.config = dict(config or {"kind": "embedded"})
        self.kind = self.config.get("kind", "embedded")
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.journal_dir = self.data_dir / "journal"
        self.files_dir = self.data_dir / "files"
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.location = self.config["uri"] if self.kind == "tiled" else str(self.data_dir)
        self._client = None
        self._context = None
        #: the client is made on first use, maybe by two threads at once (the session and
        #: the interrupted-run notice): one of them makes it
        self._client_lock = threading.Lock()
        self._service: IngestService | None = None
        self.writer = None
        self.ingest = ingest
        #: called with each problem (see :meth:`problems`) the first time it is seen; the
        #: unattended session's notifier subscribes here
        self.on_problem: list = []
        self._reported: set[str] = set()
        if write:
            self.writer = JournalWriter(self.journal_dir, fsync_interval_s=fsync_interval_s,
                                        on_start=self._on_run_start if ingest else None)
        if write and ingest:
            # Started now rather than at the first run: its start-up (importing Tiled,
            # seconds) overlaps the session's own, and it recovers interrupted runs at once.
            self._ensure_ingester()
        elif recover and self._orphans():
            self.recover()

    # -- writing side -------------------------------------------------------------------
    def _on_run_start(self, uid: str) -> None:
        if self._service is None or not self._service.alive():
            self._ensure_ingester()
        self.report_problems()

    def report_problems(self) -> list[dict]:
        """Warn (log, then every :attr:`on_problem` callback) about problems not reported
        yet: runs the ingester gave up on, and a catalog server unreachable for
        longer than a minute.  Checked at each run start and by :meth:`sync`."""
        new = []
        for p in self.problems() + self.outages(min_s=60.0):
            key = p["error"] if p.get("outage") is None else f"outage {p['uid']} {p['outage']['since']}"
            if key in self._reported:
                continue
            self._reported.add(key)
            new.append(p)
            log.warning("catalog: %s", p["error"])
            for callback in self.on_problem:
                try:
                    callback(p)
                except Exception as exc:  # noqa: BLE001 - a notifier must not break a run
                    log.error("catalog problem callback failed: %s", exc)
        return new

    def outages(self, min_s: float = 0.0) -> list[dict]:
        """Runs whose ingest waits for an unreachable catalog server (since ``min_s`` ago
        or longer), with the ingester's message: when it began, documents waiting."""
        out = []
        for prog in sorted(self.journal_dir.glob("*.progress")):
            try:
                outage = json.loads(prog.read_text()).get("outage")
            except (OSError, ValueError):
                continue
            if outage and time.time() - float(outage.get("since", 0)) >= min_s:
                out.append({"uid": prog.stem, "journal": str(prog.with_suffix(SUFFIX)),
                            "error": outage.get("message", ""), "outage": outage})
        return out

    def _ensure_ingester(self) -> None:
        first = self._service is None
        self._service = IngestService.get()
        self._service.watch(self.data_dir, self.config, new_user=first)

    def _orphans(self) -> list[Path]:
        return [j for j in self.journal_dir.glob(f"*{SUFFIX}") if not writer_alive(j)]

    def recover(self, timeout_s: float = 600.0) -> list[str]:
        """Replay, in this process, every journal whose writer died; returns their uids."""
        from .ingest import recover

        return recover(self.data_dir, self.config, client=self._writable_client(),
                       timeout_s=timeout_s)

    def _writable_client(self):
        return self._get_client().include_data_sources()

    def sync(self, timeout_s: float = 120.0, uid: str | None = None) -> None:
        """Wait until the catalog holds every document written so far.

        Runs closed by this process's writer must be fully ingested (journal gone);
        runs still open must be ingested up to what was written when ``sync`` was
        called.  Raises :class:`StorageError` naming the run if the ingester
        reported a failure or ``timeout_s`` passes.
        """
        if self.writer is None:
            return
        if not self.ingest:
            self.recover(timeout_s=timeout_s)
            return
        targets: dict[Path, int | None] = {}
        for u in self.writer.stopped:
            if uid is None or u == uid:
                targets[self.journal_dir / f"{u}{SUFFIX}"] = None
        for u, info in self.writer.open_runs().items():
            if uid is None or u == uid:
                targets[Path(info["path"])] = info["bytes"]
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while True:
            pending = []
            for journal, size in targets.items():
                if not journal.exists():
                    continue
                err = journal.with_suffix(".error")
                if err.exists():
                    self.report_problems()
                    raise StorageError(f"run {journal.stem} could not be ingested: "
                                       f"{err.read_text().strip()} (its journal is kept at "
                                       f"{journal})")
                if size is not None and self._progress(journal) >= size:
                    continue
                pending.append(journal)
            if not pending:
                self.writer.stopped[:] = [u for u in self.writer.stopped
                                          if (self.journal_dir / f"{u}{SUFFIX}").exists()]
                return
            if self._service is None or not self._service.alive():
                self._ensure_ingester()
            if time.monotonic() > deadline:
                waiting = [o["error"] for o in self.outages()]
                raise StorageError(
                    f"the catalog is behind: {len(pending)} run(s) not ingested after "
                    f"{timeout_s:.0f} s ({', '.join(p.stem for p in pending)}); the data are safe "
                    f"in {self.journal_dir}; see {self.data_dir / 'ingest.log'}"
                    + (f"; {waiting[0]}" if waiting else ""))
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    @staticmethod
    def _progress(journal: Path) -> int:
        try:
            return int(json.loads(journal.with_suffix(".progress").read_text())["offset"])
        except (FileNotFoundError, ValueError, KeyError):
            return 0

    def problems(self) -> list[dict]:
        """Runs whose journal could not be ingested (kept on disk), with the reason."""
        out = []
        for err in sorted(self.journal_dir.glob("*.error")):
            out.append({"uid": err.stem, "journal": str(err.with_suffix(SUFFIX)),
                        "error": err.read_text().strip()})
        banner = self.journal_dir / "INGESTER-ERROR"
        if banner.exists():
            out.append({"uid": None, "journal": None, "error": banner.read_text().strip()})
        return out

    # -- reading side -------------------------------------------------------------------
    def _get_client(self):
        with self._client_lock:
            if self._client is None:
                self._client, self._context = make_client(self.config, self.data_dir)
            return self._client

    @property
    def client(self):
        """The Tiled client, after every run this session closed has reached the catalog.

        A run that could not be ingested is logged (and listed by :meth:`problems`)
        rather than raised here, so the other runs stay readable.
        """
        if self.writer is not None and self.writer.stopped:
            try:
                self.sync()
            except StorageError as exc:
                log.error("%s", exc)
                failed = {p["uid"] for p in self.problems()}
                self.writer.stopped[:] = [u for u in self.writer.stopped if u not in failed]
        return self._get_client()

    def __getitem__(self, uid: str | int):
        """A run by uid, or by position like databroker: ``catalog[-1]`` is the latest run."""
        if isinstance(uid, int):
            client = self.client
            n = len(client)
            if not -n <= uid < n:
                raise IndexError(f"the catalog holds {n} run(s); there is no run [{uid}]")
            return client.values()[uid]
        if self.writer is not None:
            self.sync(uid=uid)
        return self._get_client()[uid]

    def runs(self):
        """Runs, oldest first, as ``(uid, start, stop)``."""
        for uid, run in self.client.items():
            md = run.metadata
            yield uid, md.get("start", {}), md.get("stop") or {}

    def search(self, **md):
        """Runs whose start document has these values, e.g. ``search(sample="CdS-17")``."""
        from tiled.queries import Key

        result = self.client
        for key, value in md.items():
            result = result.search(Key(f"start.{key}") == value)
        return result

    def read_slice(self, uid: str, stream: str, field: str, t0: float | None = None,
                   t1: float | None = None, *, time_key: str = "timestamp",
                   relative: bool = False) -> Slice:
        """The rows of ``field`` acquired between ``t0`` and ``t1`` (``t0 <= t < t1``).

        Reads only that window (HDF5 hyperslab or a Tiled array slice), so an hour of
        a 120-hour run of spectra costs one hour of I/O.

        Parameters
        ----------
        uid, stream, field : str
            The run, the event stream (``"primary"``) and the data key.
        t0, t1 : float, optional
            Window bounds in seconds; None leaves that side open.
        time_key : {"timestamp", "time"}
            ``"timestamp"``: the device's acquisition time of that field (per frame
            in a burst, on the session's clock); ``"time"``: the event time.
        relative : bool
            Bounds are seconds after the first row instead of epoch seconds.
        """
        run = self[uid]
        node = run[stream].base
        ts_col = "time" if time_key == "time" else f"ts_{field}"
        arr_node = None
        if field in node and node[field].structure_family == "array":
            arr_node = node[field]
        files = self._local_assets(arr_node) if arr_node is not None else None
        if files:
            return self._slice_hdf5(files, arr_node, field, t0, t1, time_key, relative)
        table = node["internal"]
        cols = ["seq_num", ts_col] + ([field] if arr_node is None else [])
        df = table.read(columns=cols)
        times = df[ts_col].to_numpy(dtype="f8")
        i0, i1 = _window(times, t0, t1, relative)
        data = (arr_node[i0:i1] if arr_node is not None else df[field].to_numpy()[i0:i1])
        units = (arr_node.metadata.get("units") if arr_node is not None
                 else (table.metadata.get("data_keys", {}).get(field, {}) or {}).get("units"))
        return Slice(times[i0:i1], np.asarray(data), df["seq_num"].to_numpy()[i0:i1], units)

    def _local_assets(self, arr_node) -> list[tuple[Path, int]] | None:
        """HDF5 segment files of an array node readable here, with the rows the catalog holds."""
        from tiled.utils import path_from_uri

        try:
            ds = arr_node.include_data_sources().data_sources()[0]
        except Exception:  # noqa: BLE001 - no data-source access: read through Tiled
            return None
        if ds.mimetype != "application/x-hdf5":
            return None
        paths = [Path(path_from_uri(a.data_uri)) for a in ds.assets]
        if not all(p.exists() for p in paths):
            return None
        return [(p, int(arr_node.shape[0])) for p in paths]

    @staticmethod
    def _slice_hdf5(files, arr_node, field, t0, t1, time_key, relative) -> Slice:
        import h5py

        total = files[0][1]
        times, seqs, handles = [], [], []
        try:
            for path, _ in files:
                f = h5py.File(path, "r", swmr=True)
                handles.append(f)
                tkey = "time" if time_key == "time" else f"timestamps/{field}"
                times.append(f[tkey][()])
                seqs.append(f["seq_num"][()])
            t = np.concatenate(times)[:total]
            s = np.concatenate(seqs)[:total]
            i0, i1 = _window(t, t0, t1, relative)
            parts, start = [], 0
            for f in handles:
                ds = f[field]
                n = ds.shape[0]
                a, b = max(i0 - start, 0), min(i1 - start, n)
                if a < b:
                    parts.append(ds[a:b])
                start += n
            shape = handles[0][field].shape[1:]
            data = (np.concatenate(parts) if parts
                    else np.empty((0, *shape), dtype=handles[0][field].dtype))
            units = handles[0][field].attrs.get("units") or None
        finally:
            for f in handles:
                f.close()
        return Slice(t[i0:i1], data, s[i0:i1], units)

    # -- lifecycle ----------------------------------------------------------------------
    def close(self, timeout_s: float = 120.0) -> None:
        """Finish: runs this session wrote reach the catalog, then everything is closed.

        A run still open (the RunEngine was not idle) is stored up to its last
        document and closed as interrupted (``exit_status: "abort"``).
        """
        if self.writer is not None:
            left = self.writer.close()
            if left:
                log.warning("catalog closed with run(s) still open: %s; they are stored up to "
                            "now and closed as interrupted", left)
                self.writer.stopped.extend(left)  # wait for them below, like finished runs
            try:
                if self.writer.stopped:
                    self.sync(timeout_s=timeout_s)
            except StorageError as exc:
                # closing must not fail: the documents are safe in the journal, and the
                # ingester (or the next session) finishes the job
                log.error("closing the catalog: %s", exc)
            finally:
                if self._service is not None:
                    self._service.release(self.data_dir)
                    self._service = None
            self.writer = None
        if self._context is not None:
            try:
                self._context.close()
            except Exception:  # noqa: BLE001 - closing a dead connection is not an error
                pass
            self._context = None
            self._client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({self.location})"


def _window(times: np.ndarray, t0, t1, relative: bool) -> tuple[int, int]:
    if len(times) == 0:
        return 0, 0
    origin = float(times[0]) if relative else 0.0
    if np.all(np.diff(times) >= 0):
        i0 = 0 if t0 is None else int(np.searchsorted(times, origin + t0, side="left"))
        i1 = len(times) if t1 is None else int(np.searchsorted(times, origin + t1, side="left"))
        return i0, max(i0, i1)
    # clock adjustments can make timestamps non-monotonic: take the covering index range
    sel = np.ones(len(times), bool)
    if t0 is not None:
        sel &= times >= origin + t0
    if t1 is not None:
        sel &= times < origin + t1
    idx = np.flatnonzero(sel)
    return (int(idx[0]), int(idx[-1]) + 1) if len(idx) else (0, 0)


def open_catalog(config: dict, data_dir: Path | str | None = None, *, write: bool = True,
                 **kwargs) -> Catalog:
    """Open the catalog a profile's ``catalog`` section describes.

    Parameters
    ----------
    config : dict
        ``{kind: embedded}`` or ``{kind: tiled, uri: ..., api_key: ...}``.
    data_dir : path, optional
        The embedded catalog's directory (for a Tiled server: the local spool of
        journals and HDF5 files; default ``catalog.path``, ``$PHOTOREACTOR_DATA``
        or ``~/.local/share/photoreactor/tiled-spool``).
    write : bool
        False for a reader (``photoreactor runs``, a notebook): no writer is
        made, and interrupted runs are recovered in this process before it returns.
    """
    config = dict(config or {"kind": "embedded"})
    if "fsync_interval_s" in config:
        kwargs.setdefault("fsync_interval_s", float(config["fsync_interval_s"]))
    if data_dir is None:
        if config.get("kind", "embedded") == "embedded" and not config.get("path"):
            raise StorageError("an embedded catalog needs a data directory "
                               "(open_catalog(config, data_dir) or catalog.path in the profile)")
        data_dir = Path(config.get("path") or default_spool_dir())
    return Catalog(config, Path(data_dir), write=write, **kwargs)
