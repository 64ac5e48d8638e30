"""Absorbance, smoothing, scattering, first-exciton and band-gap analysis.

Every function is pure: numpy arrays in, numbers out, units in the names.  The
spectral functions accept one spectrum (``pixels``) or a stack
(``N × pixels``) sharing one wavelength axis and are vectorised over the stack —
a plan can analyse each new spectrum, a report can analyse ten thousand.

How the first excitonic peak is found (:func:`find_e1`)
-------------------------------------------------------
A nanocrystal's E1 is the *reddest distinct* absorption feature; it may be a
peak or only a shoulder, it sits on a continuum of higher transitions and often
on a scattering background that rises to the blue, and the blue end of the
spectrum may be masked (``NaN``) where the detector saturated.  Local maxima of
the absorbance miss shoulders and are pulled by sloping backgrounds, so we work
on the **second derivative** (Savitzky–Golay, ``window_nm`` wide):

1. NaN gaps are bridged by linear interpolation (so the filter can run) and
   every pixel within one filter window of a gap is barred from holding a
   feature — the bridge's kinks are not chemistry.
2. A feature is a local minimum of d²A/dλ² whose *local prominence* (the lower
   of the highest d²A/dλ² within ``window_nm`` on either side, minus the
   minimum) exceeds ``noise_sigma`` times the noise of d²A/dλ² **and**
   ``min_relative`` times the most prominent feature in the search range.
   Prominence rather than sign: a λ⁻ⁿ scattering background adds positive
   curvature that can lift a shoulder's d²A/dλ² above zero without removing
   its minimum.
3. The noise of d²A/dλ² is propagated from the absorbance noise, estimated per
   spectrum from the median absolute second difference (robust to the
   features themselves), through the filter coefficients.
4. E1 is the reddest feature; its sub-pixel position is the vertex of a
   parabola through the three d²A/dλ² samples around the minimum
   (``method="curvature"``, the transition centroid — unbiased by sloping
   backgrounds) or, when ``method="maximum"`` and the feature is a true peak,
   the vertex of the smoothed absorbance maximum (the usual "E1 peak
   wavelength" convention).  Shoulders fall back to the curvature position.
5. The uncertainty is the propagated noise of the third derivative divided by
   the fourth derivative at the minimum (the slope of the zero crossing), in
   quadrature with a 0.05-pixel floor for the interpolation.

Decisions where the specification is silent
-------------------------------------------
* Derivatives are taken on the pixel grid and positions mapped back through
  the wavelength calibration, so the slightly non-uniform spacing of a real
  spectrometer needs no resampling.  Descending axes are accepted.
* ``band_gap_ev`` resamples onto a uniform energy grid first, because the
  published "minimum of the second derivative" (SCIENCE.md B) is taken in
  energy, where a featureless band edge is symmetric.
* The Gaussian decomposition (SCIENCE.md E) gives each transition ``i`` a width
  from the size dispersion with the effective-mass scaling of confinement
  energy, ``σ_i = 2 (E_i − E_bulk) σ_R/R`` (in quadrature with an optional
  homogeneous width); without a bulk gap every width is free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve1d, maximum_filter1d, minimum_filter1d
from scipy.optimize import least_squares
from scipy.signal import savgol_coeffs, savgol_filter

#: hc in eV·nm (SCIENCE.md "Energy ↔ wavelength")
HC_EV_NM = 1239.84


# ---------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------

def nm_to_ev(wavelength_nm):
    """Photon energy (eV) of a wavelength (nm): E = 1239.84 / λ."""
    return HC_EV_NM / np.asarray(wavelength_nm, float)


def ev_to_nm(energy_ev):
    """Wavelength (nm) of a photon energy (eV): λ = 1239.84 / E."""
    return HC_EV_NM / np.asarray(energy_ev, float)


def _out(x):
    """Scalars for one spectrum, arrays for a stack."""
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x


# ---------------------------------------------------------------------------
# absorbance from raw counts
# ---------------------------------------------------------------------------

def absorbance_from_counts(sample, dark, reference, *, max_count: float | None = None,
                           saturation_fraction: float = 0.98, saturated_mask=None):
    """Absorbance A = −log10((S − D)/(R − D)) from raw detector counts.

    Parameters
    ----------
    sample, dark, reference : array_like
        Counts of the sample ``S``, the dark ``D`` (shutter closed) and the
        reference/blank ``R``, all at the same integration time.  ``sample``
        may be a stack ``N × pixels``; ``dark`` and ``reference`` broadcast.
    max_count : float, optional
        Detector full scale (e.g. 65535 for a Flame-S).  Pixels where the sample
        or the reference reach ``saturation_fraction × max_count`` are NaN:
        a clipped count gives a wrong, not merely noisy, absorbance.
    saturation_fraction : float
        Fraction of ``max_count`` treated as saturated (default 0.98, the
        detector response is no longer linear just below full scale).
    saturated_mask : array_like of bool, optional
        Pixels already known to be saturated (e.g. reported by the device).

    Returns
    -------
    numpy.ndarray
        Absorbance, NaN where it is undefined: ``S − D ≤ 0`` (no light through:
        absorbance beyond what the instrument can measure), ``R − D ≤ 0``, or
        saturation.
    """
    s = np.asarray(sample, float)
    d = np.asarray(dark, float)
    r = np.asarray(reference, float)
    num = s - d
    den = r - d
    bad = (num <= 0) | (den <= 0)
    if max_count is not None:
        limit = saturation_fraction * float(max_count)
        bad = bad | (s >= limit) | (r >= limit)
    if saturated_mask is not None:
        bad = bad | np.asarray(saturated_mask, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = -np.log10(num / den)
    return np.where(bad, np.nan, a)


# ---------------------------------------------------------------------------
# smoothing and NaN bridging
# ---------------------------------------------------------------------------

def _odd_window(window: int, polyorder: int) -> int:
    window = int(window)
    if window % 2 == 0:
        window += 1
    return max(window, polyorder + 2 + (polyorder % 2 == 1))


def _bridge_nans(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate across NaN gaps along the last axis (edges: nearest).

    Returns the filled copy and the NaN mask.  Rows that are all NaN stay NaN.
    """
    nan = np.isnan(a)
    if not nan.any():
        return a, nan
    n = a.shape[-1]
    idx = np.arange(n)
    valid = ~nan
    left = np.where(valid, idx, -1)
    np.maximum.accumulate(left, axis=-1, out=left)
    right = np.where(valid, idx, n)
    right = np.minimum.accumulate(right[..., ::-1], axis=-1)[..., ::-1]
    has_left = left >= 0
    has_right = right < n
    li = np.clip(left, 0, n - 1)
    ri = np.clip(right, 0, n - 1)
    yl = np.take_along_axis(a, li, axis=-1)
    yr = np.take_along_axis(a, ri, axis=-1)
    span = np.where(ri > li, ri - li, 1)
    w = (idx - li) / span
    both = has_left & has_right
    filled = np.where(both, yl + (yr - yl) * w, np.where(has_left, yl, yr))
    return np.where(nan, filled, a), nan


def smooth(y, window: int = 11, polyorder: int = 3, *, deriv: int = 0):
    """Savitzky–Golay smoothing (or derivative) along the last axis.

    Parameters
    ----------
    y : array_like
        One spectrum or a stack ``N × pixels``.
    window : int
        Filter length in pixels (made odd).
    polyorder : int
        Local polynomial order.
    deriv : int
        Derivative order (per pixel**deriv).

    NaN pixels are bridged for the filter and stay NaN in the output.
    """
    a = np.asarray(y, float)
    window = _odd_window(window, polyorder)
    if a.shape[-1] < window:
        raise ValueError(f"spectrum has {a.shape[-1]} pixels, fewer than the {window}-pixel "
                         "smoothing window")
    filled, nan = _bridge_nans(a)
    out = savgol_filter(filled, window, polyorder, deriv=deriv, axis=-1, mode="interp")
    return np.where(nan, np.nan, out) if nan.any() else out


# ---------------------------------------------------------------------------
# scattering baseline
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ScatteringFit:
    """A power-law baseline ``amplitude · (λ / reference_nm)**(−exponent) + offset``."""

    amplitude: np.ndarray | float
    exponent: np.ndarray | float
    offset: np.ndarray | float
    reference_nm: float
    rms: np.ndarray | float

    def __call__(self, wavelengths_nm):
        x = np.asarray(wavelengths_nm, float) / self.reference_nm
        amp = np.asarray(self.amplitude, float)[..., None]
        n = np.asarray(self.exponent, float)[..., None]
        off = np.asarray(self.offset, float)[..., None]
        out = amp * x ** (-n) + off
        return out[0] if out.shape[0] == 1 and np.ndim(self.amplitude) == 0 else out


def fit_scattering(wavelengths_nm, absorbance, *, fit_nm: tuple[float, float] | None = None,
                   exponent: float | None = None, exponent_range: tuple[float, float] = (0.0, 6.0),
                   offset: bool = False) -> ScatteringFit:
    """Fit ``c·λ⁻ⁿ (+ b)`` to a spectral region free of absorption.

    Parameters
    ----------
    wavelengths_nm, absorbance : array_like
        One spectrum or a stack.
    fit_nm : (float, float), optional
        Region used for the fit: must lie to the red of every absorption band.
        Default: the reddest quarter of the wavelength axis.
    exponent : float, optional
        Fix ``n`` (4 = Rayleigh); default fits it within ``exponent_range``.
    offset : bool
        Also fit a constant (a cuvette/reference mismatch).

    Notes
    -----
    For each trial exponent the amplitude (and offset) are linear least squares,
    so a grid over ``n`` refined parabolically is exact, vectorised over the
    stack and needs no positive absorbance (noisy red tails go below zero).
    """
    wl = np.asarray(wavelengths_nm, float)
    a2 = np.atleast_2d(np.asarray(absorbance, float))
    if fit_nm is None:
        lo_all, hi_all = float(np.nanmin(wl)), float(np.nanmax(wl))
        fit_nm = (hi_all - 0.25 * (hi_all - lo_all), hi_all)
    sel = (wl >= fit_nm[0]) & (wl <= fit_nm[1])
    if sel.sum() < 3:
        raise ValueError(f"scattering fit region {fit_nm} nm holds fewer than 3 pixels")
    ref = float(np.mean(wl[sel]))
    x = wl[sel] / ref
    y = a2[:, sel]
    w = np.isfinite(y)
    y0 = np.where(w, y, 0.0)
    wf = w.astype(float)

    def solve(n):
        basis = x ** (-n)
        if not offset:
            sbb = (wf * basis**2).sum(-1)
            amp = (wf * basis * y0).sum(-1) / np.where(sbb > 0, sbb, np.nan)
            off = np.zeros_like(amp)
        else:
            s1 = wf.sum(-1)
            sb = (wf * basis).sum(-1)
            sbb = (wf * basis**2).sum(-1)
            sy = y0.sum(-1)
            sby = (wf * basis * y0).sum(-1)
            det = sbb * s1 - sb**2
            det = np.where(np.abs(det) > 1e-300, det, np.nan)
            amp = (sby * s1 - sb * sy) / det
            off = (sbb * sy - sb * sby) / det
        resid = wf * (y0 - amp[:, None] * basis - off[:, None])
        rss = (resid**2).sum(-1)
        return amp, off, rss

    if exponent is not None:
        amp, off, rss = solve(float(exponent))
        n_best = np.full(a2.shape[0], float(exponent))
    else:
        grid = np.linspace(exponent_range[0], exponent_range[1], 61)
        rss_grid = np.stack([solve(n)[2] for n in grid], axis=-1)
        k = np.nanargmin(np.where(np.isfinite(rss_grid), rss_grid, np.inf), axis=-1)
        k = np.clip(k, 1, grid.size - 2)
        r = np.arange(a2.shape[0])
        ym, y0_, yp = rss_grid[r, k - 1], rss_grid[r, k], rss_grid[r, k + 1]
        den = ym - 2 * y0_ + yp
        step = grid[1] - grid[0]
        delta = np.where(den > 0, 0.5 * (ym - yp) / np.where(den > 0, den, 1.0), 0.0)
        n_best = np.clip(grid[k] + np.clip(delta, -1, 1) * step, *exponent_range)
        amp = np.empty(a2.shape[0])
        off = np.empty(a2.shape[0])
        rss = np.empty(a2.shape[0])
        for n in np.unique(n_best):
            rows = n_best == n
            sub = solve(n)
            amp[rows], off[rows], rss[rows] = sub[0][rows], sub[1][rows], sub[2][rows]
    npts = np.maximum(wf.sum(-1), 1)
    rms = np.sqrt(rss / npts)
    single = np.ndim(absorbance) == 1
    pick = (lambda v: float(v[0])) if single else (lambda v: v)
    return ScatteringFit(pick(amp), pick(n_best), pick(off), ref, pick(rms))


def subtract_scattering(wavelengths_nm, absorbance, *, fit_nm: tuple[float, float] | None = None,
                        exponent: float | None = None, offset: bool = False):
    """Absorbance with a fitted λ⁻ⁿ scattering baseline removed.

    The baseline is fitted on ``fit_nm`` (red side, free of absorption; see
    :func:`fit_scattering`) and subtracted over the whole axis.  Use
    :func:`fit_scattering` to inspect the fitted amplitude and exponent — an
    exponent rising towards 4 with growing amplitude is the in-situ signature
    of particles assembling into larger aggregates (SCIENCE.md D).
    """
    fit = fit_scattering(wavelengths_nm, absorbance, fit_nm=fit_nm, exponent=exponent,
                         offset=offset)
    return np.asarray(absorbance, float) - fit(wavelengths_nm)


# ---------------------------------------------------------------------------
# the curvature engine shared by E1, band gap and feature lists
# ---------------------------------------------------------------------------

@dataclass
class _Curvature:
    d2: np.ndarray            # N × M, per pixel²
    prominence: np.ndarray    # N × M, per pixel², NaN where not a candidate
    candidate: np.ndarray     # N × M bool, significant local minima inside the search range
    filled: np.ndarray        # N × M absorbance with NaN gaps bridged
    sigma_a: np.ndarray       # N, absorbance noise
    sigma_d2: np.ndarray      # N
    sigma_d3: np.ndarray      # N
    window: int
    polyorder: int


def _noise_sigma(a: np.ndarray) -> np.ndarray:
    """Per-row white-noise σ from the median absolute second difference (NaN-aware)."""
    d2 = np.abs(a[:, :-2] - 2 * a[:, 1:-1] + a[:, 2:])
    if not np.isnan(d2).any():
        med = np.median(d2, axis=-1)
    else:
        count = np.isfinite(d2).sum(-1)
        srt = np.sort(np.where(np.isfinite(d2), d2, np.inf), axis=-1)
        k = np.clip((count - 1) // 2, 0, d2.shape[-1] - 1)
        med = np.where(count > 0, srt[np.arange(a.shape[0]), k], np.nan)
    # E|second difference| of white noise: median(|N(0, 6σ²)|) = 0.6745·√6·σ
    return med / (0.6745 * np.sqrt(6.0))


def _curvature(a: np.ndarray, window: int, polyorder: int, inside: np.ndarray,
               noise_sigma: float, min_relative: float, prominence_px: int) -> _Curvature:
    window = _odd_window(window, max(polyorder, 3))
    polyorder = max(polyorder, 3)
    sigma_a = _noise_sigma(a)
    filled, nan = _bridge_nans(a)
    c2 = savgol_coeffs(window, polyorder, deriv=2, use="conv")
    d2 = convolve1d(filled, c2, axis=-1, mode="nearest")
    half = window // 2
    m = a.shape[-1]
    allowed = np.broadcast_to(inside, a.shape).copy()
    allowed[:, :half] = False
    allowed[:, m - half:] = False
    if nan.any():
        # pixels whose filter window touches a bridged gap cannot hold a feature
        near = maximum_filter1d(nan.astype(np.uint8), size=window + 2, axis=-1) > 0
        allowed &= ~near
    # a feature is the lowest d2 within ± half a window: noise splits a broad minimum
    # into several local minima, and only one of them is the feature
    is_min = d2 <= minimum_filter1d(d2, size=window, axis=-1, mode="nearest")
    w = max(int(prominence_px), 1)
    # highest d2 within w pixels to the left (inclusive) and to the right
    left_max = maximum_filter1d(d2, size=w + 1, axis=-1, origin=w // 2, mode="nearest")
    right_max = maximum_filter1d(d2, size=w + 1, axis=-1, origin=-((w + 1) // 2), mode="nearest")
    prom = np.minimum(left_max, right_max) - d2
    sigma_d2 = sigma_a * np.sqrt((c2**2).sum())
    # the position estimator uses (d2[i-1] - d2[i+1]) / 2: propagate through exactly that filter
    c3 = (np.r_[c2, 0.0, 0.0] - np.r_[0.0, 0.0, c2]) / 2.0
    sigma_d3 = sigma_a * np.sqrt((c3**2).sum())
    cand = is_min & allowed & (prom > noise_sigma * sigma_d2[:, None])
    best = np.where(cand, prom, 0.0).max(axis=-1)
    cand &= prom >= min_relative * best[:, None]
    return _Curvature(d2=d2, prominence=np.where(cand, prom, np.nan), candidate=cand,
                      filled=filled, sigma_a=sigma_a, sigma_d2=sigma_d2, sigma_d3=sigma_d3,
                      window=window, polyorder=polyorder)


def _axis(wavelengths_nm, absorbance):
    wl = np.asarray(wavelengths_nm, float)
    a = np.asarray(absorbance, float)
    if wl.ndim != 1:
        raise ValueError("wavelengths_nm must be one axis shared by every spectrum")
    if a.ndim not in (1, 2) or a.shape[-1] != wl.size:
        raise ValueError(f"absorbance shape {a.shape} does not match {wl.size} wavelengths")
    a2 = np.atleast_2d(a)
    if wl.size > 1 and wl[0] > wl[-1]:
        wl = wl[::-1]
        a2 = a2[:, ::-1]
    return wl, a2, a.ndim == 1


def _window_px(wl: np.ndarray, window_nm: float, polyorder: int) -> int:
    step = float(np.median(np.diff(wl)))
    if not step > 0:
        raise ValueError("wavelengths must be strictly monotonic")
    return _odd_window(int(round(window_nm / step)), max(polyorder, 3))


def _crop(wl, a2, search, pad):
    lo, hi = search if search is not None else (wl[0], wl[-1])
    if not lo < hi:
        raise ValueError(f"search range {search} is empty")
    i0 = int(np.searchsorted(wl, lo, "left"))
    i1 = int(np.searchsorted(wl, hi, "right"))
    j0, j1 = max(0, i0 - pad), min(wl.size, i1 + pad)
    inside = np.zeros(j1 - j0, bool)
    inside[i0 - j0:i1 - j0] = True
    return wl[j0:j1], a2[:, j0:j1], inside


def _vertex(ym, y0, yp):
    """Offset (pixels, −0.5…0.5) of a parabola's vertex through three samples."""
    den = ym - 2 * y0 + yp
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(den != 0, 0.5 * (ym - yp) / den, 0.0)
    return np.clip(np.nan_to_num(delta), -0.5, 0.5), den


def _quadratic_stencil(h: int):
    """Least-squares quadratic on x = −h…h: returns (k1, k2) so that b1 = k1·y, b2 = k2·y."""
    x = np.arange(-h, h + 1, dtype=float)
    design = np.vstack([np.ones_like(x), x, x**2]).T
    pinv = np.linalg.pinv(design)
    return pinv[1], pinv[2]


def _refine_minimum(cv: _Curvature, idx: np.ndarray, iterations: int = 3):
    """Sub-pixel minimum of d2 near ``idx``: least-squares parabola over ±window/2.

    A second-derivative minimum is broad (a feature's core spans many pixels), so
    three samples would follow the noise; the fit over half a filter window
    averages it.  Returns (position_px, sigma_px) with σ propagated exactly from
    the absorbance noise through the filter and the stencil.
    """
    m = cv.d2.shape[-1]
    h = max(cv.window // 4, 2)
    k1, k2 = _quadratic_stencil(h)
    offs = np.arange(-h, h + 1)
    centre = np.clip(idx, h, m - 1 - h)
    pos = centre.astype(float)
    b2 = np.zeros(idx.shape)
    for _ in range(iterations):
        y = _gather(cv.d2, centre, offs)
        b1 = y @ k1
        b2 = y @ k2
        convex = b2 > 0
        shift = np.clip(-b1 / (2 * np.where(convex, b2, 1.0)), -h, h)
        pos = np.where(convex, centre + shift, idx)
        centre = np.clip(np.rint(pos).astype(int), h, m - 1 - h)
    # b1 as a filter on the absorbance: the stencil (reversed) convolved with c2
    c2 = savgol_coeffs(cv.window, cv.polyorder, deriv=2, use="conv")
    f1 = np.convolve(k1[::-1], c2)
    convex = b2 > 0
    sig = cv.sigma_a * np.sqrt((f1**2).sum()) / (2 * np.where(convex, b2, 1.0))
    # no convex core (noise-dominated feature): the discrete minimum, ± the fit half-width
    sig = np.where(convex, np.hypot(sig, 0.05), float(h))
    return pos, sig


def _gather(a: np.ndarray, idx: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    cols = np.clip(idx[:, None] + offsets[None, :], 0, a.shape[-1] - 1)
    return np.take_along_axis(a, cols, axis=-1)


# ---------------------------------------------------------------------------
# first exciton
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class E1Result:
    """First excitonic peak of one spectrum (floats) or of a stack (arrays).

    Attributes
    ----------
    e1_nm : float or ndarray
        Position (nm), NaN where none was found.
    uncertainty_nm : float or ndarray
        One-σ statistical uncertainty of the position (nm).
    absorbance : float or ndarray
        Smoothed absorbance at E1.
    curvature_per_nm2 : float or ndarray
        Local prominence of the second-derivative minimum (absorbance / nm²):
        how sharp the feature is.
    found : bool or ndarray of bool
    is_peak : bool or ndarray of bool
        True where the feature is a local absorbance maximum, False for a shoulder.
    """

    e1_nm: np.ndarray | float
    uncertainty_nm: np.ndarray | float
    absorbance: np.ndarray | float
    curvature_per_nm2: np.ndarray | float
    found: np.ndarray | bool
    is_peak: np.ndarray | bool

    @property
    def e1_ev(self):
        """E1 as a photon energy (eV)."""
        return _out(nm_to_ev(self.e1_nm))


def find_e1(wavelengths_nm, absorbance, *, search_nm: tuple[float, float] | None = None,
            window_nm: float = 10.0, polyorder: int = 3, noise_sigma: float = 10.0,
            min_relative: float = 0.1, method: str = "curvature") -> E1Result:
    """Find the first excitonic absorption feature (reddest distinct peak or shoulder).

    Parameters
    ----------
    wavelengths_nm : array_like, shape (pixels,)
        Wavelength calibration (ascending or descending).
    absorbance : array_like, shape (pixels,) or (N, pixels)
        One spectrum or a stack; NaN marks masked (saturated) pixels.
    search_nm : (float, float), optional
        Wavelength range where E1 may lie (e.g. ``(350, 500)`` for CdS).  Data
        outside it is still used to filter near its edges.
    window_nm : float
        Savitzky–Golay window: about half the E1 peak's FWHM.  Wider rejects
        more noise, narrower resolves closer features.
    polyorder : int
        Savitzky–Golay order (at least 3).
    noise_sigma : float
        A feature's curvature must exceed this many σ of the curvature noise.
    min_relative : float
        ... and this fraction of the strongest feature in ``search_nm``.
    method : {"curvature", "maximum"}
        Report the second-derivative minimum (transition centroid) or, for true
        peaks, the smoothed absorbance maximum.

    Returns
    -------
    E1Result
        Floats for one spectrum, arrays of length N for a stack.  See the
        module docstring for the algorithm.
    """
    if method not in ("curvature", "maximum"):
        raise ValueError(f"method must be 'curvature' or 'maximum', not {method!r}")
    wl, a2, single = _axis(wavelengths_nm, absorbance)
    window = _window_px(wl, window_nm, polyorder)
    half = window // 2
    wl_c, a_c, inside = _crop(wl, a2, search_nm, half + window)
    if a_c.shape[-1] < window + 3:
        raise ValueError(f"search range {search_nm} holds too few pixels for a {window_nm} nm window")
    cv = _curvature(a_c, window, polyorder, inside, noise_sigma, min_relative, window)
    n, m = a_c.shape
    rows = np.arange(n)
    found = cv.candidate.any(axis=-1)
    # the reddest candidate = the last True along the (ascending) axis
    idx = m - 1 - np.argmax(cv.candidate[:, ::-1], axis=-1)
    idx = np.where(found, idx, half + 1)
    idx = np.clip(idx, 1, m - 2)
    pos_px, sig_px = _refine_minimum(cv, idx)
    delta = pos_px - idx

    # smoothed absorbance around the feature (one dot product per pixel needed)
    c0 = savgol_coeffs(cv.window, cv.polyorder, deriv=0, use="conv")[::-1]
    offs = np.arange(-half, half + 1)

    def smoothed_at(col):
        return (_gather(cv.filled, col, offs) * c0).sum(-1)

    s_m, s_0, s_p = smoothed_at(idx - 1), smoothed_at(idx), smoothed_at(idx + 1)
    is_peak = np.zeros(n, bool)
    if method == "maximum" or True:
        # a true peak has a smoothed-absorbance maximum within the feature's core
        span = max(half, 2)
        sm = np.stack([smoothed_at(np.clip(idx + k, 0, m - 1)) for k in range(-span, span + 1)], -1)
        kmax = np.argmax(sm, axis=-1)
        interior = (kmax > 0) & (kmax < 2 * span)
        is_peak = interior & found
        if method == "maximum":
            kk = np.clip(kmax, 1, 2 * span - 1)
            dmax, den_a = _vertex(sm[rows, kk - 1], sm[rows, kk], sm[rows, kk + 1])
            pmax = idx - span + kk + dmax
            # σ of a maximum's vertex: σ(d1)/|d2| with the smoothing filter's first derivative
            c1 = savgol_coeffs(cv.window, cv.polyorder, deriv=1, use="conv")
            with np.errstate(divide="ignore", invalid="ignore"):
                sig_max = cv.sigma_a * np.sqrt((c1**2).sum()) / np.abs(den_a)
            pos_px = np.where(is_peak, pmax, pos_px)
            sig_px = np.where(is_peak, np.sqrt(np.nan_to_num(sig_max, nan=np.inf) ** 2 + 0.05**2),
                              sig_px)
            s_m, s_0, s_p = (sm[rows, kk - 1], sm[rows, kk], sm[rows, kk + 1])
            delta = pos_px - (idx - span + kk)
    frac = pos_px - np.floor(pos_px)
    pix = np.arange(m, dtype=float)
    e1 = np.interp(pos_px, pix, wl_c)
    step_nm = np.interp(pos_px, pix[1:] - 0.5, np.diff(wl_c))
    height = np.where(delta >= 0, s_0 + (s_p - s_0) * delta, s_0 + (s_0 - s_m) * delta)
    del frac
    curv = cv.prominence[rows, idx] / step_nm**2

    def fin(x, fill=np.nan):
        x = np.where(found, x, fill)
        return _out(x[0]) if single else x

    return E1Result(e1_nm=fin(e1), uncertainty_nm=fin(sig_px * step_nm),
                    absorbance=fin(height), curvature_per_nm2=fin(curv),
                    found=bool(found[0]) if single else found,
                    is_peak=bool(is_peak[0]) if single else is_peak)
