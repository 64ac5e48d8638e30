"""EurothermMantle through the Modbus emulator: moves, controller ramp, hold, faults, no watchdog."""

from __future__ import annotations

import logging

import pytest

from photoreactor.devices.common.errors import (
    InstrumentError,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
    SensorFault,
)
from photoreactor.devices.mantle.device import EurothermMantle
from photoreactor.devices.mantle.eurotherm import EurothermDriver
from tests.devices.safety import assert_safe_fails_fast

from .conftest import until, wait


def test_read_and_components(euro_mantle):
    reading = euro_mantle.read()
    assert set(reading) == {"mantle_temperature", "mantle_setpoint", "mantle_ramp_rate",
                            "mantle_heater_on", "mantle_output", "mantle_working_setpoint"}
    assert reading["mantle_temperature"]["value"] == pytest.approx(25.0)
    assert not hasattr(euro_mantle, "stir_rpm")
    assert euro_mantle.describe()["mantle_output"]["units"] == "%"


def test_set_finishes_when_settled(euro_mantle, euro, world):
    emu, _ = euro
    wait(euro_mantle.set(180.0))
    assert abs(world.temperature_c() - 180.0) <= 1.0
    assert not emu.manual and emu.sp1_c == 180.0
    assert euro_mantle.heater_on.get() == 1
    assert euro_mantle.output.get() > 0


def test_limit_error_before_anything_is_sent(euro_mantle, euro):
    emu, _ = euro
    before = len(emu.log)
    with pytest.raises(LimitError):
        euro_mantle.set(301.0)
    assert len(emu.log) == before


def test_controller_ramps_itself(euro_mantle, euro, clock):
    emu, _ = euro
    wait(euro_mantle.ramp_rate.set(5.0))
    assert emu.rate == 5.0 and emu.ramp_units == 0
    assert euro_mantle.ramp_rate.get() == 5.0
    t0 = clock.time()
    st = euro_mantle.set(125.0)
    until(lambda: clock.time() - t0 > 300, what="5 virtual minutes of ramp")
    wsp = euro_mantle.working_setpoint.get()
    assert 30.0 < wsp < 120.0
    wait(st)
    assert clock.time() - t0 >= 100.0 / 5.0 * 60.0
    # only the target was written: the ramp is the controller's
    writes = [req for req, _ in emu.log if req[1] == 0x10 and req[2:4] == b"\x80\x04"]
    assert len(writes) == 1


def test_ramp_rate_in_other_units(euro_mantle, euro):
    emu, _ = euro
    emu.ramp_units = 1                   # per hour, set at the front panel
    wait(euro_mantle.ramp_rate.set(2.0))
    assert emu.rate == pytest.approx(120.0)
    assert euro_mantle.ramp_rate.get() == pytest.approx(2.0)


def test_stop_holds_at_working_setpoint(euro_mantle, euro):
    emu, _ = euro
    wait(euro_mantle.ramp_rate.set(2.0))
    st = euro_mantle.set(200.0)
    until(lambda: emu.working_sp_c > 40.0, what="ramp under way")
    euro_mantle.stop(success=True)
    wait(st)
    assert 25.0 < emu.sp1_c < 200.0
    assert not emu.manual, "stop() holds; heating stays on"


def test_heater_off_and_front_panel_manual(euro_mantle, euro):
    emu, _ = euro
    wait(euro_mantle.set(100.0))
    wait(euro_mantle.heater_on.set(0))
    assert emu.manual and emu.output == 0.0
    assert euro_mantle.heater_on.get() == 0
    emu.manual_output = 30.0             # someone dials 30 % by hand
    assert euro_mantle.heater_on.get() == 1


def test_scaled_registers_end_to_end(euro, clock, world):
    emu, drv = euro
    scaled = EurothermDriver(drv.port, 1, name="mantle", resolution="scaled", timeout_s=0.05)
    dev = EurothermMantle(scaled, clock=clock, name="mantle", max_temperature_c=300.0)
    wait(dev.set(90.0))
    assert dev.setpoint.get() == 90.0
    assert abs(world.temperature_c() - 90.0) <= 1.0


def test_open_thermocouple(euro_mantle, euro):
    emu, _ = euro
    st = euro_mantle.set(200.0)
    until(lambda: not emu.manual, what="heating on")
    emu.inject("open_thermocouple")
    with pytest.raises(SensorFault, match="sensor break"):
        wait(st)
    assert emu.manual and emu.manual_output == 0.0


def test_stuck_reading(euro_mantle, euro):
    emu, _ = euro
    emu.inject("stuck_reading")
    with pytest.raises(SensorFault, match="frozen"):
        wait(euro_mantle.set(200.0))
    assert emu.manual


def test_power_loss_and_garbled(euro_mantle, euro):
    emu, _ = euro
    emu.inject("garbled")
    with pytest.raises(ProtocolError, match="CRC"):
        euro_mantle.temperature.get()
    emu.clear()
    st = euro_mantle.set(150.0)
    until(lambda: not emu.manual, what="heating on")
    emu.inject("power_loss")
    with pytest.raises(InstrumentTimeout):
        wait(st)
    assert_safe_fails_fast(euro_mantle, InstrumentTimeout)
    emu.clear()
    euro_mantle.safe()
    assert emu.manual


def test_no_watchdog_says_so(euro_mantle, caplog):
    with caplog.at_level(logging.WARNING):
        assert euro_mantle.arm_watchdog(600) is False
        assert euro_mantle.refresh_watchdog() is False
        assert euro_mantle.disarm_watchdog() is False
    assert "no communications watchdog" in caplog.text
    with pytest.raises(InstrumentError, match="no communications watchdog"):
        wait(euro_mantle.watchdog.set(600))


def test_integer_display_resolution(bench, clock, world):
    from photoreactor.devices.common.transport import open_serial
    from photoreactor.devices.mantle.eurotherm import SERIAL_DEFAULTS
    from photoreactor.sim_devices.emulators.base import register_serial
    from photoreactor.sim_devices.emulators.eurotherm import EurothermEmulator

    emu = EurothermEmulator("tc0", world, clock, decimals=0)
    register_serial("tc0", emu)
    drv = EurothermDriver(open_serial("sim://tc0", **SERIAL_DEFAULTS), 1, name="mantle",
                          resolution="scaled", decimals=0, timeout_s=0.05)
    dev = EurothermMantle(drv, clock=clock, name="mantle", max_temperature_c=300.0)
    wait(dev.set(90.4))                  # stored as 90: not mistaken for a reset controller
    assert emu.sp1_c == 90.0
    assert dev.setpoint.get() == 90.0
