"""Detector optics for the simulated fibre spectrometer: lamp, response, dark, noise.

The reactor model says what the sample *does* to light (absorbance per cm,
relative emission); this module turns that into the counts an Ocean-style CCD
spectrometer would report: a deuterium–halogen probe lamp seen through the
sample, the detector's spectral response, dark counts with a fixed per-pixel
pattern, shot and read noise from a seeded generator, integer digitisation and
clipping at the detector's maximum count.  Everything is vectorised; rendering
one 2048-pixel frame takes a few tens of microseconds.

Model and decisions (the spec is silent on the numbers; these are chosen to be
typical of a USB2000+/Flame-S with a DH-mini lamp and a 600 µm dip probe):

* **Wavelength calibration** is Ocean's EEPROM form, a cubic in the pixel
  index: ``λ(p) = c0 + c1·p + c2·p² + c3·p³`` (coefficients ascending).
* **Lamp** (:func:`deuterium_halogen_lamp`): a deuterium continuum falling from
  the UV (e-folding 55 nm from 200 nm), the deuterium Balmer lines at 486.0 and
  656.1 nm, and a 2900 K tungsten–halogen blackbody; normalised to peak 1.
* **Response** (:func:`silicon_response`): silicon quantum efficiency (broad,
  peaking near 600 nm, low in the deep UV and past 1000 nm) times a grating
  efficiency blazed at 500 nm; normalised to peak 1.
* **Dark**: ``offset + fixed pattern + dark current × pattern × t``; the fixed
  pattern is ±0.5 % of the offset, and 0.2 % of pixels are "hot" (10× dark
  current), as seen on uncooled CCDs.  Dark counts grow with integration time,
  so a dark frame is only valid at the integration time it was taken at.
* **Noise**: shot noise of the photo- and thermal electrons (Gaussian
  approximation of Poisson, ``electrons_per_count`` sets the gain) plus
  Gaussian read noise; then counts are rounded and clipped to ``0..max_count``.
  A pixel at ``max_count`` is saturated — exactly what the driver tests for.
* **Sample**: transmission ``T = 10^(−A·L)`` with ``A`` the world's absorbance
  per cm and ``L`` the probe path length (default 0.1 cm, a dip probe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

_LN10 = float(np.log(10.0))

#: deuterium Balmer lines (nm) visible in every deuterium lamp spectrum: (centre, FWHM, height)
DEUTERIUM_LINES = ((486.0, 1.5, 0.08), (656.1, 1.5, 0.35))


def wavelength_axis(pixels: int, coefficients) -> np.ndarray:
    """Pixel wavelengths (nm) from Ocean-style calibration coefficients ``c0..c3`` (ascending)."""
    p = np.arange(int(pixels), dtype=float)
    return np.polynomial.polynomial.polyval(p, np.asarray(coefficients, float))


def _gauss(wl: np.ndarray, centre: float, fwhm: float) -> np.ndarray:
    sigma = fwhm / 2.3548
    return np.exp(-0.5 * ((wl - centre) / sigma) ** 2)


def planck_relative(wl_nm: np.ndarray, temperature_k: float) -> np.ndarray:
    """Blackbody spectral radiance at ``temperature_k``, normalised to its maximum."""
    wl_m = np.asarray(wl_nm, float) * 1e-9
    c2 = 1.438777e-2  # second radiation constant h·c/k_B (m·K)
    x = np.clip(c2 / (wl_m * temperature_k), None, 700.0)  # exp overflow guard far in the UV
    radiance = 1.0 / (wl_m ** 5 * np.expm1(x))
    peak_wl_m = 2.897771955e-3 / temperature_k  # Wien
    peak = 1.0 / (peak_wl_m ** 5 * np.expm1(c2 / (peak_wl_m * temperature_k)))
    return radiance / peak


def deuterium_halogen_lamp(wl_nm: np.ndarray, *, halogen_k: float = 2900.0,
                           deuterium_weight: float = 0.6) -> np.ndarray:
    """Relative spectral output of a deuterium–halogen probe lamp (max 1 on ``wl_nm``).

    Deuterium dominates below ≈ 350 nm, halogen above; the 656 nm Balmer line is
    the sharp feature every DH lamp spectrum shows.
    """
    wl = np.asarray(wl_nm, float)
    continuum = np.exp(-(wl - 200.0) / 55.0)
    continuum = np.where(wl < 190.0, 0.0, np.minimum(continuum, 1.2))
    deuterium = continuum + sum(h * _gauss(wl, c, w) for c, w, h in DEUTERIUM_LINES)
    halogen = planck_relative(wl, halogen_k)
    lamp = deuterium_weight * deuterium + halogen
    peak = lamp.max() if lamp.size else 1.0
    return lamp / peak if peak > 0 else lamp


def _silicon_raw(wl: np.ndarray, blaze_nm: float) -> np.ndarray:
    qe = 0.65 * np.exp(-0.5 * ((wl - 620.0) / 230.0) ** 2)
    qe = qe / (1.0 + np.exp((wl - 1075.0) / 25.0))  # silicon band gap cut-off
    grating = np.exp(-0.5 * ((wl - blaze_nm) / 320.0) ** 2)
    return qe * grating


@lru_cache(maxsize=16)
def _silicon_peak(blaze_nm: float) -> float:
    return float(_silicon_raw(np.linspace(190.0, 1100.0, 911), blaze_nm).max())


def silicon_response(wl_nm: np.ndarray, *, blaze_nm: float = 500.0) -> np.ndarray:
    """Relative counts per photon: silicon QE × grating efficiency (max 1 on 190–1100 nm)."""
    wl = np.asarray(wl_nm, float)
    return _silicon_raw(wl, blaze_nm) / _silicon_peak(float(blaze_nm))


def transmission(absorbance_per_cm: np.ndarray, path_length_cm: float) -> np.ndarray:
    """``10^(−A·L)``; negative absorbance (a baseline wiggle) is allowed, NaN becomes opaque."""
    a = np.asarray(absorbance_per_cm, float) * float(path_length_cm)
    a = np.where(np.isnan(a), 50.0, a)
    return np.exp(np.clip(a, -3.0, 50.0) * -_LN10)  # exp is several times faster than power


@dataclass
class Detector:
    """A linear CCD with dark offset, dark current, fixed pattern and noise.

    Parameters
    ----------
    pixels : int
        Number of pixels.
    max_count : int
        ADC full scale (65535 for 16-bit, 16383 for 14-bit detectors).
    dark_offset_counts : float
        Electronic offset added to every pixel (counts).
    dark_current_counts_per_s : float
        Mean thermal signal per second of integration (counts/s).
    read_noise_counts : float
        RMS read noise (counts).
    electrons_per_count : float
        Detector gain; the shot-noise variance in counts is ``signal / gain``.
    seed : int
        Seeds the fixed pattern (the same detector always has the same hot pixels).
    """

    pixels: int
    max_count: int
    dark_offset_counts: float = 1500.0
    dark_current_counts_per_s: float = 150.0
    read_noise_counts: float = 6.0
    electrons_per_count: float = 40.0
    seed: int = 0
    offset_pattern: np.ndarray = field(init=False, repr=False)
    dark_current_pattern: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self.offset_pattern = self.dark_offset_counts * (
            1.0 + 0.005 * rng.standard_normal(self.pixels))
        pattern = 1.0 + 0.1 * rng.standard_normal(self.pixels)
        hot = rng.random(self.pixels) < 0.002
        pattern[hot] *= 10.0
        self.dark_current_pattern = np.clip(pattern, 0.0, None)

    def mean_dark(self, integration_s: float) -> np.ndarray:
        """Expected dark counts (no light) at ``integration_s``."""
        return self.offset_pattern + self.dark_current_counts_per_s * self.dark_current_pattern * integration_s

    def render(self, photo_counts_per_s: np.ndarray, integration_s: float,
               rng: np.random.Generator) -> np.ndarray:
        """One frame of counts: light + dark + noise, digitised and clipped.

        Parameters
        ----------
        photo_counts_per_s : ndarray
            Mean optical signal per pixel (counts per second), before noise.
        integration_s : float
            Exposure time.
        rng : numpy.random.Generator
            Noise source (seeded by the caller for reproducible runs).
        """
        t = float(integration_s)
        # far above full scale the noise is irrelevant; cap to keep the arithmetic finite
        signal = np.clip(np.asarray(photo_counts_per_s, float) * t, 0.0, 1e3 * self.max_count)
        signal += self.dark_current_counts_per_s * t * self.dark_current_pattern
        sigma = signal / self.electrons_per_count  # shot-noise variance in counts²
        sigma += self.read_noise_counts ** 2
        np.sqrt(sigma, out=sigma)
        frame = rng.standard_normal(self.pixels)
        frame *= sigma
        frame += signal
        frame += self.offset_pattern
        np.rint(frame, out=frame)
        return np.clip(frame, 0.0, float(self.max_count), out=frame)


def lamp_signal_counts_per_s(wl_nm: np.ndarray, peak_counts_per_s: float) -> np.ndarray:
    """Counts per second the bare lamp (blank sample) puts on each pixel; peak = ``peak_counts_per_s``."""
    shape = deuterium_halogen_lamp(wl_nm) * silicon_response(wl_nm)
    peak = shape.max() if shape.size else 1.0
    return shape * (peak_counts_per_s / peak if peak > 0 else 0.0)
