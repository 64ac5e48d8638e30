"""Virtual clock: 1000 plan sleeps of 600 s vs 1000 zero-length sleeps on a bare RunEngine."""

from __future__ import annotations

import time

import bluesky.plan_stubs as bps
from bluesky import RunEngine

from photoreactor.sim_devices.clock import VirtualClock, install_sleep_handler


def _plan(n, seconds):
    for _ in range(n):
        yield from bps.sleep(seconds)


def run(n: int = 1000) -> list[dict]:
    bare = RunEngine({})
    t0 = time.perf_counter()
    bare(_plan(n, 0))
    baseline = time.perf_counter() - t0

    clock = VirtualClock(speed=1000)
    RE = RunEngine({})
    install_sleep_handler(RE, clock)
    v0 = clock.time()
    t0 = time.perf_counter()
    RE(_plan(n, 600))
    wall = time.perf_counter() - t0
    virtual = clock.time() - v0
    return [
        {"name": f"{n} x bps.sleep(600) on the virtual clock", "value": wall, "unit": "s wall",
         "baseline": baseline, "ratio": wall / baseline,
         "note": f"baseline: {n} x sleep(0) on a bare RunEngine; {virtual / 3600:.0f} h virtual"},
        {"name": "virtual seconds per wall second (sleep-bound plan)", "value": virtual / wall,
         "unit": "x", "baseline": None, "ratio": None, "note": ""},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
