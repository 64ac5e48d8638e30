"""Opt-in checks on real LED drivers and power meters (``pytest --hardware PROFILE``).

Read-only except for switching the LED *off*: nothing here turns light on, so the
tests are safe to run with people at the bench.  Each test is skipped when the
profile has no device of its class.
"""

from __future__ import annotations

import pytest

from tests.devices.hardware import devices_in

pytestmark = pytest.mark.hardware


def test_led_drivers_answer_and_switch_off(hardware_profile):
    for _, _, led in devices_in(hardware_profile, "DC2200Led", "DC4100Led"):
        try:
            led.safe()
            assert led.output.get() == 0
            assert 0 < led.current_limit.get() <= 10
            assert led.tripped.get() in (0, 1)
            assert led.measured_current.get() == pytest.approx(0.0, abs=0.005)
            lo, hi = led.calibration.irradiance_range
            assert lo <= hi
        finally:
            led.safe()


def test_power_meter_reads_a_dark_sensor(hardware_profile):
    for name, _, meter in devices_in(hardware_profile, "PM100Meter"):
        assert meter.sensor.get()
        meter.trigger().wait(30)
        power = meter.power.get()
        assert -1e-3 < power < 1.0, f"{name}: implausible power {power} W"
