"""Nanocrystal size, extinction and concentration from the first exciton.

Sizing curves and extinction coefficients of Yu, Qu, Guo and Peng,
*Chem. Mater.* 15, 2854 (2003), as quoted in SCIENCE.md ("Shared physics"):
diameter ``D`` in nm from the first-exciton wavelength ``λ`` (E1) in nm, and the
molar extinction coefficient at E1 in L mol⁻¹ cm⁻¹.

All functions accept scalars or numpy arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

#: polynomial coefficients, highest power first (numpy.polyval order)
SIZING_POLYNOMIALS = {
    "CdS": (-6.6521e-8, 1.9557e-4, -9.2352e-2, 13.29),
    "CdSe": (1.6122e-9, -2.6575e-6, 1.6242e-3, -0.4277, 41.57),
    "CdTe": (9.8127e-7, -1.7147e-3, 1.0064, -194.84),
}

#: ε(E1) = prefactor · D**exponent  (L mol⁻¹ cm⁻¹, D in nm)
EXTINCTION = {"CdS": (21536.0, 2.3), "CdSe": (5857.0, 2.65), "CdTe": (10043.0, 2.12)}

#: E1 ranges (nm) over which the published fits were made; outside them we refuse
VALID_E1_NM = {"CdS": (300.0, 480.0), "CdSe": (450.0, 660.0), "CdTe": (500.0, 720.0)}


def _material(material: str) -> str:
    if material not in SIZING_POLYNOMIALS:
        raise ValueError(f"no sizing curve for {material!r}; have {sorted(SIZING_POLYNOMIALS)}")
    return material


def diameter_nm(e1_nm, material: str = "CdS"):
    """Particle diameter (nm) from the first-exciton wavelength (nm)."""
    return np.polyval(SIZING_POLYNOMIALS[_material(material)], np.asarray(e1_nm, float))


def e1_nm_from_diameter(d_nm, material: str = "CdS"):
    """Inverse sizing curve: E1 wavelength (nm) of particles of diameter ``d_nm``.

    Solved numerically on the curve's monotonic range; sizes beyond the fitted
    range raise ``ValueError`` rather than extrapolate silently.
    """
    poly = SIZING_POLYNOMIALS[_material(material)]
    lo, hi = VALID_E1_NM[material]
    d_lo, d_hi = np.polyval(poly, lo), np.polyval(poly, hi)

    def solve(d):
        if not d_lo <= d <= d_hi:
            raise ValueError(f"{material} diameter {d:.2f} nm is outside the sizing curve's "
                             f"range {d_lo:.2f}–{d_hi:.2f} nm")
        return brentq(lambda lam: np.polyval(poly, lam) - d, lo, hi, xtol=1e-6)

    d = np.asarray(d_nm, float)
    if d.ndim == 0:
        return float(solve(float(d)))
    return np.array([solve(x) for x in d.ravel()]).reshape(d.shape)


def extinction_l_mol_cm(d_nm, material: str = "CdS"):
    """Molar extinction coefficient at E1 (L mol⁻¹ cm⁻¹) for diameter ``d_nm``."""
    a, p = EXTINCTION[_material(material)]
    return a * np.asarray(d_nm, float) ** p


def concentration_mol_l(absorbance, e1_nm, material: str = "CdS", path_length_cm: float = 1.0,
                        dilution_factor: float = 1.0):
    """Particle concentration (mol/L) by Beer–Lambert, A = ε c L.

    ``dilution_factor`` is the ratio total/aliquot volume of a diluted aliquot
    (e.g. 50 µL into 5 mL toluene → 101), so the result is the concentration in
    the flask.
    """
    eps = extinction_l_mol_cm(diameter_nm(e1_nm, material), material)
    return np.asarray(absorbance, float) / (eps * path_length_cm) * dilution_factor


# ---------------------------------------------------------------------------
# HgSe / HgₓCd₁₋ₓSe (cation exchange, SCIENCE.md E)
# ---------------------------------------------------------------------------

#: absorbance at 400 nm per µM of particles, per cm: coefficient · d³ (d in nm)
A400_PER_UM_COEFF = {"CdSe": 0.0119, "HgSe": 0.0317}

#: bulk band gaps (eV); the HgₓCd₁₋ₓSe alloy is taken linear in x (SCIENCE.md E)
BULK_GAP_EV = {"CdSe": 1.74, "HgSe": -0.06}


def _hg_fraction(x):
    x = np.asarray(x, float)
    if np.any((x < 0) | (x > 1)):
        raise ValueError(f"Hg fraction x must lie in 0…1, got {x}")
    return x


def absorbance_400_per_um(d_nm, hg_fraction=0.0):
    """Absorbance at 400 nm of 1 µM particles in a 1 cm path (HgₓCd₁₋ₓSe, linear in x).

    ``(1 − x)·0.0119·d³ + x·0.0317·d³`` — at 400 nm, far above the band edge,
    absorption scales with the particle volume and barely with confinement,
    which is why it is the standard way to count particles through an exchange.
    """
    x = _hg_fraction(hg_fraction)
    d3 = np.asarray(d_nm, float) ** 3
    return ((1 - x) * A400_PER_UM_COEFF["CdSe"] + x * A400_PER_UM_COEFF["HgSe"]) * d3


def concentration_um_from_a400(absorbance_400, d_nm, hg_fraction=0.0, path_length_cm: float = 1.0,
                               dilution_factor: float = 1.0):
    """Particle concentration (µM) in the flask from the absorbance at 400 nm."""
    per_um = absorbance_400_per_um(d_nm, hg_fraction) * path_length_cm
    return np.asarray(absorbance_400, float) / per_um * dilution_factor


def alloy_bulk_gap_ev(hg_fraction):
    """Bulk band gap (eV) of HgₓCd₁₋ₓSe, linear between CdSe 1.74 and HgSe −0.06 eV."""
    x = _hg_fraction(hg_fraction)
    return (1 - x) * BULK_GAP_EV["CdSe"] + x * BULK_GAP_EV["HgSe"]


def hg_fraction_from_gap(gap_ev, initial_gap_ev):
    """Apparent Hg fraction x from the shift of the 1S–1S transition during exchange.

    Assumes the confinement energy (measured gap − bulk gap of the starting
    CdSe) stays constant while the bulk gap follows :func:`alloy_bulk_gap_ev`:
    ``x = (E₀ − E) / (1.74 + 0.06)``, clipped to 0…1.  The confinement of
    HgSe-rich particles is in truth larger (lighter electron), so this
    *underestimates* x near completion — use it as a progress coordinate
    (e.g. to stop a titration at a target gap), not as an assay.
    """
    span = BULK_GAP_EV["CdSe"] - BULK_GAP_EV["HgSe"]
    x = (np.asarray(initial_gap_ev, float) - np.asarray(gap_ev, float)) / span
    return np.clip(x, 0.0, 1.0)
