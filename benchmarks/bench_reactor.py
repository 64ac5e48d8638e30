"""Reactor model: wall time to advance virtual time and render a 2048-pixel spectrum.

Each case advances a prepared model by one virtual hour in a single clock jump
(the way a plan's ``bps.sleep(3600)`` arrives) and renders the absorbance on a
2048-pixel spectrometer grid.  The baseline is one plain numpy evaluation of a
Gaussian band on the same 2048 pixels, timed in the same run, so the ratio says
how many "Gaussians worth" of work an hour of chemistry plus a spectrum costs.

Cases:

* steady hot hold — doped cores at 240 °C under PI regulation, nothing reacting;
* photocatalysis — A3 standard at 5 mW/cm² (and the whole 55 h in one jump);
* active growth — A1 at 240 °C while the cores grow (the most expensive chemistry);
* magic-sized clusters — C standard at 100 °C in the first hours;
* cation exchange — E (Hg + Ag) injected into a flask held at 80 °C, the first hour
  (the cold injection's disturbance of the regulation included: the controller is
  sampled every second or two until it has recovered) and the second hour.

What keeps these cheap (see :mod:`photoreactor.sim_devices.reactor.model`): held
regulation once a controller has converged, error-controlled Dormand–Prince 5(4)
steps per process along the heat model's exact temperature path, quasi-steady
monomer pools during growth, and compiled derivatives with the whole step
(:mod:`photoreactor.sim_devices.reactor.kinetics`), so what remains is the Python
bookkeeping of ~3–13 sub-steps per hour (≈ 55 in the hour of a cold injection,
most of them the controller's recovery sampled every second or two).

Run standalone: ``python -m benchmarks.bench_reactor``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from photoreactor.sim_devices.reactor.fidelity import RampSoakLaw, make_model

PIXELS = np.linspace(200.0, 1100.0, 2048)
HOUR = 3600.0


def _baseline_gaussian_s(repeats: int = 2000) -> float:
    x = PIXELS
    t0 = time.perf_counter()
    for _ in range(repeats):
        np.exp(-0.5 * ((x - 450.0) / 12.0) ** 2) * 0.8
    return (time.perf_counter() - t0) / repeats


def _prepared(case: str):
    if case == "steady hot hold (240 °C)":
        model, clock = make_model("A2_shell", temperature_c=240.0)
        model.attach_heater_controller(RampSoakLaw(240.0, world=model))
        clock.advance(2 * HOUR)
    elif case == "photocatalysis A3 (5 mW/cm²)":
        model, clock = make_model("A3_photocatalysis")
        model.set_light("led", 460.0, 5.0)
        clock.advance(HOUR)
    elif case == "active growth A1 (240 °C)":
        model, clock = make_model("A1_cds_core", temperature_c=230.0)
        model.attach_heater_controller(RampSoakLaw(240.0, world=model))
        clock.advance(600.0)
    elif case == "magic-sized clusters C (100 °C)":
        model, clock = make_model("C_cdte_msc", temperature_c=100.0)
        model.attach_heater_controller(RampSoakLaw(100.0, world=model))
        clock.advance(0.5 * HOUR)
    elif case == "cation exchange E (80 °C)":
        model, clock = make_model("E_exchange", temperature_c=80.0)
        model.attach_heater_controller(RampSoakLaw(80.0, world=model))
        clock.advance(0.5 * HOUR)      # the flask held at 80 °C before the injection
        cd = model.recipe_options["cd_umol"] * 1e-3
        model.inject("Hg", 1.5 * cd, solvent="OAm", volume_ml=1.5 * cd / 0.1)
        model.inject("Ag", 0.075 * cd, solvent="OAm", volume_ml=0.075 * cd / 0.02)
    elif case == "cation exchange E, 2nd hour":
        model, clock = _prepared("cation exchange E (80 °C)")
        clock.advance(HOUR)
    else:
        raise KeyError(case)
    model.update()
    model.absorbance(PIXELS)    # a session renders all the time: one-off tables are built
    return model, clock


def _hour_and_spectrum(model, clock, hours: float = 1.0) -> tuple[float, int]:
    n0 = model.substeps
    t0 = time.perf_counter()
    clock.advance(hours * HOUR)
    model.absorbance(PIXELS)
    return time.perf_counter() - t0, model.substeps - n0


def run(full: bool = False) -> list[dict]:
    base = _baseline_gaussian_s()
    rows = []
    cases = ["steady hot hold (240 °C)", "photocatalysis A3 (5 mW/cm²)",
             "active growth A1 (240 °C)", "magic-sized clusters C (100 °C)",
             "cation exchange E (80 °C)", "cation exchange E, 2nd hour"]
    repeats = 5 if full else 3
    for case in cases:
        walls, steps = [], 0
        for _ in range(repeats):
            model, clock = _prepared(case)
            wall, steps = _hour_and_spectrum(model, clock)
            walls.append(wall)
        wall = min(walls)
        rows.append({"name": f"reactor: 1 h + 2048-px spectrum, {case}", "value": wall * 1e3,
                     "unit": "ms", "baseline": base * 1e3, "ratio": wall / base,
                     "note": f"{steps} sub-steps"})
    model, clock = make_model("A3_photocatalysis")
    model.set_light("led", 460.0, 5.0)
    wall, steps = _hour_and_spectrum(model, clock, hours=55.0)
    rows.append({"name": "reactor: 55 h photocatalysis jump + spectrum", "value": wall * 1e3,
                 "unit": "ms", "baseline": base * 1e3, "ratio": wall / base,
                 "note": f"{steps} sub-steps"})
    model, clock = _prepared("active growth A1 (240 °C)")
    t0 = time.perf_counter()
    n = 200
    for _ in range(n):
        model.absorbance(PIXELS)
    render = (time.perf_counter() - t0) / n
    rows.append({"name": "reactor: render 2048-px absorbance (A1 cores)", "value": render * 1e6,
                 "unit": "µs", "baseline": base * 1e6, "ratio": render / base,
                 "note": f"{len(model.bands())} bands"})
    return rows


if __name__ == "__main__":      # pragma: no cover
    for r in run(full="--full" in sys.argv):
        print(f"{r['name']:60s} {r['value']:10.3f} {r['unit']:3s} baseline "
              f"{r['baseline']:.4f} ratio {r['ratio']:8.1f}  {r['note']}")
