"""The C3000 pump device through its emulator: same interface as the NE-1000."""

from __future__ import annotations

import pytest

from photoreactor.devices.common.errors import LimitError
from photoreactor.devices.pump import PumpAlarm

from .conftest import CD_CONFIG, alarm_mid_move, wait


def test_connect_reads_syringe_contents_from_the_plunger(c3000_pump):
    pump, view = c3000_pump()
    assert pump.remaining.get() == pytest.approx(4.0)
    assert pump.dispensed.get() == 0.0          # no move yet this session
    assert pump.rate.get() == pytest.approx(1.0)
    assert pump.diameter.get() == pytest.approx(14.567, abs=1e-3)
    assert pump.driver.firmware == "C3000 DT V2.3"
    assert not pump.watchdog_supported
    with pytest.raises(NotImplementedError):
        pump.arm_watchdog(10)


def test_a_dose_moves_the_plunger_by_whole_increments(c3000_pump):
    pump, view = c3000_pump()
    assert wait(pump.set(1.0)).success
    assert view.firmware.reported_pos() == 1800     # 3 mL of a 5 mL syringe, 3000 steps


def test_rate_below_the_slowest_plunger_speed_is_refused(c3000_pump):
    pump, _ = c3000_pump()
    with pytest.raises(LimitError):
        pump.rate.set(0.1)           # below 5 increments/s with a 5 mL syringe


def test_stall_is_sticky_until_the_pump_is_reinitialised(c3000_pump, bench):
    pump, view = c3000_pump(rate_ml_min=0.5)
    alarm_mid_move(pump, view, bench, "stall", until_ml=0.3)
    pump.safe()                      # T is accepted although the error is sticky
    view.clear("stall")
    with pytest.raises(PumpAlarm):   # overload must be cleared by initialisation
        wait(pump.set(0.1)).wait(1)
    assert wait(pump.initialize()).success
    assert pump.remaining.get() == 0.0 and view.firmware.reported_pos() == 0
    assert wait(pump.refill(3.0)).success
    assert pump.remaining.get() == pytest.approx(3.0)
    assert wait(pump.set(1.0)).success


def test_mixed_chains_cannot_share_a_port(c3000_pump, bench):
    from photoreactor.sim_devices.emulators.newera import attach

    c3000_pump()
    with pytest.raises(ValueError, match="already used"):
        attach(bench, "pump_cd", {**CD_CONFIG, "port": "sim://dt"})
