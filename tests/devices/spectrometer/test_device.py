"""OceanSpectrometer through the simulated seabreeze unit and a minimal world."""

from __future__ import annotations

import time
from types import SimpleNamespace

import bluesky.plan_stubs as bps
import bluesky.plans as bp
import numpy as np
import pytest
from ophyd.utils import ReadOnlyError

from photoreactor.devices.common.errors import (
    DetectorSaturated,
    InstrumentDisconnected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
    SensorFault,
)
from photoreactor.devices.registry import load_all
from photoreactor.devices.safety import make_all_safe
from photoreactor.devices.spectrometer import OceanSpectrometer, SpectrometerNotReady
from photoreactor.devices.spectrometer.build import build_ocean_spectrometer
from photoreactor.sim_devices.emulators.seabreeze import attach
from photoreactor.sim_devices.world import MinimalReactor

SERIAL = "SIM-FLMS0001"
CONFIG = {"class": "OceanSpectrometer", "backend": "emulator", "serial_number": SERIAL,
          "model": "FLAME-S", "integration_time_ms": 10, "scans_to_average": 4,
          # wall grace after a virtual deadline: at 1000x a 0.1 s scheduling hiccup on a busy
          # CI machine is 100 virtual seconds, so the hang tests pay 1 s to stay deterministic
          "min_wall_timeout_s": 1.0}


def make_rig(clock, **overrides):
    world = MinimalReactor(clock, band_absorbance=0.0)  # a blank until a test adds the band
    bench = SimpleNamespace(clock=clock, world=world, serial_timeout_s=0.1)
    emu = attach(bench, "spectrometer", {**CONFIG, "emulator": {"seed": 5}})
    dev = build_ocean_spectrometer("spectrometer", {**CONFIG, **overrides}, clock)
    return SimpleNamespace(dev=dev, emu=emu, world=world, clock=clock)


@pytest.fixture
def rig(clock):
    r = make_rig(clock)
    yield r
    r.dev.destroy()


def fire(dev, mode=None, timeout=10.0):
    if mode is not None:
        dev.mode.put(mode)
    status = dev.trigger()
    status.wait(timeout)
    return status


def near(dev, wavelength_nm):
    return int(np.argmin(abs(dev.wavelengths.get() - wavelength_nm)))


# -- structure ------------------------------------------------------------------------
def test_registered_with_required_and_optional_keys():
    spec = load_all()["OceanSpectrometer"]
    assert spec.required == {"backend"}
    assert {"serial_number", "model", "integration_time_ms", "scans_to_average",
            "lamp_control"} <= spec.optional
    assert spec.safe_order == 40 and OceanSpectrometer.safe_order == 40


def test_components_kinds_units_and_typed_initial_values(rig):
    dev = rig.dev
    desc = dev.describe()
    assert desc["spectrometer_counts"]["shape"] == [2048]
    assert desc["spectrometer_counts"]["units"] == "counts"
    assert set(dev.read()) == {f"spectrometer_{k}" for k in (
        "mode", "counts", "absorbance", "emission", "dark", "reference", "lamp", "saturated",
        "saturated_pixels")}
    config = dev.read_configuration()
    assert config["spectrometer_integration_time"]["value"] == 10.0
    assert dev.describe_configuration()["spectrometer_integration_time"]["units"] == "ms"
    assert dev.describe_configuration()["spectrometer_wavelengths"]["units"] == "nm"
    assert config["spectrometer_scans_to_average"]["value"] == 4
    assert config["spectrometer_max_count"]["value"] == 65535
    assert config["spectrometer_model"]["value"] == "FLAMES"
    assert config["spectrometer_serial_number"]["value"] == SERIAL
    assert np.isnan(dev.dark.get()).all() and dev.dark.get().shape == (2048,)
    assert dev.integration_time.limits == (1.0, 655000.0)


def test_readings_are_stamped_with_the_device_clock(rig):
    rig.clock.advance(86400.0)  # a virtual day later than the wall clock
    rig.world.update()          # (the world catches up on the day before the exposure)
    fire(rig.dev, "raw")
    ts = rig.dev.read()["spectrometer_counts"]["timestamp"]
    assert ts > time.time() + 80000
    # the device clock, read a moment ago (the 1000x clock runs on: allow 0.6 s of wall)
    assert rig.clock.time() - 600.0 < ts <= rig.clock.time()


def test_computed_signals_are_read_only(rig):
    with pytest.raises(ReadOnlyError):
        rig.dev.absorbance.put(np.zeros(2048))
    with pytest.raises(ReadOnlyError):
        rig.dev.saturated.set(0)


# -- measurements --------------------------------------------------------------------
def test_absorbance_from_dark_reference_and_sample(rig):
    dev = rig.dev
    fire(dev, "dark")
    fire(dev, "reference")
    rig.world.band_absorbance = 5.0     # per cm, 0.1 cm probe → A = 0.5 at 400 nm
    fire(dev, "absorbance")
    a = dev.absorbance.get()
    i = near(dev, 400.0)
    assert np.nanmean(a[i - 3:i + 4]) == pytest.approx(0.5, abs=0.02)
    far = slice(near(dev, 550.0), near(dev, 900.0))
    assert abs(np.nanmean(a[far])) < 0.005 and np.nanstd(a[far]) < 0.01
    assert dev.saturated.get() == 0
    # the stored frames travel with the reading
    np.testing.assert_array_less(dev.dark.get(), dev.reference.get() + 50)
    assert rig.emu.lamp_on is False  # back to the lamp setting (off) after the exposure


def test_absorbance_needs_dark_and_reference(rig):
    with pytest.raises(SpectrometerNotReady, match="take_dark_and_reference"):
        fire(rig.dev, "absorbance")
    fire(rig.dev, "dark")
    with pytest.raises(SpectrometerNotReady, match="reference"):
        fire(rig.dev, "absorbance")


def test_stored_frames_are_invalid_after_an_integration_change(rig):
    fire(rig.dev, "dark")
    fire(rig.dev, "reference")
    rig.dev.integration_time.set(20.0).wait(5)
    with pytest.raises(SpectrometerNotReady, match="taken at 10 ms .* now 20 ms"):
        fire(rig.dev, "absorbance")
    rig.dev.lamp.set(1).wait(5)
    fire(rig.dev, "raw")
    assert np.isnan(rig.dev.absorbance.get()).all()  # never computed from mismatched frames


def test_emission_is_dark_subtracted_and_follows_the_led(rig):
    dev = rig.dev
    with pytest.raises(SpectrometerNotReady, match="take_dark"):
        fire(dev, "emission")
    fire(dev, "dark")
    rig.world.set_light("led", 455.0, 5.0)
    fire(dev, "emission")
    e5 = dev.emission.get()
    peak = int(np.nanargmax(e5))
    assert dev.wavelengths.get()[peak] == pytest.approx(420.0, abs=3.0)
    assert abs(np.nanmedian(e5[near(dev, 700):near(dev, 1000)])) < 5
    assert np.isnan(dev.absorbance.get()).all()  # lamp-off frame: no absorbance
    rig.world.set_light("led", 455.0, 10.0)
    fire(dev, "emission")
    assert dev.emission.get()[peak] / e5[peak] == pytest.approx(2.0, rel=0.05)


def test_dark_and_emission_are_exposed_lamp_off_even_if_the_lamp_is_on(rig):
    dev = rig.dev
    dev.lamp.set(1).wait(5)
    assert rig.emu.lamp_on
    fire(dev, "dark")
    assert dev.dark.get().max() < 3000  # no lamp light in the dark
    assert rig.emu.lamp_on and dev.lamp.get() == 1  # restored


def test_without_auto_lamp_the_lamp_is_only_what_it_is_set_to(clock):
    r = make_rig(clock, auto_lamp=False)
    fire(r.dev, "reference")
    assert r.dev.reference.get().max() < 3000  # lamp off: a useless (dark) reference
    r.dev.destroy()


def test_first_frame_after_an_integration_change_is_discarded(rig):
    dev = rig.dev
    dev.scans_to_average.put(1)
    dev.lamp.set(1).wait(5)
    fire(dev, "raw")
    ten = dev.counts.get() - rig.emu.detector.mean_dark(0.010)
    frames = rig.emu.frames_read
    dev.integration_time.set(20.0).wait(5)
    fire(dev, "raw")
    assert rig.emu.frames_read - frames == 2          # one thrown away, one kept
    twenty = dev.counts.get() - rig.emu.detector.mean_dark(0.020)
    bright = ten > 5000
    assert np.median(twenty[bright] / ten[bright]) == pytest.approx(2.0, rel=0.03)


def test_scans_are_averaged(rig):
    dev = rig.dev
    dev.lamp.set(1).wait(5)
    fire(dev, "raw")  # flushes the frame half-exposed while the lamp switched

    def two_frames(scans):
        dev.scans_to_average.put(scans)
        out = []
        for _ in range(2):
            before = rig.emu.frames_read
            fire(dev, "raw")
            assert rig.emu.frames_read - before == scans
            out.append(dev.counts.get())
        return out

    a, b = two_frames(1)
    c, d = two_frames(16)
    bright = a > 20000
    single_sd = np.std((a - b)[bright]) / np.sqrt(2)
    averaged_sd = np.std((c - d)[bright]) / np.sqrt(2)
    # the noise of a 16-scan average is a quarter of a single scan's
    assert averaged_sd / single_sd == pytest.approx(0.25, abs=0.05)


def test_settings_are_validated_before_anything_moves(rig):
    dev = rig.dev
    calls = len(rig.emu.calls)
    with pytest.raises(LimitError, match="integration_time 0.1 ms"):
        dev.integration_time.set(0.1)
    with pytest.raises(ValueError, match="whole number"):
        dev.scans_to_average.set(2.5)
    with pytest.raises(LimitError):
        dev.scans_to_average.set(0)
    with pytest.raises(ValueError, match="mode must be one of"):
        dev.mode.set("fluorescence")
    with pytest.raises(LimitError):
        dev.lamp.set(2)
    assert len(rig.emu.calls) == calls


def test_trigger_returns_at_once_and_survives_a_clock_jump(rig):
    dev = rig.dev
    dev.integration_time.set(60_000.0).wait(5)  # one minute per frame: 60 ms wall at 1000x
    dev.scans_to_average.put(1)
    dev.mode.put("raw")
    status = dev.trigger()
    assert not status.done
    rig.clock.advance(3600.0)  # a plan sleeping in parallel jumps the clock
    status.wait(10)
    assert status.success


# -- saturation -----------------------------------------------------------------------
def test_saturation_is_flagged_and_masked(rig):
    dev = rig.dev
    fire(dev, "dark")
    fire(dev, "reference")
    rig.emu.inject("saturation")
    fire(dev, "absorbance")
    assert dev.saturated.get() == 1 and dev.saturated_pixels.get() > 100
    a = dev.absorbance.get()
    counts = dev.counts.get()
    clipped = counts >= 65535  # every scan clipped there
    assert clipped.any() and np.isnan(a[clipped]).all()
    # a pixel clipped in only some of the scans is masked too (its mean is wrong)
    assert np.isnan(a).sum() >= dev.saturated_pixels.get() > clipped.sum()
    assert np.isfinite(a[(counts > 5000) & (counts < 60000)]).all()


def test_saturation_can_fail_the_trigger(clock):
    r = make_rig(clock, on_saturation="raise")
    r.emu.inject("saturation")
    r.dev.lamp.set(1).wait(5)
    with pytest.raises(DetectorSaturated, match="reduce integration_time"):
        fire(r.dev, "raw")
    assert r.dev.saturated.get() == 1  # the reading is still there to inspect
    r.dev.destroy()


# -- faults ---------------------------------------------------------------------------
def test_lamp_failure_is_a_sensor_fault_on_the_reference(rig):
    fire(rig.dev, "dark")
    rig.emu.inject("lamp_failure")
    with pytest.raises(SensorFault, match="reference has no light"):
        fire(rig.dev, "reference")


def test_lamp_failure_during_absorbance_is_a_sensor_fault(rig):
    fire(rig.dev, "dark")
    fire(rig.dev, "reference")
    rig.emu.inject("lamp_failure")
    with pytest.raises(SensorFault, match="no probe light"):
        fire(rig.dev, "absorbance")


def test_disconnect_fails_the_status_and_safe_reports_it_quickly(rig):
    rig.emu.inject("disconnect")
    with pytest.raises(InstrumentDisconnected) as info:
        fire(rig.dev, "raw")
    assert info.value.device == "spectrometer" and info.value.exchange
    t0 = time.monotonic()
    report = make_all_safe({"spectrometer": rig.dev})
    assert time.monotonic() - t0 < 5.0
    assert report["spectrometer"].startswith("InstrumentDisconnected")


def test_hung_read_times_out_and_safe_still_switches_the_lamp_off(rig):
    dev = rig.dev
    dev.lamp.set(1).wait(5)
    rig.emu.inject("no_reply")
    dev.mode.put("raw")
    status = dev.trigger()
    with pytest.raises(InstrumentTimeout, match="not responding"):
        status.wait(10)
    t0 = time.monotonic()
    dev.safe()  # the hung read still holds the driver's lock
    assert time.monotonic() - t0 < 5.0
    assert rig.emu.lamp_on is False and dev.lamp.get() == 0
    rig.emu.clear()
    fire(dev, "raw")  # recovers once the transfer completes
    assert np.isfinite(dev.counts.get()).all()


def test_corrupt_transfers_are_a_protocol_error(rig):
    rig.emu.inject("garbled")
    with pytest.raises(ProtocolError, match="corrupt frame"):
        fire(rig.dev, "raw")


def test_stop_switches_the_lamp_off(rig):
    rig.dev.lamp.set(1).wait(5)
    rig.dev.stop()
    assert rig.emu.lamp_on is False and rig.dev.lamp.get() == 0


def test_destroy_releases_the_unit(clock):
    r = make_rig(clock)
    r.dev.destroy()
    assert not r.emu.is_open
    again = build_ocean_spectrometer("spectrometer", CONFIG, clock)  # reopenable
    again.destroy()


def test_profile_model_mismatch_is_refused_and_the_unit_released(clock):
    world = MinimalReactor(clock)
    emu = attach(SimpleNamespace(clock=clock, world=world), "spectrometer", CONFIG)
    with pytest.raises(Exception, match="expects a USB4000"):
        build_ocean_spectrometer("spectrometer", {**CONFIG, "model": "USB4000"}, clock)
    assert not emu.is_open


# -- with the RunEngine ---------------------------------------------------------------
def test_count_plan_records_arrays_with_units(rig, RE):
    docs = []
    rig.dev.mode.put("raw")
    RE(bp.count([rig.dev], num=2), lambda name, doc: docs.append((name, doc)))
    descriptor = next(d for n, d in docs if n == "descriptor")
    assert descriptor["data_keys"]["spectrometer_counts"]["shape"] == [2048]
    conf = descriptor["configuration"]["spectrometer"]["data"]
    assert conf["spectrometer_integration_time"] == 10.0
    events = [d for n, d in docs if n == "event"]
    assert len(events) == 2 and len(events[0]["data"]["spectrometer_counts"]) == 2048


def test_dark_reference_absorbance_sequence_as_the_plan_stubs_run_it(rig, RE):
    """The calls ``plans.stubs`` makes: mv lamp/mode, trigger_and_read in named streams."""
    dev = rig.dev
    docs = []

    def plan():
        yield from bps.open_run()
        yield from bps.mv(dev.lamp, 0)
        yield from bps.mv(dev.mode, "dark")
        yield from bps.trigger_and_read([dev], name="dark")
        yield from bps.mv(dev.lamp, 1)
        yield from bps.mv(dev.mode, "reference")
        yield from bps.trigger_and_read([dev], name="reference")
        rig.world.band_absorbance = 5.0
        yield from bps.mv(dev.mode, "absorbance", dev.lamp, 1)
        yield from bps.trigger(dev, wait=True)
        yield from bps.create(name="primary")
        reading = yield from bps.read(dev)
        yield from bps.save()
        yield from bps.close_run()
        return reading

    reading = RE(plan(), lambda name, doc: docs.append((name, doc))).plan_result
    a = reading["spectrometer_absorbance"]["value"]
    i = near(dev, 400.0)
    assert np.nanmean(a[i - 3:i + 4]) == pytest.approx(0.5, abs=0.02)
    assert reading["spectrometer_saturated"]["value"] == 0
    streams = [d["name"] for n, d in docs if n == "descriptor"]
    assert streams == ["dark", "reference", "primary"]
    assert [n for n, _ in docs].count("event") == 3
