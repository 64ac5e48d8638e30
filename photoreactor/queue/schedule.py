"""Wall-clock scheduling: start a queue item at 22:00, or every night.

Choice
------
A scheduled item is two queue items: a ``wait_until`` plan (below) followed by
the experiment.  ``photoreactor queue add grow_until ... --at 22:00 --nights 3``
puts three such pairs in the queue.  Why this rather than a scheduler that adds
items when the time comes:

* the queue shows exactly what will happen and when; nothing is hidden in a
  separate process that could die;
* it is stored in Redis like every other item, so it survives a restart of the
  manager (a scheduler's timers would not);
* the wait runs on the *session* clock, so on the simulated profile it jumps
  (a night takes milliseconds) and tests exercise exactly the production path.

``wait_until`` waits in slices of at most ``slice_s`` (60 s) with a checkpoint
before each, so the queue can be paused and resumed or stopped during the wait,
and it recomputes the time left from the clock after every slice: the item
starts at the requested time even after a pause.  It opens no run (a wait has
no data).  Times are local times of the computer (``22:00`` means the next
22:00 from now: today if it is still ahead, else tomorrow); an ISO date-time
(``2026-11-22T22:00``) names one moment, and a moment already past starts at once
(with a warning in the log).  "Nightly" is simply the next 22:00 after the
previous night's item finished.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import bluesky.plan_stubs as bps

log = logging.getLogger(__name__)

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")

#: longest single sleep of ``wait_until`` (session-clock seconds)
SLICE_S = 60.0


class ScheduleError(ValueError):
    """A start time that cannot be understood."""


def next_start(at: str, now: float) -> float:
    """Epoch seconds of the start time ``at`` as seen from epoch time ``now``.

    ``at`` is ``"HH:MM"`` / ``"HH:MM:SS"`` (the next such local time, strictly
    after ``now``) or an ISO date-time (``"2026-11-22T22:00"``; local if it has no
    offset), returned as given even if past.
    """
    text = str(at).strip()
    m = _HHMM.match(text)
    here = datetime.fromtimestamp(now).astimezone()
    if m:
        hh, mm, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if not (hh < 24 and mm < 60 and ss < 60):
            raise ScheduleError(f"start time {at!r} is not a time of day (HH:MM, 00:00-23:59)")
        target = here.replace(hour=hh, minute=mm, second=ss, microsecond=0)
        if target.timestamp() <= now:
            target = (here + timedelta(days=1)).replace(hour=hh, minute=mm, second=ss,
                                                         microsecond=0)
            # a daylight-saving change moves the wall time: rebuild from the calendar date
            target = datetime(target.year, target.month, target.day, hh, mm, ss).astimezone()
        return target.timestamp()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(f"start time {at!r}: give HH:MM (e.g. 22:00) or an ISO date-time "
                            "(e.g. 2026-11-22T22:00)") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def make_wait_until(clock):
    """The ``wait_until`` plan bound to a session clock (the session puts it in its namespace)."""

    def wait_until(at: str, *, slice_s: float = SLICE_S):
        """Wait until a local time of day (``"22:00"``) or an ISO date-time, then continue.

        Put it in the queue before the item to start at that time; the queue can
        be paused or stopped during the wait.

        Parameters
        ----------
        at : str
            ``"HH:MM"`` (the next such time) or ``"2026-11-22T22:00"``.
        slice_s : float
            Longest single sleep (s); the time left is recomputed after each.
        """
        target = next_start(at, clock.time())
        left = target - clock.time()
        if left <= 0:
            log.warning("wait_until(%r): that time is past (%.0f s ago); starting now", at, -left)
            return target
        log.info("waiting until %s (%.1f h)",
                 datetime.fromtimestamp(target).isoformat(timespec="seconds"), left / 3600.0)
        while True:
            left = target - clock.time()
            if left <= 0:
                return target
            yield from bps.checkpoint()
            yield from bps.sleep(min(left, float(slice_s)))

    wait_until.__module__ = __name__
    return wait_until


__all__ = ["make_wait_until", "next_start", "ScheduleError"]
