"""A clock for the reactor-model tests that only moves when told to."""

from __future__ import annotations


class FrozenClock:
    """Virtual time that moves only on :meth:`advance` (exact, for determinism tests)."""

    kind = "virtual"

    def __init__(self, start: float = 0.0):
        self.t = float(start)

    def time(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time cannot run backwards")
        self.t += float(seconds)
        return self.t

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def wall_seconds(self, seconds: float) -> float:
        return 0.0

    def describe(self) -> dict:
        return {"kind": self.kind}


class FakeWall:
    """A monotonic wall clock (``wall()`` → seconds) that moves only when ``t`` is set."""

    def __init__(self, start: float = 0.0):
        self.t = float(start)

    def __call__(self) -> float:
        return self.t
