"""Mantle profile entries: registry, validation, builders through a simulated bench, safety."""

from __future__ import annotations

import time

import pytest

from photoreactor.config import ProfileError, load_profile
from photoreactor.devices.registry import load_all
from photoreactor.devices.safety import make_all_safe
from photoreactor.sim_devices.bench import build_bench


def profile(**mantle):
    entry = {"class": "IkaMantle", "port": "sim://mantle", "max_temperature_c": 300}
    entry.update(mantle)
    return load_profile({"name": "t", "clock": {"kind": "virtual", "speed": 1000},
                         "simulation": {"world": "minimal", "serial_timeout_s": 0.05},
                         "devices": {"mantle": entry}})


def build(prof, clock):
    bench = build_bench(prof, clock)
    classes = load_all()
    devices = {n: classes[c["class"]].build(n, c, clock) for n, c in prof.devices.items()}
    return bench, devices


def test_registered_with_safe_order():
    classes = load_all()
    for name in ("IkaMantle", "EurothermMantle"):
        spec = classes[name]
        assert spec.safe_order == 20
        assert spec.required == {"port", "max_temperature_c"}


def test_profile_validation():
    with pytest.raises(ProfileError, match="missing"):
        load_profile({"devices": {"mantle": {"class": "IkaMantle", "port": "sim://m"}}})
    with pytest.raises(ProfileError, match="unknown key"):
        profile(max_temp=200)
    with pytest.raises(ProfileError, match="inverted"):
        profile(min_temperature_c=300)
    with pytest.raises(ProfileError, match="unknown key"):
        profile(address=1)                 # a Modbus key on a NAMUR controller


def test_ika_entry_builds_and_heats(clock):
    prof = profile(tolerance_c=0.5, settle_s=10, ramp_rate_c_min=30, timeout_s=0.05,
                   max_stir_rpm=1000)
    bench, devices = build(prof, clock)
    mantle = devices["mantle"]
    assert mantle.name == "mantle" and mantle.safe_order == 20
    assert mantle.tolerance.get() == 0.5 and mantle.settle_time.get() == 10
    assert mantle.ramp_rate.get() == 30
    assert mantle.stir_rpm.limits == (0.0, 1000.0)
    mantle.set(90.0).wait(30)
    assert bench.world.temperature_c() == pytest.approx(90.0, abs=1.0)
    assert make_all_safe(devices) == {"mantle": "safe"}
    assert not bench.emulator("mantle").heating


def test_eurotherm_entry_writes_its_ramp_rate(clock):
    prof = profile(**{"class": "EurothermMantle", "port": "sim://tc", "address": 2,
                      "parity": "e", "ramp_rate_c_min": 3.0, "resolution": "scaled",
                      "timeout_s": 0.05})
    bench, devices = build(prof, clock)
    emu = bench.emulator("mantle")
    assert emu.address == 2 and emu.rate == pytest.approx(3.0)
    assert devices["mantle"].driver.port.settings["parity"] == "E"


def test_dead_mantle_does_not_stop_make_all_safe(clock):
    bench, devices = build(profile(timeout_s=0.05), clock)
    bench.emulator("mantle").inject("no_reply")
    t0 = time.perf_counter()
    report = make_all_safe(devices)
    assert time.perf_counter() - t0 < 3.0
    assert report["mantle"].startswith("InstrumentTimeout")
