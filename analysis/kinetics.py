"""Kinetic models and catalytic figures of merit.

* First-order approach to a plateau, ``y(t) = y∞ + (y0 − y∞)·exp(−k t)`` —
  growth of a magic-sized cluster's absorbance, E1 relaxing after a dose.
* Avrami (JMAK) transformation, ``X(t) = 1 − exp(−(k t)ⁿ)`` — nucleation and
  growth, assembly into suprastructures.
* Fickian interdiffusion into a sphere (SCIENCE.md E: D ≈ 1e−22 m²/s at 80 °C
  with Hg + Ag): the exchanged fraction for a constant surface composition,
  Crank, *The Mathematics of Diffusion*, eq. 6.20,
  ``F = 1 − (6/π²) Σ 1/n² exp(−n² π² D t / r²)``.
* Turnover numbers: SCIENCE.md A (TON = mol product / mol QD) and D
  (TON per cluster = 13 × mol converted / mol surface metal).

Decisions where the specification is silent
-------------------------------------------
* Times are seconds in and rate constants per second out; ``half_life_s``
  and ``turnover_frequency_per_h`` are given where chemists think in them.
* Fits return a dataclass with the residual RMS so a plan can refuse a bad
  fit instead of acting on it; they raise ``ValueError`` with the reason when
  the data cannot constrain the model (too few points, no change).
* For ``D t / r² < 1e-3`` the series converges slowly; the short-time
  expansion ``F ≈ 6 √(τ/π) − 3τ`` (τ = D t / r²) is used there (relative
  error < 1e-6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, least_squares


def _series(t_s, y, name: str, min_points: int):
    t = np.asarray(t_s, float).ravel()
    v = np.asarray(y, float).ravel()
    if t.shape != v.shape:
        raise ValueError(f"{name}: {t.size} times but {v.size} values")
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if t.size < min_points:
        raise ValueError(f"{name}: need at least {min_points} finite points, got {t.size}")
    order = np.argsort(t)
    return t[order], v[order]


# ---------------------------------------------------------------------------
# first order
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FirstOrderFit:
    """``y(t) = y_inf + (y0 − y_inf)·exp(−k_per_s·(t − t0_s))``."""

    k_per_s: float
    y0: float
    y_inf: float
    t0_s: float
    residual_rms: float

    @property
    def half_life_s(self) -> float:
        return math.log(2.0) / self.k_per_s if self.k_per_s > 0 else math.inf

    def __call__(self, t_s):
        return self.y_inf + (self.y0 - self.y_inf) * np.exp(
            -self.k_per_s * (np.asarray(t_s, float) - self.t0_s))

    def time_to_fraction_s(self, fraction: float) -> float:
        """Time after ``t0_s`` at which ``fraction`` of the change y0 → y∞ is done."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction}")
        return -math.log(1.0 - fraction) / self.k_per_s


def fit_first_order(t_s, y, *, t0_s: float | None = None) -> FirstOrderFit:
    """Fit a first-order approach to a plateau.

    Parameters
    ----------
    t_s, y : array_like
        Times (s) and the observable (absorbance, E1 in nm …); NaN dropped.
    t0_s : float, optional
        Time origin (default: the first time).
    """
    t, v = _series(t_s, y, "first-order fit", 4)
    t0 = float(t[0] if t0_s is None else t0_s)
    span = float(t[-1] - t[0])
    if span <= 0 or np.ptp(v) == 0:
        raise ValueError("first-order fit: the data do not change over time")
    tt = t - t0
    y_inf0 = float(v[-1])
    y00 = float(v[0])
    # initial k from the time the change is half done
    half = 0.5 * (y00 + y_inf0)
    crossed = np.flatnonzero(np.sign(v - half) != np.sign(y00 - half))
    t_half = tt[crossed[0]] if crossed.size else span / 2
    k0 = math.log(2.0) / max(t_half, span * 1e-3)

    def resid(p):
        k = math.exp(p[0])
        return p[2] + (p[1] - p[2]) * np.exp(-k * tt) - v

    res = least_squares(resid, [math.log(k0), y00, y_inf0], x_scale="jac")
    k = math.exp(res.x[0])
    return FirstOrderFit(k_per_s=k, y0=float(res.x[1]), y_inf=float(res.x[2]), t0_s=t0,
                         residual_rms=float(np.sqrt(np.mean(res.fun**2))))


# ---------------------------------------------------------------------------
# Avrami
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AvramiFit:
    """``X(t) = 1 − exp(−(k_per_s·(t − t0_s))**n)``."""

    k_per_s: float
    n: float
    t0_s: float
    residual_rms: float

    def __call__(self, t_s):
        tt = np.clip(np.asarray(t_s, float) - self.t0_s, 0.0, None)
        return 1.0 - np.exp(-((self.k_per_s * tt) ** self.n))

    @property
    def half_time_s(self) -> float:
        return math.log(2.0) ** (1.0 / self.n) / self.k_per_s


def fit_avrami(t_s, fraction, *, t0_s: float = 0.0) -> AvramiFit:
    """Fit the Avrami equation to a transformed fraction ``X`` (0…1).

    The linearised form ln(−ln(1 − X)) = n ln k + n ln t on points with
    0.02 < X < 0.98 gives the start; a least-squares fit on X refines it.
    """
    t, x = _series(t_s, fraction, "Avrami fit", 4)
    tt = t - t0_s
    if np.any(tt < 0):
        raise ValueError("Avrami fit: times before t0_s")
    lin = (x > 0.02) & (x < 0.98) & (tt > 0)
    if lin.sum() >= 2:
        slope, icpt = np.polyfit(np.log(tt[lin]), np.log(-np.log(1 - x[lin])), 1)
        n0 = float(np.clip(slope, 0.3, 6.0))
        k0 = math.exp(icpt / slope) if slope > 0 else 1.0 / np.median(tt[tt > 0])
    else:
        raise ValueError("Avrami fit: need at least two points with 0.02 < X < 0.98")

    def resid(p):
        k, n = math.exp(p[0]), p[1]
        return 1.0 - np.exp(-((k * tt) ** n)) - x

    res = least_squares(resid, [math.log(k0), n0], bounds=([-60, 0.1], [20, 10]),
                        x_scale="jac")
    return AvramiFit(k_per_s=math.exp(res.x[0]), n=float(res.x[1]), t0_s=float(t0_s),
                     residual_rms=float(np.sqrt(np.mean(res.fun**2))))


# ---------------------------------------------------------------------------
# Fickian interdiffusion in a sphere (SCIENCE.md E)
# ---------------------------------------------------------------------------

#: SCIENCE.md E: interdiffusion coefficient with Hg + Ag at 80 °C
D_IECE_80C_M2_S = 1e-22


def sphere_exchange_fraction(t_s, radius_nm, diffusion_m2_s=D_IECE_80C_M2_S, terms: int = 200):
    """Fraction of a sphere exchanged by diffusion from a constant-composition surface.

    Parameters
    ----------
    t_s : array_like
        Time since injection (s).
    radius_nm : float
        Particle radius (nm).
    diffusion_m2_s : float
        Interdiffusion coefficient (m²/s); 1e−22 at 80 °C with Hg + Ag.

    Examples
    --------
    3.2 nm CdSe (r = 1.6 nm) at D = 1e−22 m²/s is ≈ 85 % exchanged after 1 h
    and > 99.5 % after 4 h — "complete in ≈ 4 h" (SCIENCE.md E).
    """
    t = np.asarray(t_s, float)
    r_m = float(radius_nm) * 1e-9
    if r_m <= 0 or diffusion_m2_s < 0:
        raise ValueError("radius must be positive and D non-negative")
    tau = np.clip(diffusion_m2_s * t / r_m**2, 0.0, None)
    n = np.arange(1, terms + 1, dtype=float)
    series = (np.exp(-np.multiply.outer(tau, n**2) * math.pi**2) / n**2).sum(-1)
    long_time = 1.0 - 6.0 / math.pi**2 * series
    short_time = 6.0 * np.sqrt(tau / math.pi) - 3.0 * tau
    out = np.where(tau < 1e-3, short_time, long_time)
    return out.item() if out.ndim == 0 else out


def time_to_exchange_s(fraction: float, radius_nm: float,
                       diffusion_m2_s: float = D_IECE_80C_M2_S) -> float:
    """Time (s) for diffusion to exchange ``fraction`` of a sphere (inverse of the above)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction}")
    if diffusion_m2_s <= 0:
        raise ValueError("diffusion coefficient must be positive")
    r_m = radius_nm * 1e-9
    # F = 1 − (6/π²) e^{−π² τ} bounds τ from above; bracket generously
    tau_hi = max(1.0, -math.log((1 - fraction) * math.pi**2 / 6) / math.pi**2 * 2)
    tau = brentq(lambda tau: sphere_exchange_fraction(tau * r_m**2 / diffusion_m2_s, radius_nm,
                                                      diffusion_m2_s) - fraction,
                 0.0, tau_hi, xtol=1e-12)
    return tau * r_m**2 / diffusion_m2_s


@dataclass(frozen=True)
class DiffusionFit:
    diffusion_m2_s: float
    radius_nm: float
    residual_rms: float

    def __call__(self, t_s):
        return sphere_exchange_fraction(t_s, self.radius_nm, self.diffusion_m2_s)


def fit_interdiffusion(t_s, fraction, radius_nm: float) -> DiffusionFit:
    """Fit the interdiffusion coefficient to an exchanged fraction vs time.

    ``fraction`` is the progress coordinate 0…1 (e.g. the apparent Hg
    fraction from the band-gap shift, normalised to its final value).
    """
    t, x = _series(t_s, fraction, "interdiffusion fit", 2)
    if np.all(x <= 0):
        raise ValueError("interdiffusion fit: no exchange observed")

    def resid(p):
        return sphere_exchange_fraction(t, radius_nm, 10.0 ** p[0]) - x

    # start from the time the exchange is half done: τ½ ≈ 0.0305
    mid = t[np.argmin(np.abs(x - 0.5))]
    d0 = 0.0305 * (radius_nm * 1e-9) ** 2 / max(mid, 1e-9)
    res = least_squares(resid, [math.log10(d0)], bounds=([-40], [-10]))
    return DiffusionFit(diffusion_m2_s=10.0 ** res.x[0], radius_nm=float(radius_nm),
                        residual_rms=float(np.sqrt(np.mean(res.fun**2))))


# ---------------------------------------------------------------------------
# turnover
# ---------------------------------------------------------------------------

def turnover_number(product_mol, catalyst_mol):
    """TON = mol product / mol catalyst (SCIENCE.md A: per QD)."""
    cat = np.asarray(catalyst_mol, float)
    if np.any(cat <= 0):
        raise ValueError(f"catalyst amount must be positive, got {catalyst_mol} mol")
    out = np.asarray(product_mol, float) / cat
    return out.item() if out.ndim == 0 else out


def ton_from_yield(yield_fraction, catalyst_mol_percent):
    """TON from a yield and the catalyst loading in mol % of substrate.

    Table 1 of SCIENCE.md A: 88 % with 0.001 mol % QDs → 88 000;
    30 % with 0.0005 mol % → 60 000.
    """
    load = np.asarray(catalyst_mol_percent, float) / 100.0
    return turnover_number(yield_fraction, load)


def turnover_frequency_per_h(ton, duration_s):
    """TOF (per hour) = TON / reaction time."""
    d = np.asarray(duration_s, float)
    if np.any(d <= 0):
        raise ValueError(f"duration must be positive, got {duration_s} s")
    out = np.asarray(ton, float) / (d / 3600.0)
    return out.item() if out.ndim == 0 else out


def ton_per_cluster(converted_mol, surface_metal_mol, metals_per_cluster: float = 13.0):
    """TON per cluster = 13 × mol converted / mol surface metal (SCIENCE.md D, (MSe)₁₃)."""
    return metals_per_cluster * turnover_number(converted_mol, surface_metal_mol)
