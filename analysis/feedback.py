"""What the feedback plans observe in a spectrum: E1, size, band edge, scattering.

Each function combines the pure spectral and sizing functions into the dict of
derived quantities a plan records with the spectrum and decides on.
"""

from __future__ import annotations

import math

import numpy as np

from .sizing import VALID_E1_NM, diameter_nm


def _finite(x) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def scattering_level(wavelengths_nm, absorbance, red_nm: float = 50.0) -> float:
    """Median absorbance over the reddest ``red_nm`` of the spectrum (baseline/scattering)."""
    wl = np.asarray(wavelengths_nm, float)
    a = np.asarray(absorbance, float)
    sel = wl >= wl.max() - red_nm
    vals = a[sel][np.isfinite(a[sel])]
    return float(np.median(vals)) if vals.size else math.nan


def exciton_observables(wavelengths_nm, absorbance, *, material: str = "CdS",
                        search_nm=None) -> dict:
    """E1 (nm), its uncertainty and height, the diameter (nm) and the scattering level."""
    from .spectra import find_e1

    lo, hi = search_nm or VALID_E1_NM.get(material, (350.0, 700.0))
    res = find_e1(np.asarray(wavelengths_nm, float), np.asarray(absorbance, float),
                  search_nm=(lo, hi))
    e1 = _finite(res.e1_nm) if res.found else math.nan
    out = {"e1_nm": e1,
           "e1_uncertainty_nm": _finite(res.uncertainty_nm) if res.found else math.nan,
           "e1_absorbance": _finite(res.absorbance) if res.found else math.nan,
           "scattering": scattering_level(wavelengths_nm, absorbance)}
    out["diameter_nm"] = (float(diameter_nm(e1, material))
                          if not math.isnan(e1) and material in VALID_E1_NM else math.nan)
    return out


def band_edge_observables(wavelengths_nm, absorbance, *, search_ev=(0.9, 2.6)) -> dict:
    """Band-edge (1S–1S) energy in eV from the reddest excitonic feature."""
    from .spectra import find_e1

    lo_nm, hi_nm = 1239.84 / search_ev[1], 1239.84 / search_ev[0]
    res = find_e1(np.asarray(wavelengths_nm, float), np.asarray(absorbance, float),
                  search_nm=(lo_nm, hi_nm))
    e1 = _finite(res.e1_nm) if res.found else math.nan
    return {"e1_nm": e1,
            "band_gap_ev": 1239.84 / e1 if not math.isnan(e1) else math.nan,
            "e1_absorbance": _finite(res.absorbance) if res.found else math.nan,
            "scattering": scattering_level(wavelengths_nm, absorbance)}


def blue_side_fraction(wavelengths_nm, absorbance, e1_nm: float, *, offset_nm=(40.0, 90.0)) -> float:
    """Absorbance blue of E1 relative to the E1 absorbance.

    A new population of small particles (secondary nucleation in a shell
    injection) shows up as absorption rising between ``offset_nm`` below E1;
    the plan compares this fraction before and after each injection.
    """
    wl = np.asarray(wavelengths_nm, float)
    a = np.asarray(absorbance, float)
    if not math.isfinite(e1_nm):
        return math.nan
    at_e1 = np.interp(e1_nm, wl, a)
    sel = (wl >= e1_nm - offset_nm[1]) & (wl <= e1_nm - offset_nm[0]) & np.isfinite(a)
    if not sel.any() or not at_e1 > 0:
        return math.nan
    return float(np.mean(a[sel]) / at_e1)
