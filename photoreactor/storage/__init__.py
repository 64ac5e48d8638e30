"""The data path: from the RunEngine to the one catalog chemists search and read.

A photocatalysis run lasts 55–360 h with a spectrum every few seconds; a burst
after an injection gives hundreds of spectra per second.  The stock
``TiledWriter`` on its own loses a run to a crash (nothing is written before the
stop document), costs 25–45× a bare RunEngine when told to write every event,
grows in memory, and cannot store arrays in SQLite tables.  This package is the
designed replacement:

::

    RunEngine thread            ingester process (one per Python process)
    ────────────────            ─────────────────────────────────────────
    JournalWriter callback      tails <data>/journal/<uid>.journal
      msgpack + os.write  ───▶    arrays  → <data>/files/<uid>/<stream>.h5
      (arrays as raw bytes)                 (chunked, resizable, SWMR)
    flusher thread                scalars → Tiled appendable table "internal"
      fsync every 0.5 s           shapes  → Tiled external-array nodes (HDF5)
                                  stop    → run metadata; journal deleted

                                reader (any process)
                                ────────────────────
                                Catalog.client (Tiled), read_slice() (HDF5
                                hyperslab of a time window), search(), runs()

Why this shape
--------------
* **Durability** comes from a local append-only journal, the ecosystem's
  write-ahead pattern (cf. bluesky's ``JSONLinesWriter`` backup), not from the
  catalog: the callback hands each document to the kernel with one
  ``os.write`` (so ``kill -9`` loses nothing already emitted), and a flusher
  thread fsyncs every 0.5 s (so power loss loses at most ~0.5 s plus one fsync).
  Records are length- and CRC-framed, so a torn tail is detected and dropped —
  a journal is always readable up to its last complete record.
* **Overhead**: the RunEngine thread does ~30 µs of work per 2048-point
  spectrum (msgpack with raw array bytes + one write syscall) and never waits
  for the disk (fsyncs are the flusher thread's).  Everything slow — Tiled
  requests (30–60 ms of CPU each), HDF5 writes — runs in a child process,
  outside the RunEngine's GIL, at the lowest CPU priority (nice 19), polling
  the journal every 0.1 s and batching catalog writes: ~0.3–0.5 ms of its CPU
  per event at 400–500 events/s, a few percent of a core at 1 spectrum/s.
* **Exactness**: arrays travel as raw bytes with their dtype string (byte order
  included) and shape; HDF5 stores the same dtype; scalars go to SQLite as
  int64 / float64 / bool / text.  Nothing is cast or re-encoded as text.
* **Scale**: the writer keeps nothing per event; the ingester keeps one batch
  (≤ 64 MB); HDF5 datasets are chunked (~128 KB chunks), so reading an hour
  of a 120-hour run reads an hour of chunks, and the Tiled structure of an
  array node uses ~16 MB blocks, so the shape update sent with every batch
  stays a few hundred entries long (one entry per HDF5 chunk made it grow
  without bound — the same effect that slows the stock writer on long runs).
  Disk: a run's data occupy twice their size until the run ends (journal +
  HDF5); the journal is deleted once the run is finalised.  Table storage is SQLite (WAL)
  rather than DuckDB: arrays no longer live in tables, and SQLite lets the
  session, the ingester and other readers open the catalog at the same time.
* **Catalog**: each run is a Tiled ``BlueskyRun`` container laid out like
  ``TiledWriter``'s (per stream a composite container with the ``internal``
  table and one external HDF5 array node per array key — what
  StreamResource/StreamDatum documents describe), so bluesky-aware Tiled tools
  read it.  The catalog trails acquisition by about one ingest batch
  (``flush_interval_s`` = 1 s).
* **Recovery**: liveness is an ``flock`` the writer holds on its journal; the
  kernel releases it however the process dies.  An ingester that finds a
  journal unlocked and without a stop document ingests it to its end and closes
  the run with ``exit_status: "abort"`` and ``reason: "interrupted: ..."``.
  The session's ingester does this at start-up; ``open_catalog(...,
  write=False)`` (``photoreactor runs``, a notebook) does it in-process before
  returning.  Ingest always rebuilds a run from the start of its journal
  (dropping any partial catalog entry), so it is idempotent; nothing needs
  repairing by hand.  A run that cannot be ingested (e.g. an array changed
  shape, a 4xx answer) keeps its journal, with a ``.error`` file naming the run
  and the cause (:meth:`Catalog.problems`; the session warns at the next run
  start, an unattended session notifies).
* **Catalog outages** (remote Tiled server down or restarting: connection
  refused/reset, timeouts, 5xx) are not errors: the ingester retries the run
  with capped exponential backoff (0.5 s doubling to 30 s) while its journal
  exists and the session lives, and resumes at the request that failed — each
  document handler and each batch flush (HDF5, then table, then array shapes)
  records which requests are done, node creations that met 409 take the node
  an earlier attempt made, and a table append whose answer was lost is checked
  against the table's row count — so nothing is duplicated or lost and a long
  run is not rebuilt from its start.  While it waits it reads no further (the
  journal is the buffer, memory stays flat) and says so in ``ingest.log`` and
  ``<uid>.progress`` (:meth:`Catalog.outages`).

fsync policy, stated once: journal — every document written immediately,
fsynced at most 0.5 s later and at once on the stop document, journal
directory fsynced at creation; HDF5 — fsynced when the run is finalised, which
happens before its journal is deleted.

Measured (``python -m benchmarks.bench_storage --full``, 2 shared cores,
bluesky 1.15.1, tiled 0.2.20; ratios against a bare RunEngine in the same run):

==============================================  ==========================
per-event time, scalar / 2048-point spectrum    1.10x / 0.96x (noise: the
                                                RunEngine process's CPU is
                                                1.03x in both)
stock TiledWriter(batch_size=1), for reference  25x
events lost to kill -9 (5 random kills)         0 of 4328
power-loss window                               0.53 s (0.5 s + slowest
                                                fsync 30 ms)
burst, source at ~1.4 kHz, 10 s                 1376 spectra/s, all stored
burst capacity, unpaced source                  5687 spectra/s end to end
memory over 10^5 spectra, 5 runs                flat (±0.1 KB/spectrum)
120 h at 1 spectrum/s (432 000 x 2048, 7.1 GB)  written at 2.5 ms/event,
                                                catalog complete 0.5 s
                                                after; memory flat
one hour of it, sliced by time                  0.39 s (HDF5) / 2.1 s
                                                (through Tiled), exact
==============================================  ==========================
"""

from __future__ import annotations

from .catalog import Catalog, Slice, make_client, open_catalog
from .journal import JournalWriter, StorageError, read_journal

__all__ = ["Catalog", "Slice", "open_catalog", "make_client", "JournalWriter", "StorageError",
           "read_journal"]
