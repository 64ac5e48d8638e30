"""The data path, measured: overhead vs a bare RunEngine, memory, durability, burst, long runs.

Every ratio is against a baseline measured in the same process, in the same run,
interleaved block by block (bare, journaled, bare, journaled, ...) so that a noisy
machine slows both alike.

Default (a few minutes): 10^4 spectra for memory, a 10-hour run for the slicing
case.  ``--full``: 10^5 spectra over several runs for memory, and a 120-hour run at
one spectrum per second (432 000 spectra of 2048 points, ~7 GB) written through the
RunEngine and read back one hour at a time.

    python -m benchmarks.bench_storage [--full] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

PIXELS = 2048


def _device(pixels: int = PIXELS, dt_s: float = 1.0, t0: float = 1.7e9, array: bool = True):
    """A spectrometer-like device: a 2048-point spectrum and a temperature per trigger.

    Device timestamps advance ``dt_s`` per frame (the run's own clock, as on a
    virtual clock), so a long run can be sliced by acquisition time.
    """
    from ophyd import Component as Cpt
    from ophyd import Device, Signal

    frames = np.random.default_rng(0).random((64, pixels)) * 6e4

    class Spec(Device):
        counts = Cpt(Signal, value=np.zeros(pixels), kind="normal")
        temperature = Cpt(Signal, value=0.0, kind="hinted")

        n = 0

        def trigger(self):
            self.n += 1
            t = t0 + self.n * dt_s
            if array:
                self.counts.put(frames[self.n % 64] + self.n, timestamp=t)
            self.temperature.put(80.0 + (self.n % 1000) / 7, timestamp=t)
            return super().trigger()

    dev = Spec(name="spec")
    if not array:
        dev.counts.kind = "omitted"
    return dev


def _rss_mb(pid: int | None = None) -> float:
    import psutil

    return psutil.Process(pid or os.getpid()).memory_info().rss / 1e6


def _ingester_pid() -> int | None:
    from photoreactor.storage.catalog import IngestService

    svc = IngestService.get()
    return svc.proc.pid if svc.alive() else None


# -- 1. per-event overhead ------------------------------------------------------------

def bench_overhead(cat, block: int, blocks: int) -> list[dict]:
    import bluesky.plans as bp
    from bluesky import RunEngine

    rows = []
    for label, array in (("scalar", False), ("2048-point spectrum", True)):
        dev = _device(array=array)
        bare, journaled = RunEngine({}), RunEngine({})
        journaled.subscribe(cat.writer)
        bare(bp.count([dev], 50))
        journaled(bp.count([dev], 50))
        walls = {"bare": [], "journal": []}
        cpus = {"bare": [], "journal": []}
        child = _ingester_pid()
        c0 = _cpu_s(child)
        for _ in range(blocks):
            for key, RE in (("bare", bare), ("journal", journaled)):
                if key == "bare":
                    # the ingester's work on the previous journaled block belongs to that block:
                    # let it finish (untimed) so the bare block runs on a quiet machine
                    cat.sync()
                t, c = time.perf_counter(), time.process_time()
                RE(bp.count([dev], block))
                walls[key].append((time.perf_counter() - t) / block * 1e3)
                cpus[key].append((time.process_time() - c) / block * 1e3)
        cat.sync()
        child_ms = (_cpu_s(child) - c0) / (blocks * block) * 1e3 if child else float("nan")
        b, j = statistics.median(walls["bare"]), statistics.median(walls["journal"])
        bc, jc = statistics.median(cpus["bare"]), statistics.median(cpus["journal"])
        rows.append({
            "name": f"per-event time, {label}", "value": j, "unit": "ms/event", "baseline": b,
            "ratio": j / b,
            "note": (f"median of {blocks} interleaved runs of {block} events; RunEngine-process CPU "
                     f"{jc:.2f} vs {bc:.2f} ms ({jc / bc:.2f}x); ingester process "
                     f"{child_ms:.2f} ms CPU/event off the RunEngine's process")})
    return rows


def _cpu_s(pid: int | None) -> float:
    if not pid:
        return 0.0
    import psutil

    try:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


def bench_stock_tiledwriter(tmp: Path, n: int = 30) -> dict:
    """Reference: bluesky's TiledWriter writing every event (batch_size=1), in-process."""
    import warnings

    import bluesky.plans as bp
    from bluesky import RunEngine
    from bluesky.callbacks.tiled_writer import TiledWriter
    from tiled.catalog import from_uri
    from tiled.client import Context, from_context
    from tiled.server.app import build_app

    # the stock writer needs DuckDB tables for arrays (SQLite rejects list<double>)
    d = tmp / "stock"
    (d / "files").mkdir(parents=True, exist_ok=True)
    adapter = from_uri(f"sqlite:///{d / 'catalog.db'}",
                       writable_storage=[f"file://{d / 'files'}", f"duckdb:///{d / 't.duckdb'}"],
                       readable_storage=[str(d)], init_if_not_exists=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctx = Context.from_app(build_app(adapter))
    client = from_context(ctx)
    dev = _device(array=True)
    bare, RE = RunEngine({}), RunEngine({})
    RE.subscribe(TiledWriter(client, batch_size=1))
    bare(bp.count([dev], 10))
    t = time.perf_counter()
    bare(bp.count([dev], n))
    b = (time.perf_counter() - t) / n * 1e3
    t = time.perf_counter()
    RE(bp.count([dev], n))
    w = (time.perf_counter() - t) / n * 1e3
    ctx.close()
    return {"name": "reference: stock TiledWriter(batch_size=1), spectrum", "value": w,
            "unit": "ms/event", "baseline": b, "ratio": w / b,
            "note": f"{n} events, in-process Tiled; what per-event durability costs without a journal"}


# -- 2. memory ----------------------------------------------------------------------------

class _Sampler(threading.Thread):
    def __init__(self, pids, period_s=0.5):
        super().__init__(daemon=True)
        self.pids, self.period_s = pids, period_s
        self.peak = {p: 0.0 for p in pids}
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            for p in self.pids:
                try:
                    self.peak[p] = max(self.peak[p], _rss_mb(p))
                except Exception:  # noqa: BLE001 - the process may be gone
                    pass
            self._halt.wait(self.period_s)

    def stop(self):
        self._halt.set()
        self.join()


def bench_memory(cat, n_events: int, runs: int) -> list[dict]:
    import bluesky.plans as bp
    from bluesky import RunEngine

    dev = _device()
    RE = RunEngine({})
    RE.subscribe(cat.writer)
    RE(bp.count([dev], 200))          # warm-up run: imports, first HDF5 file, first table
    cat.sync()
    child = _ingester_pid()
    main0, child0 = _rss_mb(), _rss_mb(child) if child else 0.0
    sampler = _Sampler([os.getpid()] + ([child] if child else []))
    sampler.start()
    per_run = n_events // runs
    after = []
    for _ in range(runs):
        RE(bp.count([dev], per_run))
        cat.sync()
        after.append((_rss_mb(), _rss_mb(child) if child else 0.0))
    sampler.stop()
    growth_main = after[-1][0] - after[0][0]
    growth_child = after[-1][1] - after[0][1]
    n_after_first = per_run * (runs - 1)
    return [
        {"name": f"RunEngine process RSS over {n_events:.0e} spectra ({runs} runs)",
         "value": sampler.peak[os.getpid()], "unit": "MB peak", "baseline": main0,
         "ratio": sampler.peak[os.getpid()] / main0,
         "note": (f"baseline: RSS after warm-up; growth runs 2..{runs}: {growth_main:+.1f} MB "
                  f"= {growth_main * 1e3 / max(n_after_first, 1):+.2f} KB/spectrum "
                  f"(stock TiledWriter: ~16 KB/spectrum)")},
        {"name": f"ingester process RSS over {n_events:.0e} spectra ({runs} runs)",
         "value": sampler.peak.get(child, float("nan")), "unit": "MB peak", "baseline": child0,
         "ratio": sampler.peak.get(child, float("nan")) / child0 if child0 else None,
         "note": (f"growth runs 2..{runs}: {growth_child:+.1f} MB = "
                  f"{growth_child * 1e3 / max(n_after_first, 1):+.2f} KB/spectrum")},
    ]


# -- 3. durability ------------------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    import bluesky.plan_stubs as bps, bluesky.preprocessors as bpp
    from bluesky import RunEngine
    from ophyd import Component as Cpt, Device, Signal
    from photoreactor.storage import open_catalog
    cat = open_catalog({"kind": "embedded"}, sys.argv[1], ingest=False)
    log = open(sys.argv[2], "a", buffering=1)
    class Spec(Device):
        counts = Cpt(Signal, value=np.zeros(2048), kind="normal")
        n = 0
        def trigger(self):
            self.n += 1
            self.counts.put(np.random.default_rng(self.n).random(2048))
            return super().trigger()
    def cb(name, doc):
        cat.writer(name, doc)
        if name == "start":
            log.write(f"uid {doc['uid']}\\n")
        elif name == "event":
            log.write(f"event {doc['seq_num']} {time.time()!r}\\n")
    RE = RunEngine({}); RE.subscribe(cb); dev = Spec(name="spec")
    @bpp.run_decorator()
    def forever():
        for _ in range(10**7):
            yield from bps.trigger_and_read([dev])
    RE(forever())
""")


def bench_durability(tmp: Path, rounds: int, cat_fsync) -> list[dict]:
    from photoreactor.storage import open_catalog

    data = tmp / "kill9"
    lost_total, acquired_total, lags = 0, 0, []
    rng = random.Random(1)
    results = []
    for i in range(rounds):
        logp = tmp / f"kill9-{i}.log"
        p = subprocess.Popen([sys.executable, "-c", _WRITER, str(data), str(logp)],
                             stderr=subprocess.DEVNULL)
        while not (logp.exists() and "event" in logp.read_text()):
            if p.poll() is not None:
                raise RuntimeError("durability writer died on its own")
            time.sleep(0.02)
        time.sleep(rng.uniform(0.5, 3.0))
        os.kill(p.pid, signal.SIGKILL)
        t_kill = time.time()
        p.wait()
        uid, events = None, {}
        for line in logp.read_text().splitlines():
            parts = line.split()
            if parts[0] == "uid":
                uid = parts[1]
            elif len(parts) == 3:
                events[int(parts[1])] = float(parts[2])
        results.append((uid, events, t_kill))
    reader = open_catalog({"kind": "embedded"}, data, write=False)
    for uid, events, t_kill in results:
        seqs = set(reader.client[uid]["primary"].base["internal"].read()["seq_num"].tolist())
        lost = [s for s in events if s not in seqs]
        lost_total += len(lost)
        acquired_total += len(events)
        lags.append(t_kill - max(events.values()))
    reader.close()
    return [
        {"name": f"events lost to kill -9 ({rounds} random kills)", "value": lost_total,
         "unit": "events", "baseline": acquired_total, "ratio": lost_total / acquired_total,
         "note": (f"baseline: events acquired (logged after journaling) before the kills; "
                  f"last logged event {1e3 * min(lags):.0f}-{1e3 * max(lags):.0f} ms before the kill")},
        {"name": "power-loss window (fsync interval + slowest fsync)",
         "value": cat_fsync[0] + cat_fsync[1], "unit": "s", "baseline": 1.0,
         "ratio": (cat_fsync[0] + cat_fsync[1]) / 1.0,
         "note": (f"baseline: the 1 s requirement; interval {cat_fsync[0]} s, slowest fsync "
                  f"seen {1e3 * cat_fsync[1]:.1f} ms during the overhead runs")},
    ]


# -- 4. burst -----------------------------------------------------------------------------

def bench_burst(cat, duration_s: float, period_s: float = 0.0005, capacity: bool = False) -> dict:
    from bluesky import RunEngine

    from photoreactor.devices.common.timing import WallClock
    from photoreactor.devices.spectrometer.burst import SpectrumBurst, burst_run

    frames = np.random.default_rng(2).random((256, PIXELS)) * 16383.0

    class FastSource:
        """A spectrometer free-running at ~0.5 ms integration (faster than any Flame-S)."""

        n = 0

        def wavelengths(self):
            return np.linspace(200.0, 1100.0, PIXELS)

        def intensities(self):
            if period_s:
                time.sleep(period_s)
            self.n += 1
            return frames[self.n % 256] + self.n

    src = FastSource()
    RE = RunEngine({})
    RE.subscribe(cat.writer)
    burst = SpectrumBurst(src, clock=WallClock(), name="burst", max_buffer_frames=100_000)
    t = time.perf_counter()
    (uid,) = RE(burst_run(burst, duration_s=duration_s, collect_period_s=0.25))
    run_s = time.perf_counter() - t
    t = time.perf_counter()
    cat.sync()
    lag = time.perf_counter() - t
    arr = cat[uid]["burst"]["burst_intensities"]
    stored = arr.shape[0]
    probe = [0, stored // 2, stored - 1]
    exact = all(np.array_equal(arr[i], frames[(i + 1) % 256] + (i + 1)) for i in probe)
    if capacity:
        rate = stored / (run_s + lag)
        return {"name": "burst capacity: unpaced source, end to end",
                "value": rate, "unit": "spectra/s", "baseline": 500.0, "ratio": rate / 500.0,
                "note": (f"{stored} frames acquired in {duration_s:.0f} s, all collected, journaled "
                         f"and in the catalog {run_s + lag:.1f} s after kickoff "
                         f"({'exact' if exact and stored == src.n else 'MISMATCH'})")}
    rate = stored / duration_s
    return {"name": f"burst: spectra persisted per second over {duration_s:.0f} s",
            "value": rate, "unit": "spectra/s", "baseline": 500.0, "ratio": rate / 500.0,
            "note": (f"baseline: the 500/s requirement; {stored} of {src.n} frames stored "
                     f"({'exact' if exact and stored == src.n else 'MISMATCH'}); run took "
                     f"{run_s:.1f} s, catalog complete {lag:.1f} s after")}


# -- 5. a long run, read back an hour at a time ------------------------------------------------

def bench_long_run(cat, hours: float) -> list[dict]:
    import bluesky.plans as bp
    from bluesky import RunEngine

    n = int(hours * 3600)
    dev = _device(dt_s=1.0)
    RE = RunEngine({})
    RE.subscribe(cat.writer)
    child = _ingester_pid()
    sampler = _Sampler([os.getpid()] + ([child] if child else []), period_s=2.0)
    main0 = _rss_mb()
    sampler.start()
    t = time.perf_counter()
    (uid,) = RE(bp.count([dev], n, md={"plan_name": "long_run"}))
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    cat.sync(timeout_s=3600)
    lag_s = time.perf_counter() - t
    sampler.stop()
    t0 = 1.7e9
    # one hour from the middle of the run, straight from the HDF5 file
    mid = t0 + (n // 2)
    t = time.perf_counter()
    s = cat.read_slice(uid, "primary", "spec_counts", mid, mid + 3600)
    direct_s = time.perf_counter() - t
    ok = (s.data.shape == (3600, PIXELS) and s.seq_num[0] == n // 2
          and np.array_equal(s.data[0], dev_frame(int(s.seq_num[0]))))
    # the same hour through the Tiled server (what a remote reader does)
    arr = cat.client[uid]["primary"]["spec_counts"]
    i0 = int(s.seq_num[0]) - 1
    t = time.perf_counter()
    via_tiled = arr[i0:i0 + 3600]
    tiled_s = time.perf_counter() - t
    same = via_tiled.tobytes() == s.data.tobytes()
    size_gb = sum(p.stat().st_size for p in (cat.files_dir / uid).glob("*.h5")) / 1e9
    return [
        {"name": f"{hours:.0f}-hour run at 1 spectrum/s: write through the RunEngine",
         "value": write_s / n * 1e3, "unit": "ms/event", "baseline": None, "ratio": None,
         "note": (f"{n} spectra, {size_gb:.1f} GB of HDF5; catalog complete {lag_s:.1f} s after "
                  f"the run; peak RSS {sampler.peak[os.getpid()]:.0f} MB (start {main0:.0f}), "
                  f"ingester {sampler.peak.get(child, float('nan')):.0f} MB")},
        {"name": f"read 1 hour (3600 spectra) of the {hours:.0f}-hour run, by time",
         "value": direct_s, "unit": "s", "baseline": tiled_s, "ratio": direct_s / tiled_s,
         "note": (f"Catalog.read_slice (HDF5 hyperslab); baseline: the same rows through "
                  f"Tiled ({'identical' if same else 'DIFFERENT'}); "
                  f"{'exact' if ok else 'MISMATCH'}")},
    ]


def dev_frame(seq: int) -> np.ndarray:
    return np.random.default_rng(0).random((64, PIXELS))[seq % 64] * 6e4 + seq


# -- driver ----------------------------------------------------------------------------------

class _Rows(list):
    """Rows, echoed to stderr as they come (the full run takes the better part of an hour)."""

    def append(self, row):
        print(f"  [bench_storage] {row['name']}: {row['value']:.4g} {row['unit']} "
              f"(ratio {row['ratio']})", file=sys.stderr, flush=True)
        super().append(row)

    def __iadd__(self, rows):
        for r in rows:
            self.append(r)
        return self

def run(full: bool = False, keep: str | None = None) -> list[dict]:
    import warnings

    warnings.filterwarnings("ignore")
    from photoreactor.storage import open_catalog

    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-storage-"))
    tmp.mkdir(parents=True, exist_ok=True)
    rows = _Rows()
    try:
        cat = open_catalog({"kind": "embedded"}, tmp / "catalog")
        cat.client  # noqa: B018 - start both ends (imports) before timing anything
        cat.sync()
        rows += bench_overhead(cat, block=2000 if full else 1000, blocks=8 if full else 5)
        fsync = (cat.writer.fsync_interval_s, cat.writer.max_fsync_s)
        rows.append(bench_stock_tiledwriter(tmp, n=30))
        rows += bench_durability(tmp, rounds=5 if full else 3, cat_fsync=fsync)
        rows.append(bench_burst(cat, duration_s=10.0))
        rows += bench_memory(cat, n_events=100_000 if full else 10_000, runs=5)
        rows += bench_long_run(cat, hours=120 if full else 10)
        # last: an unpaced source fills the flyer's buffer faster than it is collected, and
        # the memory this takes stays with the process (reused, not returned to the OS)
        rows.append(bench_burst(cat, duration_s=2.0, period_s=0.0, capacity=True))
        cat.close()
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return list(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="10^5 spectra and a 120-hour run")
    p.add_argument("--keep", default=None, help="work in (and keep) this directory")
    args = p.parse_args(argv)
    for r in run(full=args.full, keep=args.keep):
        base = "" if r["baseline"] is None else f"{r['baseline']:.4g}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['name']:62s} {r['value']:12.4g} {r['unit']:10s} {base:>10s} {ratio:>7s}  "
              f"{r['note']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
