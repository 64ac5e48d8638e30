"""Pumps under a RunEngine on a virtual clock: mv, sleeps that jump time, failures, reads."""

from __future__ import annotations

import time

import bluesky.plan_stubs as bps
import pytest
from bluesky.utils import FailedStatus

from photoreactor.devices.pump import PumpAlarm


def test_mv_rate_then_dose(RE, ne_pump, bench):
    pump, view = ne_pump()
    RE(bps.mv(pump.rate, 4.0))
    assert view.firmware.rate_value == 4.0
    RE(bps.mv(pump, 1.0))
    assert bench.world.added["pump_cd"] == pytest.approx(1.0)
    assert pump.remaining.get() == pytest.approx(9.0)


def test_long_dose_while_the_plan_sleeps_finishes_fast_in_wall_time(RE, ne_pump, bench):
    pump, _ = ne_pump(rate_ml_min=0.05)        # 5 mL = 100 virtual minutes

    def plan():
        yield from bps.abs_set(pump, 5.0, group="dose")
        yield from bps.sleep(6100)
        yield from bps.wait("dose")

    t0 = time.monotonic()
    RE(plan())
    assert time.monotonic() - t0 < 5.0
    assert bench.world.added["pump_cd"] == pytest.approx(5.0)


def test_stall_fails_the_plan_with_the_alarm(RE, ne_pump, bench):
    pump, view = ne_pump(rate_ml_min=1.0)
    view.inject("stall")                       # every run stalls half-way
    with pytest.raises(FailedStatus) as err:
        RE(bps.mv(pump, 1.0))
    cause = err.value.__cause__ or err.value.args[0].exception()
    assert isinstance(cause, PumpAlarm) and cause.code == "S"
    assert pump.remaining.get() == pytest.approx(9.5, abs=1e-3)


def test_count_reads_pump(RE, ne_pump):
    from bluesky.plans import count

    pump, _ = ne_pump()
    docs = []
    RE(count([pump]), lambda name, doc: docs.append((name, doc)))
    desc = next(d for n, d in docs if n == "descriptor")
    assert desc["data_keys"]["pump_cd_dispensed"]["units"] == "mL"
    assert desc["configuration"]["pump_cd"]["data"]["pump_cd_reagent_name"].startswith("Cd")
    event = next(d for n, d in docs if n == "event")
    assert event["data"]["pump_cd_remaining"] == 10.0
