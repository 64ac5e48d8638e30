"""Opt-in checks against real pumps: ``pytest --hardware profiles/<lab>/profile.yaml``.

Nothing here moves liquid: the pumps are identified, their syringe settings read
back against the profile, stopped, and (New Era) the safe-mode watchdog is
armed and disarmed, which leaves the pump in basic mode as found.
"""

from __future__ import annotations

import pytest

from tests.devices.hardware import devices_in

PUMP_CLASSES = ("NE1000Pump", "C3000Pump")


@pytest.mark.hardware
def test_pumps_answer_and_match_the_profile(hardware_profile):
    for _, cfg, pump in devices_in(hardware_profile, *PUMP_CLASSES):
        if cfg["class"] == "NE1000Pump":
            assert pump.diameter.get() == pytest.approx(cfg["syringe_diameter_mm"], abs=0.01)
        lo, hi = pump.rate.limits
        assert lo < pump.rate.get() <= hi or pump.rate.get() == 0
        pump.safe()


@pytest.mark.hardware
def test_new_era_watchdog_round_trip(hardware_profile):
    for _, _, pump in devices_in(hardware_profile, *PUMP_CLASSES):
        if not pump.watchdog_supported:
            continue
        pump.arm_watchdog(30)
        pump.refresh_watchdog()
        pump.disarm_watchdog()
        assert not pump.driver.safe_mode
