"""The power meter on its emulator, reading the simulated world — and a full LED calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from photoreactor.devices.common.errors import (
    DetectorSaturated,
    InstrumentDisconnected,
    InstrumentTimeout,
)
from photoreactor.devices.led.calibration import fit_calibration

RESOURCE = "USB0::0x1313::0x8078::P0000001::INSTR"
AREA_CM2 = math.pi * 0.475 ** 2


@pytest.fixture
def bench():
    import photoreactor.sim_devices  # noqa: F401
    from photoreactor.sim_devices.bench import SimBench
    from photoreactor.sim_devices.clock import VirtualClock
    from photoreactor.sim_devices.world import MinimalReactor

    clock = VirtualClock(speed=1000.0, start=1_000_000.0)
    return SimBench(clock=clock, world=MinimalReactor(clock), serial_timeout_s=0.05)


def make_meter(bench, **emulator):
    from photoreactor.devices.power_meter.build import build_pm100
    from photoreactor.sim_devices.emulators import pm100

    cfg = {"class": "PM100Meter", "resource": RESOURCE, "visa_backend": "@emulator",
           "aperture_mm": 9.5, "wavelength_nm": 460, "averaging": 100, "zero_settle_s": 3.0,
           "emulator": emulator}
    emu = pm100.attach(bench, "power_meter", cfg)
    return build_pm100("power_meter", cfg, bench.clock), emu


def measure(meter):
    meter.trigger().wait(5)
    return meter.read()


def test_reads_the_light_at_the_vial_through_the_aperture(bench):
    meter, emu = make_meter(bench)
    meter.zero().wait(5)
    bench.world.set_light("led", 460.0, 100.0)
    reading = measure(meter)
    assert reading["power_meter_power"]["value"] == pytest.approx(100.0e-3 * AREA_CM2, rel=0.005)
    assert reading["power_meter_irradiance"]["value"] == pytest.approx(100.0, rel=0.005)
    assert meter.area_cm2 == pytest.approx(0.70882, rel=1e-4)
    assert meter.hints == {"fields": ["power_meter_power"]}
    assert meter.describe()["power_meter_irradiance"]["units"] == "mW/cm^2"
    config = meter.read_configuration()
    assert config["power_meter_sensor"]["value"] == "S121C"
    assert config["power_meter_wavelength"]["value"] == 460.0
    assert config["power_meter_aperture"]["value"] == 9.5


def test_zero_removes_the_dark_offset(bench):
    meter, emu = make_meter(bench)
    dark = measure(meter)["power_meter_power"]["value"]
    assert dark == pytest.approx(2e-6, abs=2e-7)
    meter.zero().wait(5)
    assert abs(measure(meter)["power_meter_power"]["value"]) < 5e-8


def test_wrong_wavelength_setting_reads_wrong_like_a_photodiode(bench):
    meter, _ = make_meter(bench)
    meter.zero().wait(5)
    bench.world.set_light("led", 460.0, 50.0)
    meter.wavelength.set(920.0).wait(5)
    assert meter.wavelength.get() == 920.0
    assert measure(meter)["power_meter_irradiance"]["value"] == pytest.approx(25.0, rel=0.01)


def test_averaging_reduces_noise(bench):
    meter, _ = make_meter(bench)
    bench.world.set_light("led", 460.0, 100.0)
    spreads = {}
    for n in (1, 1000):
        meter.averaging.set(n).wait(5)
        spreads[n] = np.std([measure(meter)["power_meter_power"]["value"] for _ in range(30)])
    assert spreads[1000] < spreads[1] / 10


def test_s120c_saturates_at_high_irradiance(bench):
    meter, _ = make_meter(bench, sensor="S120C")
    bench.world.set_light("led", 460.0, 150.0)       # 106 mW through 9.5 mm > 50 mW
    status = meter.trigger()
    with pytest.raises(DetectorSaturated, match="over range"):
        status.wait(5)


@pytest.mark.parametrize("fault, exc", [("no_reply", InstrumentTimeout),
                                        ("disconnect", InstrumentDisconnected),
                                        ("power_loss", InstrumentDisconnected)])
def test_faults_fail_the_status(bench, fault, exc):
    meter, emu = make_meter(bench)
    emu.inject(fault)
    with pytest.raises(exc):
        meter.trigger().wait(5)
    meter.safe()                                      # nothing to switch off; never raises
    emu.clear()
    measure(meter)


def test_power_loss_forgets_the_zero(bench):
    meter, emu = make_meter(bench)
    meter.zero().wait(5)
    emu.inject("power_loss")
    emu.clear()
    assert measure(meter)["power_meter_power"]["value"] == pytest.approx(2e-6, abs=2e-7)


def test_led_calibration_end_to_end(bench):
    """What calibrate_led does: sweep the current, read the meter, fit, install, use."""
    from tests.devices.led.conftest import make_dc2200

    led, led_emu = make_dc2200(bench, calibration=None)
    meter, _ = make_meter(bench)
    led.irradiance.set(0).wait(5)
    meter.zero().wait(5)
    currents, irradiances = [], []
    for current in np.linspace(0.0, 1.0, 26):
        led.current.set(float(current)).wait(5)
        led.output.set(1).wait(5)
        currents.append(float(current))
        irradiances.append(measure(meter)["power_meter_irradiance"]["value"])
    led.irradiance.set(0).wait(5)
    cal = fit_calibration(currents, irradiances, sensor=meter.sensor.get())
    led.set_calibration(cal.current_a, cal.irradiance_mw_cm2, cal.date, cal.sensor)
    assert led.calibration.irradiance_range[1] > 150.0
    for target in (1.0, 5.0, 150.0):
        led.irradiance.set(target).wait(5)
        assert bench.world.light["led"][1] == pytest.approx(target, rel=0.01)
        assert measure(meter)["power_meter_irradiance"]["value"] == pytest.approx(target, rel=0.01)
