"""The clock interface every device, emulator and reactor model reads.

Devices never call :func:`time.time` or :func:`time.sleep` directly: they take a
clock in their constructor.  On real hardware that is :class:`WallClock`; in a
simulated session it is :class:`photoreactor.sim_devices.clock.VirtualClock`,
which runs faster than the wall and jumps when a plan sleeps.  The device code
is the same either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .errors import InstrumentTimeout


@runtime_checkable
class Clock(Protocol):
    """What devices need from a clock: the time, and a way to wait on it."""

    kind: str

    def time(self) -> float:
        """Seconds since the Unix epoch on this clock."""

    def sleep(self, seconds: float) -> None:
        """Block the calling (worker) thread for ``seconds`` of this clock's time."""

    def wall_seconds(self, seconds: float) -> float:
        """How many wall-clock seconds ``seconds`` of this clock's time take (at most)."""

    def describe(self) -> dict:
        """Metadata recorded in every run's start document."""


class WallClock:
    """Real time: what a session on real hardware runs on."""

    kind = "wall"

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wall_seconds(self, seconds: float) -> float:
        return max(seconds, 0.0)

    def describe(self) -> dict:
        return {"kind": self.kind}

    def __repr__(self) -> str:
        return "WallClock()"


def wait_until(predicate: Callable[[], bool], *, clock: Clock, timeout_s: float, poll_s: float,
               device: str, what: str, cancel: threading.Event | None = None,
               min_wall_s: float | None = None) -> None:
    """Poll ``predicate`` every ``poll_s`` device-clock seconds until true.

    Raises :class:`InstrumentTimeout` naming ``what`` once a :class:`Deadline` of
    ``timeout_s`` (with ``min_wall_s`` of wall grace, :data:`MIN_WALL_S` by
    default) has expired; returns early (without raising) if ``cancel`` is set —
    the caller decides.
    """
    deadline = Deadline(clock, timeout_s, min_wall_s=MIN_WALL_S if min_wall_s is None
                        else min_wall_s)
    while not predicate():
        if cancel is not None and cancel.is_set():
            return
        if deadline.expired():
            raise InstrumentTimeout(device, f"{what} not reached within {timeout_s:.0f} s")
        clock.sleep(poll_s)


#: wall seconds a :class:`Deadline` waits, by default, after its device-clock budget has run out
MIN_WALL_S = 2.0


class Deadline:
    """A deadline on the device clock that a busy host cannot trip by itself.

    On a virtual clock at 1000x, 48 device seconds are 48 ms of wall time: a
    loaded machine that does not schedule the polling thread for that long, or a
    plan's ``bps.sleep`` that jumps the clock, would make healthy work "time
    out".  The rule, checked by :meth:`expired`:

    1. **device clock** — more than ``budget_s`` plus the excused absences
       (below) have passed since the deadline was made, and
    2. **wall clock** — since the caller first saw (1) hold, a further
       ``min_wall_s`` wall seconds have passed: the worker gets that much real
       time to take one more look before the work is declared hung.  With
       ``min_wall_s=0`` (1) alone decides.

    **Absence accounting** (``poll_s`` given): the caller checks every
    ``poll_s`` device seconds; a gap between two checks longer than three poll
    periods means the caller could not act (clock jump, suspended computer), so
    the gap minus one poll period is added to the allowed time — the deadline
    catches an instrument that does not do the work, not a host that was away.
    A host that is away at every poll keeps extending it, so pair this with a
    wall backstop (the status timeout of :func:`run_in_thread`).

    A dead instrument still fails promptly: at most ``min_wall_s`` wall seconds
    after the device-clock budget.  On real hardware (wall clock) (2) adds
    ``min_wall_s`` to the budget.

    Parameters
    ----------
    clock : Clock
        Device clock.
    budget_s : float
        Device-clock seconds the work may take.
    min_wall_s : float
        Wall seconds of grace after the device-clock budget has run out.
    poll_s : float, optional
        The caller's polling period (device clock); enables absence accounting.
    wall : callable, optional
        Wall-clock source (monotonic seconds); default: the clock's ``running_s``
        if it has one — a virtual clock's wall time *the process ran*, so that a
        stall of the host does not use up the grace the worker was to get — else
        :func:`time.monotonic`.  Replaceable in tests.
    """

    def __init__(self, clock: Clock, budget_s: float, *, min_wall_s: float = MIN_WALL_S,
                 poll_s: float | None = None, wall: Callable[[], float] | None = None):
        self.clock = clock
        self.budget_s = float(budget_s)
        self.min_wall_s = float(min_wall_s)
        self.poll_s = None if poll_s is None else float(poll_s)
        self._wall = wall if wall is not None else getattr(clock, "running_s", time.monotonic)
        self.start = clock.time()
        #: device-clock seconds of excused absence added to the budget
        self.excused_s = 0.0
        self._last_check = self.start
        self._overdue_since: float | None = None   # wall time (1) was first seen to hold

    @property
    def allowed_s(self) -> float:
        """Device-clock seconds allowed so far: the budget plus the excused absences."""
        return self.budget_s + self.excused_s

    def remaining(self, now: float | None = None) -> float:
        """Device-clock seconds left before the budget runs out (negative once it has)."""
        now = self.clock.time() if now is None else now
        return self.start + self.allowed_s - now

    def expired(self, now: float | None = None) -> bool:
        """Apply the rule (see the class docstring); call once per poll.

        ``now`` is the caller's device-clock reading of this poll, if it has one.
        """
        now = self.clock.time() if now is None else now
        if self.poll_s is not None:
            absent = now - self._last_check - self.poll_s
            if absent > 2 * self.poll_s:
                self.excused_s += absent
        self._last_check = now
        if self.remaining(now) >= 0:
            return False
        if self.min_wall_s <= 0:
            return True
        wall_now = self._wall()
        if self._overdue_since is None:
            self._overdue_since = wall_now
        return wall_now - self._overdue_since >= self.min_wall_s
