"""Virtual time for simulated sessions.

A :class:`VirtualClock` runs ``speed`` times faster than the wall clock and
*jumps* when :meth:`advance` is called.  The session registers
:func:`install_sleep_handler` on the RunEngine so that a plan's
``bps.sleep(3600)`` advances virtual time by an hour in microseconds of wall time,
while plans stay unchanged.  The reactor model and every emulator read this clock;
device worker threads wait on it with :meth:`VirtualClock.sleep`, which wakes
early when the clock jumps past the deadline.

Design decisions
----------------
* The epoch is the wall time at construction, so virtual timestamps look like
  ordinary dates (a simulated 55 h run "ends" two days from now).
* Time never runs backwards: :meth:`advance` rejects negative steps.
* A jump wakes every sleeper (condition variable), so a pump status waiting on a
  dose completes as soon as the virtual deadline is passed.
* **A stall of the host is not simulated time.**  Between jumps the clock runs
  at ``speed`` × the wall time *the process actually ran*: when the process is
  descheduled, swapped, paused or held by one long C call, the first reading
  after it counts at most :data:`MAX_STALL_S` of wall time (0.1 s).  At
  1000× a one-second stall of a loaded CI machine would otherwise be 17
  virtual minutes in which no thread ran — the in-process controller emulators
  saw their watchdogs go unrefreshed for longer than the period and switched
  the heater and the pumps off (the watchdog keeper refreshes every quarter
  period, so the stall, not the keeper, was at fault).  A heartbeat thread
  reads every clock every :data:`HEARTBEAT_S` (10 ms), so that an idle
  stretch — nobody reading — still counts in full; only gaps longer than
  ``MAX_STALL_S`` between the heartbeat's readings, i.e. the process not
  running at all, are cut.  Reproduced with ``SIGSTOP``/``SIGCONT`` pauses of
  an unattended session (``tests/photoreactor/queue/test_host_stall.py``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref

#: longest wall-time gap between two readings of a free-running clock that counts in
#: full; a longer one is the process not running (a stall) and counts as this much (s)
MAX_STALL_S = 0.1
#: how often the heartbeat thread reads every live clock (wall s)
HEARTBEAT_S = 0.01


class _Heartbeat:
    """One daemon thread per process reading every live :class:`VirtualClock` often.

    While the process runs, no gap between two readings of a clock exceeds a few
    heartbeats, so a gap longer than :data:`MAX_STALL_S` means nothing ran.
    Clocks are held weakly; the thread is started by the first clock and again in a
    forked child (threads do not survive ``fork``).
    """

    def __init__(self):
        self.clocks: weakref.WeakSet = weakref.WeakSet()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, clock: VirtualClock) -> None:
        with self.lock:
            self.clocks.add(clock)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="virtual-clock-heartbeat",
                                               daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(HEARTBEAT_S)
            with self.lock:
                clocks = list(self.clocks)
            for clock in clocks:
                clock.time()
            del clocks

    def after_fork(self) -> None:
        # the child has one thread: locks another thread (this one's heartbeat, a device
        # worker) held at the fork would stay locked forever, so every lock is made anew
        self.lock = threading.Lock()
        self.thread = None
        clocks = list(self.clocks)
        for clock in clocks:
            clock._cond = threading.Condition()
        if clocks:
            self.add(clocks[0])


_heartbeat = _Heartbeat()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_heartbeat.after_fork)


class VirtualClock:
    """Fast-running, jumpable time shared by the simulated world.

    Parameters
    ----------
    speed : float
        Virtual seconds per wall second while running continuously (e.g. 1000).
    start : float, optional
        Virtual epoch seconds at construction; defaults to the current wall time.
    wall : callable
        Monotonic wall-time source (seconds); replaceable in tests.
    """

    kind = "virtual"

    def __init__(self, speed: float = 1000.0, start: float | None = None, *,
                 wall=time.perf_counter):
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed!r}")
        self.speed = float(speed)
        self._start = time.time() if start is None else float(start)
        self._now = self._start
        self._wall_source = wall
        self._wall = wall()
        self.stalled_s = 0.0      # wall seconds of host stalls not counted (diagnostics)
        self._cond = threading.Condition()
        _heartbeat.add(self)

    # -- reading ---------------------------------------------------------
    def time(self) -> float:
        """Current virtual time (epoch seconds); monotonic across threads."""
        with self._cond:
            wall = self._wall_source()
            gap = wall - self._wall
            if gap > MAX_STALL_S:
                self.stalled_s += gap - MAX_STALL_S
                gap = MAX_STALL_S
            self._wall = wall
            self._now += gap * self.speed
            return self._now

    def running_s(self) -> float:
        """Monotonic wall seconds during which the process ran (host stalls excluded)."""
        with self._cond:
            self.time()
            return self._wall - self.stalled_s

    def elapsed(self) -> float:
        """Virtual seconds since the clock was created."""
        return self.time() - self._start

    # -- moving ----------------------------------------------------------
    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` of virtual time and wake every sleeper."""
        if seconds < 0:
            raise ValueError(f"virtual time cannot run backwards (advance by {seconds} s)")
        with self._cond:
            self.time()                      # the free-running part up to now first
            self._now += float(seconds)
            self._cond.notify_all()
        return self.time()

    def advance_to(self, t: float) -> float:
        """Jump to virtual time ``t`` if it is in the future."""
        return self.advance(max(0.0, t - self.time()))

    # -- waiting ---------------------------------------------------------
    def wall_seconds(self, seconds: float) -> float:
        return max(seconds, 0.0) / self.speed

    def sleep(self, seconds: float) -> None:
        """Block the calling thread until ``seconds`` of virtual time have passed."""
        self.sleep_until(self.time() + seconds)

    def sleep_until(self, t: float) -> None:
        """Block until virtual time ``t`` (returns early never, late by < 1 ms wall)."""
        with self._cond:
            while True:
                remaining = t - self.time()
                if remaining <= 0:
                    return
                self._cond.wait(timeout=min(remaining / self.speed, 0.05))

    def describe(self) -> dict:
        return {"kind": self.kind, "speed": self.speed, "epoch": self._start}

    def __repr__(self) -> str:
        return f"VirtualClock(speed={self.speed:g}, elapsed={self.elapsed():.1f} s)"


def install_sleep_handler(RE, clock: VirtualClock) -> None:
    """Make ``bps.sleep`` on ``RE`` jump ``clock`` instead of waiting.

    The RunEngine's own ``sleep`` handler awaits ``asyncio.sleep``; this one
    advances virtual time and yields once to the event loop so that pause
    requests and other tasks still get a turn.
    """

    async def _virtual_sleep(msg):
        (seconds,) = msg.args
        clock.advance(float(seconds))
        await asyncio.sleep(0)

    RE.register_command("sleep", _virtual_sleep)
