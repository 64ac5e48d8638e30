"""IkaMantle through the NAMUR emulator: moves, limits, ramps, clock jumps, faults, watchdog."""

from __future__ import annotations

import statistics
import time

import pytest

from photoreactor.devices.common.errors import (
    InstrumentAlarm,
    InstrumentDisconnected,
    InstrumentError,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
    SensorFault,
)
from tests.devices.safety import assert_safe_fails_fast

from .conftest import until, wait


def sent(emu, prefix: str) -> list[bytes]:
    return [req for req, _ in emu.log if req.startswith(prefix.encode())]


def test_read_describe_and_hints(ika_mantle):
    reading = ika_mantle.read()
    assert reading["mantle_temperature"]["value"] == pytest.approx(25.0)
    assert reading["mantle_heater_on"]["value"] == 0
    desc = ika_mantle.describe()
    assert desc["mantle_temperature"]["units"] == "degC"
    assert desc["mantle_ramp_rate"]["units"] == "degC/min"
    assert ika_mantle.hints == {"fields": ["mantle_temperature"]}
    config = ika_mantle.read_configuration()
    assert config["mantle_max_temperature"]["value"] == 300.0
    assert config["mantle_tolerance"]["value"] == 1.0
    assert config["mantle_settle_time"]["value"] == 30.0
    assert ika_mantle.safe_order == 20


def test_set_finishes_when_settled(ika_mantle, ika, clock, world):
    emu, _ = ika
    t0 = clock.time()
    st = wait(ika_mantle.set(240.0))
    assert st.success
    assert abs(world.temperature_c() - 240.0) <= 1.0
    # the minimal world cannot get there (and settle 30 s) in under ~4 min at full power
    assert clock.time() - t0 > 230
    assert emu.state()["heating"] and emu.sp1_c == 240.0
    assert ika_mantle.heater_on.get() == 1
    assert ika_mantle.setpoint.get() == 240.0


def test_limit_error_before_anything_is_sent(ika_mantle, ika):
    emu, _ = ika
    before = len(emu.log)
    with pytest.raises(LimitError) as err:
        ika_mantle.set(350.0)
    assert err.value.device == "mantle" and err.value.value == 350.0
    with pytest.raises(LimitError):
        ika_mantle.set(float("nan"))
    with pytest.raises(LimitError):
        ika_mantle.setpoint.set(-20.0)
    assert len(emu.log) == before


def test_max_temperature_can_be_lowered_not_raised(ika_mantle):
    ika_mantle.max_temperature.set(150.0)
    with pytest.raises(LimitError, match="150"):
        ika_mantle.set(200.0)
    with pytest.raises(LimitError):
        ika_mantle.max_temperature.set(400.0)
    ika_mantle.max_temperature.set(300.0)


def test_heater_off_cools(ika_mantle, ika, clock, world):
    emu, _ = ika
    wait(ika_mantle.set(120.0))
    wait(ika_mantle.heater_on.set(0))
    assert not emu.heating
    assert ika_mantle.heater_on.get() == 0
    clock.advance(1800)
    assert world.temperature_c() < 60.0


def test_cooling_under_regulation(ika_mantle, world):
    wait(ika_mantle.set(200.0))
    wait(ika_mantle.set(120.0))
    assert abs(world.temperature_c() - 120.0) <= 1.0


def test_device_side_ramp_steps_the_setpoint(ika_mantle, ika, clock):
    emu, _ = ika
    wait(ika_mantle.ramp_rate.set(10.0))
    t0 = clock.time()
    wait(ika_mantle.set(125.0))
    elapsed = clock.time() - t0
    assert elapsed >= 100.0 / 10.0 * 60.0          # 100 °C at 10 °C/min
    steps = [float(r.split()[1]) for r in sent(emu, "OUT_SP_1")]
    assert len(steps) > 20 and steps[-1] == 125.0
    assert steps == sorted(steps)
    # a step every ~10 s of device time is 10/6 °C (plus up to one 5 s poll); the
    # median, because a busy machine stalling the worker for a few ms (1 ms wall =
    # 1 s virtual here) makes an occasional step larger
    assert 1.5 <= statistics.median(b - a for a, b in zip(steps, steps[1:], strict=False)) <= 2.6


def test_clock_jump_mid_move(ika_mantle, ika, clock):
    st = ika_mantle.set(200.0)
    until(lambda: ika[0].heating, what="heating on")
    clock.advance(3600.0)
    wall = time.perf_counter()
    wait(st, 10.0)
    assert time.perf_counter() - wall < 2.0
    assert ika_mantle.temperature.get() == pytest.approx(200.0, abs=1.0)


def test_clock_jump_mid_ramp_catches_up(ika_mantle, ika, clock):
    emu, _ = ika
    wait(ika_mantle.ramp_rate.set(5.0))
    st = ika_mantle.set(100.0)
    until(lambda: emu.heating, what="heating on")
    clock.advance(7200.0)
    wait(st, 10.0)
    assert emu.sp1_c == 100.0


def test_timeout_when_target_cannot_be_reached(clock, ika, world):
    from photoreactor.devices.mantle.device import IkaMantle

    emu, drv = ika
    world.span_c = 100.0          # a mantle too weak for the job: tops out at 125 °C
    dev = IkaMantle(drv, clock=clock, name="mantle", max_temperature_c=300.0,
                    timeout_rate_c_min=20.0, stale_s=1e6)
    st = dev.set(200.0)
    with pytest.raises(InstrumentTimeout, match="not reached"):
        wait(st, 30.0)
    assert emu.heating, "a deadline is not a fault: heating stays on for the plan to decide"
    dev.safe()


# -- faults ---------------------------------------------------------------------
def test_no_reply_fails_status_and_safe_is_bounded(ika_mantle, ika):
    emu, _ = ika
    st = ika_mantle.set(200.0)
    until(lambda: emu.heating, what="heating on")
    emu.inject("no_reply")
    with pytest.raises(InstrumentTimeout) as err:
        wait(st, 10.0)
    assert err.value.device == "mantle" and err.value.exchange
    assert_safe_fails_fast(ika_mantle, InstrumentTimeout)
    emu.clear()
    ika_mantle.safe()
    assert not emu.heating


def test_garbled_replies(ika_mantle, ika):
    emu, _ = ika
    emu.inject("garbled")
    with pytest.raises(ProtocolError) as err:
        ika_mantle.temperature.get()
    assert err.value.exchange[0][0] == b"IN_PV_1\r\n"
    emu.clear("garbled")
    assert ika_mantle.temperature.get() == pytest.approx(25.0)


def test_disconnect(ika_mantle, ika):
    emu, _ = ika
    emu.inject("disconnect")
    with pytest.raises(InstrumentDisconnected):
        ika_mantle.temperature.get()
    assert_safe_fails_fast(ika_mantle, InstrumentDisconnected, within_s=1.0)


def test_open_thermocouple_fails_move_and_switches_heating_off(ika_mantle, ika):
    emu, _ = ika
    st = ika_mantle.set(200.0)
    until(lambda: emu.heating, what="heating on")
    emu.inject("open_thermocouple")
    with pytest.raises(SensorFault, match="outside the possible"):
        wait(st, 10.0)
    assert not emu.heating
    assert ika_mantle.heater_on.get() == 0


def test_stuck_reading_detected_while_heating(ika_mantle, ika, clock):
    emu, _ = ika
    emu.inject("stuck_reading")                 # frozen at 25 °C, controller heats blindly
    st = ika_mantle.set(200.0)
    with pytest.raises(SensorFault, match="frozen"):
        wait(st, 10.0)
    assert not emu.heating


def test_heater_stopped_behind_our_back_is_an_alarm(ika_mantle, ika, world):
    emu, _ = ika
    st = ika_mantle.set(250.0)
    # (stopped before the flask warms, a noiseless simulated reading would stay at
    # ambient and read as frozen instead — also a fault, but not this one)
    until(lambda: world.temperature_c() > 60.0, what="warming up")
    emu.heating = False                         # someone pressed the heater key
    with pytest.raises(InstrumentAlarm, match="not heating"):
        wait(st, 10.0)


def test_power_loss_times_out_then_reset_setpoint_is_an_alarm(ika_mantle, ika, clock):
    emu, _ = ika
    wait(ika_mantle.set(150.0))
    st = ika_mantle.set(180.0)
    until(lambda: emu.sp1_c == 180.0, what="new setpoint")
    emu.inject("power_loss")
    with pytest.raises(InstrumentTimeout):
        wait(st, 10.0)
    emu.clear("power_loss")                     # power back: controller in power-on state
    st = ika_mantle.set(170.0)
    wait(st, 10.0)                              # a fresh move rewrites everything
    st = ika_mantle.set(175.0)
    until(lambda: emu.sp1_c == 175.0, what="new setpoint")
    emu.inject("power_loss")
    emu.clear("power_loss")
    with pytest.raises(InstrumentAlarm, match="setpoint reads 0"):
        wait(st, 10.0)


def test_over_temperature_alarm(clock, ika):
    from photoreactor.devices.mantle.device import IkaMantle

    emu, drv = ika
    dev = IkaMantle(drv, clock=clock, name="mantle", max_temperature_c=150.0)
    wait(dev.set(100.0))
    emu.inject("overheat")                      # welded relay: full power regardless
    clock.advance(150)                          # ~230 °C, before the safety circuit cuts
    with pytest.raises(InstrumentAlarm, match="over-temperature"):
        dev.temperature.get()
    assert not emu.heating                       # STOP_1 was sent (the relay ignores it)


# -- stop / safe ---------------------------------------------------------------
def test_stop_failing_the_status(ika_mantle, ika):
    st = ika_mantle.set(200.0)
    until(lambda: ika[0].heating, what="heating on")
    ika_mantle.stop(success=False)
    with pytest.raises(InstrumentError, match="interrupted"):
        wait(st, 10.0)


def test_stop_ends_wait_and_holds_ramp(ika_mantle, ika, clock):
    emu, _ = ika
    wait(ika_mantle.ramp_rate.set(2.0))
    st = ika_mantle.set(200.0)
    until(lambda: emu.sp1_c > 30.0, what="ramp under way")
    ika_mantle.stop(success=True)
    wait(st, 10.0)                               # ended, successfully (like a positioner)
    held = emu.sp1_c
    assert 25.0 < held < 200.0
    assert emu.heating, "stop() holds the current setpoint; only safe() switches off"
    clock.advance(60.0)
    assert emu.sp1_c == held


def test_safe_during_move(ika_mantle, ika):
    emu, _ = ika
    st = ika_mantle.set(200.0)
    until(lambda: emu.heating, what="heating on")
    ika_mantle.safe()
    with pytest.raises(InstrumentError, match="interrupted"):
        wait(st, 10.0)
    assert not emu.heating


# -- watchdog -----------------------------------------------------------------
def test_watchdog_trips_when_not_refreshed(ika_mantle, ika, clock):
    # periods of minutes: at 1000x a busy machine stalling 10 ms costs 10 virtual s
    emu, _ = ika
    wait(ika_mantle.set(100.0))
    assert ika_mantle.arm_watchdog(600)
    assert ika_mantle.watchdog.get() == 600.0
    clock.advance(450)
    assert ika_mantle.refresh_watchdog()
    clock.advance(450)
    ika_mantle.temperature.get()                 # the firmware runs when talked to
    assert emu.heating and not emu.wd_tripped    # refreshed in time
    clock.advance(300)                           # 750 s since the refresh
    assert ika_mantle.temperature.get() < 99.0      # cooling since the trip
    assert not emu.heating and emu.wd_tripped
    assert ika_mantle.heater_on.get() == 0
    with pytest.raises(InstrumentAlarm, match="watchdog"):
        ika_mantle.set(100.0)
    ika_mantle.reset_alarm()
    wait(ika_mantle.set(100.0))
    assert emu.heating


def test_move_refreshes_armed_watchdog(ika_mantle, ika, clock):
    emu, _ = ika
    # the longest period IKA allows: at 1000x it is 1.5 s of wall time, so a loaded
    # CI host that starves the worker thread for a moment cannot trip it
    ika_mantle.settle_time.set(6000.0)           # a move lasting several periods
    ika_mantle.arm_watchdog(1500)
    wait(ika_mantle.set(240.0))
    ika_mantle.temperature.get()
    assert not emu.wd_tripped and emu.heating
    assert len(sent(emu, "OUT_WD1@1500")) >= 3
    assert ika_mantle.disarm_watchdog()
    assert emu.wd_period_s == 0
    clock.advance(1800)
    ika_mantle.temperature.get()
    assert emu.heating and not emu.wd_tripped


def test_watchdog_signal(ika_mantle, ika):
    emu, _ = ika
    wait(ika_mantle.watchdog.set(120))
    assert emu.wd_period_s == 120
    wait(ika_mantle.watchdog.set(0))
    assert emu.wd_period_s == 0


# -- stirring ------------------------------------------------------------------
def test_stirring(ika_mantle, ika, world):
    emu, _ = ika
    wait(ika_mantle.stir_rpm.set(500))
    assert emu.stirring and world.stir_rpm == 500
    assert ika_mantle.stir_rpm.get() == 500
    wait(ika_mantle.stir_rpm.set(0))
    assert not emu.stirring and world.stir_rpm == 0
    with pytest.raises(LimitError):
        ika_mantle.stir_rpm.set(2000)


# -- through the RunEngine ------------------------------------------------------
def test_plans_drive_the_mantle(RE, ika_mantle, ika, clock):
    import bluesky.plan_stubs as bps
    from bluesky.plans import count

    emu, _ = ika
    docs = []
    RE(bps.mv(ika_mantle.ramp_rate, 20.0, ika_mantle, 150.0))
    assert ika_mantle.temperature.get() == pytest.approx(150.0, abs=1.0)
    assert emu.heating, "the end-of-run stop() must not switch heating off"
    RE(count([ika_mantle], num=3, delay=60), lambda name, doc: docs.append((name, doc)))
    events = [d for n, d in docs if n == "event"]
    assert len(events) == 3
    assert all(abs(e["data"]["mantle_temperature"] - 150.0) <= 1.0 for e in events)
    RE(bps.mv(ika_mantle.heater_on, 0))
    assert not emu.heating


def test_stuck_reading_detected_during_a_host_side_ramp(ika_mantle, ika):
    emu, _ = ika
    wait(ika_mantle.ramp_rate.set(5.0))
    emu.inject("stuck_reading")
    with pytest.raises(SensorFault, match="frozen"):
        wait(ika_mantle.set(200.0))
    assert not emu.heating


def test_pause_mid_heat_up_then_resume(RE, ika_mantle, ika, world):
    import threading

    import bluesky.plan_stubs as bps
    from bluesky.utils import RunEngineInterrupted

    emu, _ = ika

    def pause_when_warm():
        until(lambda: world.temperature_c() > 80.0, what="warming up")
        RE.request_pause(defer=False)

    threading.Thread(target=pause_when_warm, daemon=True).start()
    with pytest.raises(RunEngineInterrupted):
        RE(bps.mv(ika_mantle, 200.0))
    assert RE.state == "paused"
    assert emu.heating, "pausing holds the temperature, it does not switch heating off"
    RE.resume()
    assert RE.state == "idle"
    assert ika_mantle.temperature.get() == pytest.approx(200.0, abs=1.0)
