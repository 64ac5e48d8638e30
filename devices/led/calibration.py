"""LED calibration (drive current ↔ irradiance at the vial) and light-dose bookkeeping.

Pure functions and small value objects, no Ophyd and no I/O, so the plan-side
``calibrate_led`` and the analysis code can use them directly.

* :class:`LedCalibration` — a validated, strictly monotonic table of drive
  current (A) against irradiance measured at the vial position (mW/cm²), with
  monotone cubic (PCHIP) interpolation both ways.
* :func:`fit_calibration` — turn a raw current sweep read from a power meter
  (noisy, perhaps with repeats and small dips) into a :class:`LedCalibration`:
  repeats are averaged, small non-monotonic wiggles are removed by isotonic
  regression, a real drop (an LED that tripped mid-sweep) is refused.
* :class:`DoseIntegrator` — accumulates energy dose (mJ/cm² = mW/cm² × s) on the
  device clock, piecewise-constant between changes, so it is exact across clock
  jumps.
* :func:`photon_dose_umol_cm2` — energy dose → µmol photons/cm² at a wavelength.

Design decisions
----------------
* **Interpolation**: the calibration curve is irradiance = PCHIP(current)
  (scipy's :class:`~scipy.interpolate.PchipInterpolator`), which preserves the
  data's monotonicity (no overshoot between table points).  The current for an
  irradiance is the *exact* inverse of that curve (root on the bracketing
  interval), so current → irradiance → current round-trips to rounding and the
  dose books exactly the irradiance that was asked for.
* **Strictly increasing tables only**: a table whose irradiance does not rise with
  current cannot be inverted (two currents for one irradiance); it is refused
  with the offending points named.  :func:`fit_calibration` produces such tables
  from real data.
* **Outside the table**: :meth:`LedCalibration.current_for` refuses irradiances
  outside the calibrated range (the device turns that into a ``LimitError``);
  :meth:`LedCalibration.irradiance_for` clips currents to the table ends,
  because it is only used to *report* what a set current delivers.
* **Uncalibrated LED**: :meth:`LedCalibration.uncalibrated` is an empty table
  whose ``irradiance_range`` is ``(0.0, 0.0)``; asking it for a current raises
  :class:`NotCalibrated`, and the dose integrates NaN (unknown) while the output
  is on, until the dose is reset.
"""

from __future__ import annotations

import datetime as _dt
import math
import threading
from dataclasses import dataclass, field

import numpy as np

#: Planck constant (J s), speed of light (m/s), Avogadro constant (1/mol) — CODATA 2018 exact
PLANCK_J_S = 6.62607015e-34
LIGHT_SPEED_M_S = 299_792_458.0
AVOGADRO_PER_MOL = 6.02214076e23


class NotCalibrated(ValueError):
    """The LED has no irradiance calibration yet; run ``calibrate_led`` first."""


def photon_dose_umol_cm2(energy_mj_cm2: float, wavelength_nm: float) -> float:
    """Photon dose in µmol photons/cm² for an energy dose at one wavelength.

    N = E·λ / (h·c) photons; divided by N_A for moles.

    Parameters
    ----------
    energy_mj_cm2 : float
        Energy dose (mJ/cm²).
    wavelength_nm : float
        Emission wavelength (nm), > 0.

    Returns
    -------
    float
        µmol photons per cm² (1 mJ at 460 nm ≈ 3.85e-3 µmol).
    """
    if not wavelength_nm > 0:
        raise ValueError(f"wavelength must be positive, got {wavelength_nm!r} nm")
    joules = energy_mj_cm2 * 1e-3
    photons = joules * (wavelength_nm * 1e-9) / (PLANCK_J_S * LIGHT_SPEED_M_S)
    return photons / AVOGADRO_PER_MOL * 1e6


def _as_date_str(date) -> str:
    if isinstance(date, _dt.datetime | _dt.date):
        return date.isoformat()
    return "" if date is None else str(date)


@dataclass(frozen=True)
class LedCalibration:
    """Drive current ↔ irradiance at the vial, strictly increasing.

    Parameters
    ----------
    current_a : array of float
        Drive currents (A), strictly increasing, ≥ 0.
    irradiance_mw_cm2 : array of float
        Irradiance at the vial position (mW/cm²) for each current, strictly
        increasing, ≥ 0.
    date : str
        When the table was measured (ISO date or date-time).
    sensor : str
        The power-meter sensor used (e.g. ``"S121C"``), for provenance.

    Raises
    ------
    ValueError
        Lengths differ, fewer than two points, non-finite or negative values, or
        either column not strictly increasing (the message names the points).
    """

    current_a: np.ndarray
    irradiance_mw_cm2: np.ndarray
    date: str = ""
    sensor: str = ""
    _fwd: object = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        cur = np.asarray(self.current_a, dtype=float).ravel()
        irr = np.asarray(self.irradiance_mw_cm2, dtype=float).ravel()
        object.__setattr__(self, "current_a", cur)
        object.__setattr__(self, "irradiance_mw_cm2", irr)
        object.__setattr__(self, "date", _as_date_str(self.date))
        object.__setattr__(self, "sensor", "" if self.sensor is None else str(self.sensor))
        if cur.size == 0 and irr.size == 0:
            return  # the uncalibrated table
        if cur.size != irr.size:
            raise ValueError(f"calibration: {cur.size} currents but {irr.size} irradiances")
        if cur.size < 2:
            raise ValueError("calibration: need at least two (current, irradiance) points")
        if not (np.all(np.isfinite(cur)) and np.all(np.isfinite(irr))):
            raise ValueError("calibration: currents and irradiances must be finite numbers")
        if cur.min() < 0 or irr.min() < 0:
            raise ValueError("calibration: currents and irradiances must not be negative")
        for name, col in (("current", cur), ("irradiance", irr)):
            bad = np.flatnonzero(np.diff(col) <= 0)
            if bad.size:
                i = int(bad[0])
                raise ValueError(
                    f"calibration: {name} must increase strictly along the table; point {i + 1} "
                    f"({cur[i]:g} A, {irr[i]:g} mW/cm²) is followed by point {i + 2} "
                    f"({cur[i + 1]:g} A, {irr[i + 1]:g} mW/cm²) — refit the sweep with "
                    f"fit_calibration() or repeat the measurement")
        from scipy.interpolate import PchipInterpolator

        object.__setattr__(self, "_fwd", PchipInterpolator(cur, irr, extrapolate=False))

    # -- construction -------------------------------------------------------
    @classmethod
    def uncalibrated(cls) -> LedCalibration:
        """An empty table: the LED can be switched but not set by irradiance."""
        return cls(np.zeros(0), np.zeros(0), date="", sensor="")

    @classmethod
    def from_config(cls, cfg: dict | None) -> LedCalibration:
        """From a profile's ``calibration:`` mapping (``None`` → uncalibrated)."""
        if not cfg:
            return cls.uncalibrated()
        missing = {"current_a", "irradiance_mw_cm2"} - set(cfg)
        if missing:
            raise ValueError(f"calibration needs {sorted(missing)} (lists of equal length)")
        unknown = set(cfg) - {"current_a", "irradiance_mw_cm2", "date", "sensor"}
        if unknown:
            raise ValueError(f"calibration: unknown key(s) {sorted(unknown)}; allowed: "
                             "current_a, irradiance_mw_cm2, date, sensor")
        return cls(cfg["current_a"], cfg["irradiance_mw_cm2"], date=cfg.get("date", ""),
                   sensor=cfg.get("sensor", ""))

    def to_config(self) -> dict:
        """A YAML/JSON-ready mapping that :meth:`from_config` reads back."""
        return {"current_a": [float(x) for x in self.current_a],
                "irradiance_mw_cm2": [float(x) for x in self.irradiance_mw_cm2],
                "date": self.date, "sensor": self.sensor}

    # -- queries --------------------------------------------------------------
    @property
    def is_calibrated(self) -> bool:
        return self.current_a.size >= 2

    @property
    def irradiance_range(self) -> tuple[float, float]:
        """(lowest, highest) calibrated irradiance in mW/cm²; ``(0.0, 0.0)`` if uncalibrated."""
        if not self.is_calibrated:
            return (0.0, 0.0)
        return (float(self.irradiance_mw_cm2[0]), float(self.irradiance_mw_cm2[-1]))

    @property
    def current_range(self) -> tuple[float, float]:
        """(lowest, highest) calibrated current in A; ``(0.0, 0.0)`` if uncalibrated."""
        if not self.is_calibrated:
            return (0.0, 0.0)
        return (float(self.current_a[0]), float(self.current_a[-1]))

    def current_for(self, irradiance_mw_cm2: float) -> float:
        """Drive current (A) that gives ``irradiance_mw_cm2`` at the vial.

        Raises
        ------
        NotCalibrated
            The table is empty.
        ValueError
            ``irradiance_mw_cm2`` lies outside :attr:`irradiance_range`.
        """
        if not self.is_calibrated:
            raise NotCalibrated("no irradiance calibration: run calibrate_led first")
        lo, hi = self.irradiance_range
        x = float(irradiance_mw_cm2)
        if not (lo <= x <= hi):
            raise ValueError(f"{x:g} mW/cm² is outside the calibrated range {lo:g}–{hi:g} mW/cm²")
        irr, cur = self.irradiance_mw_cm2, self.current_a
        k = int(np.searchsorted(irr, x))
        if k < irr.size and irr[k] == x:
            return float(cur[k])
        # exact inverse of the forward curve on the bracketing interval, so that
        # irradiance_for(current_for(x)) == x (the dose books what was asked)
        from scipy.optimize import brentq

        a, b = float(cur[k - 1]), float(cur[k])
        return float(brentq(lambda c: float(self._fwd(c)) - x, a, b, xtol=1e-15, rtol=1e-13))

    def irradiance_for(self, current_a: float) -> float:
        """Irradiance (mW/cm²) a drive current delivers, clipped to the table ends.

        Returns NaN for an uncalibrated LED (the irradiance is unknown).
        """
        if not self.is_calibrated:
            return math.nan
        lo, hi = self.current_range
        return float(self._fwd(min(max(float(current_a), lo), hi)))

    def __eq__(self, other):
        if not isinstance(other, LedCalibration):
            return NotImplemented
        return (np.array_equal(self.current_a, other.current_a)
                and np.array_equal(self.irradiance_mw_cm2, other.irradiance_mw_cm2)
                and self.date == other.date and self.sensor == other.sensor)

    __hash__ = None  # arrays inside: not hashable

    def __repr__(self) -> str:
        if not self.is_calibrated:
            return "LedCalibration(uncalibrated)"
        lo, hi = self.irradiance_range
        return (f"LedCalibration({self.current_a.size} points, {lo:g}–{hi:g} mW/cm² over "
                f"{self.current_range[0]:g}–{self.current_range[1]:g} A, date={self.date!r}, "
                f"sensor={self.sensor!r})")


def _isotonic(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool-adjacent-violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for yi, wi in zip(y, w, strict=True):
        blocks.append([float(yi), float(wi), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(n, m) for m, _, n in blocks])


def fit_calibration(current_a, irradiance_mw_cm2, *, date=None, sensor: str = "",
                    max_drop_fraction: float = 0.05) -> LedCalibration:
    """Build a calibration table from a measured current sweep.

    Parameters
    ----------
    current_a, irradiance_mw_cm2 : sequences of float
        The sweep: drive currents (A) and the irradiance read at the vial
        (power-meter power / aperture area, mW/cm²), in any order, repeats allowed.
    date : str or date, optional
        Measurement date; default today (ISO format).
    sensor : str
        Power-meter sensor model, recorded for provenance.
    max_drop_fraction : float
        Largest tolerated decrease of irradiance with increasing current, as a
        fraction of the maximum irradiance.  Smaller dips are measurement noise
        and are smoothed out (isotonic regression); a larger one means the LED
        tripped, the meter moved or the head overheated, and the sweep is refused.

    Returns
    -------
    LedCalibration

    Raises
    ------
    ValueError
        Too few distinct currents, non-finite values, a drop larger than
        ``max_drop_fraction``, or no light at all.
    """
    cur = np.asarray(current_a, dtype=float).ravel()
    irr = np.asarray(irradiance_mw_cm2, dtype=float).ravel()
    if cur.size != irr.size:
        raise ValueError(f"fit_calibration: {cur.size} currents but {irr.size} irradiances")
    if not (np.all(np.isfinite(cur)) and np.all(np.isfinite(irr))):
        raise ValueError("fit_calibration: the sweep contains non-finite values "
                         "(a failed or saturated power-meter reading?)")
    if cur.size and cur.min() < 0:
        raise ValueError("fit_calibration: currents must not be negative")
    # a zeroed meter may read a hair below zero in the dark: that is zero light
    irr = np.clip(irr, 0.0, None)
    levels, inverse, counts = np.unique(cur, return_inverse=True, return_counts=True)
    if levels.size < 2:
        raise ValueError("fit_calibration: need at least two distinct currents")
    means = np.bincount(inverse, weights=irr) / counts
    peak = float(means.max())
    if not peak > 0:
        raise ValueError("fit_calibration: no light measured at any current — is the LED "
                         "connected, the output enabled, and the sensor at the vial position?")
    running_max = np.maximum.accumulate(means)
    drops = (running_max - means) / peak
    worst = int(np.argmax(drops))
    if drops[worst] > max_drop_fraction:
        raise ValueError(
            f"fit_calibration: irradiance falls from {running_max[worst]:.4g} to "
            f"{means[worst]:.4g} mW/cm² at {levels[worst]:g} A ({100 * drops[worst]:.1f} % of "
            f"full scale, more than the {100 * max_drop_fraction:g} % noise allowance): the LED "
            f"probably tripped or the sensor moved; repeat the sweep")
    fitted = _isotonic(means, counts.astype(float))
    # flat stretches (below threshold, or pooled noise) cannot be inverted: keep
    # the lowest current of each run of equal irradiance
    keep = np.concatenate([[True], np.diff(fitted) > 1e-12 * max(peak, 1.0)])
    levels, fitted = levels[keep], fitted[keep]
    if levels.size < 2:
        raise ValueError("fit_calibration: the sweep is flat; no usable calibration")
    return LedCalibration(levels, fitted, date=date or _dt.date.today().isoformat(), sensor=sensor)


class DoseIntegrator:
    """Energy dose (mJ/cm²) accumulated on a clock from a piecewise-constant irradiance.

    Between calls the irradiance is constant, so the integral is exact whatever
    the clock does (runs, jumps an hour).  The owner calls :meth:`set_level` when
    the light changes and :meth:`confirm` when the instrument confirms the output
    is still on; :meth:`lost` books the light only up to the last confirmation
    (the instrument switched itself off at some unknown moment since).

    Parameters
    ----------
    clock : Clock
        The device clock.
    """

    def __init__(self, clock):
        self.clock = clock
        self._lock = threading.Lock()
        now = clock.time()
        self._accum_mj_cm2 = 0.0
        self._level_mw_cm2 = 0.0
        self._since = now
        self._confirmed = now
        self.reset_time = now

    @property
    def level_mw_cm2(self) -> float:
        """The irradiance currently being integrated (0 when dark, NaN when unknown)."""
        return self._level_mw_cm2

    def _book(self, t: float) -> None:
        if self._level_mw_cm2 != 0.0 and t > self._since:
            self._accum_mj_cm2 += self._level_mw_cm2 * (t - self._since)
        self._since = max(self._since, t)

    def set_level(self, irradiance_mw_cm2: float, t: float | None = None) -> None:
        """From ``t`` (default now) on, the vial receives ``irradiance_mw_cm2``."""
        with self._lock:
            t = self.clock.time() if t is None else t
            self._book(t)
            self._level_mw_cm2 = float(irradiance_mw_cm2)
            self._confirmed = t

    def confirm(self, t: float | None = None) -> None:
        """The instrument confirmed (at ``t``) that the light is still as set."""
        with self._lock:
            self._confirmed = self.clock.time() if t is None else t

    def lost(self) -> None:
        """The light went out at an unknown time since the last confirmation."""
        with self._lock:
            self._book(self._confirmed)
            self._level_mw_cm2 = 0.0
            self._since = max(self._since, self.clock.time())

    def energy_mj_cm2(self, t: float | None = None) -> float:
        """Dose accumulated up to ``t`` (default now), in mJ/cm²."""
        with self._lock:
            t = self.clock.time() if t is None else t
            extra = (self._level_mw_cm2 * (t - self._since)
                     if self._level_mw_cm2 != 0.0 and t > self._since else 0.0)
            return self._accum_mj_cm2 + extra

    def reset(self) -> None:
        """Start counting from zero now (the light level is kept)."""
        with self._lock:
            now = self.clock.time()
            self._accum_mj_cm2 = 0.0
            self._since = now
            self._confirmed = now
            self.reset_time = now
