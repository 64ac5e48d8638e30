"""Guards during a plan on a plain RunEngine and the emulators: suspend on a fault, resume when
it clears (repeating only the interrupted step), abort to the safe state when it does not, or at
once when a dose was running."""

from __future__ import annotations

import threading

import bluesky.plan_stubs as bps
import pytest

from photoreactor.plans.safety import experiment
from photoreactor.plans.stubs import dose, heat_to, heater_off, light_off, set_irradiance
from photoreactor.queue.suspenders import SuspensionAborted, SuspensionTimeout
from photoreactor.queue.unattended import install_unattended

from .conftest import until

SAFETY = {
    "watchdog": {"heater_s": 600, "pump_s": 200},
    "suspenders": {
        "poll_s": 10,
        "temperature": {"band_c": 10, "resume_after_s": 60, "max_suspend_s": 600},
        "light": {"resume_after_s": 30, "max_suspend_s": 600},
        "pumps": {"resume_after_s": 30, "max_suspend_s": 600},
    },
}


@experiment()
def shine(led, *, irradiance_mw_cm2: float = 10.0, hold_s: float = 1200.0):
    yield from set_irradiance(led, irradiance_mw_cm2)
    yield from bps.sleep(hold_s)
    yield from light_off(led)


@experiment()
def hold_hot(mantle, *, temperature_c: float = 80.0, hold_s: float = 1800.0):
    yield from heat_to(mantle, temperature_c)
    yield from bps.sleep(hold_s)


@experiment()
def slow_dose(pump, *, volume_ml: float = 8.0, rate_ml_min: float = 0.5):
    yield from bps.mv(pump.rate, rate_ml_min)
    yield from dose(pump, volume_ml)


@pytest.fixture
def unattended(make_rig):
    rig = make_rig(safety=SAFETY)
    un = install_unattended(rig)
    docs = []
    rig.RE.subscribe(lambda name, doc: docs.append((name, doc)))
    rig.docs = docs
    yield rig, un
    un.close()


def guard(un, what):
    (g,) = [g for g in un.guards if g.what == what]
    return g


def at_slice(un, n, action):
    """Run ``action`` once, just before the guards' poll of the n-th slice of a plan's sleep."""
    count = [0]

    def hook():
        count[0] += 1
        if count[0] == n:
            action()

    un.sleep.between.insert(0, hook)


def in_background(fn):
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def stop_doc(rig):
    (doc,) = [d for n, d in rig.docs if n == "stop"]
    return doc


def events(un):
    return [r["kind"] for r in un.notifier.sent]


def test_led_trip_suspends_the_plan_and_the_hold_resumes_for_the_time_left(unattended):
    rig, un = unattended
    emu = rig.bench.emulator("led")
    light = guard(un, "light")
    at_slice(un, 6, lambda: emu.inject("interlock"))    # ~300 s into the 1200 s hold
    seen = {}

    def operator():
        until(lambda: light.suspensions == 1, what="the light guard to suspend the plan")
        seen["dark"] = not emu.output
        emu.clear("interlock")                          # someone closes the enclosure

    helper = in_background(operator)
    result = rig.RE(shine(rig.led, hold_s=1200.0))
    helper.join(5)
    assert result.exit_status == "success"
    assert seen["dark"], "the light must be off while the plan is suspended"
    assert light.suspensions == 1
    assert events(un).count("suspended") == 1 and events(un).count("resumed") == 1
    # 10 mW/cm² for the hold: the resumed sleep waited only for the time it had left
    # (a restart of the sleep would give ~1500 s, a sleep cut short ~300 s)
    lit_s = rig.led.energy_dose.get() / 10.0
    assert 1190.0 <= lit_s <= 1300.0
    assert stop_doc(rig)["exit_status"] == "success"


def test_temperature_excursion_suspends_and_resumes_without_tripping_on_the_heat_up(unattended):
    rig, un = unattended
    world = rig.bench.world
    temp = guard(un, "temperature")
    seen = {}

    def cold_addition():
        # the minimal world has no cold reagent: take 40 °C out of the flask directly
        with world.lock:
            world.update()
            world._temperature -= 40.0

    def watch():
        until(lambda: temp.suspensions == 1, what="the temperature guard to suspend the plan")
        seen["heater_on"] = bool(rig.bench.emulator("mantle").heating)

    at_slice(un, 6, cold_addition)
    helper = in_background(watch)
    result = rig.RE(hold_hot(rig.mantle, temperature_c=80.0, hold_s=1800.0))
    helper.join(5)
    assert result.exit_status == "success"
    assert temp.suspensions == 1            # the heat-up and its overshoot never tripped it
    assert seen["heater_on"], "the mantle keeps regulating while the plan is suspended"
    assert "resumed" in events(un)


def test_fault_that_does_not_clear_aborts_to_the_safe_state(unattended):
    rig, un = unattended
    ika = rig.bench.emulator("mantle")
    at_slice(un, 6, lambda: ika.inject("open_thermocouple"))
    with pytest.raises(SuspensionTimeout, match="still abnormal after 600 s"):
        rig.RE(hold_hot(rig.mantle, temperature_c=80.0, hold_s=1800.0))
    rig.bench.world.update()
    assert not ika.heating and rig.bench.world.heater_power == 0.0
    stop = stop_doc(rig)
    assert stop["exit_status"] == "fail" and "temperature guard" in stop["reason"]
    assert events(un)[-3:] == ["suspended", "aborted", "fail"]


def test_heater_switched_off_by_its_watchdog_mid_plan_is_a_fault_not_a_cool_down(unattended):
    """The IKA's watchdog lapses while the plan holds 80 °C (the keeper could not refresh
    it): heating goes off and the flask cools.  The plan must not carry on as if it were
    hot — the temperature guard suspends it at once and, since a tripped controller does
    not come back by itself, aborts to the safe state."""
    rig, un = unattended
    ika = rig.bench.emulator("mantle")
    temp = guard(un, "temperature")
    seen = {}

    def lapse():
        # the last refresh was a slice (50 s) ago: 560 s more lapse the 600 s period
        rig.clock.advance(560.0)
        seen["tripped"] = rig.mantle.watchdog_tripped
        seen["flask_c"] = rig.mantle.temperature.get()

    at_slice(un, 6, lapse)
    with pytest.raises(SuspensionTimeout, match="watchdog lapsed|switched off"):
        rig.RE(hold_hot(rig.mantle, temperature_c=80.0, hold_s=1800.0))
    rig.bench.world.update()
    assert seen["tripped"] and not ika.heating
    assert seen["flask_c"] > 70.0           # not yet out of the band: the trip alone suspends
    assert temp.suspensions == 1
    stop = stop_doc(rig)
    assert stop["exit_status"] == "fail" and "temperature guard" in stop["reason"]
    assert events(un)[-3:] == ["suspended", "aborted", "fail"]
    assert any("watchdog lapsed" in r["subject"] for r in un.notifier.sent
               if r["kind"] == "suspended")


def test_trip_during_a_dose_aborts_and_never_repeats_the_dose(unattended):
    rig, un = unattended
    emu = rig.bench.emulator("led")

    def trip_mid_dose():
        until(lambda: rig.pump_cd.state.get() == "infusing", what="the dose to start")
        emu.inject("interlock")
        un.poller.poll_once()

    helper = in_background(trip_mid_dose)
    with pytest.raises(SuspensionAborted, match="pump_cd"):
        rig.RE(slow_dose(rig.pump_cd, volume_ml=8.0, rate_ml_min=0.5))   # 16 min
    helper.join(5)
    fw = rig.bench.emulator("pump_cd").firmware
    with fw.bus.lock:
        fw.sync()
        assert fw.move is None                      # the pump was stopped
    delivered = rig.bench.world.added.get("pump_cd", 0.0)
    assert 0.0 < delivered < 8.0                    # stopped part-way, never started again
    assert stop_doc(rig)["exit_status"] == "fail"
    assert "aborted" in events(un)


def test_pump_that_stops_answering_suspends_until_it_answers_again(unattended):
    rig, un = unattended
    view = rig.bench.emulator("pump_s")
    pumps = guard(un, "pumps")
    at_slice(un, 4, lambda: view.inject("no_reply"))

    def fix():
        until(lambda: pumps.suspensions == 1, what="the pump guard to suspend the plan")
        view.clear("no_reply")

    helper = in_background(fix)
    result = rig.RE(shine(rig.led, hold_s=600.0))
    helper.join(5)
    assert result.exit_status == "success"
    assert pumps.suspensions == 1
    assert "pump_s" in " ".join(r["subject"] for r in un.notifier.sent if r["kind"] == "suspended")


def test_install_and_close(make_rig):
    rig = make_rig(safety=SAFETY)
    un = install_unattended(rig)
    assert {g.what for g in un.guards} == {"temperature", "light", "pumps"}
    assert set(rig.RE.suspenders) == set(un.guards)
    assert un.tracker.wrap in rig.RE.preprocessors
    assert un.keeper.running and un.poller.polls >= 1
    status = un.status()
    assert status["watchdogs"] == {"mantle": 600.0, "pump_cd": 200.0, "pump_s": 200.0}
    assert status["watchdogs_armed_now"] == {}          # idle: nothing to guard
    assert status["unprotected"] == ["led"]
    rig.make_safe()
    un.close()
    assert not un.keeper.running
    assert not rig.RE.suspenders and un.tracker.wrap not in rig.RE.preprocessors


def test_watchdogs_are_armed_while_a_plan_runs_and_while_anything_is_left_on(unattended):
    rig, un = unattended
    ika = rig.bench.emulator("mantle")
    pump = rig.bench.emulator("pump_cd").firmware
    seen = []

    def look():
        yield from bps.null()
        seen.append((ika.wd_period_s, pump.safe))

    rig.RE(look())
    assert seen == [(600, True)]
    assert ika.wd_period_s == 0 and not pump.safe     # the plan ended with everything off
    # an expert's bare heat_to leaves the heater on: the watchdogs stay armed and fed
    rig.RE(heat_to(rig.mantle, 60.0))
    assert ika.wd_period_s == 600 and un.keeper.armed
    rig.clock.advance(100.0)
    assert un.keeper.running
    rig.RE(heater_off(rig.mantle))
    assert ika.wd_period_s == 0 and not un.keeper.armed
