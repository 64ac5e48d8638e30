"""Virtual clock: monotonic, fast, jumps on sleep, wakes sleepers on jumps."""

import os
import select
import signal
import threading
import time

import bluesky.plan_stubs as bps
import pytest

from photoreactor.devices.common.timing import Clock, WallClock
from photoreactor.sim_devices.clock import MAX_STALL_S, VirtualClock
from tests.sim_devices.reactor.frozen_clock import FakeWall


def test_both_clocks_satisfy_the_protocol():
    assert isinstance(WallClock(), Clock)
    assert isinstance(VirtualClock(), Clock)


def test_monotonic_across_threads():
    clock = VirtualClock(speed=100000)
    seen = []

    def reader():
        last = clock.time()
        for _ in range(2000):
            now = clock.time()
            seen.append(now >= last)
            last = now

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(50):
        clock.advance(1.0)
    for t in threads:
        t.join()
    assert all(seen)


def test_runs_faster_than_the_wall():
    clock = VirtualClock(speed=1000)
    t0 = clock.time()
    time.sleep(0.02)   # wall time passing is the property under test
    assert clock.time() - t0 >= 19.0


def test_a_stall_of_the_host_counts_at_most_max_stall():
    wall = FakeWall(100.0)
    clock = VirtualClock(speed=1000, start=0.0, wall=wall)
    wall.t += 0.05                      # running: counts in full
    assert clock.time() == pytest.approx(50.0)
    wall.t += 5.0                       # nothing read the clock for 5 s: the process stood still
    assert clock.time() == pytest.approx(50.0 + MAX_STALL_S * 1000)
    assert clock.stalled_s == pytest.approx(5.0 - MAX_STALL_S)
    clock.advance(3600.0)                 # jumps are unaffected
    assert clock.time() == pytest.approx(3750.0)


def test_idle_time_counts_in_full():
    """Nobody reading for longer than MAX_STALL_S is not a stall: the heartbeat reads."""
    clock = VirtualClock(speed=1000, start=0.0)
    t0 = clock.time()
    time.sleep(3 * MAX_STALL_S)
    # at most MAX_STALL_S * 1000 = 100 s without the heartbeat; ≈ 300 s with it (a loaded
    # host that stalls this process during the sleep counts less, never below the bound)
    assert clock.time() - t0 > 1.5 * MAX_STALL_S * 1000


def test_advance_jumps_and_refuses_to_go_back():
    clock = VirtualClock(speed=1)
    t0 = clock.time()
    clock.advance(3600)
    assert clock.time() - t0 == pytest.approx(3600, abs=1)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_jump_wakes_a_sleeping_worker():
    clock = VirtualClock(speed=1)   # at 1x this sleep would take an hour
    done = threading.Event()

    def worker():
        clock.sleep(3600)
        done.set()

    threading.Thread(target=worker, daemon=True).start()
    clock.advance(3601)
    assert done.wait(2.0)


def test_bps_sleep_jumps_virtual_time(RE, clock):
    def plan():
        for _ in range(1000):
            yield from bps.sleep(600)

    t0 = clock.time()
    RE(plan())
    assert clock.time() - t0 >= 600_000


def test_speed_must_be_positive():
    with pytest.raises(ValueError):
        VirtualClock(speed=0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_can_read_a_clock_whose_lock_was_held_at_the_fork():
    """The heartbeat reads every clock every 10 ms: a fork often lands while it holds a
    clock's lock, which the child (one thread) would otherwise wait on forever."""
    clock = VirtualClock(speed=1000)
    held, release = threading.Event(), threading.Event()

    def hold():
        with clock._cond:
            held.set()
            release.wait(5)

    threading.Thread(target=hold, daemon=True).start()
    held.wait(5)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: read, report, leave at once
        try:
            t0 = clock.time()
            time.sleep(3 * MAX_STALL_S)
            os.write(w, f"{clock.time() - t0:.0f}".encode())
        finally:
            os._exit(0)
    release.set()
    os.close(w)
    ready, _, _ = select.select([r], [], [], 10.0)
    if not ready:                                  # the child hangs on the inherited lock
        os.kill(pid, signal.SIGKILL)
    with os.fdopen(r) as pipe:
        advanced = pipe.read() if ready else ""
    os.waitpid(pid, 0)
    assert advanced, "the forked child could not read the clock"
    assert float(advanced) > 1.5 * MAX_STALL_S * 1000     # and its own heartbeat runs
