"""The clock interface every device, emulator and reactor model reads.

Devices never call :func:`time.time` or :func:`time.sleep` directly: they take a
clock in their constructor.  On real hardware that is :class:`WallClock`; in a
simulated session it is :class:`photoreactor.sim_devices.clock.VirtualClock`,
which runs faster than the wall and jumps when a plan sleeps.  The device code
is the same either way.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


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
