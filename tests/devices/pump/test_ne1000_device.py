"""The NE-1000 pump device driven through the emulated daisy chain on a virtual clock."""

from __future__ import annotations

import threading

import pytest

from photoreactor.devices.common.errors import (
    InstrumentAlarm,
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ReagentError,
)
from photoreactor.devices.pump import PumpAlarm

from .conftest import S_CONFIG, alarm_mid_move, make_bench, make_ne_pump, start_move, wait


def test_connect_programs_syringe_and_rate(ne_pump):
    pump, view = ne_pump()
    fw = view.firmware
    assert fw.diameter_mm == pytest.approx(14.57)
    assert (fw.rate_value, fw.rate_units) == (2.0, "MM")
    assert pump.rate.get() == pytest.approx(2.0)
    assert pump.diameter.get() == pytest.approx(14.57)
    assert pump.remaining.get() == 10.0
    assert pump.max_rate.get() == 8.0
    assert pump.read_configuration()["pump_cd_reagent_name"]["value"] == "Cd myristate 0.04 M in ODE"
    assert pump.read_configuration()["pump_cd_species"]["value"] == "Cd"
    assert pump.describe()["pump_cd_dispensed"]["units"] == "mL"
    assert pump.safe_order == 30 and pump.driver.model == "NE-1000"


def test_infuse_reaches_volume_and_books_reagent(ne_pump, bench):
    pump, view = ne_pump()
    t0 = bench.clock.time()
    st = wait(pump.set(1.5))
    assert st.success
    # 1.5 mL at 2 mL/min: 45 s of virtual time, not less
    assert bench.clock.time() - t0 >= 45.0
    assert bench.world.added["pump_cd"] == pytest.approx(1.5, abs=1e-9)
    assert pump.dispensed.get() == pytest.approx(1.5)
    assert pump.remaining.get() == pytest.approx(8.5)
    assert view.firmware.contents_ml == pytest.approx(8.5)
    assert pump.read()["pump_cd_dispensed"]["value"] == pytest.approx(1.5)


def test_withdraw_is_negative_and_fills_the_syringe(ne_pump, bench):
    pump, view = ne_pump("pump_aliquot", reagent={"name": "aliquot", "volume_ml": 0})
    volume_before = bench.world.volume_ml
    st = wait(pump.set(-0.2))
    assert st.success
    assert pump.dispensed.get() == pytest.approx(-0.2)
    assert bench.world.volume_ml == pytest.approx(volume_before - 0.2)
    assert pump.contents_ml == pytest.approx(0.2) and pump.remaining.get() == 0.0
    with pytest.raises(LimitError, match="withdrawal volume"):
        pump.set(-9.9)



def test_rate_is_programmed_into_the_firmware(ne_pump):
    pump, view = ne_pump()
    wait(pump.rate.set(0.5))
    assert view.firmware.rate_value == 0.5 and pump.rate.get() == 0.5


def test_pump_rejects_a_rate_its_drive_cannot_reach(ne_pump):
    pump, view = ne_pump(max_rate_ml_min=None)
    pump.rate.set_limits(0, 100)    # pretend the profile allowed more than the drive
    with pytest.raises(LimitError):
        pump.driver.set_rate_ml_min(9.0)
    with pytest.raises(InstrumentRejected, match="out of range"):
        pump.driver.set_rate(9.0, "MM")   # the firmware says ?OOR


def test_moles_to_ml(ne_pump):
    pump, _ = ne_pump()
    assert pump.moles_to_ml(4e-5) == pytest.approx(1.0)
    blank, _ = ne_pump("pump_blank", address=5, reagent={"name": "ODE", "volume_ml": 5})
    with pytest.raises(ReagentError):
        blank.moles_to_ml(1e-3)


def test_two_pumps_share_one_port_and_lock(ne_pump, bench):
    cd, view_cd = ne_pump()
    s, view_s = ne_pump("pump_s", S_CONFIG)
    assert view_cd.bus is view_s.bus
    assert cd.driver.port is s.driver.port
    st1, st2 = cd.set(0.5), s.set(0.25)
    wait(st1), wait(st2)
    assert st1.success and st2.success
    assert bench.world.added == pytest.approx({"pump_cd": 0.5, "pump_s": 0.25})
    assert s.remaining.get() == pytest.approx(4.75)


def test_mismatched_baud_on_one_port_is_refused(ne_pump):
    ne_pump()
    with pytest.raises(ValueError, match="already open"):
        ne_pump("pump_s", S_CONFIG, baudrate=9600)



def test_stall_clears_with_its_cause(ne_pump, bench):
    pump, view = ne_pump(rate_ml_min=0.5)
    alarm_mid_move(pump, view, bench, "stall", until_ml=0.3)
    assert pump.dispensed.get() == pytest.approx(bench.world.added["pump_cd"], abs=1e-3)
    # while injected, the next run stalls half-way; cleared, it works again
    with pytest.raises(PumpAlarm):
        wait(pump.set(1.0)).wait(1)
    view.clear("stall")
    assert wait(pump.set(0.5)).success


def test_one_dead_pump_does_not_silence_its_neighbour(ne_pump):
    cd, view_cd = ne_pump()
    s, _ = ne_pump("pump_s", S_CONFIG)
    view_cd.inject("no_reply")
    with pytest.raises(InstrumentTimeout):
        cd.safe()
    s.safe()
    assert wait(s.set(0.1)).success




def test_keypad_stop_without_alarm_fails_the_status(ne_pump, bench):
    pump, view = ne_pump(rate_ml_min=0.2)
    st = start_move(pump, bench, 2.0, until_ml=0.1)
    with view.bus.lock:               # someone presses STOP on the pump itself
        view.firmware._cmd_STP("")
    with pytest.raises(InstrumentAlarm, match="without an alarm"):
        st.wait(10)



def test_load_syringe(ne_pump):
    pump, view = ne_pump(rate_ml_min=8)
    wait(pump.set(9.0))
    with pytest.raises(ReagentError):
        pump.set(2.0)
    view.load_syringe(10.0)       # the chemist swaps the syringe ...
    pump.load_syringe(10.0)       # ... and tells the session
    assert wait(pump.set(2.0)).success


def test_emptying_the_real_syringe_stalls_even_if_the_books_are_wrong(ne_pump):
    pump, view = ne_pump(rate_ml_min=8)
    view.load_syringe(1.0)        # the syringe actually holds less than the profile says
    with pytest.raises(PumpAlarm) as err:
        wait(pump.set(2.0)).wait(1)
    assert err.value.code == "S"
    assert pump.remaining.get() == pytest.approx(9.0, abs=1e-3)


def test_watchdog_stops_pump_when_host_goes_silent():
    # a slower clock (100x): between two host actions a loaded CI machine may pause
    # tens of ms, which must stay well inside the 10 s watchdog
    from photoreactor.sim_devices.clock import VirtualClock

    bench = make_bench(VirtualClock(speed=100.0))
    pump, view = make_ne_pump(bench, rate_ml_min=1.0)
    pump.arm_watchdog(10)
    assert view.firmware.safe and pump.watchdog_supported
    # a dose that outlasts the watchdog: the worker's polls keep it alive
    assert wait(pump.set(0.5)).success           # 30 s with a 10 s watchdog
    assert bench.world.added["pump_cd"] == pytest.approx(0.5)
    # now the host goes silent mid-move: start directly on the driver, then jump
    pump.driver.start_move(2.0, 1.0)
    t_start = bench.clock.time()
    bench.clock.advance(120.0)
    moved = bench.world.flow_state("pump_cd")[0]
    # stopped at the watchdog deadline (10 s after the last packet), not after 120 s
    assert 9.0 / 60.0 <= moved <= 11.0 / 60.0
    assert bench.world.added["pump_cd"] == pytest.approx(0.5 + moved)
    with pytest.raises(PumpAlarm) as err:
        pump.driver.poll()
    assert err.value.code == "T"
    assert bench.clock.time() - t_start > 120
    pump.refresh_watchdog()
    pump.disarm_watchdog()
    assert not view.firmware.safe and not pump.driver.safe_mode


def test_watchdog_also_fires_on_an_idle_pump(ne_pump, bench):
    pump, view = ne_pump()
    pump.arm_watchdog(255)     # long: the clock keeps running between the calls below
    bench.clock.advance(300)
    with pytest.raises(PumpAlarm) as err:
        pump.refresh_watchdog()
    assert err.value.code == "T"
    pump.refresh_watchdog()   # acknowledged; the timer runs again
    pump.disarm_watchdog()


def test_reconnect_finds_pump_left_in_safe_mode(ne_pump, bench):
    from photoreactor.devices.pump.newera import NE1000Driver

    pump, view = ne_pump()
    pump.arm_watchdog(100)
    fresh = NE1000Driver(pump.driver.port, 1, name="pump_cd", timeout_s=0.05)
    assert fresh.connect() == "NE1000V3.928"
    assert fresh.safe_mode



def test_read_during_move_does_not_race(ne_pump, bench):
    pump, _ = ne_pump(rate_ml_min=0.5)
    st = pump.set(1.0)
    errors = []

    def reader():
        try:
            while not st.done:
                pump.read()
                pump.rate.get()
        except Exception as exc:   # surfaced below
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    wait(st)
    t.join(5)
    assert st.success and not errors


def test_alarm_pending_before_a_dose_books_nothing(ne_pump, bench):
    pump, view = ne_pump(rate_ml_min=8)
    assert wait(pump.set(1.0)).success
    view.inject("power_loss")           # while idle: alarm R waits for the next command
    view.clear()
    with pytest.raises(PumpAlarm) as err:
        wait(pump.set(0.5)).wait(1)
    assert err.value.code == "R"
    assert pump.remaining.get() == pytest.approx(9.0)   # not 8.5, not 8.0
    assert bench.world.added["pump_cd"] == pytest.approx(1.0)
    assert wait(pump.set(0.5)).success                   # the alarm was acknowledged
    assert pump.remaining.get() == pytest.approx(8.5)
