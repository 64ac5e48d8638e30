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


def test_rk4_step_matches_the_exponential_and_reports_its_error():
    """Pure first-order decay (the exchange's Ag uptake, alone): the RK4 step of one
    time constant is within its known truncation error of e⁻¹, and the estimate the
    step control uses is of the size of the third-order error."""
    from photoreactor.sim_devices.reactor.exchange import _KINETIC_CONSTANTS, SHELLS

    shells = SHELLS
    edges = list(np.linspace(0.0, 2.0, shells + 1))
    vf = [1.0 / shells] * shells
    p = np.array(_KINETIC_CONSTANTS + [shells, 1.0, 8.0, 0.0, 0.0, 1.0] + edges + vf)
    y0 = np.zeros(shells + 5)
    y0[shells + 1] = 1.0                                   # free Ag, nothing else
    tau = 1.0 / _KINETIC_CONSTANTS[kinetics.EXCHANGE_CONSTANTS.index("k_ag_uptake")]
    y1, k5, err = kinetics.rk4_step(kinetics.EXCHANGE, y0, tau, 25.0, 25.0, 25.0, p,
                                    kinetics.NO_STAGE, kinetics.NO_STAGE, np.ones(y0.size),
                                    1e-3)
    assert y1[shells + 1] == pytest.approx(1 - 1 + 1 / 2 - 1 / 6 + 1 / 24, rel=1e-12)
    assert y1[shells + 1] + y1[shells + 2] == pytest.approx(1.0, rel=1e-12)   # Ag conserved
    assert k5[shells + 1] == pytest.approx(-y1[shells + 1] / tau, rel=1e-12)
    assert 1.0 < err < 100.0          # |k4 − k5|·τ/6 ≈ 1/24 of ~1, over rtol 1e-3
