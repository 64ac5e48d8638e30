"""Waiting on the session clock from a background thread, stoppable at once.

A keeper or poller thread must wait ``seconds`` of *session-clock* time (virtual
in a simulation, so 60 s may be 60 ms of wall time, and a plan's ``bps.sleep``
may jump past the deadline at once) and must also stop within a fraction of a
wall second when the session closes.  :func:`wait_on_clock` does both by waiting
in slices of at most ``max_wall_s`` wall seconds.
"""

from __future__ import annotations

import threading

#: longest wall-clock slice a background thread waits before re-checking its stop flag
MAX_WALL_SLICE_S = 0.1


def wait_on_clock(clock, seconds: float, stop: threading.Event,
                  max_wall_s: float = MAX_WALL_SLICE_S) -> bool:
    """Wait ``seconds`` of ``clock`` time; return False at once if ``stop`` is set.

    Returns True when the time has passed (a virtual-clock jump ends the wait
    early, as it should: the time *has* passed).
    """
    deadline = clock.time() + max(0.0, float(seconds))
    while not stop.is_set():
        left = deadline - clock.time()
        if left <= 0:
            return True
        wall = clock.wall_seconds(left)
        if getattr(clock, "kind", "wall") == "wall":
            stop.wait(min(wall, max_wall_s))
            continue
        # virtual: sleep on the clock (wakes on jumps) but never longer than a slice
        if wall > max_wall_s:
            left = left * max_wall_s / wall
        clock.sleep(left)
    return False
