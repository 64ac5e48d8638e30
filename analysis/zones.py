"""Reaction-zone classification of CdTe magic-sized-cluster syntheses (SCIENCE.md C).

A run is a timed series of absorption spectra of (diluted) aliquots.  Each
spectrum is decomposed into the species the study distinguishes:

================  ==========================================================
``msc449``        the magic-sized cluster: sharp E1 at 449 nm (its E2, a
                  405 nm shoulder, is recorded as ``msc449_e2``)
``msc469``        the second magic-sized species: sharp 463 → 469 nm (E2
                  ≈ 424–427 nm, recorded as ``msc469_e2``); also the
                  ≈ 467–470 nm features at high Cd:Te
``precursor430``  broad (FWHM ≥ 30 nm) band centred ≈ 430 nm: the precursor
                  complex growing without oleylamine
``qd``            broad band centred above 475 nm: regular quantum dots
``other_sharp``   any other sharp feature (e.g. ≈ 480 and ≈ 550 nm at 150 °C)
``other_broad``   any other broad band
================  ==========================================================

and the run is put in one of three zones:

* ``"MSC only"`` — ``msc449`` seen at some time, nothing else at any time;
* ``"MSC + other species"`` — ``msc449`` and any other species;
* ``"no MSC"`` — ``msc449`` never seen (whether or not anything else formed).

How a spectrum is decomposed
----------------------------
1. Sharp features (FWHM ≤ ``sharp_max_fwhm_nm``) are the second-derivative
   minima at a 6 nm smoothing window (:func:`..spectra.second_derivative_minima`).
2. The spectrum is fitted with one Gaussian per sharp feature plus a smooth
   cubic B-spline (knots every ``knot_nm``) for everything broad — scattering,
   higher-energy absorption, precursor and QD bands.  The Gaussians' centres
   and widths are refined non-linearly; all amplitudes and spline
   coefficients are linear least squares for each trial (variable projection).
3. Broad bands are the second-derivative minima of the fitted smooth part,
   kept when their height above the chord one FWHM either side exceeds the
   noise threshold.

Every threshold is a keyword argument with the default documented; every
decision is returned as evidence (positions, widths, heights, times) so a
chemist can check it against the spectra.

Decisions where the specification is silent
-------------------------------------------
* Position windows: 449 ± 5 nm (its E2 shoulder 400–414 nm, see
  ``MSC449_E2_RED_LIMIT_NM``); the second species 458–476 nm (it drifts
  463 → 469 nm between 8 and 24 h and appears as a 467 nm shoulder at
  Cd:Te 2.4:1); precursor complex 410–450 nm; QD bands above 475 nm.
* Significance: a feature must be ``min_height_sigma`` (default 6) noise σ
  high, and at least ``min_height_fraction`` (2 %) of the largest absorbance
  in the analysis range (default 370–650 nm), and ≥ ``min_absorbance`` (0.002).
* Broad structure that is not a species: the smooth part of the fit leaves a
  broad residual under a strong 449 nm peak (``msc449_base``, centred 440–455
  nm) and the rising higher-energy absorption below 410 nm (``uv_tail``); both
  are recorded as evidence and do not count as "other species".  The precursor
  complex is therefore looked for at 415–440 nm (≈ 430 nm in the study).
* Persistence: an other species must be seen in at least ``min_other_aliquots``
  (default 2) aliquots to change the zone — one noisy fit does not make a
  mixture; every species and the times it was seen stay in the evidence.
* Photoluminescence is recorded as evidence when emission spectra are given
  but does not change the zone: the study's zone table is built on absorption.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import BSpline
from scipy.optimize import least_squares

from .spectra import _noise_sigma, fwhm, second_derivative_minima

ZONES = ("no MSC", "MSC only", "MSC + other species")
#: species that make a run "MSC + other species" when seen beside msc449
OTHER_SPECIES = ("msc469", "precursor430", "qd", "other_sharp", "other_broad")


@dataclass(frozen=True)
class Feature:
    """One species assignment in one spectrum."""

    species: str
    position_nm: float
    fwhm_nm: float
    height: float
    kind: str            # "sharp" or "broad"

    def as_dict(self) -> dict:
        return {"species": self.species, "position_nm": round(self.position_nm, 2),
                "fwhm_nm": round(self.fwhm_nm, 2), "height": round(self.height, 5),
                "kind": self.kind}


@dataclass(frozen=True)
class SpectrumSpecies:
    """The species found in one spectrum."""

    time_s: float
    features: tuple[Feature, ...]
    noise: float
    emission_peak_nm: float = float("nan")
    emission_fwhm_nm: float = float("nan")

    @property
    def species(self) -> set[str]:
        return {f.species for f in self.features}

    @property
    def has_msc(self) -> bool:
        return "msc449" in self.species

    @property
    def others(self) -> set[str]:
        return self.species & set(OTHER_SPECIES)

    def height_of(self, species: str) -> float:
        h = [f.height for f in self.features if f.species == species]
        return max(h) if h else 0.0

    def as_dict(self) -> dict:
        out = {"time_s": self.time_s, "features": [f.as_dict() for f in self.features],
               "noise": self.noise}
        if np.isfinite(self.emission_peak_nm):
            out["emission_peak_nm"] = round(self.emission_peak_nm, 2)
            out["emission_fwhm_nm"] = round(self.emission_fwhm_nm, 2)
        return out


@dataclass(frozen=True)
class ZoneResult:
    """Zone of one run with the evidence behind it.

    Attributes
    ----------
    zone : str
        One of :data:`ZONES`.
    first_seen_s : dict
        Species → first time (s) it was seen.
    msc_max_time_s, msc_max_absorbance : float
        When the 449 nm cluster absorbance peaked, and its height (NaN if never).
    spectra : tuple of SpectrumSpecies
        Per-time evidence.
    conditions : dict
        The run's reaction coordinates (for :func:`zone_map`).
    """

    zone: str
    first_seen_s: dict
    msc_max_time_s: float
    msc_max_absorbance: float
    spectra: tuple[SpectrumSpecies, ...]
    conditions: dict = field(default_factory=dict)

    @property
    def code(self) -> int:
        return ZONES.index(self.zone)

    def evidence(self) -> dict:
        """A JSON-friendly summary for metadata and reports."""
        return {"zone": self.zone, "first_seen_s": self.first_seen_s,
                "msc_max_time_s": self.msc_max_time_s,
                "msc_max_absorbance": self.msc_max_absorbance,
                "conditions": self.conditions,
                "spectra": [s.as_dict() for s in self.spectra]}

    describe = evidence

    def summary(self) -> str:
        seen = ", ".join(f"{k} from {v / 3600:.1f} h" for k, v in self.first_seen_s.items())
        return f"{self.zone} ({seen or 'no features'})"


# ---------------------------------------------------------------------------
# one spectrum
# ---------------------------------------------------------------------------

#: the 405 nm shoulder of the 449 nm MSC sits on the steep UV tail (and, early on,
#: beside the ≈ 430 nm precursor band): its d²A/dλ² minimum is found up to ≈ 8 nm to the
#: red of the band centre (412 nm in simulated toluene runs at 1–2 h), so the window
#: runs 400–414 nm — still clear of the 469 species' E2 (418–432 nm)
MSC449_E2_RED_LIMIT_NM = 414.0


def _assign_sharp(pos: float) -> str:
    if 444.0 <= pos <= 454.0:
        return "msc449"
    if 400.0 <= pos <= MSC449_E2_RED_LIMIT_NM:
        return "msc449_e2"
    if 458.0 <= pos <= 476.0:
        return "msc469"
    if 418.0 <= pos <= 432.0:
        return "msc469_e2"
    return "other_sharp"


def _assign_broad(pos: float, width: float) -> str:
    if pos < 410.0:
        return "uv_tail"
    if 415.0 <= pos <= 440.0 and width >= 30.0:
        return "precursor430"
    if 440.0 < pos <= 455.0:
        return "msc449_base"
    if pos > 475.0:
        return "qd"
    return "other_broad"


def _design(wl, centres, sigmas, basis):
    g = np.exp(-0.5 * ((wl[:, None] - centres[None, :]) / sigmas[None, :]) ** 2)
    return np.hstack([g, basis])


def _fit_sharp_and_smooth(wl, a, centres0, sigmas0, knot_nm):
    """Variable-projection fit: Gaussians (non-linear centre, σ) + cubic B-spline."""
    k = 3
    inner = np.arange(wl[0], wl[-1], knot_nm)
    inner = np.append(inner[inner < wl[-1] - knot_nm / 2], wl[-1])
    knots = np.concatenate([[wl[0]] * k, inner, [wl[-1]] * k])
    basis = BSpline.design_matrix(wl, knots, k).toarray()
    n = len(centres0)

    def linear(theta):
        c, s = theta[:n], theta[n:]
        m = _design(wl, c, s, basis)
        # normal equations (tiny ridge for Gaussians that vanish): ~20 unknowns, and this
        # runs for every trial of the non-linear fit, so avoid an SVD each time
        mtm = m.T @ m
        mtm[np.diag_indices_from(mtm)] += 1e-10 * np.trace(mtm) / mtm.shape[0]
        coef = np.linalg.solve(mtm, m.T @ a)
        return m, coef

    if n == 0:
        m, coef = linear(np.zeros(0))
        return np.zeros(0), np.zeros(0), np.zeros(0), basis @ coef
    theta0 = np.concatenate([centres0, sigmas0])
    lo = np.concatenate([np.asarray(centres0) - 3.0, np.full(n, 1.5)])
    hi = np.concatenate([np.asarray(centres0) + 3.0, np.full(n, 15.0)])
    theta0 = np.clip(theta0, lo + 1e-9, hi - 1e-9)

    def resid(theta):
        m, coef = linear(theta)
        return m @ coef - a

    res = least_squares(resid, theta0, bounds=(lo, hi), x_scale="jac", max_nfev=100,
                        xtol=1e-6, ftol=1e-6)
    m, coef = linear(res.x)
    return res.x[:n], res.x[n:], coef[:n], basis @ coef[n:]


def _chord_height(wl, y, pos, width):
    """Height of ``y`` at ``pos`` above the chord joining ``pos ± width``."""
    lo, hi = pos - width, pos + width
    if lo < wl[0] or hi > wl[-1]:
        # one-sided band at the edge of the range: height above the lower end
        yl = np.interp(max(lo, wl[0]), wl, y)
        yh = np.interp(min(hi, wl[-1]), wl, y)
        return float(np.interp(pos, wl, y) - max(yl, yh))
    yl, yh = np.interp(lo, wl, y), np.interp(hi, wl, y)
    return float(np.interp(pos, wl, y) - 0.5 * (yl + yh))


def classify_spectrum(wavelengths_nm, absorbance, *, time_s: float = 0.0,
                      range_nm: tuple[float, float] = (370.0, 650.0),
                      sharp_window_nm: float = 6.0, broad_window_nm: float = 15.0,
                      sharp_max_fwhm_nm: float = 25.0, knot_nm: float = 25.0,
                      min_height_sigma: float = 6.0, min_height_fraction: float = 0.02,
                      min_absorbance: float = 0.002, emission=None) -> SpectrumSpecies:
    """Find the magic-sized clusters, QDs and precursor bands in one spectrum.

    Parameters
    ----------
    wavelengths_nm, absorbance : array_like
        One absorption spectrum (NaN = masked).
    time_s : float
        Reaction time of the aliquot (recorded in the evidence).
    range_nm : (float, float)
        Analysis range.
    emission : array_like, optional
        Emission spectrum on the same axis (recorded as evidence only).

    Other parameters are the thresholds documented in the module docstring.
    """
    wl_all = np.asarray(wavelengths_nm, float)
    a_all = np.asarray(absorbance, float)
    if wl_all[0] > wl_all[-1]:
        wl_all, a_all = wl_all[::-1], a_all[::-1]
        emission = None if emission is None else np.asarray(emission, float)[::-1]
    sel = (wl_all >= range_nm[0]) & (wl_all <= range_nm[1]) & np.isfinite(a_all)
    wl, a = wl_all[sel], a_all[sel]
    if wl.size < 20:
        raise ValueError(f"fewer than 20 valid pixels in {range_nm} nm")
    noise = float(_noise_sigma(a[None, :])[0])
    floor = max(min_height_sigma * noise, min_height_fraction * float(np.max(np.abs(a))),
                min_absorbance)
    feats: list[Feature] = []

    sharp = second_derivative_minima(wl, a, window_nm=sharp_window_nm, noise_sigma=8.0,
                                     min_relative=0.03)
    keep = np.isfinite(sharp.fwhm_nm) & (sharp.fwhm_nm <= sharp_max_fwhm_nm)
    c0 = sharp.position_nm[keep]
    s0 = np.clip(sharp.fwhm_nm[keep] / 2.3548, 1.6, 14.0)
    centres, sigmas, amps, smooth_part = _fit_sharp_and_smooth(wl, a, c0, s0, knot_nm)
    for c, s, h in zip(centres, sigmas, amps, strict=True):
        if h >= floor:
            feats.append(Feature(_assign_sharp(float(c)), float(c), float(2.3548 * s), float(h),
                                 "sharp"))

    broad = second_derivative_minima(wl, smooth_part, window_nm=broad_window_nm,
                                     noise_sigma=0.0, min_relative=0.0)
    for pos, width in zip(broad.position_nm, broad.fwhm_nm, strict=True):
        if not np.isfinite(width) or width <= sharp_max_fwhm_nm:
            continue
        h = _chord_height(wl, smooth_part, float(pos), float(width))
        if h >= floor:
            feats.append(Feature(_assign_broad(float(pos), float(width)), float(pos),
                                 float(width), h, "broad"))

    em_peak = em_width = float("nan")
    if emission is not None:
        e = np.asarray(emission, float)[sel]
        r = fwhm(wl, e, search_nm=(470.0, range_nm[1]), baseline="edges")
        if r.found:
            em_peak, em_width = float(r.peak_nm), float(r.fwhm_nm)
    feats.sort(key=lambda f: f.position_nm)
    return SpectrumSpecies(time_s=float(time_s), features=tuple(feats), noise=noise,
                           emission_peak_nm=em_peak, emission_fwhm_nm=em_width)


# ---------------------------------------------------------------------------
# a run, and a grid of runs
# ---------------------------------------------------------------------------

def classify_series(wavelengths_nm, absorbance, times_s: Sequence[float], *,
                    conditions: dict | None = None, emission=None, min_other_aliquots: int = 2,
                    **kwargs) -> ZoneResult:
    """Zone of one run from its timed absorption spectra (``N × pixels``).

    Parameters
    ----------
    wavelengths_nm : array_like
        Shared wavelength axis.
    absorbance : array_like, shape (N, pixels)
        Aliquot spectra in time order (any order is accepted: sorted by time).
    times_s : sequence of float
        Reaction time of each aliquot (s).
    conditions : dict, optional
        The run's reaction coordinates, e.g. ``{"solvent": "toluene",
        "oam_mmol": 6.0}``, carried into the result for :func:`zone_map`.
    emission : array_like, optional
        Emission spectra matching ``absorbance`` (evidence only).
    min_other_aliquots : int
        Aliquots in which another species must appear to make the zone a mixture.
    **kwargs
        Thresholds for :func:`classify_spectrum`.
    """
    wl = np.asarray(wavelengths_nm, float)
    a = np.atleast_2d(np.asarray(absorbance, float))
    if wl.ndim != 1 or a.ndim != 2 or a.shape[-1] != wl.size:
        raise ValueError("classify_series(wavelengths_nm, absorbance N × pixels, times_s): "
                         f"got {wl.shape} wavelengths and spectra of shape {a.shape}")
    t = np.asarray(times_s, float).ravel()
    if a.shape[0] != t.size:
        raise ValueError(f"{a.shape[0]} spectra but {t.size} times")
    em = None if emission is None else np.atleast_2d(np.asarray(emission, float))
    order = np.argsort(t, kind="stable")
    per = tuple(classify_spectrum(wl, a[i], time_s=float(t[i]),
                                  emission=None if em is None else em[i], **kwargs)
                for i in order)
    first: dict = {}
    for s in per:
        for sp in sorted(s.species):
            first.setdefault(sp, s.time_s)
    msc = any(s.has_msc for s in per)
    seen_in = {}
    for s in per:
        for sp in s.others:
            seen_in[sp] = seen_in.get(sp, 0) + 1
    other = any(n >= min_other_aliquots for n in seen_in.values())
    zone = ZONES[0] if not msc else (ZONES[2] if other else ZONES[1])
    heights = np.array([s.height_of("msc449") for s in per])
    if msc:
        i = int(np.argmax(heights))
        tmax, hmax = per[i].time_s, float(heights[i])
    else:
        tmax, hmax = float("nan"), float("nan")
    return ZoneResult(zone=zone, first_seen_s=first, msc_max_time_s=tmax,
                      msc_max_absorbance=hmax, spectra=per, conditions=dict(conditions or {}))


@dataclass(frozen=True)
class ZoneMap:
    """Zones of several runs on a grid of (up to two) reaction coordinates.

    ``codes[iy, ix]`` is the zone index (:data:`ZONES`) of the run at
    ``x_values[ix]``, ``y_values[iy]``; −1 where no run was made.  When runs
    share a grid point the later one wins and ``duplicates`` counts it.
    """

    x_key: str
    y_key: str | None
    x_values: list
    y_values: list
    codes: np.ndarray
    duplicates: int

    def zone_at(self, x, y=None) -> str | None:
        ix = self.x_values.index(x)
        iy = 0 if self.y_key is None else self.y_values.index(y)
        c = int(self.codes[iy, ix])
        return None if c < 0 else ZONES[c]

    def records(self) -> list[dict]:
        out = []
        for iy, yv in enumerate(self.y_values):
            for ix, xv in enumerate(self.x_values):
                c = int(self.codes[iy, ix])
                rec = {self.x_key: xv, "zone": None if c < 0 else ZONES[c]}
                if self.y_key is not None:
                    rec[self.y_key] = yv
                out.append(rec)
        return out


def _sort_key(v):
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) \
        else (1, 0.0, str(v))


def zone_map(results: Iterable[ZoneResult], *, x_key: str | None = None,
             y_key: str | None = None) -> ZoneMap:
    """Arrange zone results on a grid of their varying reaction coordinates.

    Parameters
    ----------
    results : iterable of ZoneResult
        Each with ``conditions`` naming its reaction coordinates.
    x_key, y_key : str, optional
        Coordinates for the axes; default: the (first two) condition keys
        whose values differ between runs, in order of first appearance.
    """
    res = list(results)
    if not res:
        raise ValueError("zone_map needs at least one classified run")
    if x_key is None:
        keys: list[str] = []
        for r in res:
            keys.extend(k for k in r.conditions if k not in keys)
        varying = [k for k in keys
                   if len({repr(r.conditions.get(k)) for r in res}) > 1]
        if not varying:
            raise ValueError("no reaction coordinate varies between these runs; "
                             "pass x_key to name one")
        x_key = varying[0]
        if y_key is None and len(varying) > 1:
            y_key = varying[1]
    xs = sorted({r.conditions.get(x_key) for r in res}, key=_sort_key)
    ys = [None] if y_key is None else sorted({r.conditions.get(y_key) for r in res}, key=_sort_key)
    codes = np.full((len(ys), len(xs)), -1, dtype=int)
    dup = 0
    for r in res:
        ix = xs.index(r.conditions.get(x_key))
        iy = 0 if y_key is None else ys.index(r.conditions.get(y_key))
        if codes[iy, ix] >= 0:
            dup += 1
        codes[iy, ix] = r.code
    return ZoneMap(x_key=x_key, y_key=y_key, x_values=xs, y_values=ys, codes=codes,
                   duplicates=dup)
