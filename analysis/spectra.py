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
2. A feature is the lowest d²A/dλ² within half a window (noise splits a
   broad minimum into several local ones) whose *local prominence* — the
   lower of the highest d²A/dλ² within two windows on either side, minus the
   minimum — exceeds ``noise_sigma`` times the noise of d²A/dλ² **and**
   ``min_relative`` times the most prominent feature in the search range.
   The minimum must also lie ``noise_sigma`` σ below zero (the absorbance
   concave there): the valley between two resolved bands is a d²A/dλ²
   minimum with high flanks too.  A λ⁻ⁿ scattering background is convex, but
   its curvature (about 1e-4 per nm² even for a scattering absorbance of 2 at
   400 nm) is far below an exciton's (h/σ² ≈ 4e-3 per nm² for 0.3
   absorbance, σ = 8.5 nm), so it does not hide a shoulder.
3. The noise of d²A/dλ² is propagated from the absorbance noise, estimated per
   spectrum from the median absolute second difference (robust to the
   features themselves), through the filter coefficients.  Absorbance noise is
   not uniform: where the lamp or the detector response is weak (the red end of
   a silicon detector, the UV end of a halogen lamp) it is several times the
   spectrum's median.  Where one feature is *chosen* — E1 and the band gap take
   the reddest — a single noise feature in such a region would win, so there the
   threshold is raised wherever the *local* noise (over ``NOISE_SPAN_PX``
   pixels) exceeds the median — never lowered.  The lists of all features
   (:func:`second_derivative_minima`) keep the spectrum-wide threshold: their
   users weigh every feature on its own (heights, widths, persistence).
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
from scipy.ndimage import convolve1d, maximum_filter1d, minimum_filter1d, uniform_filter1d
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
    """Linearly interpolate across NaN gaps along the last axis.

    Returns the filled copy and the NaN mask.  Gaps inside a row are bridged by
    a straight line; a gap at a row's end is bridged towards the neighbouring
    row's data (one flat interpolation over the whole stack, which costs only
    the NaN pixels).  That bridge is not meant to be right, only finite: every
    pixel within a filter window of a gap is barred from holding a feature.
    A stack with no finite value at all is returned as zeros.
    """
    nan = np.isnan(a)
    if not nan.any():
        return a, nan
    flat = a.ravel()
    bad = nan.ravel()
    good = np.flatnonzero(~bad)
    filled = flat.copy()
    if good.size == 0:
        return np.zeros_like(a), nan
    filled[bad] = np.interp(np.flatnonzero(bad), good, flat[good])
    return filled.reshape(a.shape), nan


def _near(mask: np.ndarray, half: int) -> np.ndarray:
    """True where ``mask`` is True within ± ``half`` pixels (running count, any width)."""
    c = np.zeros(mask.shape[:-1] + (mask.shape[-1] + 1,), np.int32)
    np.cumsum(mask, axis=-1, out=c[..., 1:])
    m = mask.shape[-1]
    i = np.arange(m)
    hi = np.minimum(i + half + 1, m)
    lo = np.maximum(i - half, 0)
    return (c[..., hi] - c[..., lo]) > 0


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
        # n: scalar or one exponent per row
        basis = x[None, :] ** (-np.reshape(n, (-1, 1)))
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
        return amp, off, (resid**2).sum(-1)

    rows = np.arange(a2.shape[0])
    if exponent is not None:
        n_best = np.full(a2.shape[0], float(exponent))
    else:
        # coarse grid, then parabolic refinement on shrinking brackets: the
        # extrapolation to the blue amplifies any error in n
        grid = np.linspace(exponent_range[0], exponent_range[1], 61)
        rss_grid = np.stack([solve(n)[2] for n in grid], axis=-1)
        k = np.argmin(np.where(np.isfinite(rss_grid), rss_grid, np.inf), axis=-1)
        n_best = grid[k]
        step = grid[1] - grid[0]
        for _ in range(4):
            ym, y0_, yp = solve(n_best - step)[2], solve(n_best)[2], solve(n_best + step)[2]
            den = ym - 2 * y0_ + yp
            delta = np.where(den > 0, 0.5 * (ym - yp) / np.where(den > 0, den, 1.0), 0.0)
            n_best = np.clip(n_best + np.clip(delta, -1, 1) * step, *exponent_range)
            step /= 4.0
    amp, off, rss = solve(n_best)
    del rows
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
    # a few hundred second differences give the median to a few per cent; more only costs
    stride = max(1, (a.shape[-1] - 2) // 256)
    d2 = np.abs(a[:, :-2:stride] - 2 * a[:, 1:-1:stride] + a[:, 2::stride])
    if not np.isnan(d2).any():
        med = np.median(d2, axis=-1)
    else:
        count = np.isfinite(d2).sum(-1)
        srt = np.sort(np.where(np.isfinite(d2), d2, np.inf), axis=-1)
        k = np.clip((count - 1) // 2, 0, d2.shape[-1] - 1)
        med = np.where(count > 0, srt[np.arange(a.shape[0]), k], np.nan)
    # E|second difference| of white noise: median(|N(0, 6σ²)|) = 0.6745·√6·σ
    return med / (0.6745 * np.sqrt(6.0))


#: pixels over which the local absorbance noise is taken (see module docstring, 3.)
NOISE_SPAN_PX = 256


def _local_noise_ratio(a: np.ndarray) -> np.ndarray:
    """Per pixel: local noise / the spectrum's median noise, at least 1 (threshold scale).

    Fourth differences (1, −4, 6, −4, 1) sampled every few pixels: for white noise
    they are √70·σ, while a band's own contribution is ~A·(pixel/σ_band)⁴ — far
    below the noise even for a sharp cluster line, where second differences would
    mistake curvature for noise.  Normalised by the spectrum's median, clipped at 6
    (a spike or an edge barely counts), averaged over :data:`NOISE_SPAN_PX`
    and divided by that average for pure white noise (E min(|N|/0.6745, 6) = 1.183).
    """
    n, m = a.shape
    stride = max(1, (m - 4) // 256)
    d4 = np.abs(a[:, :-4:stride] - 4 * a[:, 1:-3:stride] + 6 * a[:, 2:-2:stride]
                - 4 * a[:, 3:-1:stride] + a[:, 4::stride])
    if d4.shape[-1] < 3:
        return np.ones_like(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        median = np.nanmedian(d4, axis=-1, keepdims=True) if np.isnan(d4).any() else (
            np.median(d4, axis=-1, keepdims=True))
        z = np.minimum(d4 / median, 6.0)
    z = np.where(np.isfinite(z), z, 1.183)             # NaN pixels: assume median noise
    local = uniform_filter1d(z, size=max(3, NOISE_SPAN_PX // stride), axis=-1, mode="nearest")
    ratio = np.maximum(local / 1.183, 1.0)
    # sample j is centred on pixel j·stride + 2: nearest sample for every pixel
    cols = np.clip(np.rint((np.arange(m) - 2) / stride).astype(int), 0, ratio.shape[-1] - 1)
    return ratio[:, cols]


def _curvature(a: np.ndarray, window: int, polyorder: int, inside: np.ndarray,
               noise_sigma: float, min_relative: float, prominence_px: int,
               suppress: bool = True, local_noise: bool = False) -> _Curvature:
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
        allowed &= ~_near(nan, half + 1)
    if suppress:
        # a feature is the lowest d2 within ± half a window: noise splits a broad minimum
        # into several local minima, and only one of them is the feature
        is_min = d2 <= minimum_filter1d(d2, size=window, axis=-1, mode="nearest")
    else:
        # plain local minima; the caller snaps its pick to the lowest d2 nearby
        # (_snap_to_minimum), which is the same rule applied to one pixel per row
        is_min = np.zeros(d2.shape, bool)
        is_min[:, 1:-1] = (d2[:, 1:-1] < d2[:, :-2]) & (d2[:, 1:-1] <= d2[:, 2:])
    w = max(int(prominence_px), 1)
    # highest d2 within w pixels to the left (inclusive) and to the right: one sliding
    # maximum over w + 1 pixels, read at two offsets
    run = maximum_filter1d(d2, size=w + 1, axis=-1, origin=-((w + 1) // 2), mode="nearest")
    left_max = np.empty_like(run)
    left_max[:, w:] = run[:, :-w]
    left_max[:, :w] = np.maximum.accumulate(d2[:, :w], axis=-1)
    prom = np.minimum(left_max, run) - d2
    sigma_d2 = sigma_a * np.sqrt((c2**2).sum())
    # the position estimator uses (d2[i-1] - d2[i+1]) / 2: propagate through exactly that filter
    c3 = (np.r_[c2, 0.0, 0.0] - np.r_[0.0, 0.0, c2]) / 2.0
    sigma_d3 = sigma_a * np.sqrt((c3**2).sum())
    # negative curvature: the valley between two resolved bands is also a local minimum
    # of d2 with high flanks, but the absorbance there is convex.  (A λ⁻⁴ scattering
    # background adds only ~1e-4 /nm² of curvature, far less than an exciton's.)
    thr = noise_sigma * sigma_d2[:, None]
    if local_noise:
        thr = thr * _local_noise_ratio(a)
    cand = is_min & allowed & (d2 < -thr) & (prom > thr)
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


def _snap_to_minimum(d2: np.ndarray, idx: np.ndarray, half: int, steps: int = 6) -> np.ndarray:
    """Move each row's pick to the lowest d2 within ± ``half`` until it stays put."""
    offs = np.arange(-half, half + 1)
    m = d2.shape[-1]
    for _ in range(steps):
        block = _gather(d2, idx, offs)
        # clipped gathers repeat edge pixels; argmin returns the first, i.e. a real one
        new = np.clip(idx + offs[np.argmin(block, axis=-1)], 0, m - 1)
        if np.array_equal(new, idx):
            break
        idx = new
    return idx


def _quadratic_stencil(h: int):
    """Least-squares quadratic on x = −h…h: returns (k1, k2) so that b1 = k1·y, b2 = k2·y."""
    x = np.arange(-h, h + 1, dtype=float)
    design = np.vstack([np.ones_like(x), x, x**2]).T
    pinv = np.linalg.pinv(design)
    return pinv[1], pinv[2]


def _refine_minimum(cv: _Curvature, idx: np.ndarray, rows: np.ndarray | None = None,
                    iterations: int = 3):
    """Sub-pixel minimum of d2 near ``idx``: least-squares parabola over ±window/2.

    A second-derivative minimum is broad (a feature's core spans many pixels), so
    three samples would follow the noise; the fit over half a filter window
    averages it.  Returns (position_px, sigma_px) with σ propagated exactly from
    the absorbance noise through the filter and the stencil.
    """
    d2 = cv.d2 if rows is None else cv.d2[rows]
    sigma_a = cv.sigma_a if rows is None else cv.sigma_a[rows]
    m = d2.shape[-1]
    h = max(cv.window // 4, 2)
    k1, k2 = _quadratic_stencil(h)
    offs = np.arange(-h, h + 1)
    centre = np.clip(idx, h, m - 1 - h)
    pos = centre.astype(float)
    b2 = np.zeros(idx.shape)
    for _ in range(iterations):
        y = _gather(d2, centre, offs)
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
    sig = sigma_a * np.sqrt((f1**2).sum()) / (2 * np.where(convex, b2, 1.0))
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
    f = _reddest_feature(wl, a2, search_nm, window_nm, polyorder, noise_sigma, min_relative,
                         method)
    found = f["found"]

    def fin(x):
        x = np.where(found, x, np.nan)
        return _out(x[0]) if single else x

    return E1Result(e1_nm=fin(f["position"]), uncertainty_nm=fin(f["sigma"]),
                    absorbance=fin(f["height"]), curvature_per_nm2=fin(f["curvature"]),
                    found=bool(found[0]) if single else found,
                    is_peak=bool(f["is_peak"][0]) if single else f["is_peak"])


def _reddest_feature(x, a2, search, window_x, polyorder, noise_sigma, min_relative, method):
    """The highest-``x`` significant curvature feature of every row (see module docstring).

    ``x`` is an ascending axis (wavelength, or minus energy); returns a dict of
    per-row arrays in ``x`` units.
    """
    window = _window_px(x, window_x, polyorder)
    half = window // 2
    x_c, a_c, inside = _crop(x, a2, search, half + 2 * window)
    if a_c.shape[-1] < window + 3:
        raise ValueError(f"search range {search} holds too few pixels for a {window_x} window")
    cv = _curvature(a_c, window, polyorder, inside, noise_sigma, min_relative, 2 * window,
                    suppress=False, local_noise=True)
    n, m = a_c.shape
    rows = np.arange(n)
    found = cv.candidate.any(axis=-1)
    # the reddest candidate = the last True along the ascending axis
    idx = m - 1 - np.argmax(cv.candidate[:, ::-1], axis=-1)
    idx = np.where(found, idx, m // 2)
    idx = _snap_to_minimum(cv.d2, idx, half)
    pos_px, sig_px = _refine_minimum(cv, idx)

    # smoothed absorbance on ±span pixels around the feature: only these are needed,
    # so filter a gathered block instead of the whole stack
    h = max(cv.window // 4, 2)
    span = half + h
    c0 = savgol_coeffs(cv.window, cv.polyorder, deriv=0, use="conv")
    block = _gather(cv.filled, idx, np.arange(-span - half, span + half + 1))
    sm = np.lib.stride_tricks.sliding_window_view(block, cv.window, axis=-1) @ c0[::-1]
    kmax = np.argmax(sm, axis=-1)
    # a true peak: the smoothed absorbance has its maximum inside the feature's core
    is_peak = found & (kmax > 0) & (kmax < 2 * span)
    if method == "maximum":
        k1, k2 = _quadratic_stencil(h)
        kc = np.clip(kmax, h, 2 * span - h)
        y = _gather(sm, kc, np.arange(-h, h + 1))
        b1, b2 = y @ k1, y @ k2
        concave = b2 < 0
        shift = np.clip(-b1 / (2 * np.where(concave, b2, -1.0)), -h, h)
        use = is_peak & concave
        f1 = np.convolve(k1[::-1], c0)
        sig_max = cv.sigma_a * np.sqrt((f1**2).sum()) / (2 * np.abs(np.where(concave, b2, 1.0)))
        pos_px = np.where(use, idx - span + kc + shift, pos_px)
        sig_px = np.where(use, np.hypot(sig_max, 0.05), sig_px)
    # absorbance at the reported position, linear between smoothed samples
    u = np.clip(pos_px - (idx - span), 0, 2 * span)
    k = np.clip(np.floor(u).astype(int), 0, 2 * span - 1)
    height = sm[rows, k] + (sm[rows, k + 1] - sm[rows, k]) * (u - k)
    pix = np.arange(m, dtype=float)
    pos = np.interp(pos_px, pix, x_c)
    step_nm = np.interp(pos_px, pix[1:] - 0.5, np.diff(x_c))
    curv = cv.prominence[rows, idx] / step_nm**2

    return {"found": found, "position": pos, "sigma": sig_px * step_nm, "height": height,
            "curvature": curv, "is_peak": is_peak}


# ---------------------------------------------------------------------------
# all curvature features of a spectrum
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SpectralFeatures:
    """Every significant second-derivative minimum of one spectrum, blue to red.

    Attributes
    ----------
    position_nm, uncertainty_nm : ndarray
        Feature positions (sub-pixel) and their one-σ uncertainties.
    absorbance : ndarray
        Smoothed absorbance at each feature.
    curvature_per_nm2 : ndarray
        Local prominence of each second-derivative minimum.
    fwhm_nm : ndarray
        Width estimate: the second derivative of a Gaussian band crosses zero at
        ±σ and peaks at ±√3σ; we use the zero crossings where both exist, else
        the flanking maxima, and report 2.3548σ.  NaN when neither bounds the
        feature inside the data (e.g. a broad band on strong scattering).
    """

    position_nm: np.ndarray
    uncertainty_nm: np.ndarray
    absorbance: np.ndarray
    curvature_per_nm2: np.ndarray
    fwhm_nm: np.ndarray

    def __len__(self) -> int:
        return int(self.position_nm.size)

    def as_records(self) -> list[dict]:
        """One dict per feature (for metadata, evidence and tables)."""
        return [{"position_nm": float(p), "uncertainty_nm": float(u), "absorbance": float(a),
                 "curvature_per_nm2": float(c), "fwhm_nm": float(w)}
                for p, u, a, c, w in zip(self.position_nm, self.uncertainty_nm, self.absorbance,
                                         self.curvature_per_nm2, self.fwhm_nm, strict=True)]


def _feature_widths_px(d2: np.ndarray, idx: np.ndarray, tol: float) -> np.ndarray:
    """FWHM (pixels) of Gaussian-like features from the shape of their d2 dip.

    Walking outwards from the minimum, each side ends either at a zero crossing
    of d2 (at σ for a Gaussian) or — when a background keeps d2 positive, or a
    neighbouring feature intervenes — at the local maximum of d2 (at √3σ),
    recognised once d2 has fallen ``tol`` (a few noise σ) below its running
    maximum, so noise wiggles do not end the walk.  σ is the mean of the two
    sides; FWHM = 2.3548σ.
    """
    m = d2.size
    out = np.full(idx.size, np.nan)
    for j, i in enumerate(idx):
        sides = []
        for step in (-1, 1):
            k, best_k, sigma = i, i, np.nan
            while 0 <= k + step < m:
                nxt = k + step
                if d2[k] < 0 <= d2[nxt]:
                    sigma = abs(k - i) + d2[k] / (d2[k] - d2[nxt])
                    break
                if d2[nxt] > d2[best_k]:
                    best_k = nxt
                elif d2[nxt] < d2[best_k] - tol:
                    sigma = abs(best_k - i) / np.sqrt(3.0)
                    break
                k = nxt
            sides.append(sigma)
        good = [v for v in sides if np.isfinite(v) and v > 0]
        if good:
            out[j] = 2.3548 * float(np.mean(good))
    return out


def second_derivative_minima(wavelengths_nm, absorbance, *,
                             search_nm: tuple[float, float] | None = None,
                             window_nm: float = 10.0, polyorder: int = 3,
                             noise_sigma: float = 10.0,
                             min_relative: float = 0.05) -> SpectralFeatures:
    """All significant absorption features (peaks and shoulders) of one spectrum.

    Same detection as :func:`find_e1` (see the module docstring), but every
    feature is returned, ordered blue to red — the input for Gaussian
    decomposition and for classifying species (magic-sized clusters, QDs,
    precursor complexes).

    Parameters
    ----------
    wavelengths_nm, absorbance : array_like
        One spectrum (NaN = masked).
    search_nm, window_nm, polyorder, noise_sigma, min_relative
        As for :func:`find_e1`.
    """
    wl, a2, _ = _axis(wavelengths_nm, absorbance)
    if a2.shape[0] != 1:
        raise ValueError("second_derivative_minima takes one spectrum; loop over a stack")
    return _all_features(wl, a2, search_nm, window_nm, polyorder, noise_sigma, min_relative)


def _all_features(x, a2, search, window_x, polyorder, noise_sigma, min_relative):
    window = _window_px(x, window_x, polyorder)
    half = window // 2
    x_c, a_c, inside = _crop(x, a2, search, half + 2 * window)
    if a_c.shape[-1] < window + 3:
        raise ValueError(f"search range {search} holds too few pixels for a {window_x} window")
    cv = _curvature(a_c, window, polyorder, inside, noise_sigma, min_relative, 2 * window)
    idx = np.flatnonzero(cv.candidate[0])
    rows = np.zeros(idx.size, int)
    pos_px, sig_px = _refine_minimum(cv, idx, rows)
    pix = np.arange(a_c.shape[-1], dtype=float)
    step = np.interp(pos_px, pix[1:] - 0.5, np.diff(x_c)) if idx.size else np.zeros(0)
    smooth_a = savgol_filter(cv.filled[0], cv.window, cv.polyorder, mode="interp")
    height = np.interp(pos_px, pix, smooth_a)
    width_px = _feature_widths_px(cv.d2[0], idx, 3.0 * float(cv.sigma_d2[0]))
    return SpectralFeatures(position_nm=np.interp(pos_px, pix, x_c), uncertainty_nm=sig_px * step,
                            absorbance=height,
                            curvature_per_nm2=cv.prominence[0, idx] / step**2,
                            fwhm_nm=width_px * step)


# ---------------------------------------------------------------------------
# band gap (SCIENCE.md B)
# ---------------------------------------------------------------------------

def _energy_resample(wavelengths_nm, absorbance, n_points: int | None = None):
    """Resample spectra onto a uniform, *descending* energy grid (vectorised).

    Returns ``(minus_energy_ev, stack, single)``: the axis is −E so that it
    ascends and "reddest" stays "highest x" for the shared feature finder.
    """
    wl, a2, single = _axis(wavelengths_nm, absorbance)
    e_lo, e_hi = HC_EV_NM / wl[-1], HC_EV_NM / wl[0]
    n = n_points or wl.size
    energy = np.linspace(e_hi, e_lo, n)           # descending energy = ascending λ
    lam = HC_EV_NM / energy
    j = np.clip(np.searchsorted(wl, lam) - 1, 0, wl.size - 2)
    w = (lam - wl[j]) / (wl[j + 1] - wl[j])
    res = a2[:, j] * (1 - w) + a2[:, j + 1] * w
    return -energy, res, single


def band_gap_ev(wavelengths_nm, absorbance, *, search_ev: tuple[float, float] | None = None,
                window_ev: float = 0.1, polyorder: int = 3, noise_sigma: float = 10.0,
                min_relative: float = 0.1):
    """Optical band gap (eV) from the minimum of the absorption's second derivative.

    The published procedure for the Zn–Cu–In–S QDs (SCIENCE.md B, 2.14–2.46 eV):
    the spectrum is resampled onto a uniform energy grid and the lowest-energy
    significant minimum of d²A/dE² is the gap.  Vectorised over stacks.

    Parameters
    ----------
    wavelengths_nm, absorbance : array_like
        One spectrum or a stack.
    search_ev : (float, float), optional
        Energy range for the gap (e.g. ``(1.8, 3.0)``).
    window_ev : float
        Savitzky–Golay window in eV (default 0.1: band edges of alloyed QDs are
        broad, FWHM ≈ 0.2 eV; narrower windows follow the noise).

    Returns
    -------
    float or ndarray
        Band gap in eV, NaN where no feature was found.
    """
    x, a2, single = _energy_resample(wavelengths_nm, absorbance)
    search = None if search_ev is None else (-max(search_ev), -min(search_ev))
    f = _reddest_feature(x, a2, search, window_ev, polyorder, noise_sigma, min_relative,
                         "curvature")
    gap = np.where(f["found"], -f["position"], np.nan)
    return _out(gap[0]) if single else gap


# ---------------------------------------------------------------------------
# Gaussian decomposition (SCIENCE.md E)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class GaussianDecomposition:
    """A(E) as a sum of Gaussian transitions plus a polynomial background.

    Attributes
    ----------
    centroids_ev, amplitudes, widths_ev : ndarray
        Per transition, lowest energy first (``widths_ev`` are Gaussian σ).
    relative_dispersion : float
        Fitted σ_R/R when the width law was used, else NaN.
    background : ndarray
        Polynomial coefficients in (E − E_ref), lowest order first.
    reference_ev : float
    residual_rms : float
    success : bool
    """

    centroids_ev: np.ndarray
    amplitudes: np.ndarray
    widths_ev: np.ndarray
    relative_dispersion: float
    background: np.ndarray
    reference_ev: float
    residual_rms: float
    success: bool

    def components(self, energy_ev) -> np.ndarray:
        """Each transition's Gaussian on ``energy_ev`` (transitions × points)."""
        e = np.asarray(energy_ev, float)
        return self.amplitudes[:, None] * np.exp(
            -0.5 * ((e[None, :] - self.centroids_ev[:, None]) / self.widths_ev[:, None]) ** 2)

    def __call__(self, energy_ev) -> np.ndarray:
        e = np.asarray(energy_ev, float)
        bg = np.polynomial.polynomial.polyval(e - self.reference_ev, self.background) \
            if self.background.size else 0.0
        return self.components(e).sum(0) + bg


def decompose_gaussians(energy_ev, absorbance, *, centroids_ev=None, n_transitions: int | None = None,
                        search_ev: tuple[float, float] | None = None,
                        bulk_gap_ev: float | None = None, relative_dispersion: float = 0.05,
                        homogeneous_width_ev: float = 0.0, width_ev: float = 0.05,
                        background_order: int = -1, centroid_freedom_ev: float = 0.1,
                        window_ev: float = 0.05) -> GaussianDecomposition:
    """Decompose an absorption spectrum into Gaussian transitions.

    Parameters
    ----------
    energy_ev, absorbance : array_like
        One spectrum on an energy axis (any order; NaN ignored).
    centroids_ev : sequence of float, optional
        Initial transition energies; default: minima of d²A/dE² (as in the study).
    n_transitions : int, optional
        Keep only the ``n`` lowest-energy initial centroids.
    search_ev : (float, float), optional
        Energy range fitted.
    bulk_gap_ev : float, optional
        Bulk band gap (CdSe 1.74 eV; HgₓCd₁₋ₓSe from :func:`..sizing.alloy_bulk_gap_ev`).
        When given, widths follow the size dispersion,
        ``σ_i = √(σ_hom² + (2 (E_i − E_bulk) σ_R/R)²)``, one shared σ_R/R fitted;
        otherwise every width is free.
    relative_dispersion : float
        Initial σ_R/R (width law) — e.g. 0.05 for a 5 % size distribution.
    homogeneous_width_ev : float
        Fixed homogeneous σ added in quadrature (width law only).
    width_ev : float
        Initial σ for free widths.
    background_order : int
        Polynomial background order (−1 none, 0 constant, 1 linear …).
    centroid_freedom_ev : float
        Centroids may move this far from their initial values.
    window_ev : float
        Smoothing window for the initial second-derivative minima.
    """
    from scipy.optimize import least_squares

    e = np.asarray(energy_ev, float)
    a = np.asarray(absorbance, float)
    order = np.argsort(e)
    e, a = e[order], a[order]
    keep = np.isfinite(a) & np.isfinite(e)
    if search_ev is not None:
        keep &= (e >= min(search_ev)) & (e <= max(search_ev))
    e_fit, a_fit = e[keep], a[keep]
    if centroids_ev is None:
        # minima of d2 on a uniform energy grid; the shared finder wants an ascending axis
        grid = np.linspace(e_fit[0], e_fit[-1], e_fit.size)
        feats = _all_features(grid, np.interp(grid, e_fit, a_fit)[None, :], None, window_ev,
                              3, 6.0, 0.02)
        centroids = np.sort(feats.position_nm)
    else:
        centroids = np.sort(np.asarray(centroids_ev, float))
    if n_transitions is not None:
        centroids = centroids[:n_transitions]
    k = centroids.size
    if k == 0:
        raise ValueError("no transitions to fit: no second-derivative minima found and no "
                         "centroids_ev given")
    if e_fit.size < 3 * k + background_order + 2:
        raise ValueError(f"{e_fit.size} points cannot constrain {k} transitions")
    e_ref = float(e_fit.mean())
    law = bulk_gap_ev is not None
    if law and np.any(centroids <= bulk_gap_ev):
        raise ValueError(f"transition below the bulk gap {bulk_gap_ev} eV: {centroids}")

    def widths(theta_w):
        if law:
            conf = 2.0 * (cen_of(p_cur) - bulk_gap_ev) * theta_w[0]
            return np.sqrt(homogeneous_width_ev**2 + conf**2)
        return theta_w

    amp0 = np.clip(np.interp(centroids, e_fit, a_fit), 1e-6, None)
    nw = 1 if law else k
    w0 = np.array([relative_dispersion]) if law else np.full(k, width_ev)
    nb = background_order + 1
    p0 = np.concatenate([centroids, np.log(amp0), np.log(w0), np.zeros(nb)])
    lo = np.concatenate([centroids - centroid_freedom_ev, np.full(k, -30.0),
                         np.full(nw, np.log(1e-4)), np.full(nb, -np.inf)])
    hi = np.concatenate([centroids + centroid_freedom_ev, np.full(k, 10.0),
                         np.full(nw, np.log(2.0)), np.full(nb, np.inf)])
    p_cur = p0

    def cen_of(p):
        return p[:k]

    def model(p):
        nonlocal p_cur
        p_cur = p
        cen, amp = p[:k], np.exp(p[k:2 * k])
        sig = widths(np.exp(p[2 * k:2 * k + nw]))
        out = (amp[:, None] * np.exp(-0.5 * ((e_fit[None, :] - cen[:, None]) / sig[:, None]) ** 2)
               ).sum(0)
        if nb:
            out = out + np.polynomial.polynomial.polyval(e_fit - e_ref, p[2 * k + nw:])
        return out

    res = least_squares(lambda p: model(p) - a_fit, p0, bounds=(lo, hi), x_scale="jac")
    p = res.x
    p_cur = p
    cen = p[:k]
    sig = widths(np.exp(p[2 * k:2 * k + nw]))
    rms = float(np.sqrt(np.mean(res.fun**2)))
    return GaussianDecomposition(
        centroids_ev=cen, amplitudes=np.exp(p[k:2 * k]), widths_ev=np.asarray(sig, float),
        relative_dispersion=float(np.exp(p[2 * k])) if law else float("nan"),
        background=p[2 * k + nw:].copy(), reference_ev=e_ref, residual_rms=rms,
        success=bool(res.success))


# ---------------------------------------------------------------------------
# emission band width
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FWHMResult:
    """Emission band: peak and full width at half maximum, in nm and meV."""

    peak_nm: np.ndarray | float
    peak_intensity: np.ndarray | float
    fwhm_nm: np.ndarray | float
    fwhm_mev: np.ndarray | float
    found: np.ndarray | bool

    @property
    def peak_ev(self):
        return _out(nm_to_ev(self.peak_nm))


def fwhm(wavelengths_nm, intensity, *, search_nm: tuple[float, float] | None = None,
         window_nm: float | None = 5.0, baseline=0.0) -> FWHMResult:
    """Peak and FWHM of the strongest emission band (vectorised over stacks).

    Parameters
    ----------
    wavelengths_nm, intensity : array_like
        One spectrum or a stack (counts or any linear intensity; NaN ignored).
    search_nm : (float, float), optional
        Range holding the band (exclude the excitation line's scatter).
    window_nm : float or None
        Savitzky–Golay smoothing before locating the half-maximum crossings
        (None: raw data).
    baseline : float, array_like or "edges"
        Subtracted before halving: a number or array, or ``"edges"`` — the
        mean of the first and last 5 % of the search range.

    Returns
    -------
    FWHMResult
        ``fwhm_mev`` is the width on the energy axis,
        1239.84·10³·(1/λ_blue − 1/λ_red): emission widths of nanocrystals are
        quoted in meV (SCIENCE.md E: 109–196 meV).  NaN (found False) when the
        band is not bounded by half-maximum crossings inside the range.
    """
    wl, y2, single = _axis(wavelengths_nm, intensity)
    if search_nm is not None:
        sel = (wl >= min(search_nm)) & (wl <= max(search_nm))
        wl, y2 = wl[sel], y2[:, sel]
    if window_nm:
        win = _window_px(wl, window_nm, 3)
        if y2.shape[-1] >= win:
            y2 = smooth(y2, win, 3)
    if isinstance(baseline, str):
        if baseline != "edges":
            raise ValueError(f"baseline must be a number, an array or 'edges', not {baseline!r}")
        k = max(1, y2.shape[-1] // 20)
        base = 0.5 * (np.nanmean(y2[:, :k], -1) + np.nanmean(y2[:, -k:], -1))[:, None]
    else:
        base = np.asarray(baseline, float)
        if base.ndim == 1 and base.size == y2.shape[0] and base.size != wl.size:
            base = base[:, None]
    y = y2 - base
    n, m = y.shape
    rows = np.arange(n)
    yz = np.where(np.isnan(y), -np.inf, y)
    ip = np.argmax(yz, axis=-1)
    peak = yz[rows, ip]
    half = peak / 2.0
    idx = np.arange(m)
    below = (y < half[:, None])
    right_mask = below & (idx > ip[:, None])
    left_mask = below & (idx < ip[:, None])
    has_r = right_mask.any(-1)
    has_l = left_mask.any(-1)
    jr = np.argmax(right_mask, axis=-1)
    jl = m - 1 - np.argmax(left_mask[:, ::-1], axis=-1)
    jr_c = np.clip(jr, 1, m - 1)
    jl_c = np.clip(jl, 0, m - 2)

    def cross(j0, j1):
        y0, y1 = y[rows, j0], y[rows, j1]
        t = (half - y0) / np.where(y1 != y0, y1 - y0, 1.0)
        return wl[j0] + (wl[j1] - wl[j0]) * t

    lam_r = cross(jr_c - 1, jr_c)
    lam_l = cross(jl_c, jl_c + 1)
    ok = has_r & has_l & (peak > 0)
    # peak position: vertex of a parabola through the (smoothed) maximum
    ipc = np.clip(ip, 1, m - 2)
    delta, _ = _vertex(y[rows, ipc - 1], y[rows, ipc], y[rows, ipc + 1])
    peak_nm = np.interp(ipc + delta, idx.astype(float), wl)
    width_nm = lam_r - lam_l
    width_mev = 1e3 * HC_EV_NM * (1.0 / lam_l - 1.0 / lam_r)

    def fin(v):
        v = np.where(ok, v, np.nan)
        return _out(v[0]) if single else v

    return FWHMResult(peak_nm=fin(peak_nm), peak_intensity=fin(peak + np.squeeze(
        np.broadcast_to(base, y.shape)[rows, ip])), fwhm_nm=fin(width_nm),
        fwhm_mev=fin(width_mev), found=bool(ok[0]) if single else ok)
