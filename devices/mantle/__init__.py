"""Heating mantles / temperature controllers: IKA (NAMUR) and Eurotherm (Modbus RTU).

Importing this package registers the profile classes ``IkaMantle`` and
``EurothermMantle`` (see :mod:`.build` for their profile keys).
"""

from .build import build_eurotherm_mantle, build_ika_mantle
from .device import EurothermMantle, IkaMantle, Mantle
from .eurotherm import EurothermDriver
from .ika import IkaNamurDriver

__all__ = ["Mantle", "IkaMantle", "EurothermMantle", "IkaNamurDriver", "EurothermDriver",
           "build_ika_mantle", "build_eurotherm_mantle"]
