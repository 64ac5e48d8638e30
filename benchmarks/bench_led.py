"""LED + power meter on their emulators: cost of a read, of a light change, of a long exposure.

* ``trigger_and_read([led])`` (7 readings, ~9 SCPI exchanges) against the same
  on an in-memory ophyd.sim detector;
* one ``set_irradiance`` (current, output on, verification);
* a 55 h exposure at 5 mW/cm² with hourly dose readings on the virtual clock,
  and the dose error against irradiance × time.
"""

from __future__ import annotations

import time

import bluesky.plan_stubs as bps
from bluesky import RunEngine

CAL = {"current_a": [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0],
       "irradiance_mw_cm2": [0.0, 0.9, 1.9, 3.9, 9.8, 19.5, 38.5, 75.0, 109.0, 141.0, 170.0],
       "date": "2026-11-01", "sensor": "S121C"}


def _rig():
    import photoreactor.sim_devices  # noqa: F401
    from photoreactor.devices.led.build import build_dc2200
    from photoreactor.sim_devices.bench import SimBench
    from photoreactor.sim_devices.clock import VirtualClock, install_sleep_handler
    from photoreactor.sim_devices.emulators import dc2200
    from photoreactor.sim_devices.emulators.base import clear_registries
    from photoreactor.sim_devices.world import MinimalReactor

    clear_registries()
    clock = VirtualClock(speed=1000.0)
    bench = SimBench(clock=clock, world=MinimalReactor(clock))
    cfg = {"class": "DC2200Led", "resource": "USB0::0x1313::0x80C8::M00000001::INSTR",
           "visa_backend": "@emulator", "wavelength_nm": 460, "calibration": CAL}
    dc2200.attach(bench, "led", cfg)
    led = build_dc2200("led", cfg, clock)
    RE = RunEngine({})
    install_sleep_handler(RE, clock)
    return RE, led, clock


def _reads(objs, n):
    for _ in range(n):
        yield from bps.trigger_and_read(objs)


def run(n: int = 200) -> list[dict]:
    from ophyd.sim import det

    RE, led, clock = _rig()

    def timed(plan):
        t0 = time.perf_counter()
        RE(plan)
        return time.perf_counter() - t0

    baseline = timed(_wrap(_reads([det], n))) / n
    per_read = timed(_wrap(_reads([led], n))) / n

    def switches():
        for i in range(n):
            yield from bps.mv(led.irradiance, 5.0 if i % 2 == 0 else 0.0)

    per_switch = timed(switches()) / n

    def exposure():
        yield from bps.mv(led.irradiance, 5.0)
        led.reset_dose()
        for _ in range(55):
            yield from bps.sleep(3600)
            yield from bps.rd(led.energy_dose)
        reading = yield from bps.read(led.energy_dose)
        yield from bps.mv(led.irradiance, 0.0)
        value = reading[led.energy_dose.name]
        # the reading's own timestamp: the virtual clock keeps running while we look
        return value["value"], value["timestamp"] - led._dose.reset_time

    t0 = time.perf_counter()
    energy, seconds = _run_returning(RE, exposure())
    wall = time.perf_counter() - t0
    err = abs(energy - 5.0 * seconds) / (5.0 * seconds)
    return [
        {"name": "LED trigger_and_read (emulated DC2200)", "value": per_read * 1e3, "unit": "ms",
         "baseline": baseline * 1e3, "ratio": per_read / baseline,
         "note": "baseline: ophyd.sim det, in memory"},
        {"name": "LED set_irradiance round trip", "value": per_switch * 1e3, "unit": "ms",
         "baseline": None, "ratio": None, "note": "current + output + verification, SYST:ERR? on"},
        {"name": "55 h exposure, hourly dose reads", "value": wall, "unit": "s wall",
         "baseline": None, "ratio": None,
         "note": f"{seconds / 3600:.1f} h virtual; dose vs 5 mW/cm² × t: {err:.1e} relative"},
    ]


def _wrap(plan):
    import bluesky.preprocessors as bpp

    return bpp.run_wrapper(plan, md={})


def _run_returning(RE, plan):
    result = {}

    def wrapper():
        result["value"] = yield from plan

    RE(wrapper())
    return result["value"]
