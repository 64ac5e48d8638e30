"""The compiled chemistry (numba): self-contained, and the same as its definition."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from photoreactor.sim_devices.reactor import kinetics


def test_compiled_code_reads_nothing_from_other_modules():
    """numba's on-disk cache is invalidated only by edits of kinetics.py itself: compiled
    code importing a constant or function from another project module would keep a
    stale copy of it after that module changed (silently wrong chemistry)."""
    tree = ast.parse(Path(kinetics.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import in kinetics.py (line {node.lineno})"
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "math", "numpy", "numba"}


def test_arrhenius_is_the_textbook_formula():
    k = kinetics.arrhenius(2.0, 100.0, 250.0, 240.0)
    expected = 2.0 * math.exp(-100e3 / 8.314462618 * (1 / 523.15 - 1 / 513.15))
    assert k == pytest.approx(expected, rel=1e-14)
    assert kinetics.arrhenius(2.0, 100.0, 240.0, 240.0) == 2.0


def _ag_uptake_only():
    """The exchange derivative with free Ag and nothing else: pure first-order uptake."""
    from photoreactor.sim_devices.reactor.exchange import _KINETIC_CONSTANTS, SHELLS

    edges = list(np.linspace(0.0, 2.0, SHELLS + 1))
    p = np.array(_KINETIC_CONSTANTS + [SHELLS, 1.0, 8.0, 0.0, 0.0, 1.0] + edges
                 + [1.0 / SHELLS] * SHELLS)
    y0 = np.zeros(SHELLS + 5)
    y0[SHELLS + 1] = 1.0
    tau = 1.0 / _KINETIC_CONSTANTS[kinetics.EXCHANGE_CONSTANTS.index("k_ag_uptake")]
    return p, y0, tau, SHELLS + 1


def _integrate(p, y0, t_end, n):
    y, err = y0, 0.0
    for _ in range(n):
        y, _, e = kinetics.dormand_prince_step(kinetics.EXCHANGE, y, t_end / n, np.full(6, 25.0),
                                               p, kinetics.NO_STAGE, kinetics.NO_STAGE,
                                               np.ones(y0.size), 1e-3)
        err = max(err, e)
    return y, err


def test_dormand_prince_step_is_fifth_order_and_conserves():
    """Free Ag taken up by the particles (first order, one time constant τ): the global
    error falls 2⁵× per halving of the step (a wrong tableau entry would break the
    order), the total Ag is conserved, and the error estimate (fourth-order companion)
    shrinks like h⁵ too."""
    p, y0, tau, ag = _ag_uptake_only()
    exact = math.exp(-1.0)
    (y4, e4), (y8, e8) = _integrate(p, y0, tau, 4), _integrate(p, y0, tau, 8)
    ratio = abs(y4[ag] - exact) / abs(y8[ag] - exact)
    assert 24.0 < ratio < 40.0
    assert y8[ag] == pytest.approx(exact, rel=1e-6)
    assert y8[ag] + y8[ag + 1] == pytest.approx(1.0, rel=1e-12)
    assert 20.0 < e4 / e8 < 45.0


def test_the_step_follows_the_temperature_at_its_stages():
    """Each stage sees the temperature at its own point of the step: a rate that depends
    on T integrates along the path — here TOP extracting Ag (Arrhenius) during a linear
    ramp 40 → 60 °C."""
    from photoreactor.sim_devices.reactor.exchange import _KINETIC_CONSTANTS, SHELLS

    consts = dict(zip(kinetics.EXCHANGE_CONSTANTS, _KINETIC_CONSTANTS, strict=True))
    edges = list(np.linspace(0.0, 2.0, SHELLS + 1))
    p = np.array(_KINETIC_CONSTANTS + [SHELLS, 1.0, 8.0, 0.0, 1.0, 1.0] + edges
                 + [1.0 / SHELLS] * SHELLS)
    y0 = np.zeros(SHELLS + 5)
    y0[SHELLS + 2] = 1.0                                 # Ag in the particles, TOP present
    h = 600.0
    ramp = np.array([40.0 + 20.0 * c for c in kinetics.STAGE_NODES])
    y1, _, _ = kinetics.dormand_prince_step(kinetics.EXCHANGE, y0, h, ramp, p,
                                            kinetics.NO_STAGE, kinetics.NO_STAGE,
                                            np.ones(y0.size), 1e-3)
    ts = np.linspace(0.0, h, 20001)
    rate = [kinetics.arrhenius(consts["k_ag_ext"], consts["k_ag_ext_ea"], 40.0 + 20.0 * t / h,
                               consts["k_ag_ext_ref_c"]) for t in ts]
    exact = math.exp(-np.trapezoid(rate, ts))
    assert y1[SHELLS + 2] == pytest.approx(exact, rel=1e-5)      # one 10-min step, rate ×4
    flat, _, _ = kinetics.dormand_prince_step(kinetics.EXCHANGE, y0, h, np.full(6, 50.0), p,
                                              kinetics.NO_STAGE, kinetics.NO_STAGE,
                                              np.ones(y0.size), 1e-3)
    assert abs(flat[SHELLS + 2] / exact - 1) > 1e-3           # the ramp really matters


def test_a_step_whose_error_is_too_large_is_redone_in_halves():
    """Eight time constants of Ag uptake in one step: a single Dormand–Prince step is far
    outside its stability interval (it would return ≈ 274 for e⁻⁸); the step control
    redoes it in halves until each part meets the tolerance (1e-3 of |y| + 1 per part,
    so a few 1e-3 in all)."""
    from photoreactor.sim_devices.reactor.base import StepControl

    class FlatTemperature:          # the model's side of a sub-step at 25 °C throughout
        def temperatures_within_step(self, fractions):
            return [25.0] * len(fractions)

    p, y0, tau, ag = _ag_uptake_only()
    control = StepControl()
    y = control.step(kinetics.Derivative(kinetics.EXCHANGE, p), y0, 8.0 * tau,
                     FlatTemperature(), np.ones(y0.size))
    assert y[ag] == pytest.approx(math.exp(-8.0), abs=1e-2)
    assert y[ag] + y[ag + 1] == pytest.approx(1.0, rel=1e-12)
    assert control.next_h < 8.0 * tau
