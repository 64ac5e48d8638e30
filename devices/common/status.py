"""Statuses finished from worker threads, with deadlines on the device's clock.

Classic Ophyd's ``Status(timeout=...)`` counts wall seconds; a pump dose of ten
virtual minutes takes 0.6 wall seconds at 1000x.  So the work itself enforces a
deadline on the device clock and finishes the status with a typed exception,
and the wall-clock timeout handed to Ophyd is only a generous backstop.
"""

from __future__ import annotations

import threading
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
               device: str, what: str, cancel: threading.Event | None = None) -> None:
    """Poll ``predicate`` every ``poll_s`` device-clock seconds until true.

    Raises :class:`InstrumentTimeout` naming ``what`` after ``timeout_s``;
    returns early (without raising) if ``cancel`` is set — the caller decides.
    """
    deadline = clock.time() + timeout_s
    while not predicate():
        if cancel is not None and cancel.is_set():
            return
        if clock.time() > deadline:
            raise InstrumentTimeout(device, f"{what} not reached within {timeout_s:.0f} s")
        clock.sleep(poll_s)


class Deadline:
    """A deadline on the device clock that a busy host cannot trip by itself.

    On a virtual clock at 1000x, 48 device seconds are 48 ms of wall time: a
    loaded CI machine that does not schedule the polling thread for that long
    would see a healthy pump "time out".  So the deadline expires only when the
    device-clock budget *and* ``min_wall_s`` of wall time have both passed.  On
    real hardware (wall clock) the second condition is implied by the first.
    """

    def __init__(self, clock: Clock, budget_s: float, *, min_wall_s: float = 2.0):
        import time as _time

        self._wall = _time.monotonic
        self.clock = clock
        self.budget_s = budget_s
        self.end = clock.time() + budget_s
        self.wall_end = self._wall() + min_wall_s

    def expired(self) -> bool:
        return self.clock.time() > self.end and self._wall() > self.wall_end
