"""The write-ahead journal: every document on disk the moment the RunEngine emits it.

One journal file per run, ``<data_dir>/journal/<run uid>.journal``, append-only::

    file   := MAGIC record*
    record := b"PRJR" body_length:u32le crc32(body):u32le body
    body   := msgpack([name, doc])   # numpy arrays as msgpack extension 1

Arrays are stored as raw bytes with their dtype string (byte order included) and
shape, so what is read back is bit-identical to what was acquired, including
NaNs and the integer/float distinction.  A record cut short by a crash (power
loss mid-write) fails its length or CRC check; the reader stops there, so a
journal is always readable up to its last complete record and nothing ever has
to be repaired by hand.

Durability policy (the writer, :class:`JournalWriter`):

* each document is handed to the kernel with one ``os.write`` before the
  callback returns, so it survives the death of the process (``kill -9``, a
  segfault, an out-of-memory kill) at once;
* a flusher thread calls ``os.fsync`` on every journal written since its last
  pass, every ``fsync_interval_s`` (0.5 s by default), so after a power loss at
  most the last ~0.5 s (plus the time of one fsync) can be missing;
* a ``stop`` document wakes the flusher at once (fsync, then the journal is
  closed), and a new journal's directory entry is fsynced in the flusher's next
  pass — the RunEngine thread itself never waits for the disk.

Liveness is told by ``flock``: the writer holds an exclusive lock on its journal
from the start document to the stop document.  The kernel drops the lock when
the process dies, however it dies, so any other process can tell a live run from
an interrupted one with :func:`writer_alive` — no PID files, no heartbeats.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import msgpack
import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"PHOTOREACTOR-JOURNAL-1\n"
RECORD = struct.Struct("<4sII")
RECORD_TAG = b"PRJR"
EXT_NDARRAY = 1
_SHAPE = struct.Struct("<BB")  # len(dtype str), ndim
#: a record larger than this is taken as corruption, not as data (a 2 GB event page is not real)
MAX_RECORD_BYTES = 1 << 31
SUFFIX = ".journal"
#: keep the run going but warn when the disk holding the journal gets this full
LOW_DISK_BYTES = 2 * 1024**3


class StorageError(RuntimeError):
    """The data path cannot store or read a document; the message says where and why."""


# -- encoding -------------------------------------------------------------------------

def _default(obj):
    """msgpack hook: numpy arrays as raw bytes, numpy scalars as Python scalars."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "O":
            return obj.tolist()
        arr = np.ascontiguousarray(obj)
        dt = arr.dtype.str.encode()
        head = _SHAPE.pack(len(dt), arr.ndim) + dt + struct.pack(f"<{arr.ndim}Q", *arr.shape)
        return msgpack.ExtType(EXT_NDARRAY, head + arr.tobytes())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # e.g. a dask or xarray value that slipped into a reading
        return obj.tolist()
    raise TypeError(f"cannot store a value of type {type(obj).__name__} in a document: {obj!r:.80}")


def _ext_hook(code: int, data: bytes):
    if code != EXT_NDARRAY:
        return msgpack.ExtType(code, data)
    view = memoryview(data)
    ndt, ndim = _SHAPE.unpack_from(view, 0)
    pos = _SHAPE.size
    dt = np.dtype(bytes(view[pos:pos + ndt]).decode())
    pos += ndt
    shape = struct.unpack_from(f"<{ndim}Q", view, pos)
    pos += 8 * ndim
    # frombuffer is zero-copy: the array keeps the record's bytes alive, read-only
    return np.frombuffer(view[pos:], dtype=dt).reshape(shape)


def encode(name: str, doc: dict) -> bytes:
    """One journal record (header and body) for a document."""
    body = msgpack.packb([name, doc], default=_default, use_bin_type=True)
    return RECORD.pack(RECORD_TAG, len(body), zlib.crc32(body)) + body


def decode_body(body: bytes) -> tuple[str, dict]:
    name, doc = msgpack.unpackb(body, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    return name, doc


class JournalReader:
    """Reads complete records from a journal that may still be growing.

    ``read_new()`` returns the documents appended since the last call; a record
    that is incomplete (still being written, or cut by a crash) is left for the
    next call.  ``corrupt`` becomes the byte offset of the first record that can
    never be complete (bad tag or CRC with more data after it), if any.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fh = open(self.path, "rb")
        head = self._fh.read(len(MAGIC))
        if head != MAGIC[:len(head)]:
            self._fh.close()
            raise StorageError(f"{self.path} is not a photoreactor journal")
        self.offset = len(head) if head == MAGIC else 0
        self._magic_ok = head == MAGIC
        self._buf = b""
        self.records = 0
        self.more = False
        self.corrupt: int | None = None

    def read_new(self, max_bytes: int = 64 * 1024**2) -> list[tuple[str, dict]]:
        if not self._magic_ok:
            self._fh.seek(0)
            head = self._fh.read(len(MAGIC))
            if head != MAGIC:
                return []
            self._magic_ok, self.offset = True, len(MAGIC)
        if self.corrupt is not None:
            return []
        self._fh.seek(self.offset + len(self._buf))
        chunk = self._fh.read(max_bytes)
        self.more = len(chunk) == max_bytes  # a backlog: read again without waiting
        if chunk:
            self._buf += chunk
        out = []
        buf = memoryview(self._buf)
        pos = 0
        while len(buf) - pos >= RECORD.size:
            tag, length, crc = RECORD.unpack_from(buf, pos)
            if tag != RECORD_TAG or length > MAX_RECORD_BYTES:
                self.corrupt = self.offset + pos
                break
            end = pos + RECORD.size + length
            if end > len(buf):
                break
            body = bytes(buf[pos + RECORD.size:end])
            if zlib.crc32(body) != crc:
                self.corrupt = self.offset + pos
                break
            out.append(decode_body(body))
            pos = end
        self.records += len(out)
        self.offset += pos
        self._buf = bytes(buf[pos:])
        return out

    def at_end(self) -> bool:
        """True when everything on disk now has been returned (or is unreadable)."""
        if self.corrupt is not None:
            return True
        # bytes held in _buf are an incomplete record: still being written, or a torn tail
        return self.offset + len(self._buf) >= os.fstat(self._fh.fileno()).st_size

    @property
    def truncated_tail_bytes(self) -> int:
        """Bytes after the last complete record (a record cut by a crash)."""
        size = os.fstat(self._fh.fileno()).st_size
        return max(0, size - self.offset)

    def close(self) -> None:
        self._fh.close()


def read_journal(path: Path) -> Iterator[tuple[str, dict]]:
    """Every complete document in a journal, in order."""
    reader = JournalReader(path)
    try:
        while True:
            docs = reader.read_new()
            if not docs:
                return
            yield from docs
    finally:
        reader.close()


# -- locks ----------------------------------------------------------------------------

def try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None if another holder has it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def writer_alive(journal: Path) -> bool:
    """True while the process that writes ``journal`` is alive and the run open."""
    fd = try_lock(journal)
    if fd is None:
        return Path(journal).exists()
    os.close(fd)  # closing drops our probe lock
    return False


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- writer ---------------------------------------------------------------------------

class _OpenJournal:
    __slots__ = ("uid", "path", "fd", "dirty", "bytes", "records")

    def __init__(self, uid: str, path: Path, fd: int):
        self.uid, self.path, self.fd = uid, path, fd
        self.dirty = False
        self.bytes = len(MAGIC)
        self.records = 0


class JournalWriter:
    """RunEngine callback that appends every document to its run's journal.

    Subscribe it with ``RE.subscribe(writer)``.  The work on the RunEngine's
    thread is one msgpack encoding and one ``os.write`` per document; the fsyncs
    happen on a flusher thread (see the module docstring for the policy).

    Parameters
    ----------
    journal_dir : path
        Where journals are written (created if missing).
    fsync_interval_s : float
        Longest time a written document waits for its fsync.
    on_start : callable, optional
        Called with the run uid after a run's journal is created (the catalog
        uses it to start the ingester).
    """

    def __init__(self, journal_dir: Path, *, fsync_interval_s: float = 0.5, on_start=None):
        self.journal_dir = Path(journal_dir)
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        self.fsync_interval_s = float(fsync_interval_s)
        self.on_start = on_start
        self._runs: dict[str, _OpenJournal] = {}
        self._descriptor_run: dict[str, _OpenJournal] = {}
        self._resource_run: dict[str, _OpenJournal] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        self._closing: list[_OpenJournal] = []   # stopped runs awaiting fsync + close
        self._unrouted: set = set()
        self._dir_dirty = False
        self.stopped: list[str] = []  # uids of runs this writer closed, oldest first
        self.last_fsync_s = 0.0
        self.max_fsync_s = 0.0  # slowest flusher pass so far: the power-loss window's tail

    # the RunEngine calls this for every document
    def __call__(self, name: str, doc: dict) -> None:
        if name == "start":
            run = self._open(doc["uid"])
        elif name == "descriptor":
            run = self._runs.get(doc["run_start"])
            if run is not None:
                self._descriptor_run[doc["uid"]] = run
        elif name in ("event", "event_page", "stream_datum"):
            run = self._descriptor_run.get(doc["descriptor"])
        elif name in ("resource", "stream_resource"):
            run = self._runs.get(doc.get("run_start", ""))
            if run is None and len(self._runs) == 1:
                run = next(iter(self._runs.values()))
            if run is not None:
                self._resource_run[doc["uid"]] = run
        elif name == "datum":
            run = self._resource_run.get(doc["resource"])
        elif name == "datum_page":
            run = self._resource_run.get(doc["resource"])
        elif name == "stop":
            run = self._runs.get(doc["run_start"])
        else:
            run = None
        if run is None:
            # e.g. subscribed in the middle of a run: say so once per run/stream, not per event
            key = doc.get("descriptor") or doc.get("run_start") or doc.get("uid")
            if key not in self._unrouted:
                self._unrouted.add(key)
                log.warning("journal: %s document of a run that started before this writer was "
                            "subscribed is not stored (and neither are the rest of that run's)",
                            name)
            return
        record = encode(name, doc)
        try:
            _write_all(run.fd, record)
        except OSError as exc:
            raise StorageError(self._write_error(run, exc)) from exc
        run.bytes += len(record)
        run.records += 1
        run.dirty = True
        if name == "stop":
            self._close_run(run)

    # -- lifecycle ------------------------------------------------------------------
    def _open(self, uid: str) -> _OpenJournal:
        path = self.journal_dir / f"{uid}{SUFFIX}"
        if path.exists():
            raise StorageError(f"a journal for run {uid} already exists at {path}: "
                               f"run uids must be unique")
        # Created under another name and renamed once locked: a scanner never sees an
        # unlocked journal of a live run (which it would take for an interrupted one).
        tmp = path.with_name(path.name + ".new")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            _write_all(fd, MAGIC)
            os.rename(tmp, path)
        except OSError as exc:
            raise StorageError(f"cannot create the run journal {path}: {exc}") from exc
        run = _OpenJournal(uid, path, fd)
        run.dirty = True
        with self._lock:
            self._runs[uid] = run
            self._dir_dirty = True  # the flusher makes the new name durable too
        self._check_disk(path)
        self._ensure_flusher()
        if self.on_start is not None:
            self.on_start(uid)
        return run

    def _close_run(self, run: _OpenJournal) -> None:
        # The lock goes now (the ingester may finish the run at once); the fsync and the
        # close are the flusher's, woken right away, so the RunEngine thread never waits
        # for the disk.
        fcntl.flock(run.fd, fcntl.LOCK_UN)
        with self._lock:
            self._runs.pop(run.uid, None)
            for table in (self._descriptor_run, self._resource_run):
                for key in [k for k, v in table.items() if v is run]:
                    del table[key]
            self._closing.append(run)
            self.stopped.append(run.uid)
        self._wake.set()

    def open_runs(self) -> dict[str, dict]:
        """Runs being written now: ``{uid: {"records": n, "bytes": b, "path": p}}``."""
        with self._lock:
            return {r.uid: {"records": r.records, "bytes": r.bytes, "path": str(r.path)}
                    for r in self._runs.values()}

    def flush(self) -> None:
        """fsync every journal written since the last flush (the flusher does this).

        Only the flusher thread (or :meth:`close`, after it has stopped) calls this, so
        a descriptor is never closed under a concurrent fsync.
        """
        with self._lock:
            runs = [r for r in self._runs.values() if r.dirty]
            for r in runs:
                r.dirty = False
            closing, self._closing = self._closing, []
            dir_dirty, self._dir_dirty = self._dir_dirty, False
        for r in runs + closing:
            try:
                os.fsync(r.fd)
            except OSError as exc:
                log.error("journal: fsync of %s failed: %s", r.path, exc)
        for r in closing:
            os.close(r.fd)
        if dir_dirty:
            fsync_dir(self.journal_dir)

    def close(self) -> list[str]:
        """Fsync everything and stop the flusher.

        Runs still open (the session ends in the middle of a run) are released: their
        journals are closed without a stop document, so the ingester closes them as
        interrupted at once.  Returns their uids.
        """
        self._closed = True
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush()
        with self._lock:
            left = list(self._runs.values())
            self._runs.clear()
            self._descriptor_run.clear()
            self._resource_run.clear()
        for run in left:
            try:
                os.fsync(run.fd)
            finally:
                os.close(run.fd)
        return [r.uid for r in left]

    def _ensure_flusher(self) -> None:
        if self._flusher is None or not self._flusher.is_alive():
            self._closed = False
            self._flusher = threading.Thread(target=self._flush_loop, name="journal-fsync",
                                             daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.fsync_interval_s)
            self._wake.clear()
            t0 = time.perf_counter()
            self.flush()
            self.last_fsync_s = time.perf_counter() - t0
            self.max_fsync_s = max(self.max_fsync_s, self.last_fsync_s)

    def _check_disk(self, path: Path) -> None:
        free = shutil.disk_usage(path.parent).free
        if free < LOW_DISK_BYTES:
            log.warning("journal: only %.1f GB free on the disk holding %s; a day of spectra "
                        "at 1 Hz needs about 1.4 GB (twice that until each run is ingested)",
                        free / 1e9, path.parent)

    def _write_error(self, run: _OpenJournal, exc: OSError) -> str:
        try:
            free = f"{shutil.disk_usage(run.path.parent).free / 1e6:.0f} MB free"
        except OSError:
            free = "free space unknown"
        return (f"cannot write run {run.uid} to its journal {run.path} ({free}): {exc}; "
                f"the documents written so far are safe and will be recovered")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
