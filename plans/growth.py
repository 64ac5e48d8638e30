"""Core growth stopped on a spectral target (SCIENCE.md A1)."""

from __future__ import annotations

import math

import bluesky.plan_stubs as bps

from photoreactor.analysis.feedback import exciton_observables

from .observables import observables
from .preflight import Requirements
from .safety import experiment
from .stubs import cool_to, heat_to, heater_off, measure_absorbance, take_dark_and_reference


class GrowthStalled(RuntimeError):
    """E1 stopped moving before the target was reached."""


class TargetNotReached(RuntimeError):
    """The maximum time passed before E1 reached the target."""


def _grow_until_requirements(mantle, spectrometer, *, target_e1_nm=403.0, material="CdS",
                             temperature_c=240.0, ramp_c_min=None, interval_s=60.0,
                             max_time_s=3 * 3600.0, stall_nm=0.3, stall_window_s=1800.0,
                             cool_to_c=60.0, solvent="ODE", search_nm=None):
    req = Requirements(solvent=solvent, duration_s=max_time_s + 1800.0)
    req.heat(mantle, temperature_c)
    return req


@experiment(_grow_until_requirements, sample="CdS cores (SCIENCE.md A1)")
def grow_until(mantle, spectrometer, *, target_e1_nm: float = 403.0, material: str = "CdS",
               temperature_c: float = 240.0, ramp_c_min: float | None = None,
               interval_s: float = 60.0, max_time_s: float = 3 * 3600.0, stall_nm: float = 0.3,
               stall_window_s: float = 1800.0, cool_to_c: float | None = 60.0,
               solvent: str = "ODE", search_nm: list | None = None):
    """Grow nanocrystals at temperature until the first exciton reaches a target, then cool.

    Procedure (SCIENCE.md A1 defaults): take dark and reference with the flask at
    room temperature; heat to ``temperature_c``; record an absorbance spectrum
    every ``interval_s`` (shortened near the target so it is not overshot); when
    the smoothed E1 reaches ``target_e1_nm``, switch the heater off and cool.

    Parameters
    ----------
    target_e1_nm : float
        Stop when E1 ≥ this (403 nm: CdS cores of ≈ 3.5 nm).
    material : str
        Sizing curve for the diameter readback: CdS, CdSe or CdTe.
    temperature_c, ramp_c_min : float
        Growth temperature; optional heating ramp.
    interval_s : float
        Longest time between spectra.
    max_time_s : float
        Give up (and cool) after this long at temperature.
    stall_nm, stall_window_s : float
        Growth has stalled when E1 moved less than ``stall_nm`` over ``stall_window_s``.
    cool_to_c : float or None
        Wait until the flask is below this before finishing (None: just switch off).
    solvent : str
        For the boiling-point check.
    search_nm : [lo, hi], optional
        Window searched for E1 (default: the material's sizing-curve range).
    """
    observed = observables("e1_nm", "e1_uncertainty_nm", "e1_absorbance", "diameter_nm",
                           "scattering")

    def analyse(wl, a):
        return exciton_observables(wl, a, material=material, search_nm=search_nm)

    def measure():
        return measure_absorbance(spectrometer, extra=[mantle], analyse=analyse, observed=observed)

    yield from take_dark_and_reference(spectrometer)
    yield from heat_to(mantle, temperature_c, ramp_c_min=ramp_c_min)
    first = yield from measure()
    t0 = first["time"]
    history = [(first["time"], first.get("e1_nm", math.nan))]
    wait = interval_s
    while True:
        latest_t, latest_e1 = history[-1]
        if not math.isnan(latest_e1) and latest_e1 >= target_e1_nm:
            break
        if latest_t - t0 > max_time_s:
            raise TargetNotReached(
                f"E1 is {latest_e1:.1f} nm after {max_time_s / 60:.0f} min at {temperature_c:g} °C; "
                f"target was {target_e1_nm:g} nm")
        _check_stall(history, stall_nm, stall_window_s, target_e1_nm)
        wait = _next_wait(history, target_e1_nm, interval_s)
        yield from bps.sleep(wait)
        m = yield from measure()
        history.append((m["time"], m.get("e1_nm", math.nan)))
    if cool_to_c is not None:
        yield from cool_to(mantle, cool_to_c)
    else:
        yield from heater_off(mantle)
    return history[-1][1]


def _rate_nm_per_s(history, span=3):
    pts = [(t, e) for t, e in history[-span:] if not math.isnan(e)]
    if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
        return math.nan
    return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])


def _next_wait(history, target_nm, interval_s, minimum_s=5.0):
    """Shorten the wait so the next spectrum lands at the target, not past it."""
    rate = _rate_nm_per_s(history)
    e1 = history[-1][1]
    if math.isnan(rate) or rate <= 0 or math.isnan(e1):
        return interval_s
    return max(minimum_s, min(interval_s, 0.8 * (target_nm - e1) / rate))


def _check_stall(history, stall_nm, window_s, target_nm):
    t_last, e_last = history[-1]
    older = [(t, e) for t, e in history if t_last - t >= window_s and not math.isnan(e)]
    if not older or math.isnan(e_last):
        return
    t_old, e_old = older[-1]
    if abs(e_last - e_old) < stall_nm:
        raise GrowthStalled(
            f"E1 moved {e_last - e_old:+.2f} nm in {(t_last - t_old) / 60:.0f} min "
            f"(at {e_last:.1f} nm, target {target_nm:g} nm): growth has stalled")
