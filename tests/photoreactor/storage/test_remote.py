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


@pytest.fixture
def server(tmp_path):
    """A Tiled server that may read the reactor's spool directory (shared storage)."""
    tiled = Path(sys.executable).with_name("tiled")
    if not tiled.exists():
        tiled = shutil.which("tiled")
    port = _free_port()
    spool = tmp_path / "spool"
    spool.mkdir()
    srv = tmp_path / "server"
    srv.mkdir()
    proc = subprocess.Popen(
        [str(tiled), "serve", "catalog", str(srv / "catalog.db"), "--init",
         "-w", str(srv / "files"), "-w", f"sqlite:///{srv / 'tables.sqlite'}",
         "-r", str(spool), "--api-key", "secret", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"tiled server did not start: {proc.stderr.read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    yield {"kind": "tiled", "uri": uri, "api_key": "secret"}, spool
    proc.terminate()
    proc.wait(timeout=30)


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
