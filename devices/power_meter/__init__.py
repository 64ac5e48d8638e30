"""Optical power meter (Thorlabs PM100D/PM100USB), used to calibrate the LEDs.

Importing the package registers the profile class ``PM100Meter``.
"""

from . import build  # noqa: F401  (registers the builder)
from .device import PM100Meter
from .pm100 import PM100Driver

__all__ = ["PM100Driver", "PM100Meter"]
