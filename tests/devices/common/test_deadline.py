"""Deadline: a device-clock budget, a wall grace after it, and excused absences."""

from __future__ import annotations

import threading

import pytest

from photoreactor.devices.common.errors import InstrumentTimeout
from photoreactor.devices.common.status import Deadline, wait_until
from tests.sim_devices.reactor.frozen_clock import FakeWall, FrozenClock


@pytest.fixture
def clocks():
    return FrozenClock(1000.0), FakeWall()


def test_budget_alone_is_not_enough_while_the_wall_grace_runs(clocks):
    clock, wall = clocks
    d = Deadline(clock, 48.0, min_wall_s=2.0, wall=wall)
    clock.t += 48.0
    assert not d.expired() and d.remaining() == 0.0
    clock.t += 1.0                 # budget passed: the grace starts now
    assert not d.expired()
    wall.t += 1.9
    assert not d.expired()
    wall.t += 0.1                  # budget and grace both passed
    assert d.expired()
    assert d.remaining() == pytest.approx(-1.0)


def test_wall_time_before_the_budget_runs_out_does_not_count_as_grace(clocks):
    clock, wall = clocks
    d = Deadline(clock, 10.0, min_wall_s=2.0, wall=wall)
    wall.t += 100.0                # a slow real-time start: the grace has not begun
    assert not d.expired()
    clock.t += 11.0
    assert not d.expired()         # first look past the budget
    wall.t += 2.0
    assert d.expired()


def test_without_a_wall_grace_the_device_clock_decides(clocks):
    clock, wall = clocks
    d = Deadline(clock, 5.0, min_wall_s=0.0, wall=wall)
    clock.t += 5.0
    assert not d.expired()         # "more than" the budget
    clock.t += 0.001
    assert d.expired()


def test_an_absence_longer_than_three_polls_extends_the_deadline(clocks):
    clock, wall = clocks
    d = Deadline(clock, 60.0, min_wall_s=0.0, poll_s=5.0, wall=wall)
    clock.t += 5.0
    assert not d.expired() and d.excused_s == 0.0
    clock.t += 15.0                # absent 10 s = 2 polls: still the caller's own pace
    assert not d.expired() and d.excused_s == 0.0
    clock.t += 3605.0              # a plan slept an hour: absent 3600 s, excused
    assert not d.expired()
    assert d.excused_s == pytest.approx(3600.0)
    assert d.allowed_s == pytest.approx(3660.0)
    assert d.remaining() == pytest.approx(60.0 - 25.0)
    for _ in range(7):             # then the mantle simply does not heat
        clock.t += 5.0
        assert not d.expired()
    clock.t += 5.0
    assert d.expired()
    assert d.allowed_s == pytest.approx(3660.0)


def test_without_poll_s_an_absence_is_not_excused(clocks):
    clock, wall = clocks
    d = Deadline(clock, 60.0, min_wall_s=0.0, wall=wall)
    clock.t += 3600.0
    assert d.expired() and d.excused_s == 0.0


def test_the_caller_may_pass_its_own_reading_of_the_clock(clocks):
    clock, wall = clocks
    d = Deadline(clock, 60.0, min_wall_s=0.0, wall=wall)
    assert not d.expired(d.start + 50.0)
    assert d.expired(d.start + 61.0)
    assert d.remaining(d.start + 61.0) == pytest.approx(-1.0)


def test_an_absence_after_the_budget_ran_out_does_not_reopen_it(clocks):
    clock, wall = clocks
    d = Deadline(clock, 10.0, min_wall_s=2.0, poll_s=1.0, wall=wall)
    for _ in range(11):
        clock.t += 1.0
        assert not d.expired()     # overdue at 11 s: the grace starts
    clock.t += 100.0               # 99 s excused, yet the gap itself was 100 s
    assert d.remaining() < 0 and not d.expired()
    wall.t += 2.0
    assert d.expired()


def test_wait_until_times_out_on_its_deadline(clocks):
    clock, _ = clocks
    polls = []
    with pytest.raises(InstrumentTimeout, match="refill not reached within 3 s"):
        wait_until(lambda: polls.append(clock.t) or False, clock=clock, timeout_s=3.0,
                   poll_s=0.5, device="pump", what="refill", min_wall_s=0.0)
    assert len(polls) == 8 and polls[-1] - polls[0] == pytest.approx(3.5)


def test_wait_until_returns_when_cancelled_or_done(clocks):
    clock, _ = clocks
    cancel = threading.Event()
    cancel.set()
    wait_until(lambda: False, clock=clock, timeout_s=1.0, poll_s=0.5, device="pump",
               what="refill", cancel=cancel)
    wait_until(lambda: True, clock=clock, timeout_s=1.0, poll_s=0.5, device="pump",
               what="refill")


def test_a_host_stall_does_not_use_up_the_wall_grace():
    """On a virtual clock the grace is wall time the process ran, not wall time that passed."""
    from photoreactor.sim_devices.clock import VirtualClock

    wall = FakeWall(100.0)
    clock = VirtualClock(speed=1000.0, start=0.0, wall=wall)
    d = Deadline(clock, 10.0, min_wall_s=1.0)
    wall.t += 0.05                      # 50 device seconds: the budget is spent
    assert not d.expired()              # the grace starts now
    wall.t += 5.0                       # the process stood still for 5 s: counts as 0.1 s
    assert not d.expired()
    ran = 0.1
    while not d.expired():
        wall.t += 0.05
        ran += 0.05
    assert ran == pytest.approx(1.0, abs=0.06)
