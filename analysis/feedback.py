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


def scattering_level(wavelengths_nm, absorbance, window_nm=(150.0, 250.0)) -> float:
    """Median absorbance in a band ``window_nm`` below the red end (baseline/scattering).

    Far red of every absorption edge the plans follow, but clear of the detector's
    last pixels where the lamp is weak and the noise large.
    """
    wl = np.asarray(wavelengths_nm, float)
    a = np.asarray(absorbance, float)
    sel = (wl >= wl.max() - window_nm[1]) & (wl <= wl.max() - window_nm[0])
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


def band_edge_observables(wavelengths_nm, absorbance, *, search_ev=(1.15, 2.6),
                          window_ev: float = 0.1) -> dict:
    """Band-edge (1S–1S) energy in eV from the lowest-energy second-derivative minimum.

    Alloyed and exchanging particles have broad edges (FWHM ≈ 0.2 eV) that a
    peak finder misses; the second derivative on an energy grid (SCIENCE.md B's
    method, :func:`~photoreactor.analysis.spectra.band_gap_ev`) follows them.  The
    search stays clear of the detector's ends, where the lamp is weak.
    """
    from .spectra import band_gap_ev

    wl = np.asarray(wavelengths_nm, float)
    a = np.asarray(absorbance, float)
    edge_nm = 0.04 * (wl.max() - wl.min())
    lo_ev = max(search_ev[0], 1239.84 / (wl.max() - edge_nm))
    hi_ev = min(search_ev[1], 1239.84 / (wl.min() + edge_nm))
    gap = _finite(band_gap_ev(wl, a, search_ev=(lo_ev, hi_ev), window_ev=window_ev))
    e1 = 1239.84 / gap if math.isfinite(gap) else math.nan
    return {"e1_nm": e1, "band_gap_ev": gap,
            "e1_absorbance": float(np.interp(e1, wl, a)) if math.isfinite(e1) else math.nan,
            "scattering": scattering_level(wl, a)}


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
