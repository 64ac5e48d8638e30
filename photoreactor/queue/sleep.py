"""The RunEngine's ``sleep`` for unattended sessions: resumable, and watchdog-safe on a virtual clock.

Two things differ from the session's ordinary sleep handler:

* **Resumable.**  When a suspension interrupts a ``bps.sleep``, the plan is
  resumed by replaying that very message (see :mod:`.suspenders`); the
  handler remembers how much of it had passed and sleeps only the rest, so
  "hold 1 h at 240 °C" stays one hour at temperature, whatever the pause.
* **Sliced on a virtual clock.**  A simulated ``bps.sleep(3600)`` would jump an
  hour at once, starving the hardware watchdogs (the IKA and the pumps would
  switch off, as they would on the bench if nobody talked to them for an hour)
  and hiding any fault in the middle of the hour from the guards.  The handler
  advances the clock in slices of at most ``max_jump_s`` and calls the given
  hooks (watchdog refresh, guard poll) between slices — what the keeper and
  poller threads do in real time.  On a wall clock it simply awaits.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable

#: interrupted sleeps remembered (by message) for their replay
MAX_REMEMBERED = 64


class UnattendedSleep:
    """A RunEngine ``sleep`` command handler (``RE.register_command("sleep", handler)``).

    Parameters
    ----------
    clock : Clock
        The session clock.
    max_jump_s : float
        Longest single virtual-clock jump (ignored on a wall clock).
    between : iterable of callables
        Called (no arguments) after each virtual slice; exceptions are the
        callee's business (they must not raise).
    """

    def __init__(self, clock, *, max_jump_s: float = math.inf,
                 between: Iterable[Callable[[], None]] = ()):
        if not max_jump_s > 0:
            raise ValueError(f"max_jump_s must be positive, got {max_jump_s!r}")
        self.clock = clock
        self.max_jump_s = float(max_jump_s)
        self.between = list(between)
        self._done: OrderedDict[int, tuple[object, float]] = OrderedDict()

    def install(self, RE) -> None:
        RE.register_command("sleep", self)

    async def __call__(self, msg):
        (seconds,) = msg.args
        seconds = float(seconds)
        key = id(msg)
        _, done = self._done.pop(key, (None, 0.0))
        left = max(0.0, seconds - done)
        t0 = self.clock.time()
        try:
            if getattr(self.clock, "kind", "wall") == "virtual":
                await self._virtual(left)
            else:
                await asyncio.sleep(left)
        except asyncio.CancelledError:
            # keep the message itself so its id cannot be reused while remembered
            self._done[key] = (msg, done + max(0.0, self.clock.time() - t0))
            while len(self._done) > MAX_REMEMBERED:
                self._done.popitem(last=False)
            raise

    async def _virtual(self, seconds: float) -> None:
        clock = self.clock
        end = clock.time() + seconds
        while True:
            left = end - clock.time()
            if left <= 0:
                return
            clock.advance(min(left, self.max_jump_s))
            for hook in self.between:
                hook()
            # two turns of the loop: a suspension requested by a hook is started
            # by the first and cancels this coroutine at the second
            await asyncio.sleep(0)
            await asyncio.sleep(0)


__all__ = ["UnattendedSleep"]
