"""Synthetic spectra with known answers, shared by the analysis tests.

Nothing here is used by the package: these are the test's ground truth.
Quantum-dot spectra are built in energy (transitions are Gaussian in energy)
on a slightly non-uniform wavelength axis like a real 2048-pixel calibration.
"""

from __future__ import annotations

import numpy as np

HC = 1239.84


def wavelength_axis(pixels: int = 2048, lo_nm: float = 200.0, hi_nm: float = 1100.0) -> np.ndarray:
    """A Flame-S-like calibration: ascending, slightly non-uniform."""
    x = np.arange(pixels) / (pixels - 1)
    return lo_nm + (hi_nm - lo_nm) * x - 15.0 * x * (1.0 - x)


def gaussian(x, centre, sigma, height=1.0):
    return height * np.exp(-0.5 * ((np.asarray(x, float) - centre) / sigma) ** 2)


def qd_absorbance(wl, e1_nm, *, e1_height=0.3, sigma_ev=0.05, scatter_at_400=0.0,
                  noise=0.0, n=1, seed=0, offset=0.0, shoulder_only=False):
    """A CdS-like quantum-dot spectrum: E1, E2, a higher transition and a continuum.

    ``shoulder_only`` puts a strong higher transition close enough that E1 is a
    shoulder with no local maximum.
    """
    e = HC / np.asarray(wl, float)
    e1 = HC / e1_nm
    a = gaussian(e, e1, sigma_ev, e1_height)
    if shoulder_only:
        a += gaussian(e, e1 + 0.16, 0.07, 3.0 * e1_height)
    else:
        a += gaussian(e, e1 + 0.14, 1.5 * sigma_ev, 0.6 * e1_height)
    a += gaussian(e, e1 + 0.45, 0.12, 1.2 * e1_height)
    a += 2.0 * e1_height / (1.0 + np.exp(-(e - (e1 + 0.6)) / 0.12))
    a = a + scatter_at_400 * (np.asarray(wl) / 400.0) ** -4 + offset
    a = np.broadcast_to(a, (n, a.size)).copy()
    if noise:
        a += np.random.default_rng(seed).normal(0.0, noise, a.shape)
    return a[0] if n == 1 else a


def msc_absorbance(wl, *, msc449=0.0, msc469=0.0, precursor430=0.0, qd_band=0.0,
                   qd_centre_nm=510.0, scatter_at_400=0.0, noise=0.0, seed=0):
    """CdTe magic-sized-cluster mixtures (SCIENCE.md C) with known composition.

    449 nm MSC: sharp E1 (FWHM 12 nm) with a 405 nm shoulder; second magic
    species 469/427 nm; broad precursor complex at ≈ 430 nm (FWHM 60 nm);
    broad QD band (FWHM 50 nm) at ``qd_centre_nm``.
    """
    wl = np.asarray(wl, float)
    fw = 2.3548
    a = gaussian(wl, 449.0, 12.0 / fw, msc449) + gaussian(wl, 405.0, 10.0 / fw, 0.5 * msc449)
    a += gaussian(wl, 469.0, 13.0 / fw, msc469) + gaussian(wl, 427.0, 11.0 / fw, 0.5 * msc469)
    a += gaussian(wl, 430.0, 60.0 / fw, precursor430)
    a += gaussian(wl, qd_centre_nm, 50.0 / fw, qd_band)
    # every sample carries some higher-energy absorption and scattering
    a += 0.05 * (wl / 350.0) ** -6 + scatter_at_400 * (wl / 400.0) ** -4
    if noise:
        a = a + np.random.default_rng(seed).normal(0.0, noise, a.shape)
    return a
