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
"""

from __future__ import annotations

import asyncio
import threading
import time


class VirtualClock:
    """Fast-running, jumpable time shared by the simulated world.

    Parameters
    ----------
    speed : float
        Virtual seconds per wall second while running continuously (e.g. 1000).
    start : float, optional
        Virtual epoch seconds at construction; defaults to the current wall time.
    """

    kind = "virtual"

    def __init__(self, speed: float = 1000.0, start: float | None = None):
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed!r}")
        self.speed = float(speed)
        self._start = time.time() if start is None else float(start)
        self._wall0 = time.perf_counter()
        self._offset = 0.0
        self._cond = threading.Condition()
        self._last = self._start

    # -- reading ---------------------------------------------------------
    def time(self) -> float:
        """Current virtual time (epoch seconds); monotonic across threads."""
        with self._cond:
            now = self._start + self._offset + (time.perf_counter() - self._wall0) * self.speed
            # perf_counter is monotonic, but guard against float rounding after jumps
            if now < self._last:
                now = self._last
            self._last = now
            return now

    def elapsed(self) -> float:
        """Virtual seconds since the clock was created."""
        return self.time() - self._start

    # -- moving ----------------------------------------------------------
    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` of virtual time and wake every sleeper."""
        if seconds < 0:
            raise ValueError(f"virtual time cannot run backwards (advance by {seconds} s)")
        with self._cond:
            self._offset += float(seconds)
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
