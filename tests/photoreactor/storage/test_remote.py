"""``catalog: {kind: tiled, uri, api_key}``: the same data path into a Tiled server."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import bluesky.plans as bp
import numpy as np
import pytest
from ophyd.sim import SynSignal

from photoreactor.storage import open_catalog

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TiledServer:
    """``tiled serve catalog`` on a free port, reading the reactor's spool (shared storage);
    :meth:`stop` and :meth:`start` again keep its port and its catalog (an outage)."""

    def __init__(self, base: Path):
        tiled = Path(sys.executable).with_name("tiled")
        self.tiled = str(tiled if tiled.exists() else shutil.which("tiled"))
        self.port = _free_port()
        self.spool = base / "spool"
        self.spool.mkdir()
        self.srv = base / "server"
        self.srv.mkdir()
        self.proc = None
        self.uri = f"http://127.0.0.1:{self.port}"
        self.config = {"kind": "tiled", "uri": self.uri, "api_key": "secret"}

    def start(self, timeout_s: float = 120.0) -> None:
        srv = self.srv
        self.proc = subprocess.Popen(
            [self.tiled, "serve", "catalog", str(srv / "catalog.db"), "--init",
             "-w", str(srv / "files"), "-w", f"sqlite:///{srv / 'tables.sqlite'}",
             "-r", str(self.spool), "--api-key", "secret", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"tiled server did not start: {self.proc.stderr.read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("tiled server did not open its port")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def tiled_server(tmp_path):
    srv = TiledServer(tmp_path)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def server(tiled_server):
    """A Tiled server that may read the reactor's spool directory (shared storage)."""
    return tiled_server.config, tiled_server.spool


def test_runs_reach_a_tiled_server_with_arrays_exact(server, RE):
    config, spool = server
    cat = open_catalog(config, spool)
    rng = np.random.default_rng(4)

    def spectrum():
        return rng.random(256)

    det = SynSignal(func=spectrum, name="spec")
    RE.subscribe(cat.writer)
    emitted = []
    RE.subscribe(lambda name, doc: emitted.append(doc["data"]["spec"]) if name == "event" else None)
    (uid,) = RE(bp.count([det], 5, md={"sample": "remote"})).run_start_uids
    run = cat[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    got = run["primary"]["spec"].read()
    assert got.shape == (5, 256)
    assert got.tobytes() == np.stack(emitted).tobytes()
    assert [u for u, _, _ in cat.runs()] == [uid]
    cat.close()
    # a reader elsewhere needs only the URI and a key
    reader = open_catalog(config, spool, write=False)
    assert reader.client[uid].metadata["start"]["sample"] == "remote"
    reader.close()


def _step_until(ing, done, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        if not ing.step():
            time.sleep(0.01)


def test_the_ingester_waits_out_a_server_outage_and_resumes_exactly(tiled_server, monkeypatch,
                                                                    caplog):
    """The catalog server goes away mid-run for far longer than the Tiled client's own
    retries last (what used to end the ingest with an error file), then comes back: the
    run ends complete and bit-identical, nothing duplicated, no error file."""
    import json
    import logging

    from tiled.client import from_uri, utils

    from photoreactor.storage import JournalWriter, ingest
    from photoreactor.storage.ingest import Ingester

    from .conftest import make_run, spectrum

    # the old limit was the Tiled client's retries (~25 s); scaled down to 0.2 s here, with
    # the ingester's backoff scaled to 0.05 s doubling to 0.4 s, so an outage of ~2 s is
    # ten times the old limit
    monkeypatch.setattr(utils, "TILED_RETRY_ATTEMPTS", 2)
    monkeypatch.setattr(utils, "TILED_RETRY_TIMEOUT", 0.2)
    monkeypatch.setattr(ingest, "FLUSH_CPU_SHARE", 0.0)   # a catalog batch every 0.05 s
    caplog.set_level(logging.WARNING, logger="photoreactor.storage.ingest")
    spool = tiled_server.spool
    writer = JournalWriter(spool / "journal", fsync_interval_s=0.05)
    ing = Ingester(flush_interval_s=0.05, retry_initial_s=0.05, retry_max_s=0.4)
    ing.watch(spool, tiled_server.config)
    docs = list(make_run(90, pixels=256))
    uid = docs[0][1]["uid"]
    journal = spool / "journal" / f"{uid}.journal"
    try:
        for d in docs[:32]:
            writer(*d)
        _step_until(ing, lambda: journal in ing.runs and "primary" in ing.runs[journal].streams
                    and ing.runs[journal].streams["primary"].rows >= 30, 30, "the first rows")
        run = ing.runs[journal]

        tiled_server.stop()
        for d in docs[32:70]:
            writer(*d)
        _step_until(ing, lambda: run.outage_since is not None, 30, "the outage to be noticed")
        t_down = time.monotonic()
        while time.monotonic() - t_down < 2.0:   # acquisition goes on; the ingester waits
            if not ing.step():
                time.sleep(0.01)
        assert run.outage_since is not None and journal in ing.runs
        assert not journal.with_suffix(".error").exists()
        progress = json.loads(journal.with_suffix(".progress").read_text())
        assert progress["outage"]["waiting_documents"] > 0
        assert "catalog server unreachable since" in progress["outage"]["message"]
        assert any("catalog server unreachable since" in r.getMessage()
                   and "documents waiting" in r.getMessage() and "retrying in" in r.getMessage()
                   for r in caplog.records)
        assert 0.2 <= run.retry_delay <= 0.4   # backoff grew and is capped

        tiled_server.start()
        for d in docs[70:]:
            writer(*d)
        _step_until(ing, lambda: not journal.exists(), 60, "the run to be finalised")
        assert run.outage_since is None
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        writer.close()
        ing.close()
        if tiled_server.proc is None:
            tiled_server.start()

    client = from_uri(tiled_server.uri, api_key="secret")
    got = client[uid]
    assert got.metadata["stop"]["exit_status"] == "success"
    counts = got["primary"]["spectrometer_counts"].read()
    assert counts.tobytes() == np.stack([spectrum(i, 256) for i in range(1, 91)]).tobytes()
    table = got["primary"].base["internal"].read()
    assert table["seq_num"].tolist() == list(range(1, 91))
    assert table["mantle_temperature"].tolist() == [80.0 + i / 7 for i in range(90)]
