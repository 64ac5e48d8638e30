"""The simulated seabreeze spectrometer: library semantics, physics, faults, attach."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from photoreactor.devices.spectrometer.ocean import MODELS
from photoreactor.sim_devices.clock import VirtualClock
from photoreactor.sim_devices.emulators.base import register_spectrometer
from photoreactor.sim_devices.emulators.seabreeze import (
    SIM_MODELS,
    SeaBreezeError,
    SimSeabreezeSpectrometer,
    attach,
    sim_model,
)
from photoreactor.sim_devices.world import MinimalReactor


@pytest.fixture
def clock():
    return VirtualClock(speed=1000.0)


@pytest.fixture
def world(clock):
    return MinimalReactor(clock, band_absorbance=0.0)


@pytest.fixture
def emu(clock, world):
    unit = SimSeabreezeSpectrometer("SIM-1", clock=clock, world=world, seed=7)
    register_spectrometer("SIM-1", unit)
    return SimSeabreezeSpectrometer.from_serial_number("SIM-1")


def lit_frame(emu, it_us=10_000, n=4):
    emu.integration_time_micros(it_us)
    emu.intensities()  # stale frame after the change
    return np.mean([emu.intensities() for _ in range(n)], axis=0)


def test_open_semantics_like_seabreeze(clock):
    unit = SimSeabreezeSpectrometer("A", clock=clock)
    register_spectrometer("A", unit)
    spec = SimSeabreezeSpectrometer.from_serial_number("A")
    assert spec is unit and spec.is_open
    with pytest.raises(SeaBreezeError, match="already opened"):
        SimSeabreezeSpectrometer.from_serial_number("A")
    with pytest.raises(SeaBreezeError, match="No device attached with serial number 'B'"):
        SimSeabreezeSpectrometer.from_serial_number("B")
    with pytest.raises(SeaBreezeError, match="No unopened device"):
        SimSeabreezeSpectrometer.from_first_available()
    spec.close()
    assert SimSeabreezeSpectrometer.from_first_available() is unit
    spec.close()
    with pytest.raises(SeaBreezeError, match="not open"):
        spec.intensities()


@pytest.mark.parametrize("key", sorted(SIM_MODELS))
def test_every_simulated_model_reports_the_published_limits(clock, key):
    unit = SimSeabreezeSpectrometer(f"S-{key}", clock=clock, model=key)
    unit.open()
    table = MODELS[key]
    assert unit.pixels == table.pixels == len(unit.wavelengths())
    assert unit.integration_time_micros_limits == (table.min_integration_us, table.max_integration_us)
    assert unit.max_intensity == table.max_count
    assert bool(SIM_MODELS[key].dark_pixel_indices) == table.dark_pixels
    assert np.all(np.diff(unit.wavelengths()) > 0)


def test_model_spellings():
    assert sim_model("FLAME-S").model == "FLAMES"
    assert sim_model("Ocean ST").model == "ST"
    with pytest.raises(ValueError, match="simulated models"):
        sim_model("Maya2000")


def test_integration_time_outside_limits_is_refused(emu):
    with pytest.raises(SeaBreezeError, match="out of range"):
        emu.integration_time_micros(999)
    with pytest.raises(SeaBreezeError, match="out of range"):
        emu.integration_time_micros(655_000_001)
    emu.integration_time_micros(1000)


def test_exposure_takes_the_integration_time_on_the_virtual_clock(emu, clock):
    emu.integration_time_micros(2_000_000)
    emu.intensities()  # the frame under way still had the old (100 ms) setting
    t0 = clock.time()
    emu.intensities()
    assert clock.time() - t0 >= 2.0


def test_first_frame_after_an_integration_change_has_the_old_exposure(emu):
    emu.f.strobe_lamp.enable_lamp(True)
    lit_frame(emu, 10_000)
    emu.integration_time_micros(20_000)
    stale = emu.intensities()
    fresh = emu.intensities()
    dark = emu.detector.mean_dark(0.02)
    ratio = np.median((fresh - dark) / (stale - emu.detector.mean_dark(0.01)))
    assert ratio == pytest.approx(2.0, rel=0.05)


def test_first_frame_after_the_lamp_switches_is_half_exposed(emu):
    emu.integration_time_micros(10_000)
    emu.intensities()
    emu.f.strobe_lamp.enable_lamp(True)
    half = emu.intensities()
    full = emu.intensities()
    dark = emu.detector.mean_dark(0.01)
    bright = full - dark > 5000
    assert np.median((half - dark)[bright] / (full - dark)[bright]) == pytest.approx(0.5, rel=0.05)


def test_blank_reference_is_well_exposed_but_not_saturated_at_10_ms(emu):
    emu.f.strobe_lamp.enable_lamp(True)
    ref = lit_frame(emu)
    assert 0.4 * 65535 < ref.max() < 0.8 * 65535


def test_lamp_off_frame_is_the_dark(emu):
    f = lit_frame(emu, n=16)
    np.testing.assert_allclose(f, emu.detector.mean_dark(0.01), atol=12)


def test_sample_absorbance_reaches_the_detector_through_the_probe_path(emu, world):
    emu.f.strobe_lamp.enable_lamp(True)
    dark = emu.detector.mean_dark(0.01)
    ref = lit_frame(emu, n=8)
    world.band_absorbance = 4.0      # per cm; probe path 0.1 cm → 0.4 measured at 400 nm
    sample = lit_frame(emu, n=8)
    wl = emu.wavelengths()
    i = np.argmin(abs(wl - 400.0))
    a = -np.log10((sample[i - 2:i + 3] - dark[i - 2:i + 3]) / (ref[i - 2:i + 3] - dark[i - 2:i + 3]))
    assert a.mean() == pytest.approx(0.4, abs=0.02)


def test_emission_scales_with_the_excitation_irradiance(emu, world):
    dark = emu.detector.mean_dark(0.01)
    world.set_light("led", 455.0, 5.0)
    low = lit_frame(emu, n=8) - dark
    world.set_light("led", 455.0, 10.0)
    high = lit_frame(emu, n=8) - dark
    wl = emu.wavelengths()
    peak = np.argmax(low)
    assert wl[peak] == pytest.approx(world.band_nm + 20.0, abs=3.0)  # MinimalReactor's PL band
    assert high[peak] / low[peak] == pytest.approx(2.0, rel=0.05)
    world.set_light("led", 455.0, 0.0)
    off = lit_frame(emu, n=8) - dark
    assert abs(off[peak]) < 10


def test_noise_is_seeded(clock):
    frames = []
    for _ in range(2):
        unit = SimSeabreezeSpectrometer("SEED", clock=clock, seed=11)
        unit.open()
        unit.integration_time_micros(10_000)
        frames.append(unit.intensities())
    np.testing.assert_array_equal(*frames)


def test_dark_pixel_and_nonlinearity_corrections_follow_the_model(clock):
    st = SimSeabreezeSpectrometer("ST-1", clock=clock, model="Ocean ST")
    st.open()
    with pytest.raises(SeaBreezeError, match="does not support dark count correction"):
        st.intensities(correct_dark_counts=True)
    sr4 = SimSeabreezeSpectrometer("SR4-1", clock=clock, model="SR4")
    sr4.open()
    with pytest.raises(SeaBreezeError, match="does not support nonlinearity correction"):
        sr4.intensities(correct_nonlinearity=True)
    assert sr4.f.nonlinearity_coefficients is None
    flame = SimSeabreezeSpectrometer("F-1", clock=clock)
    flame.open()
    corrected = flame.intensities(correct_dark_counts=True)
    assert abs(np.median(corrected)) < 50  # offset removed by the electric dark pixels
    assert flame.f.nonlinearity_coefficients.get_nonlinearity_coefficients()[:2] == [1.0, 0.0]


def test_trigger_modes(emu):
    emu.trigger_mode(0)
    with pytest.raises(SeaBreezeError, match="not simulated"):
        emu.trigger_mode(3)


# -- faults -------------------------------------------------------------------------
def test_saturation_fault_clips_lamp_frames(emu):
    emu.f.strobe_lamp.enable_lamp(True)
    emu.inject("saturation")
    f = lit_frame(emu, n=1)
    assert (f == 65535).sum() > 100


def test_lamp_failure_leaves_only_the_dark(emu):
    emu.f.strobe_lamp.enable_lamp(True)
    emu.inject("lamp_failure")
    f = lit_frame(emu, n=16)
    np.testing.assert_allclose(f, emu.detector.mean_dark(0.01), atol=12)


def test_garbled_transfer_returns_a_truncated_frame(emu):
    emu.inject("garbled")
    assert len(emu.intensities()) == emu.pixels // 2


def test_disconnect_makes_every_call_raise(emu):
    emu.inject("disconnect")
    for call in (emu.intensities, lambda: emu.integration_time_micros(10_000),
                 lambda: emu.f.strobe_lamp.enable_lamp(False), emu.wavelengths):
        with pytest.raises(SeaBreezeError, match="Data transfer error"):
            call()
    emu.clear()
    emu.intensities()


def test_no_reply_blocks_reads_until_cleared_but_not_the_lamp(emu):
    emu.inject("no_reply")
    out = {}
    reader = threading.Thread(target=lambda: out.setdefault("frame", emu.intensities()))
    reader.start()
    time.sleep(0.1)
    assert reader.is_alive()
    emu.f.strobe_lamp.enable_lamp(False)  # control transfers still work
    emu.clear("no_reply")
    reader.join(2.0)
    assert not reader.is_alive() and len(out["frame"]) == emu.pixels


def test_no_reply_gives_up_after_max_block(clock):
    unit = SimSeabreezeSpectrometer("NR", clock=clock, max_block_wall_s=0.05)
    unit.open()
    unit.inject("no_reply")
    with pytest.raises(SeaBreezeError, match="timed out"):
        unit.intensities()


def test_unknown_fault_is_refused(emu):
    with pytest.raises(ValueError, match="lamp_failure"):
        emu.inject("stall")


# -- attach ---------------------------------------------------------------------------
def test_attach_registers_under_the_serial_number(clock, world):
    bench = SimpleNamespace(clock=clock, world=world, serial_timeout_s=0.1)
    unit = attach(bench, "spectrometer", {"class": "OceanSpectrometer", "backend": "emulator",
                                          "serial_number": "SIM-FLMS0001", "model": "FLAME-S",
                                          "emulator": {"path_length_cm": 0.2, "faults": ["garbled"]}})
    assert unit.path_length_cm == 0.2 and unit.model == "FLAMES"
    assert SimSeabreezeSpectrometer.from_serial_number("SIM-FLMS0001") is unit


def test_attach_refuses_bad_entries(clock, world):
    bench = SimpleNamespace(clock=clock, world=world, serial_timeout_s=0.1)
    with pytest.raises(ValueError, match="serial_number"):
        attach(bench, "spectrometer", {"class": "OceanSpectrometer", "backend": "emulator"})
    with pytest.raises(ValueError, match="unknown emulator option.*path_length"):
        attach(bench, "spectrometer", {"serial_number": "X", "emulator": {"pathlength": 1}})
