"""Simulated spectrometer: frame rendering cost and a full trigger on the virtual clock."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from photoreactor.devices.spectrometer.build import build_ocean_spectrometer
from photoreactor.sim_devices.clock import VirtualClock
from photoreactor.sim_devices.emulators.base import clear_registries
from photoreactor.sim_devices.emulators.seabreeze import attach
from photoreactor.sim_devices.world import MinimalReactor


def _per_call(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def run(n: int = 200) -> list[dict]:
    clear_registries()
    clock = VirtualClock(speed=1000.0)
    world = MinimalReactor(clock)
    world.set_light("led", 455.0, 5.0)
    cfg = {"class": "OceanSpectrometer", "backend": "emulator", "serial_number": "BENCH-1",
           "model": "FLAME-S", "integration_time_ms": 10, "scans_to_average": 4}
    emu = attach(SimpleNamespace(clock=clock, world=world), "spectrometer", cfg)
    rng = np.random.default_rng(0)
    baseline = _per_call(lambda: rng.standard_normal(emu.pixels), n)
    render = _per_call(lambda: emu.render(0.01, 1.0), n)

    dev = build_ocean_spectrometer("spectrometer", cfg, clock)
    for mode in ("dark", "reference"):
        dev.mode.put(mode)
        dev.trigger().wait(10)
    dev.mode.put("absorbance")
    trigger = _per_call(lambda: dev.trigger().wait(10), max(n // 10, 5))
    dev.destroy()
    clear_registries()
    return [
        {"name": "render one 2048-px frame (lamp+sample+LED)", "value": render * 1e3, "unit": "ms",
         "baseline": baseline * 1e3, "ratio": render / baseline,
         "note": "baseline: 2048 Gaussian draws; target < 1 ms"},
        {"name": "absorbance trigger, 4 x 10 ms, virtual 1000x", "value": trigger * 1e3,
         "unit": "ms wall", "baseline": 40.0 / 1000.0, "ratio": trigger / 40e-6,
         "note": "baseline: 40 ms exposure at 1000x (threads + rendering dominate)"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
