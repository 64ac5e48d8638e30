"""Shared device-layer machinery: transports, errors, clocks, statuses."""

from .errors import (
    DetectorSaturated,
    InstrumentAlarm,
    InstrumentDisconnected,
    InstrumentError,
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
    ReagentError,
    SensorFault,
)
from .timing import Clock, WallClock

__all__ = [
    "Clock", "WallClock", "InstrumentError", "InstrumentTimeout", "InstrumentDisconnected",
    "ProtocolError", "InstrumentRejected", "InstrumentAlarm", "SensorFault",
    "DetectorSaturated", "LimitError", "ReagentError",
]
