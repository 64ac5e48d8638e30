"""Runs through the whole data path: RunEngine → journal → ingester → HDF5 + Tiled → reader."""

import json
import os
import subprocess
import sys

import bluesky.plans as bp
import numpy as np
import pytest
from ophyd import Component as Cpt
from ophyd import Device, Signal

from photoreactor.storage import StorageError, open_catalog

from .conftest import make_run, simulate_death, spectrum


class Spectro(Device):
    """Readings of every shape and dtype a reactor produces."""

    counts = Cpt(Signal, value=np.zeros(8), kind="normal")
    raw = Cpt(Signal, value=np.zeros(8, dtype="<u2"), kind="normal")
    image = Cpt(Signal, value=np.zeros((3, 5), dtype="<f4"), kind="normal")
    temperature = Cpt(Signal, value=0.0, kind="hinted")
    pulses = Cpt(Signal, value=0, kind="normal")
    mode = Cpt(Signal, value="absorbance", kind="normal")
    lamp = Cpt(Signal, value=False, kind="normal")
    wavelengths = Cpt(Signal, value=np.linspace(200.0, 1100.0, 8), kind="config")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.n = 0
        self.sent = []

    def trigger(self):
        rng = np.random.default_rng(self.n)
        vals = {"counts": rng.random(2048) * 6e4,
                "raw": rng.integers(0, 65535, 2048, dtype="<u2"),
                "image": rng.random((3, 5)).astype("<f4"),
                "temperature": 80 + rng.random() / 3,
                "pulses": int(rng.integers(0, 2**40)),
                "mode": ["absorbance", "emission"][self.n % 2],
                "lamp": bool(self.n % 2)}
        vals["counts"][3] = np.nan  # a dead pixel must come back as NaN, not be dropped
        for k, v in vals.items():
            getattr(self, k).put(v)
        self.sent.append(vals)
        self.n += 1
        return super().trigger()


def test_arrays_and_scalars_round_trip_bit_identical(catalog, RE):
    RE.subscribe(catalog.writer)
    dev = Spectro(name="spec")
    dev.wavelengths.put(np.linspace(200.0, 1100.0, 2048) + 1e-9)
    (uid,) = RE(bp.count([dev], 6, md={"sample": "CdSe-3", "reagent_lots": {"Cd": "L17"}})).run_start_uids
    run = catalog[uid]
    md = run.metadata
    assert md["start"]["sample"] == "CdSe-3" and md["start"]["reagent_lots"] == {"Cd": "L17"}
    assert md["stop"]["exit_status"] == "success" and md["stop"]["num_events"] == {"primary": 6}
    prim = run["primary"]
    for key, dtype in (("spec_counts", "<f8"), ("spec_raw", "<u2"), ("spec_image", "<f4")):
        got = prim[key].read()
        want = np.stack([v[key[5:]] for v in dev.sent])
        assert got.dtype == np.dtype(dtype) and got.shape == want.shape
        assert got.tobytes() == want.tobytes(), key
    # the xarray view of the whole stream (dask underneath): arrays stay arrays, exactly
    ds = prim.read()
    assert ds["spec_counts"].values.tobytes() == np.stack([v["counts"] for v in dev.sent]).tobytes()
    assert ds["spec_mode"].values.tolist() == [v["mode"] for v in dev.sent]
    table = prim.base["internal"].read()
    assert table["spec_temperature"].tolist() == [v["temperature"] for v in dev.sent]
    assert table["spec_pulses"].tolist() == [v["pulses"] for v in dev.sent]
    assert table["spec_mode"].tolist() == [v["mode"] for v in dev.sent]
    assert table["spec_lamp"].tolist() == [v["lamp"] for v in dev.sent]
    assert table["seq_num"].tolist() == [1, 2, 3, 4, 5, 6]
    # shapes and units are described where a reader looks for them
    node_md = prim["spec_counts"].metadata
    assert node_md["shape_per_event"] == [2048] and node_md["dtype"] == "<f8"
    desc = prim.metadata
    assert desc["data_keys"]["spec_image"]["shape"] == [3, 5]
    # configuration arrays (the wavelength axis) exact in the HDF5 file beside the data
    import h5py

    (h5,) = (catalog.files_dir / uid).glob("*.h5")
    with h5py.File(h5, "r", swmr=True) as f:
        wl = f["configuration/spec/spec_wavelengths"][()]
        assert f["spec_counts"].attrs["units"] == ""
    assert wl.tobytes() == dev.wavelengths.get().tobytes()
    # the journal is gone once the run is safely in the catalog
    assert not list(catalog.journal_dir.glob(f"{uid}*"))


def test_units_reach_the_array_node_and_the_slice(catalog):
    docs = list(make_run(30, dt_s=2.0))
    uid = docs[0][1]["uid"]
    for name, doc in docs:
        catalog.writer(name, doc)
    run = catalog[uid]
    assert run["primary"]["spectrometer_counts"].metadata["units"] == "counts"
    s = catalog.read_slice(uid, "primary", "spectrometer_counts", 10.0, 20.0, relative=True)
    assert s.units == "counts"
    assert s.seq_num.tolist() == [6, 7, 8, 9, 10]
    assert np.array_equal(s.time, 1.7e9 + 2.0 * np.arange(5, 10))
    for seq, row in zip(s.seq_num, s.data, strict=True):
        assert row.tobytes() == spectrum(int(seq)).tobytes()
    # scalar columns slice the same way
    t = catalog.read_slice(uid, "primary", "mantle_temperature", 1.7e9 + 50, None)
    assert t.seq_num.tolist() == [26, 27, 28, 29, 30] and t.units == "degC"


def test_a_live_run_is_in_the_catalog_within_seconds(catalog):
    """While a run is still open, sync() returns once everything written so far is readable."""
    docs = list(make_run(12, stop=False))
    uid = docs[0][1]["uid"]
    for name, doc in docs:
        catalog.writer(name, doc)
    catalog.sync(timeout_s=60)
    run = catalog.client[uid]
    assert "stop" not in run.metadata or run.metadata["stop"] is None
    assert run["primary"]["spectrometer_counts"].shape == (12, 2048)
    # another process (a notebook) reads the open run while it is being written (HDF5 SWMR)
    code = ("import sys, hashlib\n"
            "from photoreactor.storage import open_catalog\n"
            "cat = open_catalog({'kind': 'embedded'}, sys.argv[1], write=False)\n"
            "a = cat.client[sys.argv[2]]['primary']['spectrometer_counts'][2:5]\n"
            "print(hashlib.sha256(a.tobytes()).hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", code, str(catalog.data_dir), uid],
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    import hashlib

    want = np.stack([spectrum(s) for s in (3, 4, 5)])
    assert out.stdout.split()[-1] == hashlib.sha256(want.tobytes()).hexdigest()
    more = list(make_run(3, stop=False))  # another run interleaved: each has its own journal
    for name, doc in more:
        catalog.writer(name, doc)
    bundle_stop = {"uid": "stop-" + uid, "run_start": uid, "time": 1.8e9, "exit_status": "success",
                   "reason": "", "num_events": {"primary": 12}}
    catalog.writer("stop", bundle_stop)
    catalog.writer("stop", {"uid": "stop-2", "run_start": more[0][1]["uid"], "time": 1.8e9,
                            "exit_status": "success", "reason": "", "num_events": {"primary": 3}})
    assert catalog[uid].metadata["stop"]["exit_status"] == "success"


def test_an_interrupted_run_is_recovered_and_marked_aborted(tmp_path):
    """The writer dies (its lock drops) mid-run: a reader finds the run closed as interrupted."""
    cat = open_catalog({"kind": "embedded"}, tmp_path, ingest=False)
    docs = list(make_run(9, stop=False))
    uid = docs[0][1]["uid"]
    for name, doc in docs:
        cat.writer(name, doc)
    simulate_death(cat.writer, uid)
    reader = open_catalog({"kind": "embedded"}, tmp_path, write=False)
    run = reader.client[uid]
    stop = run.metadata["stop"]
    assert stop["exit_status"] == "abort" and stop["reason"].startswith("interrupted")
    assert run.metadata["storage"]["recovered_from_journal"] is True
    got = run["primary"]["spectrometer_counts"].read()
    assert got.shape == (9, 2048)
    assert all(got[i].tobytes() == spectrum(i + 1).tobytes() for i in range(9))
    assert not list((tmp_path / "journal").glob("*.journal"))
    reader.close()


def test_a_partial_ingest_is_replaced_not_duplicated(tmp_path):
    """Recovery after an ingester died half-way rebuilds the run from its journal."""
    from photoreactor.storage.ingest import Ingester

    cat = open_catalog({"kind": "embedded"}, tmp_path, ingest=False)
    docs = list(make_run(20, stop=False))
    uid = docs[0][1]["uid"]
    for name, doc in docs:
        cat.writer(name, doc)
    ing = Ingester()
    ing.watch(tmp_path, {"kind": "embedded"})
    ing.step()
    (run_ingest,) = ing.runs.values()
    run_ingest.flush()  # some rows reach the catalog, then this ingester "dies"
    run_ingest.reader.close()
    os.close(run_ingest.lock_fd)
    for seg in (s for st in run_ingest.streams.values() for s in st.segments):
        seg.file.close()
    ing.close()
    cat.writer("stop", {"uid": "s", "run_start": uid, "time": 2e9, "exit_status": "success",
                        "reason": "", "num_events": {"primary": 20}})
    reader = open_catalog({"kind": "embedded"}, tmp_path, write=False)
    run = reader.client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    assert run["primary"]["spectrometer_counts"].shape == (20, 2048)
    assert run["primary"].base["internal"].read()["seq_num"].tolist() == list(range(1, 21))
    reader.close()


def test_a_run_that_cannot_be_ingested_keeps_its_journal_and_says_why(catalog):
    docs = list(make_run(3))
    uid = docs[0][1]["uid"]
    bad = dict(docs[3][1])
    bad["data"] = {**bad["data"], "spectrometer_counts": np.zeros(100)}  # pixel count changed
    bad["seq_num"] = 2
    told = []
    catalog.on_problem.append(told.append)   # what the unattended session's notifier does
    for name, doc in [docs[0], docs[1], docs[2], ("event", bad), docs[-1]]:
        catalog.writer(name, doc)
    with pytest.raises(StorageError, match="changed shape"):
        catalog.sync(timeout_s=60)
    catalog.on_problem.remove(told.append)
    (problem,) = [p for p in catalog.problems() if p["uid"] == uid]
    assert "(2048,) to (100,)" in problem["error"]
    assert f"run {uid} (synthetic): ingest stopped" in problem["error"]   # names run and cause
    assert [p["uid"] for p in told] == [uid]
    assert catalog.report_problems() == []   # told once, not at every check
    assert os.path.exists(problem["journal"])
    # clear it so the module's other tests are not blamed for this run
    os.unlink(problem["journal"])
    os.unlink(problem["journal"].replace(".journal", ".error"))
    catalog.writer.stopped.remove(uid)


def test_another_process_reads_runs_written_here(catalog, RE):
    RE.subscribe(catalog.writer)
    dev = Spectro(name="spec")
    (uid,) = RE(bp.count([dev], 4, md={"sample": "readback"})).run_start_uids
    catalog.sync()
    code = (
        "import json, sys, hashlib\n"
        "from photoreactor.storage import open_catalog\n"
        "cat = open_catalog({'kind': 'embedded'}, sys.argv[1], write=False)\n"
        "run = cat.client[sys.argv[2]]\n"
        "arr = run['primary']['spec_counts'].read()\n"
        "s = cat.read_slice(sys.argv[2], 'primary', 'spec_raw')\n"
        "print(json.dumps({'sha': hashlib.sha256(arr.tobytes()).hexdigest(),\n"
        "                  'raw': hashlib.sha256(s.data.tobytes()).hexdigest(),\n"
        "                  'sample': run.metadata['start']['sample'],\n"
        "                  'n': len(list(cat.search(sample='readback')))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(catalog.data_dir), uid],
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    import hashlib

    want = np.stack([v["counts"] for v in dev.sent])
    raw = np.stack([v["raw"] for v in dev.sent])
    assert got == {"sha": hashlib.sha256(want.tobytes()).hexdigest(),
                   "raw": hashlib.sha256(raw.tobytes()).hexdigest(),
                   "sample": "readback", "n": 1}


def test_latest_run_by_position_and_search_by_metadata(catalog):
    docs = list(make_run(2, md={"sample": "ZnSe-9", "operator": "ada"}))
    uid = docs[0][1]["uid"]
    for name, doc in docs:
        catalog.writer(name, doc)
    assert catalog[-1].metadata["start"]["uid"] == uid
    assert list(catalog.search(sample="ZnSe-9", operator="ada")) == [uid]
    with pytest.raises(IndexError, match="no run"):
        catalog[10**6]


def test_profile_can_set_the_fsync_interval(tmp_path):
    cat = open_catalog({"kind": "embedded", "fsync_interval_s": 0.2}, tmp_path, ingest=False)
    assert cat.writer.fsync_interval_s == 0.2
    cat.close()


def test_an_ingester_that_dies_is_restarted_and_rebuilds_the_run(catalog):
    """The ingester process is killed mid-run; the next sync restarts it, nothing is lost."""
    from photoreactor.storage.catalog import IngestService

    docs = list(make_run(10))
    uid = docs[0][1]["uid"]
    for name, doc in docs[:7]:
        catalog.writer(name, doc)
    catalog.sync(timeout_s=120)
    svc = IngestService.get()
    old_pid = svc.proc.pid
    svc.proc.kill()
    svc.proc.wait()
    for name, doc in docs[7:]:
        catalog.writer(name, doc)
    run = catalog[uid]
    assert svc.proc.pid != old_pid
    assert run.metadata["stop"]["exit_status"] == "success"
    got = run["primary"]["spectrometer_counts"].read()
    assert got.shape == (10, 2048)
    assert all(got[i].tobytes() == spectrum(i + 1).tobytes() for i in range(10))
    assert run["primary"].base["internal"].read()["seq_num"].tolist() == list(range(1, 11))


def test_closing_the_catalog_mid_run_stores_the_run_as_interrupted(tmp_path):
    cat = open_catalog({"kind": "embedded"}, tmp_path)
    docs = list(make_run(5, stop=False))
    uid = docs[0][1]["uid"]
    for name, doc in docs:
        cat.writer(name, doc)
    cat.close()
    reader = open_catalog({"kind": "embedded"}, tmp_path, write=False)
    run = reader.client[uid]
    assert run.metadata["stop"]["exit_status"] == "abort"
    assert "never closed" in run.metadata["stop"]["reason"]
    assert run["primary"]["spectrometer_counts"].shape == (5, 2048)
    reader.close()


def test_catalog_requests_cut_off_by_an_outage_resume_without_duplicates(tmp_path, monkeypatch):
    """Every catalog request the ingester makes may fail half-way (sent but no answer, or
    never sent): the ingest resumes at that request, and rows are neither lost nor doubled."""
    import httpx
    from tiled.client.container import Container
    from tiled.client.dataframe import DataFrameClient

    from photoreactor.storage import ingest
    from photoreactor.storage.ingest import Ingester, _ArrayNode

    calls = {"append": 0, "publish": 0, "container": 0, "table": 0}
    fired = []
    req = httpx.Request("POST", "http://catalog")

    def cut(name, after, original):
        """Fail the n-th call of ``name``: after it reached the server, or before."""
        def wrapper(*args, **kwargs):
            calls[name] += 1
            n = calls[name]
            if (name, n) in after:
                original(*args, **kwargs)
                fired.append((name, n, "answer lost"))
                raise httpx.ReadError("connection reset mid-response", request=req)
            if (name, -n) in after:
                fired.append((name, n, "refused"))
                raise httpx.ConnectError("connection refused", request=req)
            return original(*args, **kwargs)
        return wrapper

    plan = {("append", 2), ("append", -4), ("publish", -3), ("publish", 5),
            ("container", 1), ("container", 3), ("table", 1)}
    monkeypatch.setattr(DataFrameClient, "append_partition",
                        cut("append", plan, DataFrameClient.append_partition))
    monkeypatch.setattr(_ArrayNode, "publish", cut("publish", plan, _ArrayNode.publish))
    monkeypatch.setattr(Container, "create_container",
                        cut("container", plan, Container.create_container))
    monkeypatch.setattr(Container, "create_appendable_table",
                        cut("table", plan, Container.create_appendable_table))
    monkeypatch.setattr(ingest, "FLUSH_CPU_SHARE", 0.0)   # a catalog batch at every step

    cat = open_catalog({"kind": "embedded"}, tmp_path, ingest=False)
    docs = list(make_run(40, pixels=64))
    uid = docs[0][1]["uid"]
    ing = Ingester(flush_interval_s=0.0, retry_initial_s=0.0, retry_max_s=0.0)
    ing.watch(tmp_path, {"kind": "embedded"})
    journal = tmp_path / "journal" / f"{uid}.journal"
    outages = 0
    for i in range(0, len(docs), 6):
        for name, doc in docs[i:i + 6]:
            cat.writer(name, doc)
        for _ in range(6):
            ing.step()
            run = ing.runs.get(journal)
            outages += run is not None and run.outage_since is not None
    for _ in range(50):
        if not journal.exists():
            break
        ing.step()
    ing.close()
    cat.close()
    assert not journal.exists() and not journal.with_suffix(".error").exists()
    assert len(fired) == len(plan) and outages >= len(plan), (fired, outages)
    reader = open_catalog({"kind": "embedded"}, tmp_path, write=False)
    run = reader.client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    assert run["primary"].base["internal"].read()["seq_num"].tolist() == list(range(1, 41))
    got = run["primary"]["spectrometer_counts"].read()
    assert got.tobytes() == np.stack([spectrum(i, 64) for i in range(1, 41)]).tobytes()
    reader.close()


def test_only_transient_failures_are_retried():
    import httpx

    from photoreactor.storage.ingest import IngestError, is_transient

    req = httpx.Request("GET", "http://catalog/api/v1/metadata/x")

    def status(code):
        return httpx.HTTPStatusError(str(code), request=req,
                                     response=httpx.Response(code, request=req))

    assert is_transient(httpx.ConnectError("refused", request=req))
    assert is_transient(httpx.ReadTimeout("slow", request=req))
    assert is_transient(httpx.RemoteProtocolError("cut", request=req))
    assert is_transient(status(503)) and is_transient(status(500)) and is_transient(status(429))
    assert not is_transient(status(404)) and not is_transient(status(409))
    assert not is_transient(status(422)) and not is_transient(status(401))
    assert not is_transient(IngestError("changed shape"))
    assert not is_transient(ValueError("corrupt"))


def test_a_journal_being_created_is_left_alone_and_an_abandoned_one_removed(tmp_path):
    """A writer creates ``<uid>.journal.new`` and locks it a moment later.

    A scan in between must not take it for a creation cut short (it did, and the demo's
    second run failed with "cannot create the run journal"); one that nobody locked for
    longer than ``STALE_NEW_JOURNAL_S`` is an abandoned, empty file and goes.
    """
    import time

    from photoreactor.storage.ingest import STALE_NEW_JOURNAL_S, Ingester

    jdir = tmp_path / "journal"
    jdir.mkdir(exist_ok=True)
    fresh, abandoned = jdir / "a.journal.new", jdir / "b.journal.new"
    fresh.touch()                                  # created, not locked yet
    abandoned.touch()
    old = time.time() - 2 * STALE_NEW_JOURNAL_S
    os.utime(abandoned, (old, old))
    ing = Ingester()
    ing.watch(tmp_path, {"kind": "embedded"})
    try:
        ing.step(scan=True)
    finally:
        ing.close()
    assert fresh.exists()
    assert not abandoned.exists()
