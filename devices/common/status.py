"""Statuses finished from worker threads, with deadlines on the device's clock.

Classic Ophyd's ``Status(timeout=...)`` counts wall seconds; a pump dose of ten
virtual minutes takes 0.6 wall seconds at 1000x.  So the work itself enforces a
deadline on the device clock and finishes the status with a typed exception,
and the wall-clock timeout handed to Ophyd is only a generous backstop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ophyd.status import DeviceStatus, Status

from .errors import InstrumentTimeout
from .timing import Clock

#: wall seconds added to every backstop timeout (thread start, slow CI machines)
WALL_MARGIN_S = 30.0

_worker = threading.local()


def notify_progress(status, *, current: float, initial: float, target: float, unit: str = "",
                    precision: int = 2, name: str | None = None,
                    time_elapsed: float | None = None,
                    time_remaining: float | None = None) -> None:
    """Tell ``status``'s watchers (bluesky's progress bars) how far the work has come.

    Bluesky's ``ProgressBarManager`` (installed by interactive sessions) draws a
    bar per watched status from these calls — mL dosed, °C reached — with times
    in *device-clock* seconds, so a virtual clock shows virtual time.  Watchers
    that raise are ignored: a display must never break the work.  Without
    watchers the call costs nothing.
    """
    watchers = list(getattr(status, "_watchers", ()) or ())
    if not watchers:
        return
    if name is None:
        dev = getattr(status, "device", None) or getattr(status, "obj", None)
        name = getattr(dev, "name", "")
    try:
        span = abs(float(target) - float(initial))
        fraction = min(max(abs(float(target) - float(current)) / span, 0.0), 1.0) if span else 0.0
    except (TypeError, ValueError):
        fraction = None
    for w in watchers:
        try:
            w(name=name, current=current, initial=initial, target=target, unit=unit,
              precision=precision, fraction=fraction, time_elapsed=time_elapsed,
              time_remaining=time_remaining)
        except Exception:
            pass


def report_progress(**kwargs) -> None:
    """:func:`notify_progress` for the status of the :func:`run_in_thread` worker calling it."""
    status = getattr(_worker, "status", None)
    if status is not None:
        notify_progress(status, **kwargs)


def run_in_thread(obj, work: Callable[[], None], *, clock: Clock, expected_s: float,
                  name: str = "") -> Status:
    """Run ``work()`` on a daemon thread and return a status finished by it.

    ``work`` raises to fail the status (the exception is what the plan sees);
    returning normally marks it done.  ``expected_s`` (device-clock seconds) sets
    the wall backstop timeout.
    """
    status = DeviceStatus(obj, timeout=clock.wall_seconds(expected_s) + WALL_MARGIN_S)

    def _target():
        _worker.status = status
        try:
            work()
        except BaseException as exc:  # every failure must reach the plan
            if not status.done:
                status.set_exception(exc)
        else:
            if not status.done:
                status.set_finished()

    threading.Thread(target=_target, daemon=True, name=name or f"{getattr(obj, 'name', '')}-work").start()
    return status


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
    wall : callable
        Wall-clock source (monotonic seconds); replaceable in tests.
    """

    def __init__(self, clock: Clock, budget_s: float, *, min_wall_s: float = MIN_WALL_S,
                 poll_s: float | None = None, wall: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.budget_s = float(budget_s)
        self.min_wall_s = float(min_wall_s)
        self.poll_s = None if poll_s is None else float(poll_s)
        self._wall = wall
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
