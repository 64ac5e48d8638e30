"""Opt-in checks on real mantle controllers (``pytest --hardware PROFILE``).

Safe with people at the bench: heating is only ever switched *off*; nothing here
writes a setpoint or starts heating.  The IKA watchdog check arms the watchdog
and disarms it again (which also shows whether ``OUT_WD2@0`` stops mode 1 on
this firmware — if not, the controller switches heating off after 20 s, which
is harmless as heating is off).  Each test is skipped when the profile has no
device of its class.
"""

from __future__ import annotations

import math

import pytest

from tests.devices.hardware import devices_in

pytestmark = pytest.mark.hardware


def test_controllers_answer_and_switch_off(hardware_profile):
    for _, cfg, mantle in devices_in(hardware_profile, "IkaMantle", "EurothermMantle"):
        try:
            mantle.safe()
            assert mantle.heater_on.get() == 0
            t = mantle.temperature.get()           # raises SensorFault if the probe is open
            assert math.isfinite(t) and -20.0 < t < float(cfg["max_temperature_c"]) + 20.0
            sp = mantle.setpoint.get()
            assert math.isfinite(sp)
            assert mantle.ramp_rate.get() >= 0.0
        finally:
            mantle.safe()


def test_ika_identifies_and_watchdog_round_trip(hardware_profile):
    for _, _, mantle in devices_in(hardware_profile, "IkaMantle"):
        try:
            mantle.safe()
            assert mantle.driver.identify()
            assert mantle.arm_watchdog(20)
            assert mantle.refresh_watchdog()
            assert mantle.disarm_watchdog()
            assert mantle.plate_temperature.get() > -20.0
        finally:
            mantle.safe()


def test_eurotherm_mode_and_output(hardware_profile):
    for _, _, mantle in devices_in(hardware_profile, "EurothermMantle"):
        try:
            mantle.safe()
            assert mantle.output.get() == pytest.approx(0.0, abs=0.1)
            assert mantle.driver.ramp_units() in (0, 1, 2)
            assert math.isfinite(mantle.working_setpoint.get())
        finally:
            mantle.safe()
