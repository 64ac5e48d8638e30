"""Syringe pumps: New Era NE-1000 family and Tricontinent C3000, one device interface.

Importing this package registers the profile classes ``NE1000Pump`` and
``C3000Pump`` (see :mod:`.build`).
"""

from .base import PumpAlarm, PumpReagent, PumpState, SyringePumpDriver
from .build import build_c3000, build_ne1000
from .device import C3000Pump, NE1000Pump, PumpStopped, SyringePump
from .newera import NE1000Driver

__all__ = [
    "PumpAlarm", "PumpReagent", "PumpState", "SyringePumpDriver", "SyringePump", "NE1000Pump",
    "C3000Pump", "PumpStopped", "NE1000Driver", "build_ne1000", "build_c3000",
]
