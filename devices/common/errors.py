"""Typed errors for every instrument.

Each carries the device name and the raw exchange (the bytes sent and received)
so that a chemist reading a traceback at 3 a.m. — or a log file the next
morning — can see what the instrument actually said.
"""

from __future__ import annotations


class InstrumentError(RuntimeError):
    """Base class: something went wrong talking to, or inside, an instrument.

    Parameters
    ----------
    device : str
        The device (or driver) name, e.g. ``"pump_cd"``.
    message : str
        What went wrong, in words a chemist can act on.
    exchange : list of (bytes, bytes), optional
        The request/reply pairs leading to the error (reply ``b""`` if none).
    """

    def __init__(self, device: str, message: str, exchange=None):
        self.device = device
        self.message = message
        self.exchange = list(exchange or [])
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.device}: {self.message}"
        if self.exchange:
            sent, got = self.exchange[-1]
            text += f" (sent {sent!r}, got {got!r})"
        return text


class InstrumentTimeout(InstrumentError):
    """The instrument did not answer within the read timeout."""


class InstrumentDisconnected(InstrumentError):
    """The port or USB device went away."""


class ProtocolError(InstrumentError):
    """A reply that does not parse: garbled bytes, bad checksum, wrong address."""


class InstrumentRejected(InstrumentError):
    """The instrument understood the command and refused it (error reply)."""


class InstrumentAlarm(InstrumentError):
    """The instrument raised an alarm: pump stall, LED trip, watchdog, power loss."""


class SensorFault(InstrumentError):
    """A reading that cannot be trusted: open thermocouple, stale or impossible value."""


class DetectorSaturated(InstrumentError):
    """A spectrum reached the detector's maximum count and was not used."""


class LimitError(ValueError):
    """A requested value is outside what the device or its configuration allows.

    Raised *before* anything moves.
    """

    def __init__(self, device: str, quantity: str, value, limit, unit: str = ""):
        self.device, self.quantity, self.value, self.limit, self.unit = (
            device, quantity, value, limit, unit)
        u = f" {unit}" if unit else ""
        super().__init__(f"{device}: {quantity} {value}{u} is outside the allowed range {limit}{u}")


class ReagentError(ValueError):
    """A dose needs more reagent than the syringe (or the plan's budget) holds."""
