"""Behaviour both pump families share (NE-1000 and C3000), each through its emulator.

Family-specific behaviour (recovery from a stall, watchdog, daisy chains, syringe
loading) stays in ``test_ne1000_device.py`` and ``test_c3000_device.py``.
"""

from __future__ import annotations

import time

import pytest

from photoreactor.devices.common.errors import (
    InstrumentAlarm,
    InstrumentDisconnected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
    ReagentError,
)
from photoreactor.devices.pump import PumpStopped
from tests.devices.safety import assert_safe_fails_fast

from .conftest import alarm_mid_move, start_move, wait


def test_infuse_then_withdraw(pump_family, bench):
    pump, view = pump_family.make()
    full, name = pump_family.full_ml, pump_family.name
    assert wait(pump.set(1.0)).success
    assert bench.world.added[name] == pytest.approx(1.0)
    assert pump.dispensed.get() == pytest.approx(1.0)
    assert pump.remaining.get() == pytest.approx(full - 1.0)
    before = bench.world.volume_ml
    assert wait(pump.set(-0.5)).success
    assert bench.world.volume_ml == pytest.approx(before - 0.5)
    assert pump.dispensed.get() == pytest.approx(-0.5)
    # what was drawn back is mixture, not reagent: the syringe holds more, the reagent left does not grow
    assert pump.contents_ml == pytest.approx(full - 0.5)
    assert pump.remaining.get() == pytest.approx(full - 1.0)


def test_dose_larger_than_remaining_is_refused_before_anything_moves(pump_family, bench):
    pump, view = pump_family.make()
    sent = len(view.bus.log)
    full = pump_family.full_ml
    with pytest.raises(ReagentError, match=rf"{full + 0.5:g} mL of '.*{full:g} mL left"):
        pump.set(full + 0.5)
    assert len(view.bus.log) == sent
    assert bench.world.flows == {}


def test_rate_above_the_profile_limit_is_refused(pump_family):
    pump, _ = pump_family.make()
    with pytest.raises(LimitError) as err:
        pump.rate.set(pump_family.max_rate_ml_min + 1.0)
    assert err.value.device == pump_family.name and err.value.unit == "mL/min"


def test_zero_volume_is_a_finished_noop(pump_family):
    pump, view = pump_family.make()
    sent = len(view.bus.log)
    st = pump.set(0)
    st.wait(1)
    assert st.success and len(view.bus.log) == sent


def test_clock_jump_mid_move(pump_family, bench):
    pump, _ = pump_family.make(rate_ml_min=0.5)
    st = pump.set(2.0)          # 4 virtual minutes
    bench.clock.advance(3600)   # a plan's bps.sleep(3600)
    assert wait(st).success
    assert bench.world.added[pump_family.name] == pytest.approx(2.0)


def test_status_is_not_blocking_the_caller(pump_family):
    # 4 mL at 0.5 mL/min: 8 virtual minutes.  A blocking set() would return a finished
    # status; the wall bound is loose (a loaded machine), the status is the property
    pump, _ = pump_family.make(rate_ml_min=0.5)
    t0 = time.monotonic()
    st = pump.set(4.0)
    assert time.monotonic() - t0 < 2.0
    assert not st.done
    with pytest.raises(RuntimeError, match="in progress"):
        pump.set(0.1)
    pump.stop()
    with pytest.raises(PumpStopped):
        st.wait(10)


def test_stop_interrupts_a_move(pump_family, bench):
    pump, view = pump_family.make(rate_ml_min=0.5)
    st = start_move(pump, bench, 2.0, until_ml=0.1)
    pump.stop()
    with pytest.raises(PumpStopped):
        st.wait(10)
    assert not pump_family.moving(view)
    moved = bench.world.added[pump_family.name]
    assert pump.remaining.get() == pytest.approx(pump_family.full_ml - moved, abs=2e-3)


def test_stall_mid_move_fails_status_with_alarm_and_books_what_moved(pump_family, bench):
    pump, view = pump_family.make(rate_ml_min=0.5)
    alarm = alarm_mid_move(pump, view, bench, "stall", until_ml=0.3)
    assert isinstance(alarm, InstrumentAlarm) and alarm.code == pump_family.alarm["stall"]
    moved = bench.world.added[pump_family.name]
    assert 0.3 <= moved < 2.0
    assert pump.remaining.get() == pytest.approx(pump_family.full_ml - moved, abs=2e-3)


def test_power_loss_books_an_upper_bound_of_what_moved(pump_family, bench):
    pump, view = pump_family.make(rate_ml_min=0.5)
    alarm = alarm_mid_move(pump, view, bench, "power_loss", until_ml=0.2)
    assert alarm.code == pump_family.alarm["power_loss"] and alarm.counters_lost
    # the counters went with the power: the device never believes the syringe
    # holds more than it does
    actual = bench.world.added[pump_family.name]
    assert pump_family.full_ml - 2.0 <= pump.remaining.get() <= pump_family.full_ml - actual + 1e-6
    assert not bench.world.flow_state(pump_family.name)[1]


def test_no_reply_fails_status_and_safe_raises_quickly(pump_family):
    pump, view = pump_family.make(rate_ml_min=0.5)
    st = pump.set(2.0)
    view.inject("no_reply")
    with pytest.raises(InstrumentTimeout):
        st.wait(20)
    assert_safe_fails_fast(pump, InstrumentTimeout)
    view.clear()
    pump.safe()
    assert not pump_family.moving(view)


def test_garbled_replies_are_protocol_errors(pump_family):
    pump, view = pump_family.make()
    rate = pump.rate.get()
    view.inject("garbled")
    with pytest.raises(ProtocolError) as err:
        pump.rate.get()
    assert err.value.device == pump_family.name and err.value.exchange
    view.clear("garbled")
    assert pump.rate.get() == pytest.approx(rate)


def test_disconnect(pump_family):
    pump, view = pump_family.make()
    view.inject("disconnect")
    with pytest.raises(InstrumentDisconnected):
        pump.rate.get()
    with pytest.raises(InstrumentDisconnected):
        pump.safe()
    view.clear()
    pump.safe()
