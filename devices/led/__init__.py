"""LED light sources: Thorlabs DC2200 (SCPI/USB-TMC) and DC4100 (serial), irradiance-calibrated.

Importing the package registers the profile classes ``DC2200Led`` and
``DC4100Led`` (see :mod:`.build`).
"""

from . import build  # noqa: F401  (registers the builders)
from .calibration import (
    DoseIntegrator,
    LedCalibration,
    NotCalibrated,
    fit_calibration,
    photon_dose_umol_cm2,
)
from .dc2200 import DC2200Driver
from .dc4100 import DC4100Channel, DC4100Driver
from .device import DC2200Led, DC4100Led, LedSource

__all__ = ["DC2200Driver", "DC4100Driver", "DC4100Channel", "LedSource", "DC2200Led",
           "DC4100Led", "LedCalibration", "fit_calibration", "NotCalibrated", "DoseIntegrator",
           "photon_dose_umol_cm2"]
