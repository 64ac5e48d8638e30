"""Burst flyer: every frame acquired is collected, journaled and stored exactly."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
import pytest
from bluesky.utils import FailedStatus

from photoreactor.devices.common.errors import InstrumentTimeout
from photoreactor.devices.common.timing import WallClock
from photoreactor.devices.spectrometer.burst import (
    BurstBufferFull,
    SpectrumBurst,
    burst_run,
    collect_burst,
)
from photoreactor.storage import open_catalog


class FakeSeabreeze:
    """seabreeze-shaped source: frame n is a known function of n; can fail after N frames."""

    def __init__(self, pixels=512, fail_after=None):
        self.n = 0
        self.fail_after = fail_after
        self.wl = np.linspace(340.0, 1020.0, pixels)
        self.lock = threading.Lock()

    def wavelengths(self):
        return self.wl.copy()

    def intensities(self):
        with self.lock:
            if self.fail_after is not None and self.n >= self.fail_after:
                raise InstrumentTimeout("fake", "no frame within 0.1 s")
            self.n += 1
            return self.frame(self.n)

    def frame(self, n):
        return np.random.default_rng(n).random(len(self.wl)) * 16383.0


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    cat = open_catalog({"kind": "embedded"}, tmp_path_factory.mktemp("burst"))
    yield cat
    cat.close()


def test_every_frame_of_a_burst_is_stored_exactly(catalog, RE):
    RE.subscribe(catalog.writer)
    src = FakeSeabreeze()
    burst = SpectrumBurst(src, clock=WallClock(), name="spec_burst")
    (uid,) = RE(burst_run(burst, duration_s=0.5, collect_period_s=0.05)).run_start_uids
    run = catalog[uid]
    frames = run["spec_burst"]["spec_burst_intensities"].read()
    assert frames.shape == (src.n, 512) and src.n > 10
    for i in range(src.n):
        assert frames[i].tobytes() == src.frame(i + 1).tobytes(), f"frame {i}"
    table = run["spec_burst"].base["internal"].read()
    assert table["spec_burst_frame"].tolist() == list(range(src.n))
    stamps = table["ts_spec_burst_intensities"].to_numpy()
    assert np.all(np.diff(stamps) >= 0)          # per-frame acquisition times
    assert run.metadata["stop"]["num_events"] == {"spec_burst": src.n}
    md = run["spec_burst"]["spec_burst_intensities"].metadata
    assert md["units"] == "counts" and md["shape_per_event"] == [512]
    # the wavelength axis travels with the stream's configuration, exactly
    conf = run["spec_burst"].metadata["configuration"]["spec_burst"]["data"]
    assert np.array_equal(conf["spec_burst_wavelengths"], src.wl)
    s = catalog.read_slice(uid, "spec_burst", "spec_burst_intensities", 0.0, 0.1, relative=True)
    assert 0 < len(s.seq_num) < src.n
    assert s.data[0].tobytes() == src.frame(1).tobytes()


def test_burst_inside_a_longer_run_after_an_injection(catalog, RE):
    RE.subscribe(catalog.writer)
    src = FakeSeabreeze(pixels=64)
    burst = SpectrumBurst(src, clock=WallClock(), name="spec_burst")

    @bpp.run_decorator(md={"plan_name": "inject_then_burst"})
    def plan():
        yield from collect_burst(burst, 0.1, collect_period_s=0.02)
        yield from collect_burst(burst, max_frames=25, collect_period_s=0.02)

    (uid,) = RE(plan()).run_start_uids
    frames = catalog[uid]["spec_burst"]["spec_burst_intensities"].read()
    assert frames.shape[0] == src.n
    assert frames[-1].tobytes() == src.frame(src.n).tobytes()


def test_a_failing_source_ends_the_burst_but_keeps_its_frames(catalog, RE):
    RE.subscribe(catalog.writer)
    src = FakeSeabreeze(pixels=32, fail_after=40)
    burst = SpectrumBurst(src, clock=WallClock(), name="spec_burst")
    uids = []
    RE.subscribe(lambda name, doc: uids.append(doc["uid"]) if name == "start" else None)
    with pytest.raises(FailedStatus) as info:
        RE(burst_run(burst, duration_s=30.0, collect_period_s=0.02))
    assert "no frame" in str(info.value.__cause__)
    run = catalog[uids[0]]
    assert run.metadata["stop"]["exit_status"] == "fail"
    frames = run["spec_burst"]["spec_burst_intensities"].read()
    assert frames.shape == (40, 32)
    assert frames[39].tobytes() == src.frame(40).tobytes()


def test_a_full_buffer_stops_the_burst_instead_of_dropping_frames():
    src = FakeSeabreeze(pixels=16)
    burst = SpectrumBurst(src, clock=WallClock(), name="b", max_buffer_frames=50)
    burst.kickoff(duration_s=60.0).wait(5)
    status = burst.complete()
    with pytest.raises(BurstBufferFull, match="no frame was dropped"):
        status.wait(10)
    pages = list(burst.collect_pages())
    got = [f for p in pages for f in p["data"]["b_intensities"]]
    assert len(got) == 50 and got[-1].tobytes() == src.frame(50).tobytes()


def test_burst_on_the_simulated_spectrometer(clock, RE, catalog):
    """The driver + simulated unit as source: frames stamped on the device clock, stored exactly.

    On a virtual clock running 1000x a burst is best given as a frame count: a duration
    of simulated seconds passes in milliseconds of wall time.
    """
    from photoreactor.devices.spectrometer.build import build_ocean_spectrometer
    from photoreactor.sim_devices.emulators.seabreeze import attach
    from photoreactor.sim_devices.world import MinimalReactor

    cfg = {"class": "OceanSpectrometer", "backend": "emulator", "serial_number": "SIM-BURST1",
           "model": "FLAME-S", "integration_time_ms": 2, "min_wall_timeout_s": 1.0}
    bench = SimpleNamespace(clock=clock, world=MinimalReactor(clock), serial_timeout_s=0.1)
    attach(bench, "spectrometer", {**cfg, "emulator": {"seed": 1}})
    spec = build_ocean_spectrometer("spectrometer", cfg, clock)
    try:
        burst = SpectrumBurst.from_spectrometer(spec)
        pages = []
        RE.subscribe(catalog.writer)
        RE.subscribe(lambda name, doc: pages.append(doc) if name == "event_page" else None)
        (uid,) = RE(burst_run(burst, duration_s=0, max_frames=60,
                              collect_period_s=0.05)).run_start_uids
        sent = np.concatenate([np.stack(p["data"]["spectrometer_burst_intensities"]) for p in pages])
        stored = catalog[uid]["spectrometer_burst"]["spectrometer_burst_intensities"].read()
        assert stored.shape == (60, 2048)
        assert stored.tobytes() == sent.tobytes()
        t = np.concatenate([p["timestamps"]["spectrometer_burst_intensities"] for p in pages])
        # no frame can arrive faster than its 2 ms exposure on the device clock
        assert np.all(np.diff(t) >= 0.002 - 1e-9)
    finally:
        spec.destroy()


def test_collect_burst_is_usable_as_a_plan_stub_without_storage(RE):
    src = FakeSeabreeze(pixels=8)
    burst = SpectrumBurst(src, clock=WallClock(), name="b")
    pages = []
    RE.subscribe(lambda name, doc: pages.append(doc) if name == "event_page" else None)

    @bpp.run_decorator()
    def plan():
        yield from bps.null()
        yield from collect_burst(burst, max_frames=7, collect_period_s=0.01)

    RE(plan())
    assert sum(len(p["seq_num"]) for p in pages) == 7
