"""Mantles on their emulators: cost of a read, of a heat-up, of a long hold, of safe().

* ``trigger_and_read([mantle])`` (IKA: 6 readings = 6 NAMUR queries; Eurotherm:
  6 readings = 8 Modbus reads) against the same on an in-memory ophyd.sim detector;
* ``mv(mantle, 240)`` from 25 °C on the physical reactor model (falls back to the
  minimal world): virtual minutes to settle and the wall time it costs;
* a 24 h hold at 240 °C read hourly (clock jumps): wall time and the band seen;
* ``safe()`` against a controller that stopped answering: wall seconds.
"""

from __future__ import annotations

import time

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky import RunEngine


def _rig(cls: str):
    import photoreactor.sim_devices  # noqa: F401
    from photoreactor.devices.common.transport import close_all_serial
    from photoreactor.devices.mantle.build import build_eurotherm_mantle, build_ika_mantle
    from photoreactor.sim_devices.bench import SimBench, make_world
    from photoreactor.sim_devices.clock import VirtualClock, install_sleep_handler
    from photoreactor.sim_devices.emulators import eurotherm, ika
    from photoreactor.sim_devices.emulators.base import clear_registries

    close_all_serial()
    clear_registries()
    clock = VirtualClock(speed=1000.0)
    world = make_world(clock, {"world": "reactor", "seed": 1,
                               "scenario": {"recipe": "A1_cds_core"}})
    bench = SimBench(clock=clock, world=world, serial_timeout_s=0.2)
    cfg = {"class": cls, "port": "sim://mantle", "max_temperature_c": 300, "timeout_s": 0.2}
    attach, build = {"IkaMantle": (ika.attach, build_ika_mantle),
                     "EurothermMantle": (eurotherm.attach, build_eurotherm_mantle)}[cls]
    emu = attach(bench, "mantle", cfg)
    mantle = build("mantle", cfg, clock)
    RE = RunEngine({})
    install_sleep_handler(RE, clock)
    return RE, mantle, emu, world, clock


def _reads(objs, n):
    for _ in range(n):
        yield from bps.trigger_and_read(objs)


def _hold(mantle, temps: list, hours: int = 24):
    for _ in range(hours):
        yield from bps.sleep(3600)
        temps.append((yield from bps.rd(mantle.temperature)))


def _timed(RE, plan) -> float:
    t0 = time.perf_counter()
    RE(plan)
    return time.perf_counter() - t0


def run(n: int = 100) -> list[dict]:
    from ophyd.sim import det

    rows = []
    for cls in ("IkaMantle", "EurothermMantle"):
        RE, mantle, emu, world, clock = _rig(cls)
        short = cls.replace("Mantle", "")
        baseline = _timed(RE, bpp.run_wrapper(_reads([det], n), md={})) / n
        per_read = _timed(RE, bpp.run_wrapper(_reads([mantle], n), md={})) / n
        rows.append({"name": f"{short} trigger_and_read", "value": per_read * 1e3, "unit": "ms",
                     "baseline": baseline * 1e3, "ratio": per_read / baseline,
                     "note": "baseline: ophyd.sim det, in memory"})

        t0 = clock.time()
        wall = _timed(RE, bps.mv(mantle, 240.0))
        virtual_min = (clock.time() - t0) / 60.0
        rows.append({"name": f"{short} mv 25 -> 240 °C (settled ±1 °C, 30 s)",
                     "value": wall, "unit": "s wall", "baseline": None, "ratio": None,
                     "note": f"{virtual_min:.1f} min virtual ({type(world).__name__})"})

        temps: list[float] = []
        wall = _timed(RE, _hold(mantle, temps))
        rows.append({"name": f"{short} 24 h hold at 240 °C, hourly reads", "value": wall,
                     "unit": "s wall", "baseline": None, "ratio": None,
                     "note": f"band {min(temps):.2f}…{max(temps):.2f} °C"})

        emu.inject("no_reply")
        t0 = time.perf_counter()
        try:
            mantle.safe()
        except Exception as exc:  # expected: the controller is silent
            note = type(exc).__name__
        else:
            note = "unexpectedly succeeded"
        rows.append({"name": f"{short} safe() on a silent controller", "unit": "s wall",
                     "value": time.perf_counter() - t0, "baseline": None, "ratio": None,
                     "note": f"{note} (read timeout 0.2 s, 2 retries)"})
        emu.clear()
        mantle.safe()
        mantle.destroy()
    return rows
