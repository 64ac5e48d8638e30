"""wait_until: start at a local time (or every night) on the session clock, pausable."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import bluesky.plan_stubs as bps
import pytest
from bluesky import RunEngine
from bluesky.utils import Msg, RunEngineInterrupted

from photoreactor.queue.schedule import ScheduleError, make_wait_until, next_start
from photoreactor.queue.sleep import UnattendedSleep
from photoreactor.sim_devices.clock import VirtualClock, install_sleep_handler


def local(y, mo, d, h, mi=0, s=0) -> float:
    return datetime(y, mo, d, h, mi, s).astimezone().timestamp()


@pytest.mark.parametrize("now, at, expected", [
    (local(2026, 11, 21, 18, 0), "22:00", local(2026, 11, 21, 22, 0)),      # later today
    (local(2026, 11, 21, 23, 0), "22:00", local(2026, 11, 22, 22, 0)),      # tomorrow
    (local(2026, 11, 21, 22, 0), "22:00", local(2026, 11, 22, 22, 0)),      # "next" is strict
    (local(2026, 11, 21, 6, 0), "7:05:30", local(2026, 11, 21, 7, 5, 30)),
    (local(2026, 11, 21, 6, 0), "2026-11-25T22:00", local(2026, 11, 25, 22, 0)),
    (local(2026, 11, 21, 6, 0), "2026-11-20T22:00", local(2026, 11, 20, 22, 0)),  # past: as is
])
def test_next_start(now, at, expected):
    assert next_start(at, now) == pytest.approx(expected)


def test_offset_in_an_iso_time_is_respected():
    assert next_start("2026-11-21T22:00:00+00:00", 0.0) == pytest.approx(
        datetime(2026, 11, 21, 22, 0, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("bad", ["25:00", "12:61", "tonight", "", "22h00"])
def test_bad_times_are_refused_with_the_accepted_forms(bad):
    with pytest.raises(ScheduleError, match="HH:MM"):
        next_start(bad, local(2026, 11, 21, 18))


@pytest.fixture
def evening():
    """A virtual clock that starts at 18:00 local time, and a RunEngine sleeping on it.

    The clock moves only when a plan sleeps (1 virtual ms per wall second between
    jumps), so what these tests measure does not depend on how busy the machine is.
    """
    clock = VirtualClock(speed=1e-3, start=local(2026, 11, 21, 18, 0))
    RE = RunEngine({}, call_returns_result=True)
    install_sleep_handler(RE, clock)
    yield clock, RE
    if RE.state != "idle":
        RE.halt()


def test_wait_until_starts_the_next_item_at_the_time_and_opens_no_run(evening):
    clock, RE = evening
    docs = []
    RE.subscribe(lambda name, doc: docs.append(name))
    wait_until = make_wait_until(clock)
    RE(wait_until("22:00"))
    target = local(2026, 11, 21, 22, 0)
    assert target <= clock.time() < target + 1.0
    assert docs == []


def test_nightly_pairs_start_each_night_at_the_same_time(evening):
    clock, RE = evening
    wait_until = make_wait_until(clock)
    starts = []
    for _night in range(3):
        RE(wait_until("22:00"))
        starts.append(clock.time())
        RE(bps.sleep(5 * 3600.0))          # the night's experiment: 5 h
    days = [(s - starts[0]) / 86400.0 for s in starts]
    assert days == pytest.approx([0.0, 1.0, 2.0], abs=1e-5)   # ±1 s


def test_a_past_moment_starts_at_once(evening):
    clock, RE = evening
    t0 = clock.time()
    RE(make_wait_until(clock)("2026-11-20T22:00"))
    assert clock.time() - t0 < 1.0           # no sleep at all: the clock did not jump


def test_pause_during_the_wait_still_starts_on_time(evening):
    clock, RE = evening
    slices = [0]

    async def sleep_then_pause(msg):
        clock.advance(float(msg.args[0]))
        slices[0] += 1
        if slices[0] == 3:
            # as from the queue server: request_pause blocks, so not from the loop's thread
            threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()
            for _ in range(10000):          # the pause cancels this wait within a few ms
                await asyncio.sleep(0.001)
        await asyncio.sleep(0)

    RE.register_command("sleep", sleep_then_pause)
    with pytest.raises(RunEngineInterrupted):
        RE(make_wait_until(clock)("22:00", slice_s=600.0))
    assert RE.state == "paused"
    clock.advance(1800.0)                   # half an hour passes while paused
    RE.resume()
    target = local(2026, 11, 21, 22, 0)
    assert target <= clock.time() < target + 1.0


def test_interrupted_sleep_replays_only_what_was_left():
    clock = VirtualClock(speed=1e-6, start=0.0)      # practically frozen between jumps
    hooks = [0]
    handler = UnattendedSleep(clock, max_jump_s=100.0, between=[lambda: hooks.__setitem__(0, hooks[0] + 1)])
    msg = Msg("sleep", None, 1000.0)

    async def interrupted():
        task = asyncio.ensure_future(handler(msg))
        while hooks[0] < 3:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    assert clock.time() == pytest.approx(300.0, abs=1.0)
    asyncio.run(handler(msg))                         # the replay of the same message
    assert clock.time() == pytest.approx(1000.0, abs=1.0)
    asyncio.run(handler(Msg("sleep", None, 50.0)))    # a new message sleeps in full
    assert clock.time() == pytest.approx(1050.0, abs=1.0)
    assert hooks[0] == 3 + 7 + 1
