"""The watchdog keeper: arms the IKA and New Era watchdogs, feeds them, and lets them bite
when the host goes silent (the emulators implement the controllers' watchdogs)."""

from __future__ import annotations

import bluesky.plan_stubs as bps
import pytest

from photoreactor.queue.sleep import UnattendedSleep
from photoreactor.queue.watchdog import WatchdogKeeper

from .conftest import until


def firmware(rig, name):
    return rig.bench.emulator(name).firmware


def pump_running(rig, name) -> bool:
    fw = firmware(rig, name)
    with fw.bus.lock:
        fw.sync()
        return fw.move is not None


def start_host_side_work(rig):
    """What a plan had started when the host died: heating to 80 °C and a slow dose."""
    rig.mantle.driver.set_setpoint_c(80.0)
    rig.mantle.driver.start_heating()
    rig.pump_cd.driver.start_move(5.0, 1.0)      # 5 mL at 1 mL/min: 5 min


def test_arms_every_watchdog_and_names_devices_without_one(rig):
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200)
    report = keeper.arm()
    assert report["mantle"] == "armed 600 s"
    assert report["pump_cd"] == report["pump_s"] == "armed 200 s"
    assert rig.bench.emulator("mantle").wd_period_s == 600
    for name in ("pump_cd", "pump_s"):
        assert firmware(rig, name).safe and firmware(rig, name).safe_s == 200
    # the DC2200 has no communications watchdog: it is reported, not silently ignored
    assert keeper.unprotected == ["led"] and report["led"] == "no watchdog"
    assert keeper.interval_s == pytest.approx(50.0)


def test_fed_watchdogs_keep_heater_and_pump_running(rig):
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200)
    keeper.arm()
    start_host_side_work(rig)
    ika = rig.bench.emulator("mantle")
    for _ in range(20):                     # 2000 s, refreshed every 100 s
        rig.clock.advance(100.0)
        keeper.refresh()
    rig.bench.world.update()
    assert ika.heating and not ika.wd_tripped
    assert not keeper.errors
    assert rig.bench.world.temperature_c() > 60.0
    # the 5-min dose ran to its end instead of being cut by the watchdog
    assert not pump_running(rig, "pump_cd")
    assert firmware(rig, "pump_cd").alarm is None
    assert firmware(rig, "pump_cd").infused_ml == pytest.approx(5.0, abs=1e-3)


def test_silent_host_lets_heater_and_pump_switch_themselves_off(rig):
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200)
    keeper.arm()
    start_host_side_work(rig)
    ika = rig.bench.emulator("mantle")
    rig.clock.advance(60.0)
    keeper.refresh()
    assert ika.heating and pump_running(rig, "pump_cd")
    keeper.stop(disarm=False)               # the orchestrator dies: nobody refreshes
    rig.clock.advance(700.0)                # past both periods
    rig.bench.world.update()
    assert ika.wd_tripped and not ika.heating
    assert rig.bench.world.heater_power == 0.0
    assert not pump_running(rig, "pump_cd")
    assert firmware(rig, "pump_cd").alarm == "T"            # New Era: watchdog timeout
    # stopped ~200 s after the last packet (at 60 s): ~4.3 of the 5 mL
    assert 4.0 < firmware(rig, "pump_cd").infused_ml < 4.6


def test_long_simulated_sleep_is_sliced_so_the_watchdog_is_fed(rig):
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200)
    keeper.arm()
    ika = rig.bench.emulator("mantle")
    rig.mantle.driver.set_setpoint_c(80.0)
    rig.mantle.driver.start_heating()
    UnattendedSleep(rig.clock, max_jump_s=keeper.max_jump_s, between=[keeper.refresh]).install(rig.RE)
    t0 = rig.clock.time()
    rig.RE(bps.sleep(3 * 3600.0))
    assert rig.clock.time() - t0 >= 3 * 3600.0
    rig.bench.world.update()
    assert ika.heating and not ika.wd_tripped
    # fed at least every other slice (the free-running clock adds a little between slices)
    assert keeper.refreshes >= 3 * 3600 / (2 * keeper.max_jump_s)


def test_one_jump_over_the_period_trips_the_controller(rig):
    """The control for the test above: the plain simulated sleep jumps the hour at once."""
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200)
    keeper.arm()
    ika = rig.bench.emulator("mantle")
    rig.mantle.driver.set_setpoint_c(80.0)
    rig.mantle.driver.start_heating()
    rig.RE(bps.sleep(3600.0))               # the session's ordinary sleep handler
    keeper.refresh()
    rig.bench.world.update()
    assert ika.wd_tripped and not ika.heating
    assert "mantle" in keeper.errors        # the device saw the lapse and says so


def test_pump_reset_by_a_power_cut_is_re_armed(rig):
    events = []
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200,
                            on_event=lambda kind, msg: events.append((kind, msg)))
    keeper.arm()
    rig.bench.emulator("pump_s").inject("power_loss")     # the pump resets: alarm R
    keeper.refresh()
    assert not keeper.errors
    assert any(kind == "watchdog" and "pump_s" in m and "re-armed" in m for kind, m in events)
    fw = firmware(rig, "pump_s")
    assert fw.safe and fw.safe_s == 200 and fw.alarm is None
    # the pump is protected again: silence now stops it
    rig.pump_s.driver.start_move(5.0, 1.0)
    rig.clock.advance(400.0)
    assert not pump_running(rig, "pump_s")
    assert fw.alarm == "T"


def test_silent_pump_is_reported_once_and_recovers(rig):
    events = []
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200,
                            on_event=lambda kind, msg: events.append((kind, msg)))
    keeper.arm()
    view = rig.bench.emulator("pump_cd")
    view.inject("no_reply")
    keeper.refresh()
    keeper.refresh()
    assert "InstrumentTimeout" in keeper.errors["pump_cd"]
    assert [m for _, m in events if "pump_cd" in m and "refresh failed" in m] != []
    assert len([m for _, m in events if "pump_cd" in m]) == 1      # one notice per episode
    view.clear("no_reply")
    # the silence may have outlasted the pump's 200 s (the timed-out reads take wall time,
    # i.e. virtual minutes): then the first answer is the pump's watchdog alarm T
    keeper.refresh()
    keeper.refresh()
    assert "pump_cd" not in keeper.errors


def test_keeper_thread_feeds_until_stopped_then_disarms(rig):
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200)
    keeper.arm()
    keeper.start()
    until(lambda: keeper.refreshes >= 3, what="three refreshes by the keeper thread")
    keeper.stop()
    assert not keeper.running
    assert rig.bench.emulator("mantle").wd_period_s == 0
    assert not firmware(rig, "pump_cd").safe


def test_refresh_fraction_must_leave_margin(rig):
    with pytest.raises(ValueError, match="refresh_fraction"):
        WatchdogKeeper(rig.devices, rig.clock, refresh_fraction=0.9)


def test_a_pump_that_has_dosed_is_still_fed_afterwards(rig):
    """Regression: the pump device's ``state`` keeps saying 'infusing' after a completed
    dose; the keeper must not take that for a running move and stop feeding the pump."""
    keeper = WatchdogKeeper(rig.devices, rig.clock, heater_s=600, pump_s=200)
    keeper.arm()
    UnattendedSleep(rig.clock, max_jump_s=keeper.max_jump_s, between=[keeper.refresh]).install(rig.RE)
    rig.RE(bps.mv(rig.pump_cd, 0.5))
    rig.RE(bps.sleep(3600.0))
    assert firmware(rig, "pump_cd").alarm is None and not keeper.errors
    rig.RE(bps.mv(rig.pump_cd, 0.5))             # the next dose is not refused by an alarm
    assert firmware(rig, "pump_cd").infused_ml == pytest.approx(0.5, abs=1e-3)
