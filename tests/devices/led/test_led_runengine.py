"""The LED under a RunEngine: plans, pause/resume, the experiment safety wrapper, profiles."""

from __future__ import annotations

import bluesky.plan_stubs as bps
import pytest
from bluesky.utils import RunEngineInterrupted

from .conftest import DC2200_CFG


@pytest.fixture
def rig(clock):
    """The profile path: validate entries, build the bench, build devices by their builders."""
    import photoreactor.sim_devices  # noqa: F401
    from photoreactor.config import load_profile
    from photoreactor.devices.registry import load_all
    from photoreactor.sim_devices.bench import build_bench

    profile = load_profile({
        "name": "led-test", "clock": {"kind": "virtual", "speed": 1000},
        "simulation": {"world": "minimal", "seed": 1, "serial_timeout_s": 0.05},
        "devices": {
            "led": DC2200_CFG,
            "power_meter": {"class": "PM100Meter",
                            "resource": "USB0::0x1313::0x8078::P0000001::INSTR",
                            "visa_backend": "@emulator", "aperture_mm": 9.5,
                            "wavelength_nm": 460},
        },
    })
    bench = build_bench(profile, clock)
    classes = load_all()
    devices = {name: classes[cfg["class"]].build(name, cfg, clock)
               for name, cfg in profile.devices.items()}
    return bench, devices


def light(bench):
    return bench.world.light.get("led", (0.0, 0.0))[1]


def test_profile_entries_validate_and_safe_order(rig):
    from photoreactor.devices.registry import load_all

    classes = load_all()
    assert classes["DC2200Led"].safe_order == 10
    assert classes["DC4100Led"].safe_order == 10
    assert classes["PM100Meter"].safe_order == 50
    _, devices = rig
    assert devices["led"].safe_order == 10 and devices["power_meter"].safe_order == 50


def test_profile_typo_is_reported_before_anything_opens():
    from photoreactor.config import ProfileError, load_profile

    bad = {**DC2200_CFG, "max_curent_a": 1.0}
    with pytest.raises(ProfileError, match="unknown key.*max_curent_a"):
        load_profile({"devices": {"led": bad}})
    with pytest.raises(ProfileError, match="missing.*channel"):
        load_profile({"devices": {"led": {"class": "DC4100Led", "port": "sim://x",
                                          "wavelength_nm": 405}}})


def test_plan_sets_irradiance_and_reads_dose(RE, rig, clock):
    bench, devices = rig
    led = devices["led"]

    def plan():
        yield from bps.mv(led.irradiance, 5.0)
        before = yield from bps.rd(led.photon_dose)
        yield from bps.sleep(3600)                 # jumps the virtual clock
        after = yield from bps.rd(led.photon_dose)
        yield from bps.mv(led.irradiance, 0.0)
        return before, after

    before, after = RE(plan()).plan_result
    from photoreactor.devices.led.calibration import photon_dose_umol_cm2

    assert after - before == pytest.approx(photon_dose_umol_cm2(5.0 * 3600, 460.0), rel=0.01)
    assert light(bench) == 0.0


def test_pause_darkens_the_reactor_and_resume_restores_the_light(RE, rig):
    bench, devices = rig
    led = devices["led"]

    def plan():
        yield from bps.mv(led.irradiance, 20.0)
        yield from bps.checkpoint()
        yield from bps.pause()
        yield from bps.sleep(60)
        value = yield from bps.rd(led.output)
        yield from bps.mv(led.irradiance, 0.0)
        return value

    with pytest.raises(RunEngineInterrupted):
        RE(plan())
    assert RE.state == "paused"
    assert light(bench) == 0.0
    assert led.output.get() == 0
    led.reset_dose()
    bench.clock.advance(600)
    assert led.energy_dose.get() == 0.0          # no light, no dose while paused
    result = RE.resume()
    assert result.plan_result == 1               # the light was back on after resume
    assert light(bench) == 0.0                   # and the plan switched it off at the end


def test_experiment_wrapper_leaves_light_off_on_failure(RE, rig):
    from photoreactor.plans.safety import experiment

    bench, devices = rig

    @experiment()
    def shine(led, irradiance_mw_cm2: float):
        yield from bps.mv(led.irradiance, irradiance_mw_cm2)
        yield from bps.sleep(10)
        raise RuntimeError("something went wrong mid-run")

    with pytest.raises(RuntimeError, match="mid-run"):
        RE(shine(devices["led"], 30.0))
    assert light(bench) == 0.0


def test_preflight_sees_the_calibrated_range(rig):
    from photoreactor.plans.preflight import Requirements, find_violations

    _, devices = rig
    req = Requirements()
    req.light(devices["led"], 500.0)
    problems = find_violations(req, read=lambda s: s.get())
    assert any("calibrated range is 0–170 mW/cm²" in p for p in problems)


def test_moving_the_device_itself_then_stop_means_dark(RE, rig):
    bench, devices = rig
    led = devices["led"]
    RE(bps.mv(led, 10.0))
    # the RunEngine calls stop() on objects moved as a whole at the end of the plan
    assert light(bench) == 0.0


def test_a_pause_after_an_aborted_pause_still_darkens(RE, rig):
    bench, devices = rig
    led = devices["led"]

    def paused_plan(level):
        yield from bps.mv(led.irradiance, level)
        yield from bps.checkpoint()
        yield from bps.pause()
        yield from bps.sleep(60)

    with pytest.raises(RunEngineInterrupted):
        RE(paused_plan(20.0))
    RE.abort()                                   # no resume: the light stays off
    assert light(bench) == 0.0
    with pytest.raises(RunEngineInterrupted):
        RE(paused_plan(10.0))
    assert light(bench) == 0.0                   # the second pause darkened the reactor too
    RE.resume()
    assert light(bench) == pytest.approx(10.0, rel=0.02)


def test_opening_is_retried_then_reported(clock):
    import photoreactor.sim_devices  # noqa: F401
    from photoreactor.devices.common.errors import InstrumentDisconnected
    from photoreactor.devices.led.dc2200 import DC2200Driver

    with pytest.raises(InstrumentDisconnected, match="after 2 attempts"):
        DC2200Driver.open("USB0::0x1313::0x80C8::NOTHERE::INSTR", backend="@emulator",
                          name="led", clock=clock, attempts=2)
