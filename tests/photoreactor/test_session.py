"""A session writes runs into the embedded catalog; another process reads them back."""

import json
import subprocess
import sys

import bluesky.plans as bp
import pytest
from ophyd.sim import det
from tiled.queries import Key

from photoreactor.config import load_profile
from photoreactor.session import open_session


def empty_profile(tmp_path):
    return load_profile({"name": "bare", "reactor_id": "r-test", "operator": "tester",
                         "clock": {"kind": "virtual", "speed": 1000},
                         "catalog": {"kind": "embedded", "path": str(tmp_path / "data")},
                         "simulation": {"world": "minimal", "seed": 3}, "devices": {}})


@pytest.fixture
def session(tmp_path):
    s = open_session(empty_profile(tmp_path), live=False, progress=False)
    yield s
    s.close()


def test_run_metadata_records_clock_profile_and_operator(session):
    (uid,) = session.RE(bp.count([det], 3, md={"sample": "CdS-17"})).run_start_uids
    start = session.catalog.client[uid].metadata["start"]
    assert start["clock"]["kind"] == "virtual"
    assert start["clock"]["speed"] == 1000
    assert start["profile"] == "bare"
    assert start["operator"] == "tester"
    assert start["reactor_id"] == "r-test"
    hits = session.catalog.client.search(Key("start.sample") == "CdS-17")
    assert list(hits) == [uid]


def test_second_process_reads_the_run(session, tmp_path):
    (uid,) = session.RE(bp.count([det], 5, md={"sample": "readback"})).run_start_uids
    session.catalog.close()
    code = (
        "import json, sys\n"
        "from photoreactor.storage import open_catalog\n"
        "cat = open_catalog({'kind': 'embedded'}, sys.argv[1])\n"
        "run = cat.client[sys.argv[2]]\n"
        "data = run['primary'].read()\n"
        "print(json.dumps({'det': [float(x) for x in data['det']], 'plan': run.metadata['start']['plan_name']}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "data"), uid],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"det": [1.0] * 5, "plan": "count"}


def test_session_exposes_devices_by_name_and_refuses_unknown(session):
    with pytest.raises(AttributeError, match="devices"):
        session.no_such_device  # noqa: B018
    assert session.clock.kind == "virtual"
    assert session.world.state()["temperature_c"] == pytest.approx(25.0)
