"""The ingester: journals → per-run HDF5 files + Tiled catalog nodes.

It runs in a child process beside the session (``python -m
photoreactor.storage.ingest``, started by :mod:`photoreactor.storage.catalog`),
so the Tiled requests it makes — tens of milliseconds of CPU each — never hold
the RunEngine process's GIL.  The same code also runs in-process to recover
interrupted runs (:func:`recover`).

For each journal it owns (the ``<uid>.lock`` flock says who owns it) it:

1. deletes any partial catalog node and HDF5 files of that run (left by an
   ingest that died) and replays the journal from the beginning — so ingest is
   idempotent and never has to reason about half-written batches;
2. turns each event stream into one Tiled *composite* container, like bluesky's
   ``TiledWriter`` (BlueskyRun / BlueskyEventStream specs): scalars in an
   appendable SQL table ``internal`` (``seq_num``, ``time``, data keys and their
   ``ts_`` timestamps), arrays in ``<files>/<uid>/<stream>.h5`` (chunked,
   resizable datasets written in SWMR mode) registered as external HDF5 array
   nodes whose shape grows with each batch — exactly what a StreamResource /
   StreamDatum pair describes, so Tiled serves slices straight from HDF5;
3. flushes a batch every ``flush_interval_s`` (HDF5 first, then the table rows,
   then the array shapes, so the catalog never advertises data not on disk);
4. on the stop document — or, when the writer's flock is free and no stop came,
   on the end of the journal (the writer died) — writes the stop into the run's
   metadata (for an interrupted run ``exit_status: "abort"`` with the reason),
   closes and fsyncs the HDF5 files and deletes the journal.

Decisions
---------
* An array data key keeps its shape and dtype for a whole stream (a
  spectrometer does not change its pixel count mid-run).  A value that breaks
  this stops the ingest of that run with an error file beside the journal; the
  journal is kept untouched, so nothing is lost and the run can be re-ingested
  after a fix.  Non-numeric arrays are stored in the table as JSON text.
* A new descriptor for an existing stream with other array keys starts a new
  HDF5 segment file (SWMR cannot add datasets to an open file); arrays of keys
  present in both are concatenated across segments by Tiled.
* Legacy ``resource``/``datum`` documents are kept in the journal only (no
  device in this project emits them); foreign ``stream_resource`` /
  ``stream_datum`` documents (a detector writing its own files) are registered
  with bluesky's consolidators, as ``TiledWriter`` does.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import queue
import shutil
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path

import numpy as np

from .journal import SUFFIX, JournalReader, StorageError, fsync_dir, try_lock, writer_alive

log = logging.getLogger("photoreactor.storage.ingest")

#: reserved column names in a Tiled bluesky table; data keys with these names get a "_" prefix
RESERVED = ("time", "seq_num")
#: target bytes per HDF5 chunk: small enough that the partly filled last chunk, rewritten at
#: every flush of a slow stream, costs little; large enough for fast slicing
CHUNK_BYTES = 128 * 1024
#: flush a run's pending data when this much has accumulated, whatever the time
#: rows of an array node per Tiled block (what a client fetches in one request)
TILED_BLOCK_BYTES = 16 * 1024**2
MAX_PENDING_BYTES = 64 * 1024**2
#: while runs are being ingested, look for new journals this often
SCAN_INTERVAL_S = 0.5
#: a half-created journal (``.new``) is removed only when older than this (s)
STALE_NEW_JOURNAL_S = 60.0
MAX_PENDING_ROWS = 50_000
#: a catalog batch costing c seconds is followed by at least FLUSH_CPU_SHARE * c seconds of
#: waiting (so catalog bookkeeping takes at most ~1/5 of a core) ...
FLUSH_CPU_SHARE = 5.0
#: ... but the catalog never trails acquisition by more than this
MAX_FLUSH_INTERVAL_S = 5.0
#: the ingester runs at lower CPU priority: on a busy machine acquisition wins, the catalog
#: lags a little more, and durability (the journal) is unaffected
INGEST_NICE = 19
#: catalog server unreachable: first retry after this long, doubling up to RETRY_MAX_S
RETRY_INITIAL_S = 0.5
RETRY_MAX_S = 30.0
#: in the ingester process, how long one Tiled request keeps retrying by itself (the Tiled
#: client's own stamina retries) before the run waits with the backoff above; short, so a
#: dead server does not block the other runs of the process
CLIENT_PATIENCE_S = 10.0


class IngestError(StorageError):
    """A run's documents cannot be turned into catalog entries (the journal is kept)."""


def is_transient(exc: BaseException) -> bool:
    """Whether a failure says "the catalog server is not there right now", not "this is wrong".

    Transient: the connection refused / reset / cut mid-response, timeouts, HTTP 5xx
    (a server restarting, its database down, a proxy without upstream) and 429.
    Everything else — 4xx, a corrupt record, a schema conflict, a bug — is not: the
    run stops with an error file (retrying would fail the same way forever).
    """
    import httpx

    for e in (exc, exc.__cause__, exc.__context__):
        if e is None:
            continue
        if isinstance(e, httpx.HTTPStatusError):
            code = e.response.status_code
            return code >= 500 or code == 429
        if isinstance(e, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
            return False
        if isinstance(e, httpx.TransportError):
            return True
        if isinstance(e, (ConnectionError, TimeoutError)):
            return True
    return False


def _conflict(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 409


def _create_or_get(parent, key: str, create):
    """``create()`` a child node, or take the one an earlier attempt made.

    A creation request cut off by an outage may have reached the server; the retry
    then meets 409 Conflict.  Every partial node of a run is deleted before its journal
    is replayed, so a node already under this run's key is ours.  Returns
    ``(node, created_now)``.
    """
    try:
        return create(), True
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is our own earlier node
        if not _conflict(exc):
            raise
        log.info("%s: node %r already created by an attempt cut off by an outage", parent.uri, key)
        return parent[key], False


def _now_iso(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() if t is None else t))


def json_safe(obj):
    """Metadata for Tiled: arrays to lists, numpy scalars to Python, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else (1.7976e308 if obj > 0 else -1.7976e308)
    if isinstance(obj, int) and not (1 - 2**53 <= obj <= 2**53 - 1):
        return float(obj)
    return obj


# -- one stream -------------------------------------------------------------------------

class _Column:
    """How one data key is stored: in the table (with an arrow type) or as an HDF5 array."""

    __slots__ = ("key", "column", "kind", "arrow_type", "shape", "dtype")

    def __init__(self, key, column, kind, arrow_type=None, shape=None, dtype=None):
        self.key, self.column, self.kind = key, column, kind
        self.arrow_type, self.shape, self.dtype = arrow_type, shape, dtype


def _classify(key: str, data_key: dict, value) -> _Column:
    import pyarrow as pa

    column = f"_{key}" if key in RESERVED else key
    if isinstance(value, (np.ndarray, list, tuple)):
        arr = np.asarray(value)
        if arr.ndim >= 1 and arr.dtype.kind in "biufc":
            return _Column(key, column, "array", shape=arr.shape, dtype=arr.dtype)
        if arr.ndim == 0 and arr.dtype.kind in "biuf":
            value = arr.item()
        else:
            return _Column(key, column, "json", pa.string())
    dtype = data_key.get("dtype")
    if isinstance(value, bool) or dtype == "boolean":
        return _Column(key, column, "scalar", pa.bool_())
    if dtype == "integer" or (isinstance(value, int) and dtype not in ("number", "string")):
        return _Column(key, column, "scalar", pa.int64())
    if dtype == "number" or isinstance(value, float):
        return _Column(key, column, "scalar", pa.float64())
    if isinstance(value, str) or dtype == "string":
        return _Column(key, column, "scalar", pa.string())
    return _Column(key, column, "json", pa.string())


def _block_rows(shape, dtype) -> int:
    """Rows per Tiled block of an array node: ~16 MB per block."""
    row = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return int(max(1, TILED_BLOCK_BYTES // max(row, 1)))


def _chunk_rows(shape, dtype) -> int:
    row = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return int(max(1, min(4096, CHUNK_BYTES // max(row, 1))))


class _Segment:
    """One HDF5 file of a stream: the arrays of a fixed set of keys, SWMR-written."""

    def __init__(self, path: Path, columns: list[_Column], descriptor: dict, run_uid: str):
        import h5py

        self.path = path
        self.columns = columns
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(path, "w", libver="latest")
        f = self.file
        f.attrs["run_uid"] = run_uid
        f.attrs["stream"] = descriptor["name"]
        f.attrs["writer"] = "photoreactor.storage"
        f.attrs["layout"] = ("one dataset per array data key, rows = events (seq_num); "
                             "time and seq_num per row; timestamps/<key> = device timestamps")
        self.datasets = {}
        for col in columns:
            rows = _chunk_rows(col.shape, col.dtype)
            ds = f.create_dataset(col.key, shape=(0, *col.shape), maxshape=(None, *col.shape),
                                  chunks=(rows, *col.shape), dtype=col.dtype)
            dk = descriptor["data_keys"].get(col.key, {})
            ds.attrs["units"] = str(dk.get("units") or "")
            ds.attrs["source"] = str(dk.get("source") or "")
            ds.attrs["data_key"] = json.dumps(json_safe(dk))
            self.datasets[col.key] = ds
        self.time = f.create_dataset("time", shape=(0,), maxshape=(None,), chunks=(4096,),
                                     dtype="f8")
        self.seq_num = f.create_dataset("seq_num", shape=(0,), maxshape=(None,),
                                        chunks=(4096,), dtype="i8")
        self.timestamps = {
            col.key: f.create_dataset(f"timestamps/{col.key}", shape=(0,), maxshape=(None,),
                                      chunks=(4096,), dtype="f8")
            for col in columns}
        # configuration arrays (wavelength axis, calibration tables) kept bit-exact beside the data
        for obj, conf in (descriptor.get("configuration") or {}).items():
            for ckey, cval in (conf.get("data") or {}).items():
                arr = np.asarray(cval) if isinstance(cval, (np.ndarray, list, tuple)) else None
                if arr is not None and arr.ndim >= 1 and arr.dtype.kind in "biuf":
                    cds = f.create_dataset(f"configuration/{obj}/{ckey}", data=arr)
                    cdk = (conf.get("data_keys") or {}).get(ckey, {})
                    cds.attrs["units"] = str(cdk.get("units") or "")
        f.swmr_mode = True

    def append(self, arrays: dict[str, np.ndarray], times, seq_nums, stamps) -> None:
        n0, k = self.rows, len(times)
        n1 = n0 + k
        for col in self.columns:
            ds = self.datasets[col.key]
            block = arrays[col.key]
            ds.resize(n1, axis=0)
            ds[n0:n1] = block
            ts = self.timestamps[col.key]
            ts.resize(n1, axis=0)
            ts[n0:n1] = stamps[col.key]
        self.time.resize(n1, axis=0)
        self.time[n0:n1] = times
        self.seq_num.resize(n1, axis=0)
        self.seq_num[n0:n1] = seq_nums
        for ds in (*self.datasets.values(), *self.timestamps.values(), self.time, self.seq_num):
            ds.flush()
        self.rows = n1

    def close(self) -> None:
        if self.file is None:
            return
        self.file.close()
        self.file = None
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _ArrayNode:
    """A Tiled array node backed by HDF5 segment files (one asset per segment)."""

    def __init__(self, col: _Column, data_key: dict):
        self.col = col
        self.data_key = data_key
        self.assets: list[Path] = []
        self.rows = 0
        self.client = None
        self.ds_id = None

    def data_source(self):
        from tiled.structures.array import ArrayStructure, BuiltinDtype
        from tiled.structures.core import StructureFamily
        from tiled.structures.data_source import Asset, DataSource, Management

        shape = (self.rows, *self.col.shape)
        # Tiled's blocks need not match the HDF5 chunks (its adapter slices a dask array).
        # Large blocks keep this structure — sent with every shape update and stored in
        # the catalog — a few hundred entries long even for a 120-hour run.
        step = _block_rows(self.col.shape, self.col.dtype)
        lead = tuple([step] * (self.rows // step) + ([self.rows % step] if self.rows % step else []))
        chunks = (lead or (0,), *((d,) for d in self.col.shape))
        return DataSource(
            structure_family=StructureFamily.array,
            structure=ArrayStructure(data_type=BuiltinDtype.from_numpy_dtype(self.col.dtype),
                                     shape=shape, chunks=chunks),
            mimetype="application/x-hdf5",
            parameters={"dataset": self.col.key, "swmr": True},
            assets=[Asset(data_uri=p.as_uri(), is_directory=False, parameter="data_uris", num=i)
                    for i, p in enumerate(self.assets)],
            management=Management.external,
        )

    def publish(self, stream_node) -> None:
        from tiled.client.utils import handle_error
        from tiled.structures.core import StructureFamily
        from tiled.utils import safe_json_dump

        ds = self.data_source()
        if self.client is None:
            md = {"data_key": json_safe(self.data_key), "units": self.data_key.get("units"),
                  "shape_per_event": list(self.col.shape), "dtype": self.col.dtype.str,
                  "storage": "HDF5 (external), rows = events of this stream"}
            client, fresh = _create_or_get(
                stream_node, self.col.column,
                lambda: stream_node.new(key=self.col.column, structure_family=StructureFamily.array,
                                        data_sources=[ds], metadata=md, specs=[]))
            self.ds_id = client.include_data_sources().data_sources()[0].id
            self.client = client
            if not fresh:
                # the node may come from an attempt cut off by an outage: set its shape now
                self.publish(stream_node)
        else:
            ds.id = self.ds_id
            handle_error(self.client.context.http_client.put(
                self.client.uri.replace("/metadata/", "/data_source/", 1),
                content=safe_json_dump({"data_source": ds})))


class _Stream:
    """One event stream of a run (``primary``, ``dark``, ``burst`` ...)."""

    def __init__(self, run: RunIngest, name: str):
        self.run = run
        self.name = name
        self.node = None            # tiled Container (the composite's base)
        self.descriptors: dict[str, dict] = {}
        self.columns: dict[str, _Column] | None = None   # per key, set at the first data
        self.table = None
        self.table_columns: list[str] = []
        self.schema = None
        self.segment: _Segment | None = None
        self.segments: list[_Segment] = []
        self.array_nodes: dict[str, _ArrayNode] = {}
        self.rows = 0
        self._new_segment_needed = False
        self._batch: dict | None = None   # a flush under way (see flush)
        self._clear()

    def _clear(self):
        self.p_rows: list[dict] = []
        self.p_arrays: dict[str, list] = {}
        self.p_times: list[float] = []
        self.p_seq: list[int] = []
        self.p_stamps: dict[str, list] = {}
        self.p_bytes = 0

    # -- documents ----------------------------------------------------------------
    def descriptor(self, doc: dict) -> None:
        from tiled.structures.core import Spec

        self.descriptors[doc["uid"]] = doc
        md = json_safe({k: v for k, v in doc.items() if k not in ("name", "object_keys", "run_start")})
        if self.node is None:
            root = self.run.root
            node, _ = _create_or_get(root, self.name, lambda: root.create_container(
                key=self.name, metadata=md,
                specs=[Spec("BlueskyEventStream", version="3.0"), Spec("composite")]))
            self.node = node.base
        else:
            # a later descriptor (configuration changed mid-run): keep its configuration
            updates = list(self.node.metadata.get("_config_updates", []))
            updates.append(json_safe({"uid": doc["uid"], "time": doc["time"],
                                      "configuration": doc.get("configuration", {})}))
            self.node.update_metadata(metadata={"_config_updates": updates}, drop_revision=True)
            if self.columns is not None and self._array_keys(doc) != self._current_array_keys():
                self._new_segment_needed = True

    def _array_keys(self, desc: dict) -> set:
        return {k for k, dk in desc["data_keys"].items()
                if dk.get("dtype") == "array" or dk.get("shape")}

    def _current_array_keys(self) -> set:
        return {c.key for c in (self.segment.columns if self.segment else [])}

    def add(self, desc_uid: str, data: dict, timestamps: dict, t: float, seq: int) -> None:
        desc = self.descriptors[desc_uid]
        if self.columns is None or self._new_segment_needed \
                or any(k not in self.columns for k in data):
            self._learn(desc, data)
        row = {"seq_num": seq, "time": t}
        for key, value in data.items():
            col = self.columns[key]
            if col.kind == "array":
                arr = np.asarray(value)
                if arr.shape != col.shape:
                    raise IngestError(
                        f"run {self.run.uid}, stream {self.name!r}: data key {key!r} changed shape "
                        f"from {col.shape} to {arr.shape} at seq_num {seq}; arrays of one key must "
                        f"keep their shape within a stream")
                if arr.dtype != col.dtype and not np.can_cast(arr.dtype, col.dtype, "safe"):
                    raise IngestError(
                        f"run {self.run.uid}, stream {self.name!r}: data key {key!r} changed dtype "
                        f"from {col.dtype} to {arr.dtype} at seq_num {seq}")
                self.p_arrays.setdefault(key, []).append(arr)
                self.p_stamps.setdefault(key, []).append(timestamps.get(key, math.nan))
                self.p_bytes += arr.nbytes
            elif col.kind == "json":
                row[col.column] = json.dumps(json_safe(value))
            else:
                row[col.column] = value.item() if isinstance(value, np.generic) else value
        for key, ts in timestamps.items():
            row[f"ts_{key}"] = ts
        self.p_rows.append(row)
        self.p_times.append(t)
        self.p_seq.append(seq)
        self.p_bytes += 64 * len(row)

    def _learn(self, desc: dict, data: dict) -> None:
        """Decide, from the first values, where each key is stored."""
        import pyarrow as pa

        known = self.columns or {}
        cols = dict(known)
        for key, value in data.items():
            if key not in cols:
                cols[key] = _classify(key, desc["data_keys"].get(key, {}), value)
                if self.schema is not None and cols[key].kind != "array":
                    raise IngestError(
                        f"run {self.run.uid}, stream {self.name!r}: data key {key!r} appeared "
                        f"after the stream's table was created; a stream keeps its data keys")
        arrays = [c for c in cols.values() if c.kind == "array" and c.key in data]
        schema = self.schema
        if schema is None:
            fields = [pa.field("seq_num", pa.int64()), pa.field("time", pa.float64())]
            fields += [pa.field(c.column, c.arrow_type) for c in cols.values() if c.kind != "array"]
            fields += [pa.field(f"ts_{k}", pa.float64()) for k in cols]
            schema = pa.schema(fields)
        if arrays and (self.segment is None or {c.key for c in arrays} != self._current_array_keys()):
            # flushes the rows so far first (with the columns they were read with); that may
            # meet a catalog outage, so nothing of this stream has changed until it is done
            self._start_segment(arrays, desc)
        self.columns = cols
        self.schema = schema
        self._new_segment_needed = False

    def _start_segment(self, arrays: list[_Column], desc: dict) -> None:
        if self.segment is not None:
            self.flush()  # rows so far belong to the old segment's key set
        n = len(self.segments)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in self.name)
        path = self.run.files_dir / (f"{safe}.h5" if n == 0 else f"{safe}.{n + 1}.h5")
        self.segment = _Segment(path, arrays, desc, self.run.uid)
        self.segments.append(self.segment)
        for col in arrays:
            node = self.array_nodes.get(col.key)
            if node is None:
                node = self.array_nodes[col.key] = _ArrayNode(col, desc["data_keys"].get(col.key, {}))
                if self.rows:
                    # a key that appears mid-stream: its rows start here, not at seq_num 1
                    node.data_key = {**node.data_key, "first_row": self.rows}
            node.assets.append(path)

    # -- flushing -----------------------------------------------------------------
    def pending(self) -> bool:
        return bool(self.p_rows)

    def _flush_arrays(self) -> dict[str, np.ndarray] | None:
        if not self.p_rows or self.segment is None:
            return None
        blocks = {k: np.stack(v).astype(self.columns[k].dtype, copy=False)
                  for k, v in self.p_arrays.items() if k in self.segment.datasets}
        stamps = {k: np.asarray(self.p_stamps[k], dtype="f8") for k in blocks}
        self.segment.append(blocks, np.asarray(self.p_times, dtype="f8"),
                            np.asarray(self.p_seq, dtype="i8"), stamps)
        return blocks

    def flush(self) -> int:
        """Write pending rows: HDF5, then the table, then the array shapes. Returns rows.

        Resumable: a catalog outage can cut this off after any step, and the next call
        goes on from that step (``self._batch`` says which are done), so a batch is never
        written twice nor half-written.  A table append cut off mid-request may or may
        not have reached the server; the table's row count decides.
        """
        import pyarrow as pa

        if not self.p_rows:
            return 0
        k = len(self.p_rows)
        batch = self._batch
        if batch is None:
            self._flush_arrays()
            batch = self._batch = {"table": False, "uncertain": False, "published": set(),
                                   "shapes": {key: node.rows + len(self.p_arrays[key])
                                              for key, node in self.array_nodes.items()
                                              if key in self.p_arrays}}
        if not batch["table"]:
            self._append_table(batch, k, pa)
            batch["table"] = True
        for key, rows in batch["shapes"].items():
            if key not in batch["published"]:
                self.array_nodes[key].rows = rows
                self.array_nodes[key].publish(self.node)
                batch["published"].add(key)
        self.rows += k
        self._batch = None
        self._clear()
        return k

    def _table_rows(self) -> int:
        """Rows of this stream's table in the catalog (asked only after an outage)."""
        if self.table is None:
            return 0
        try:
            return len(self.table.read(columns=["seq_num"]))
        except Exception as exc:  # noqa: BLE001 - a table never appended to cannot be read
            if is_transient(exc):
                raise
            return 0

    def _append_table(self, batch: dict, k: int, pa) -> None:
        if batch["uncertain"]:
            there = self._table_rows()
            if there == self.rows + k:
                log.info("run %s, stream %r: the batch of %d rows cut off by the outage had "
                         "reached the catalog", self.run.uid, self.name, k)
                return
            if there != self.rows:
                raise IngestError(
                    f"run {self.run.uid}, stream {self.name!r}: the catalog table holds {there} "
                    f"rows, expected {self.rows} or {self.rows + k} after an outage; the run "
                    f"will be rebuilt from its journal once this error file is removed")
        columns = {}
        for field in self.schema:
            values = [row.get(field.name) for row in self.p_rows]
            try:
                columns[field.name] = pa.array(values, type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                columns[field.name] = pa.array([_coerce(v, field.type) for v in values],
                                               type=field.type)
        table = pa.table(columns, schema=self.schema)
        if self.table is None:
            md = {"data_keys": json_safe({c.key: self.descriptors_any()["data_keys"].get(c.key, {})
                                          for c in self.columns.values() if c.kind != "array"})}
            node = self.node
            self.table, _ = _create_or_get(node, "internal", lambda: node.create_appendable_table(
                schema=self.schema, key="internal", metadata=md))
        try:
            self.table.append_partition(0, table)
        except Exception as exc:
            if is_transient(exc):
                batch["uncertain"] = True
            raise

    def descriptors_any(self) -> dict:
        return next(iter(self.descriptors.values()))

    def close(self) -> None:
        for seg in self.segments:
            seg.close()


def _coerce(value, arrow_type):
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_string(arrow_type):
        return value if isinstance(value, str) else json.dumps(json_safe(value))
    try:
        if pa.types.is_floating(arrow_type):
            return float(value)
        if pa.types.is_integer(arrow_type):
            return int(value)
        if pa.types.is_boolean(arrow_type):
            return bool(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None


# -- one run ----------------------------------------------------------------------------

class RunIngest:
    """Replays one journal into the catalog; call :meth:`step` until it returns True."""

    def __init__(self, client, journal: Path, files_root: Path, lock_fd: int,
                 flush_interval_s: float = 1.0):
        self.client = client
        self.journal = Path(journal)
        self.uid = self.journal.name[: -len(SUFFIX)]
        self.files_root = Path(files_root)
        self.files_dir = self.files_root / self.uid
        self.lock_fd = lock_fd
        self.flush_interval_s = flush_interval_s
        self.reader = JournalReader(self.journal)
        self.root = None
        self.start_doc: dict | None = None
        self.stop_doc: dict | None = None
        self.streams: dict[str, _Stream] = {}
        self.by_descriptor: dict[str, _Stream] = {}
        self.foreign = None
        self.last_flush = time.monotonic()
        self.last_doc_time: float | None = None
        self.records = 0
        self.done = False
        self._progress_offset = -1
        self._flush_cost_s = 0.0
        self._flushed_rows = 0
        self._last_report = time.monotonic()
        #: documents read from the journal but not yet handled (a catalog outage stopped
        #: the handling); ``_page_row`` is how far into the event page at its head we got
        self._backlog: deque = deque()
        self._page_row = 0
        self._interrupted: bool | None = None
        #: catalog outage: when it began (wall clock), the next attempt (monotonic), the delay
        self.outage_since: float | None = None
        self.retry_at = 0.0
        self.retry_delay = 0.0
        self.last_error = ""
        self._last_outage_log = 0.0

    # -- the loop -----------------------------------------------------------------------
    def step(self) -> bool:
        """Ingest what is new. Returns True when the run is finished (stopped or orphaned).

        May raise anywhere a catalog request fails; calling it again resumes where it
        stopped (the documents read are kept in ``_backlog`` until handled, and every
        handler and flush picks up from its last completed request).
        """
        if any(s._batch is not None for s in self.streams.values()):
            self.flush()  # a batch cut off by an outage goes first: read no more until it is in
        docs = self._backlog
        if not docs and self.stop_doc is None:
            docs.extend(self.reader.read_new())
        had_docs = bool(docs)
        while docs and self.stop_doc is None:
            name, doc = docs[0]
            self._handle(name, doc)
            docs.popleft()
            self._page_row = 0
        if self.stop_doc is not None:
            docs.clear()  # nothing follows a stop document in a journal
            self.finalize()
            return True
        if self._pending_bytes() >= MAX_PENDING_BYTES or self._pending_rows() >= MAX_PENDING_ROWS \
                or (time.monotonic() - self.last_flush >= self._interval()):
            self.flush()
        if not had_docs and self.reader.at_end() and not writer_alive(self.journal):
            # The writer is gone.  Everything it wrote is on disk now: read it all, then close.
            while True:
                if not docs:
                    docs.extend(self.reader.read_new())
                if not docs:
                    break
                while docs:
                    self._handle(*docs[0])
                    docs.popleft()
                    self._page_row = 0
            self.finalize()
            return True
        return False

    def _batch_open(self) -> bool:
        return any(s._batch is not None or s.p_rows for s in self.streams.values())

    def waiting_documents(self) -> int:
        """Documents read from the journal that are not in the catalog yet."""
        return len(self._backlog) + self._pending_rows()

    def outage(self, exc: BaseException, initial_s: float, max_s: float) -> None:
        """A transient catalog failure: wait (capped exponential backoff), then resume."""
        now = time.monotonic()
        first = self.outage_since is None
        if first:
            self.outage_since = time.time()
            self.retry_delay = initial_s
        else:
            self.retry_delay = min(max(self.retry_delay, initial_s) * 2.0, max_s)
        self.retry_at = now + self.retry_delay
        self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        unread = max(0, self.journal.stat().st_size - self.reader.offset) \
            if self.journal.exists() else 0
        msg = (f"run {self.uid}: catalog server unreachable since {_now_iso(self.outage_since)}, "
               f"{self.waiting_documents()} documents waiting (+{unread} bytes of journal not yet "
               f"read), retrying in {self.retry_delay:.1f} s ({self.last_error})")
        if first or now - self._last_outage_log >= 60.0 or self.retry_delay < max_s:
            log.warning("%s", msg)
            self._last_outage_log = now
        self._write_progress(outage={"since": self.outage_since, "since_iso": _now_iso(self.outage_since),
                                     "waiting_documents": self.waiting_documents(),
                                     "unread_bytes": unread, "retry_in_s": self.retry_delay,
                                     "error": self.last_error, "message": msg})

    def reconnected(self) -> None:
        if self.outage_since is not None:
            log.warning("run %s: catalog server reachable again after %.1f s; ingest resumed "
                        "where it stopped", self.uid, time.time() - self.outage_since)
            self.outage_since = None
            self.retry_delay = 0.0
            self.retry_at = 0.0
            if not self.done:
                self._write_progress()

    def _pending_bytes(self) -> int:
        return sum(s.p_bytes for s in self.streams.values())

    def _pending_rows(self) -> int:
        return sum(len(s.p_rows) for s in self.streams.values())

    # -- documents ------------------------------------------------------------------------
    def _handle(self, name: str, doc: dict) -> None:
        """One document.  If it raises, calling it again with the same document resumes it."""
        if name == "start":
            self._start(doc)
        elif self.root is None:
            raise IngestError(f"journal {self.journal}: {name} document before the start document")
        elif name == "descriptor":
            stream = self.streams.get(doc["name"])
            if stream is None:
                stream = self.streams[doc["name"]] = _Stream(self, doc["name"])
            stream.descriptor(doc)
            self.by_descriptor[doc["uid"]] = stream
        elif name == "event":
            self.by_descriptor[doc["descriptor"]].add(doc["descriptor"], doc["data"],
                                                      doc["timestamps"], doc["time"],
                                                      doc["seq_num"])
        elif name == "event_page":
            stream = self.by_descriptor[doc["descriptor"]]
            keys = list(doc["data"])
            tkeys = list(doc["timestamps"])
            if len(doc["time"]) != len(doc["seq_num"]):
                raise IngestError(f"run {self.uid}: event page with {len(doc['time'])} times "
                                  f"and {len(doc['seq_num'])} seq_nums")
            for i in range(self._page_row, len(doc["time"])):
                stream.add(doc["descriptor"], {k: doc["data"][k][i] for k in keys},
                           {k: doc["timestamps"][k][i] for k in tkeys}, doc["time"][i],
                           doc["seq_num"][i])
                self._page_row = i + 1
        elif name in ("stream_resource", "stream_datum"):
            self._foreign(name, doc)
        elif name == "stop":
            self.stop_doc = doc
        # resource / datum / datum_page: kept in the journal only (see module docstring)
        self.records += 1
        if isinstance(doc, dict) and isinstance(doc.get("time"), (int, float)):
            self.last_doc_time = doc["time"]

    def _start(self, doc: dict) -> None:
        from tiled.structures.core import Spec

        self.start_doc = doc
        self._discard_partial()
        self.files_dir.mkdir(parents=True, exist_ok=True)
        md = {"start": json_safe(doc)}
        self.root = self.client.create_container(key=doc["uid"], metadata=md,
                                                 specs=[Spec("BlueskyRun", version="3.0")])

    def _discard_partial(self) -> None:
        """Remove what an earlier, interrupted ingest of this journal left behind."""
        try:
            old = self.client[self.uid]
        except KeyError:
            old = None
        if old is not None:
            log.info("run %s: removing a partial catalog entry before replaying its journal", self.uid)
            old.delete(recursive=True, external_only=False)
        if self.files_dir.exists():
            shutil.rmtree(self.files_dir)

    def _foreign(self, name: str, doc: dict) -> None:
        """StreamResource/StreamDatum from a device that writes its own files."""
        from bluesky.callbacks.tiled_writer import _RunWriter

        if self.foreign is None:
            self.foreign = _RunWriter(self.client.include_data_sources(), batch_size=1)
            self.foreign.root_node = self.root
        fw = self.foreign
        if name == "stream_resource":
            fw.stream_resource(doc)
            return
        stream = self.by_descriptor[doc["descriptor"]]
        fw._desc_nodes[doc["descriptor"]] = fw._desc_nodes[stream.name] = stream.node
        fw.stream_datum(doc)

    # -- output -----------------------------------------------------------------------------
    def _interval(self) -> float:
        """Seconds between catalog batches: ``flush_interval_s``, stretched so that Tiled
        requests (tens of ms of CPU each) take at most ``1 / FLUSH_CPU_SHARE`` of the time."""
        return min(max(self.flush_interval_s, self._flush_cost_s * FLUSH_CPU_SHARE),
                   MAX_FLUSH_INTERVAL_S)

    def flush(self) -> int:
        rows = 0
        t0 = time.monotonic()
        for stream in self.streams.values():
            rows += stream.flush()
        if rows:
            self._flush_cost_s = time.monotonic() - t0
            self._flushed_rows += rows
            if time.monotonic() - self._last_report >= 300:
                log.info("run %s: %d rows in the catalog; last batch of %d took %.3f s",
                         self.uid, self._flushed_rows, rows, self._flush_cost_s)
                self._last_report = time.monotonic()
        self.last_flush = time.monotonic()
        if not self._backlog and self.reader.offset != self._progress_offset:
            self._write_progress()
            self._progress_offset = self.reader.offset
        return rows

    def _write_progress(self, outage: dict | None = None) -> None:
        """``<uid>.progress``: how far the catalog has got (``offset``: every journal byte
        before it is in the catalog) and, during a catalog outage, ``outage``."""
        prog = self.journal.with_suffix(".progress")
        tmp = prog.with_suffix(".progress.tmp")
        caught_up = outage is None and not self._backlog and self._batch_open() is False
        offset = self.reader.offset if caught_up else self._progress_offset
        state = {"offset": max(offset, 0), "records": self.records,
                 "rows": {n: s.rows for n, s in self.streams.items()}}
        if outage is not None:
            state["outage"] = outage
        try:
            tmp.write_text(json.dumps(state))
            os.replace(tmp, prog)
        except FileNotFoundError:  # the journal directory went away (run deleted by hand)
            pass

    def finalize(self) -> None:
        """Write the last rows and the stop document; close files; drop the journal."""
        if self.root is None:
            # nothing but a header (the writer died before the start record was complete)
            self._cleanup()
            self.done = True
            return
        self.flush()
        if self._interrupted is None:
            self._interrupted = self.stop_doc is None
        interrupted = self._interrupted
        if interrupted and self.stop_doc is None:
            last = self.last_doc_time or self.start_doc.get("time", time.time())
            self.stop_doc = {
                "uid": str(uuid.uuid4()),
                "run_start": self.uid,
                "time": last,
                "exit_status": "abort",
                "reason": (f"interrupted: the run was never closed (the process writing it died, "
                           f"or its session ended mid-run); data recovered from its journal up to "
                           f"the last document, at {_now_iso(last)}"),
                "num_events": {name: s.rows for name, s in self.streams.items()},
            }
        storage = {
            "journal_records": self.records,
            "recovered_from_journal": interrupted,
            "truncated_tail_bytes": self.reader.truncated_tail_bytes,
            "files": sorted(str(p.relative_to(self.files_root.parent))
                            for s in self.streams.values() for p in (seg.path for seg in s.segments)),
        }
        if self.reader.corrupt is not None:
            storage["corrupt_at_byte"] = self.reader.corrupt
        for stream in self.streams.values():
            stream.close()
        if self.files_dir.exists():
            fsync_dir(self.files_dir)
            fsync_dir(self.files_root)
        md = dict(self.root.metadata)
        md.update({"stop": json_safe(self.stop_doc), "storage": storage})
        self.root.update_metadata(metadata=md, drop_revision=True)
        self._cleanup()
        self.done = True
        log.info("run %s: ingested %d records%s", self.uid, self.records,
                 " (interrupted run closed as aborted)" if interrupted else "")

    def _cleanup(self) -> None:
        self.reader.close()
        for suffix in (".progress", ".error"):
            try:
                self.journal.with_suffix(suffix).unlink()
            except FileNotFoundError:
                pass
        self.journal.unlink()
        try:
            self.journal.with_suffix(".lock").unlink()
        except FileNotFoundError:
            pass
        os.close(self.lock_fd)

    def abandon(self) -> None:
        """Stop ingesting without finishing; whoever claims the journal next rebuilds the run."""
        self._let_go()

    def fail(self, exc: BaseException) -> None:
        """Give up on this run: keep the journal, say why beside it, free the lock.

        Only for errors that retrying cannot cure (see :func:`is_transient`); the
        ``.error`` file names the run and the cause, and the session reports it.
        """
        start = self.start_doc or {}
        what = f"run {self.uid}" + (f" ({start['plan_name']})" if start.get("plan_name") else "")
        msg = (f"{_now_iso()} {what}: ingest stopped after {self.records} documents: "
               f"{type(exc).__name__}: {exc}")
        log.error("%s (journal kept at %s)", msg, self.journal)
        try:
            self.journal.with_suffix(".error").write_text(msg + "\n")
        finally:
            self._let_go()

    def _let_go(self) -> None:
        """Close the HDF5 streams (best effort) and the journal, release its lock; done."""
        for stream in self.streams.values():
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        self.reader.close()
        os.close(self.lock_fd)
        self.done = True


# -- many runs, many directories --------------------------------------------------------------

def claim(journal: Path) -> int | None:
    """Take the ingest lock of a journal; None if another ingester has it or it has failed."""
    if journal.with_suffix(".error").exists():
        return None
    lock = journal.with_suffix(".lock")
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        return None
    os.close(fd)
    fd = try_lock(lock)
    if fd is None:
        return None
    if not journal.exists():  # finished by someone else between listing and locking
        os.close(fd)
        return None
    return fd


class Ingester:
    """Ingests every journal of the directories it watches, one step at a time."""

    def __init__(self, flush_interval_s: float = 1.0, *, retry_initial_s: float = RETRY_INITIAL_S,
                 retry_max_s: float = RETRY_MAX_S):
        self.flush_interval_s = flush_interval_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.dirs: dict[Path, dict] = {}
        self.runs: dict[Path, RunIngest] = {}
        #: journals given up for now (left to another ingester or the next session): not
        #: claimed again by this one
        self.left: set[Path] = set()
        self._last_scan = 0.0

    def watch(self, data_dir: Path, catalog: dict, client=None) -> None:
        from .catalog import make_client

        data_dir = Path(data_dir)
        if data_dir in self.dirs:
            return
        if client is None:
            client, context = make_client(catalog, data_dir, writer=True)
        else:
            context = None
        self.dirs[data_dir] = {"client": client, "context": context, "released": False}

    def release(self, data_dir: Path) -> None:
        if Path(data_dir) in self.dirs:
            self.dirs[Path(data_dir)]["released"] = True

    def step(self, only_orphans: bool = False, scan: bool | None = None) -> bool:
        """One pass over the watched directories and the runs being ingested.

        Returns True when more work is waiting right now (a backlog larger than one
        read, a run just claimed or finished); False means the caller may sleep.
        Directories are scanned for new journals at most every ``SCAN_INTERVAL_S``
        while runs are being ingested (``scan=True`` forces a scan).
        """
        busy = False
        now = time.monotonic()
        if scan is None:
            scan = not self.runs or now - self._last_scan >= SCAN_INTERVAL_S
        for data_dir, info in list(self.dirs.items()) if scan else []:
            self._last_scan = now
            jdir = data_dir / "journal"
            if not jdir.is_dir():
                continue
            for new in jdir.glob(f"*{SUFFIX}.new"):
                # a journal whose creation was cut short (before its start document): empty.
                # Only once it is old: a writer creates the file and locks it a moment
                # later, and a scan in between took a live run's journal away (the demo's
                # second run failed with "cannot create the run journal")
                try:
                    if time.time() - new.stat().st_mtime < STALE_NEW_JOURNAL_S:
                        continue
                except FileNotFoundError:
                    continue
                fd = try_lock(new)
                if fd is not None:
                    new.unlink(missing_ok=True)
                    os.close(fd)
            for journal in sorted(jdir.glob(f"*{SUFFIX}")):
                if journal in self.runs or journal in self.left:
                    continue
                if only_orphans and writer_alive(journal):
                    continue
                fd = claim(journal)
                if fd is None:
                    continue
                self.runs[journal] = RunIngest(info["client"], journal, data_dir / "files", fd,
                                               self.flush_interval_s)
                busy = True
        for journal, run in list(self.runs.items()):
            if run.outage_since is not None:
                if not journal.exists():   # deleted by hand while we waited: nothing to do
                    log.warning("run %s: journal %s removed during a catalog outage; dropped",
                                run.uid, journal)
                    run.abandon()
                    del self.runs[journal]
                    continue
                if time.monotonic() < run.retry_at:
                    continue
            try:
                finished = run.step()
                run.reconnected()
                busy = busy or finished or run.reader.more or bool(run._backlog)
            except Exception as exc:  # noqa: BLE001 - one bad run must not stop the others
                if is_transient(exc):
                    run.outage(exc, self.retry_initial_s, self.retry_max_s)
                    continue
                run.fail(exc)
                finished = True
            if finished:
                del self.runs[journal]
        return busy

    def waiting(self) -> bool:
        """True when every run left is waiting for an unreachable catalog server."""
        return bool(self.runs) and all(r.outage_since is not None for r in self.runs.values())

    def next_retry_s(self) -> float:
        """Seconds until the earliest retry of a run waiting for the catalog server."""
        times = [r.retry_at for r in self.runs.values() if r.outage_since is not None]
        return max(0.0, min(times) - time.monotonic()) if times else 0.0

    def idle(self) -> bool:
        return not self.runs

    def close(self) -> None:
        for info in self.dirs.values():
            if info["context"] is not None:
                try:
                    info["context"].close()
                except Exception:  # noqa: BLE001
                    pass
        self.dirs.clear()


def recover(data_dir: Path, catalog: dict, client=None, timeout_s: float = 600.0) -> list[str]:
    """Ingest, in this process, every journal whose writer is gone (interrupted runs).

    Journals still being written, or owned by another ingester, are left alone.
    Returns the uids of the runs recovered.
    """
    jdir = Path(data_dir) / "journal"
    if not jdir.is_dir() or not any(jdir.glob(f"*{SUFFIX}")):
        return []
    ing = Ingester(flush_interval_s=5.0)
    ing.watch(Path(data_dir), catalog, client=client)
    done = []
    deadline = time.monotonic() + timeout_s
    try:
        ing.step(only_orphans=True)
        claimed = [r.uid for r in ing.runs.values()]
        while ing.runs and time.monotonic() < deadline:
            if not ing.step(only_orphans=True) and ing.waiting():
                time.sleep(min(ing.next_retry_s(), max(0.0, deadline - time.monotonic())) + 0.01)
        done = [u for u in claimed if not (jdir / f"{u}{SUFFIX}").exists()]
    finally:
        for run in list(ing.runs.values()):  # out of time: let the next recovery continue
            if run.outage_since is not None:
                log.warning("run %s: catalog server unreachable since %s; left in its journal "
                            "for the next session", run.uid, _now_iso(run.outage_since))
                run.abandon()
                continue
            run.fail(StorageError(f"recovery did not finish within {timeout_s:.0f} s"))
            run.journal.with_suffix(".error").unlink(missing_ok=True)
        if client is None:
            ing.close()
    return done


# -- the child process --------------------------------------------------------------------------

def _stdin_commands(q: queue.Queue) -> None:
    for line in sys.stdin:
        line = line.strip()
        if line:
            try:
                q.put(json.loads(line))
            except ValueError:
                log.error("ingester: bad command %r", line)
    q.put({"op": "eof"})


def set_client_patience(seconds: float) -> None:
    """How long one Tiled request retries by itself (stamina, in the Tiled client) in this
    process; beyond that the run waits with the ingester's own backoff."""
    from tiled.client import utils

    utils.TILED_RETRY_TIMEOUT = float(seconds)
    utils.TILED_RETRY_ATTEMPTS = max(1, min(utils.TILED_RETRY_ATTEMPTS, 1 + int(seconds / 0.5)))


def serve(poll_s: float = 0.1, flush_interval_s: float = 1.0, *,
          retry_initial_s: float = RETRY_INITIAL_S, retry_max_s: float = RETRY_MAX_S,
          client_patience_s: float = CLIENT_PATIENCE_S) -> int:
    """Main loop of the ingester process: commands on stdin, one JSON object per line.

    ``{"op": "watch", "data_dir": ..., "catalog": {...}}`` — ingest that directory;
    ``{"op": "release", "data_dir": ...}`` — stop watching once its runs are done;
    ``{"op": "quit"}`` — finish every run whose writer has stopped, then exit.
    End of input (the session process died) means the same as quit.
    """
    try:
        os.nice(INGEST_NICE)
    except OSError:  # not permitted here: run at normal priority
        pass
    commands: queue.Queue = queue.Queue()
    threading.Thread(target=_stdin_commands, args=(commands,), daemon=True).start()
    set_client_patience(client_patience_s)
    ing = Ingester(flush_interval_s=flush_interval_s, retry_initial_s=retry_initial_s,
                   retry_max_s=retry_max_s)
    quitting = False
    while True:
        while True:
            try:
                cmd = commands.get_nowait()
            except queue.Empty:
                break
            op = cmd.get("op")
            if op == "watch":
                try:
                    ing.watch(Path(cmd["data_dir"]), cmd.get("catalog") or {})
                    (Path(cmd["data_dir"]) / "journal" / "INGESTER-ERROR").unlink(missing_ok=True)
                except Exception as exc:  # noqa: BLE001 - report and keep serving others
                    log.exception("ingester: cannot open the catalog of %s: %s", cmd["data_dir"], exc)
                    (Path(cmd["data_dir"]) / "journal").mkdir(parents=True, exist_ok=True)
                    (Path(cmd["data_dir"]) / "journal" / "INGESTER-ERROR").write_text(
                        f"{_now_iso()} cannot open the catalog: {type(exc).__name__}: {exc}\n")
            elif op == "release":
                ing.release(Path(cmd["data_dir"]))
            elif op in ("quit", "eof"):
                quitting = True
        busy = ing.step()
        for data_dir, info in list(ing.dirs.items()):
            if info["released"] and not any(r.journal.parent.parent == data_dir for r in ing.runs.values()):
                if info["context"] is not None:
                    info["context"].close()
                del ing.dirs[data_dir]
        if quitting:
            for journal, run in list(ing.runs.items()):
                if writer_alive(journal):
                    # another process is still writing this run: leave it to that process's
                    # ingester (which rebuilds it from the journal) rather than wait for days
                    run.abandon()
                    ing.left.add(journal)
                    del ing.runs[journal]
                elif run.outage_since is not None:
                    # the session has ended and the catalog server is away: the journal keeps
                    # the run; the next session (or `photoreactor runs`) ingests it
                    log.warning("run %s: session ended while the catalog server is unreachable "
                                "(since %s); the run stays in its journal %s and is ingested by "
                                "the next catalog opened on this directory", run.uid,
                                _now_iso(run.outage_since), journal)
                    run.abandon()
                    ing.left.add(journal)
                    del ing.runs[journal]
        if quitting and ing.idle():
            # one last pass: runs whose writer stopped while we were finishing the others
            if not ing.step(scan=True) and ing.idle():
                break
        if not busy and ing.waiting():
            time.sleep(min(max(ing.next_retry_s(), poll_s), 1.0))
        elif not busy:
            # reading every poll_s is plenty for catalog batches every second or more; a
            # tight loop over a growing journal would cost more CPU than the ingest itself
            time.sleep(poll_s)
    ing.close()
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m photoreactor.storage.ingest", description=__doc__)
    p.add_argument("--poll-s", type=float, default=0.1)
    p.add_argument("--flush-interval-s", type=float, default=1.0)
    p.add_argument("--log", default=None, help="log file (default stderr)")
    env = os.environ.get
    p.add_argument("--retry-initial-s", type=float,
                   default=float(env("PHOTOREACTOR_INGEST_RETRY_INITIAL_S", RETRY_INITIAL_S)))
    p.add_argument("--retry-max-s", type=float,
                   default=float(env("PHOTOREACTOR_INGEST_RETRY_MAX_S", RETRY_MAX_S)))
    p.add_argument("--client-patience-s", type=float,
                   default=float(env("PHOTOREACTOR_INGEST_CLIENT_PATIENCE_S", CLIENT_PATIENCE_S)))
    args = p.parse_args(argv)
    logging.basicConfig(filename=args.log, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import warnings

    warnings.filterwarnings("ignore")
    for noisy in ("httpx", "tiled"):  # one line per HTTP request is not a useful log
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return serve(poll_s=args.poll_s, flush_interval_s=args.flush_interval_s,
                 retry_initial_s=args.retry_initial_s, retry_max_s=args.retry_max_s,
                 client_patience_s=args.client_patience_s)


if __name__ == "__main__":
    sys.exit(main())
