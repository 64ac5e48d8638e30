"""What every phenomenon model of the reactor provides, and the shared integrator.

A :class:`Process` owns its state (particles, clusters, products) and reads or
writes the free species of :class:`~photoreactor.sim_devices.reactor.liquid.Liquid`.
The reactor advances all processes over one sub-step after the heat model has
produced the exact contents temperature at the start, middle and end of the
step — precisely the three points classical Runge–Kutta needs.  The chemistry
that runs for hours (nanocrystals, magic-sized clusters, cation exchange) steps
with :class:`StepControl` (error-controlled Dormand–Prince steps, derivative and
step compiled in :mod:`.kinetics`); the light, simple ones (photocatalysis, the D clusters) use
:func:`rk4` with a step limit from their own time scales (:func:`step_from_rates`).
Either way the result does not depend on how the clock is chunked (1-s steps or a
one-hour jump agree to ~1e-5) while slow, steady chemistry takes large steps.
"""

from __future__ import annotations

import math

import numpy as np

from .kinetics import NO_STAGE, STAGE_NODES, Derivative, dormand_prince_step


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

    def bound_derivative(self, key, build) -> Derivative:
        """The process's compiled derivative bound to its conditions: ``build()`` is
        called only when ``key`` (what the parameters depend on) changed since the last
        sub-step, so steady chemistry reuses one parameter vector."""
        made = getattr(self, "_bound", None)
        if made is None or made[0] != key:
            made = self._bound = (key, build())
        return made[1]


def rk4(deriv, y: list, h: float, t0_c: float, tmid_c: float, t1_c: float) -> list:
    """One classical Runge–Kutta step of ``y' = deriv(y, T)`` with T(t) known at 3 points."""
    k1 = deriv(y, t0_c)
    y2 = [a + 0.5 * h * b for a, b in zip(y, k1, strict=False)]
    k2 = deriv(y2, tmid_c)
    y3 = [a + 0.5 * h * b for a, b in zip(y, k2, strict=False)]
    k3 = deriv(y3, tmid_c)
    y4 = [a + h * b for a, b in zip(y, k3, strict=False)]
    k4 = deriv(y4, t1_c)
    h6 = h / 6.0
    return [a + h6 * (b + 2.0 * c + 2.0 * d + e) for a, b, c, d, e in zip(y, k1, k2, k3, k4, strict=False)]


#: relative tolerance of :class:`StepControl` (accuracy measured: see its docstring)
DEFAULT_RTOL = 1e-3
#: how often :class:`StepControl` may halve a part of a step whose error is too large
MAX_HALVINGS = 10


class StepControl:
    """Error-controlled step length for a process with a compiled derivative.

    Each step is one Dormand–Prince 5(4) step (:func:`.kinetics.dormand_prince_step`):
    the fifth-order solution is propagated, its embedded fourth-order companion gives
    the local error estimate, and the derivative at the end is reused as the next
    step's first stage when nothing else changed the state meanwhile ("first same as
    last").  The next step is ``h·0.9·(1/err)^⅕`` (at most ×4, at least ×0.2) with
    the error measured against ``rtol·(|y| + scale)`` per component, ``scale`` being
    the size below which a component counts as absent.  The model takes one global
    sub-step for all processes, so a process may be given a shorter step than it
    asked for (a pump dose, another process, the end of a clock advance); that never
    lowers what it asks next.  A step whose error exceeds the tolerance is redone in
    halves (inside the same sub-step, along the exact temperature path), and
    anything that changes the state from outside (a dose, a withdrawal) calls
    :meth:`reset`, after which the process's own first-step rule applies.

    Measured against a reference integration (rtol 1e-7), one-hour clock jumps at
    ``rtol = 1e-3`` (:data:`DEFAULT_RTOL`) are within 3e-5 on E1 of A1 growth (8
    steps), 1e-5 on the MSC amounts (5 steps) and 1e-6 on E(1S–1S) of the exchange
    (13 steps, held by the diffusion's stability bound); classical RK4 with its
    third-order estimate needed 12 and 9 steps for no better accuracy.
    """

    __slots__ = ("rtol", "floor_s", "ceiling_s", "next_h", "_fsal")

    def __init__(self, rtol: float = DEFAULT_RTOL, floor_s: float = 0.05, ceiling_s: float = 3600.0):
        self.rtol, self.floor_s, self.ceiling_s = rtol, floor_s, ceiling_s
        self.next_h: float | None = None
        self._fsal = None

    def reset(self) -> None:
        self.next_h = None
        self._fsal = None

    def first_stage(self, deriv: Derivative, y: np.ndarray, t0_c: float) -> np.ndarray | None:
        """The derivative at ``(y, T)`` if the last step ended exactly there, with the same
        derivative (a changed parameter — a nucleation episode ending — makes it stale)."""
        fsal = self._fsal
        if (fsal is not None and fsal[3] is deriv and fsal[1] == t0_c
                and fsal[0] == y.tolist()):
            return fsal[2]
        return None

    def step(self, deriv: Derivative, y0: np.ndarray, h: float, model, scale: np.ndarray,
             k1: np.ndarray | None = None) -> np.ndarray:
        """Advance ``y0`` by ``h``; set :attr:`next_h` from the error estimate.

        ``deriv`` is a process's compiled derivative; the step and its error estimate
        are one compiled call (:func:`.kinetics.dormand_prince_step`) along the exact
        temperature path of the sub-step ``model`` is taking.
        """
        temps = model.temperatures_within_step(STAGE_NODES)
        if k1 is None:
            k1 = self.first_stage(deriv, y0, temps[0])
        y1, k_end, h_last, err = self._integrate(deriv, y0, 0.0, 1.0, h, model, scale,
                                                 np.array(temps), k1, 0)
        factor = 4.0 if err <= 1e-12 else min(4.0, max(0.2, 0.9 * err ** -0.2))
        proposed = h_last * factor
        if self.next_h is not None and h < self.next_h and err < 1.0:
            proposed = max(proposed, self.next_h)     # a shortened step says nothing new
        self.next_h = min(self.ceiling_s, max(self.floor_s, proposed))
        self._fsal = (y1.tolist(), temps[-1], k_end, deriv)
        return y1

    def _integrate(self, deriv, y0, a, b, h, model, scale, temps, k1, depth):
        """``y0`` over the fractions ``a``..``b`` of the sub-step; a part whose error
        exceeds the tolerance is done again as two halves (down to :attr:`floor_s`),
        so no step is accepted with its error above the tolerance (a nucleation
        burst starting inside a 1-s heat step was, at 150× it).  Returns the end
        state, the derivative there, and the length and error of the last part."""
        length = (b - a) * h
        y1, k_end, err = dormand_prince_step(deriv.kind, y0, length, temps, deriv.p, deriv.aux,
                                             NO_STAGE if k1 is None else k1, scale, self.rtol)
        if err <= 1.0 or length <= 2.0 * self.floor_s or depth >= MAX_HALVINGS:
            return y1, k_end, length, err
        mid = 0.5 * (a + b)
        halves = []
        for lo, hi in ((a, mid), (mid, b)):
            halves.append(np.array(model.temperatures_within_step(
                [lo + c * (hi - lo) for c in STAGE_NODES])))
        y_mid, k_mid, _, _ = self._integrate(deriv, y0, a, mid, h, model, scale, halves[0], k1,
                                             depth + 1)
        return self._integrate(deriv, y_mid, mid, b, h, model, scale, halves[1], k_mid,
                               depth + 1)


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
