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

from .timing import MIN_WALL_S, Clock, Deadline, wait_until

__all__ = ["MIN_WALL_S", "Deadline", "WALL_MARGIN_S", "notify_progress", "report_progress",
           "run_in_thread", "wait_until"]

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
