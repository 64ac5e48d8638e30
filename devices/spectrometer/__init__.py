"""Spectrometers: Ocean Insight units through python-seabreeze.

* :mod:`.ocean` — driver (:class:`OceanDriver`, :func:`open_seabreeze`, model table)
* :mod:`.device` — Ophyd device :class:`OceanSpectrometer` (absorbance / emission)
* :mod:`.build` — profile builder for class ``OceanSpectrometer``

python-seabreeze is the optional ``lab`` extra; it is imported only when a
real backend is opened.
"""

from .build import build_ocean_spectrometer
from .device import MODES, OceanSpectrometer, SpectrometerNotReady
from .ocean import MODELS, Frame, ModelSpec, OceanDriver, normalize_model, open_seabreeze

__all__ = ["OceanSpectrometer", "OceanDriver", "SpectrometerNotReady", "Frame", "ModelSpec",
           "MODELS", "MODES", "normalize_model", "open_seabreeze", "build_ocean_spectrometer"]
