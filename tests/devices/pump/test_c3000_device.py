"""The C3000 pump device through its emulator: same interface as the NE-1000."""

from __future__ import annotations

import time

import pytest

from photoreactor.devices.common.errors import (
    InstrumentDisconnected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
    ReagentError,
)
from photoreactor.devices.pump import PumpAlarm, PumpStopped

from .conftest import CD_CONFIG, start_move, wait


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


def test_infuse_and_withdraw(c3000_pump, bench):
    pump, view = c3000_pump()
    assert wait(pump.set(1.0)).success
    assert bench.world.added["pump_zn"] == pytest.approx(1.0)
    assert pump.remaining.get() == pytest.approx(3.0)
    assert view.firmware.reported_pos() == 1800
    assert pump.dispensed.get() == pytest.approx(1.0)
    before = bench.world.volume_ml
    assert wait(pump.set(-0.5)).success
    assert bench.world.volume_ml == pytest.approx(before - 0.5)
    assert pump.dispensed.get() == pytest.approx(-0.5)
    assert pump.contents_ml == pytest.approx(3.5) and pump.remaining.get() == pytest.approx(3.0)


def test_reagent_and_rate_limits(c3000_pump):
    pump, _ = c3000_pump()
    with pytest.raises(ReagentError):
        pump.set(4.5)
    with pytest.raises(LimitError):
        pump.rate.set(25.0)          # max_rate_ml_min 20
    with pytest.raises(LimitError):
        pump.rate.set(0.1)           # below 5 increments/s with a 5 mL syringe


def test_clock_jump_mid_move(c3000_pump, bench):
    pump, _ = c3000_pump(rate_ml_min=0.5)
    st = pump.set(2.0)
    bench.clock.advance(3600)
    assert wait(st).success
    assert bench.world.added["pump_zn"] == pytest.approx(2.0)


def test_stall(c3000_pump, bench):
    pump, view = c3000_pump(rate_ml_min=0.5)
    st = start_move(pump, bench, 2.0, until_ml=0.3)
    view.inject("stall")
    with pytest.raises(PumpAlarm) as err:
        st.wait(10)
    assert err.value.code == "i"
    moved = bench.world.added["pump_zn"]
    assert pump.remaining.get() == pytest.approx(4.0 - moved, abs=2e-3)
    pump.safe()                      # T is accepted although the error is sticky
    view.clear("stall")
    with pytest.raises(PumpAlarm):   # overload must be cleared by initialisation
        wait(pump.set(0.1)).wait(1)
    assert wait(pump.initialize()).success
    assert pump.remaining.get() == 0.0 and view.firmware.reported_pos() == 0
    assert wait(pump.refill(3.0)).success
    assert pump.remaining.get() == pytest.approx(3.0)
    assert wait(pump.set(1.0)).success


def test_power_loss(c3000_pump, bench):
    pump, view = c3000_pump(rate_ml_min=0.5)
    st = start_move(pump, bench, 2.0, until_ml=0.2)
    view.inject("power_loss")
    with pytest.raises(PumpAlarm) as err:
        st.wait(10)
    assert err.value.code == "g" and err.value.counters_lost
    actual = bench.world.added["pump_zn"]
    assert pump.remaining.get() <= 4.0 - actual + 1e-6


def test_common_faults(c3000_pump):
    pump, view = c3000_pump()
    view.inject("garbled")
    with pytest.raises(ProtocolError):
        pump.rate.get()
    view.clear()
    view.inject("no_reply")
    t0 = time.monotonic()
    with pytest.raises(InstrumentTimeout):
        pump.safe()
    assert time.monotonic() - t0 < 3.0
    view.clear()
    view.inject("disconnect")
    with pytest.raises(InstrumentDisconnected):
        pump.safe()
    view.clear()
    pump.safe()


def test_stop(c3000_pump, bench):
    pump, view = c3000_pump(rate_ml_min=0.5)
    st = start_move(pump, bench, 2.0, until_ml=0.1)
    pump.stop()
    with pytest.raises(PumpStopped):
        st.wait(10)
    assert not view.firmware.busy()
    moved = bench.world.added["pump_zn"]
    assert pump.remaining.get() == pytest.approx(4.0 - moved, abs=2e-3)


def test_mixed_chains_cannot_share_a_port(c3000_pump, bench):
    from photoreactor.sim_devices.emulators.newera import attach

    c3000_pump()
    with pytest.raises(ValueError, match="already used"):
        attach(bench, "pump_cd", {**CD_CONFIG, "port": "sim://dt"})
