"""What every phenomenon model of the reactor provides, and the shared integrator.

A :class:`Process` owns its state (particles, clusters, products) and reads or
writes the free species of :class:`~photoreactor.sim_devices.reactor.liquid.Liquid`.
The reactor advances all processes over one sub-step after the heat model has
produced the exact contents temperature at the start, middle and end of the
step — precisely the three points classical Runge–Kutta needs — so a process
integrates with :func:`rk4` and a step limit from its own time scales
(:func:`step_from_rates`): about a twentieth of the fastest relative rate.  That
keeps the result independent of how the clock is chunked (1 s steps or a one-hour
jump agree to ~1e-6) while letting slow, steady chemistry take large steps.
"""

from __future__ import annotations

import math


class Process:
    """A phenomenon of the reactor (one per module)."""

    name = "process"

    def active(self, model) -> bool:
        """Does anything evolve (cheap check; inactive processes are skipped)."""
        return False

    def step_limit_s(self, model, temperature_c: float) -> float:
        return math.inf

    def advance(self, model, dt_s: float, t0_c: float, tmid_c: float, t1_c: float) -> None:
        """Advance the process state by ``dt_s`` along the given temperature path."""

    def scale(self, keep: float) -> None:
        """A fraction ``1 - keep`` of the flask was withdrawn."""

    def on_dose(self, model, species: str) -> None:
        """A reagent carrying ``species`` just arrived (by pump or by hand)."""

    def bands(self, model) -> list:
        """Absorption bands (see :mod:`.spectra`)."""
        return []

    def emission_lines(self, model, excitation_nm: float) -> list:
        """Emission lines per unit excitation (see :mod:`.spectra`)."""
        return []

    def state(self, model) -> dict:
        return {}


def rk4(deriv, y: list, h: float, t0_c: float, tmid_c: float, t1_c: float,
        k1: list | None = None) -> list:
    """One classical Runge–Kutta step of ``y' = deriv(y, T)`` with T(t) known at 3 points.

    ``k1`` may pass the derivative at the start when the caller already has it.
    """
    if k1 is None:
        k1 = deriv(y, t0_c)
    y2 = [a + 0.5 * h * b for a, b in zip(y, k1, strict=False)]
    k2 = deriv(y2, tmid_c)
    y3 = [a + 0.5 * h * b for a, b in zip(y, k2, strict=False)]
    k3 = deriv(y3, tmid_c)
    y4 = [a + h * b for a, b in zip(y, k3, strict=False)]
    k4 = deriv(y4, t1_c)
    h6 = h / 6.0
    return [a + h6 * (b + 2.0 * c + 2.0 * d + e) for a, b, c, d, e in zip(y, k1, k2, k3, k4, strict=False)]


def step_from_rates(y: list, dy: list, atol: list, fraction: float = 0.05,
                    floor_s: float = 0.05, ceiling_s: float = 3600.0) -> float:
    """Largest step keeping every component's relative change below ``fraction``.

    ``atol`` gives, per component, the scale below which a value counts as zero
    (so a species being created from nothing does not force tiny steps forever).
    """
    h = ceiling_s
    for a, b, tol in zip(y, dy, atol, strict=False):
        if b != 0.0:
            h = min(h, fraction * (abs(a) + tol) / abs(b))
    return max(h, floor_s)


def clamp_nonnegative(y: list) -> list:
    return [a if a > 0.0 else 0.0 for a in y]
