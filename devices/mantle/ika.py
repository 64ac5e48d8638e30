"""Driver for IKA hotplates and heating controllers speaking NAMUR over RS-232.

Line settings 9600 baud, 7 data bits, even parity, 1 stop bit; every command and
every reply ends with CR LF.  Queries (``IN_...``) answer ``"<value> <channel>"``,
e.g. ``IN_PV_1`` → ``"25.3 1"``.  Commands (``OUT_SP_1 240``, ``START_1`` ...)
are not answered, except the watchdog commands which echo the watchdog time.

Channels used: 1 = temperature of the external probe (the medium), 2 = plate,
3 = safety circuit, 4 = stirrer speed.

Design decisions
----------------
* **Confirmed writes**: an unanswered command could have been lost, so every
  command is followed by a read of the related setpoint on the same line and
  under the same lock: ``OUT_SP_1`` is confirmed by ``IN_SP_1`` reading back the
  value (else :class:`InstrumentRejected`: out of range, or front-panel/local
  operation), ``START_1``/``STOP_1`` by ``IN_SP_1`` answering at all, and the
  stirrer commands by ``IN_SP_4``.  Commands are never repeated automatically;
  the confirming read is a query and may be.
* **Retries**: queries are repeated up to ``retries`` times after a timeout or
  an unparseable reply; commands never.
* **Heater state**: NAMUR has no query for "heating on", so the driver cannot
  report it; the Device keeps the last commanded state and documents it.
* **Watchdog**: ``OUT_WD1@<m>`` (m = 20–1500 s) arms watchdog mode 1 — if the
  command is not sent again within m seconds the controller switches heating
  and stirring off and shows ER 2.  Refreshing means sending it again.  IKA
  documents cancelling only for mode 2 (``OUT_WD2@0`` "resets the WD event and
  stops the watchdog function"); :meth:`disarm_watchdog` sends that.  If a unit
  on the bench keeps mode 1 running after it, the controller switches heating
  off after the period — the safe direction — and the hardware test will show
  it.  The echo is checked by its last number (firmware prints either ``30`` or
  the whole command).
* **Sensor break**: what a given firmware prints for an open or unplugged
  PT1000 is not in our sources; the Device treats any reading outside the
  physical range as a sensor fault instead of trusting it.
* **Setpoint format**: whole numbers without a decimal point, otherwise one
  decimal (``OUT_SP_1 240``, ``OUT_SP_1 80.5``), as the display resolution is 0.1 °C.
"""

from __future__ import annotations

import math
import re

from photoreactor.devices.common.errors import (
    InstrumentError,
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)

TERMINATOR = b"\r\n"
SERIAL_SETTINGS = {"baudrate": 9600, "bytesize": 7, "parity": "E", "stopbits": 1}
WATCHDOG_RANGE_S = (20, 1500)

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def format_number(value: float) -> str:
    """``240`` for whole numbers, ``80.5`` otherwise (one decimal, as the display shows)."""
    rounded = round(float(value), 1)
    return str(int(rounded)) if rounded.is_integer() else f"{rounded:.1f}"


class IkaNamurDriver:
    """An IKA controller (RCT digital, RET control-visc, C-MAG HS, ...) on a serial port.

    Parameters
    ----------
    port : SerialPort
        From :func:`photoreactor.devices.common.transport.open_serial`.
    name : str
        Device name used in errors.
    probe : int
        Channel regulated and reported as "the temperature": 1 external probe
        (the medium, the default) or 2 the plate.
    timeout_s : float
        Read timeout per reply.
    retries : int
        Extra attempts for queries only.
    """

    has_watchdog = True
    has_stirrer = True
    ramps_itself = False
    #: the controller stores setpoints to 0.1 °C
    setpoint_resolution_c = 0.1

    def __init__(self, port, *, name: str = "mantle", probe: int = 1, timeout_s: float = 1.0,
                 retries: int = 2):
        if probe not in (1, 2):
            raise ValueError(f"{name}: probe must be 1 (external) or 2 (plate), not {probe!r}")
        self.port = port
        self.name = name
        self.probe = probe
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)

    # -- low level ------------------------------------------------------------
    def _send(self, command: str) -> None:
        """Write one command (no reply expected); the caller holds the lock."""
        self.port.write(command.encode("ascii") + TERMINATOR, device=self.name)

    def _query_once(self, command: str) -> str:
        request = command.encode("ascii") + TERMINATOR
        with self.port.lock:
            self.port.write(request, device=self.name)
            raw = self.port.read_until(TERMINATOR, timeout=self.timeout_s, device=self.name,
                                       request=request)
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(self.name, f"non-ASCII reply to {command}",
                                [(request, raw)]) from None
        return text.strip()

    def query(self, command: str) -> str:
        """Send a query and return the reply text (retried on timeout/garbage)."""
        last = None
        for _ in range(self.retries + 1):
            try:
                return self._query_once(command)
            except (InstrumentTimeout, ProtocolError) as exc:
                last = exc
        raise last

    def query_value(self, command: str, channel: int) -> float:
        """A ``"<value> <channel>"`` query, checked and parsed (retried as a whole)."""
        last = None
        for _ in range(self.retries + 1):
            try:
                text = self._query_once(command)
                return self._parse_value(command, text, channel)
            except (InstrumentTimeout, ProtocolError) as exc:
                last = exc
        raise last

    def _parse_value(self, command: str, text: str, channel: int) -> float:
        request = command.encode("ascii") + TERMINATOR
        parts = text.split()
        try:
            value = float(parts[0])
        except (IndexError, ValueError):
            raise ProtocolError(self.name, f"{command} answered {text!r}, not '<value> {channel}'",
                                [(request, text.encode() + TERMINATOR)]) from None
        if len(parts) > 1 and parts[1] != str(channel):
            raise ProtocolError(self.name, f"{command} answered channel {parts[1]}, "
                                f"expected {channel}", [(request, text.encode() + TERMINATOR)])
        if not math.isfinite(value):
            raise ProtocolError(self.name, f"{command} answered {text!r}",
                                [(request, text.encode() + TERMINATOR)])
        return value

    def _command_then(self, command: str, confirm: str, channel: int) -> float:
        """Send ``command`` (once), then the confirming query under the same lock."""
        sent = command.encode("ascii") + TERMINATOR
        with self.port.lock:
            self._send(command)
            try:
                return self.query_value(confirm, channel)
            except InstrumentError as exc:
                # the command went out but its effect is unknown: say so
                raise type(exc)(self.name, f"{command} sent but not confirmed: {exc.message}",
                                [(sent, b"")] + exc.exchange) from exc

    # -- identification ---------------------------------------------------------
    def identify(self) -> str:
        """The controller's name (``IN_NAME``), e.g. ``"RCT digital"``."""
        return self.query("IN_NAME")

    # -- readings -----------------------------------------------------------------
    def temperature_c(self) -> float:
        """The regulated temperature (external probe, or plate if ``probe=2``), °C."""
        return self.query_value(f"IN_PV_{self.probe}", self.probe)

    def probe_temperature_c(self) -> float:
        """External probe (medium), °C."""
        return self.query_value("IN_PV_1", 1)

    def plate_temperature_c(self) -> float:
        """Hot plate / heater, °C."""
        return self.query_value("IN_PV_2", 2)

    def safety_temperature_c(self) -> float:
        """Safety-circuit temperature, °C."""
        return self.query_value("IN_PV_3", 3)

    def stir_speed_rpm(self) -> float:
        """Actual stirrer speed, rpm."""
        return self.query_value("IN_PV_4", 4)

    def setpoint_c(self) -> float:
        """Temperature setpoint, °C."""
        return self.query_value("IN_SP_1", 1)

    def stir_setpoint_rpm(self) -> float:
        """Stirrer speed setpoint, rpm."""
        return self.query_value("IN_SP_4", 4)

    # -- heating --------------------------------------------------------------------
    def set_setpoint_c(self, temperature_c: float) -> None:
        """``OUT_SP_1``, confirmed by reading ``IN_SP_1`` back."""
        text = format_number(temperature_c)
        got = self._command_then(f"OUT_SP_1 {text}", "IN_SP_1", 1)
        if abs(got - float(text)) > 0.051:
            raise InstrumentRejected(
                self.name, f"setpoint {text} °C not accepted: the controller reads {got:g} °C "
                "(outside its range, or in local/front-panel operation)",
                [(f"OUT_SP_1 {text}".encode() + TERMINATOR, b"")])

    def start_heating(self) -> None:
        """``START_1``: regulate to the setpoint."""
        self._command_then("START_1", "IN_SP_1", 1)

    def stop_heating(self) -> None:
        """``STOP_1``: heating off."""
        self._command_then("STOP_1", "IN_SP_1", 1)

    # -- stirring -------------------------------------------------------------------
    def set_stir_rpm(self, rpm: float) -> None:
        """``OUT_SP_4``, confirmed by reading ``IN_SP_4`` back."""
        text = str(int(round(rpm)))
        got = self._command_then(f"OUT_SP_4 {text}", "IN_SP_4", 4)
        if abs(got - float(text)) > 0.5:
            raise InstrumentRejected(
                self.name, f"stirrer speed {text} rpm not accepted: the controller reads "
                f"{got:g} rpm (outside its range, or in local operation)",
                [(f"OUT_SP_4 {text}".encode() + TERMINATOR, b"")])

    def start_stirring(self) -> None:
        self._command_then("START_4", "IN_SP_4", 4)

    def stop_stirring(self) -> None:
        self._command_then("STOP_4", "IN_SP_4", 4)

    def reset(self) -> None:
        """``RESET``: back to normal (local) operation, functions off."""
        self._command_then("RESET", "IN_SP_1", 1)

    # -- watchdog ----------------------------------------------------------------------
    def _watchdog_command(self, command: str, seconds: int) -> None:
        request = command.encode("ascii") + TERMINATOR
        with self.port.lock:
            self.port.write(request, device=self.name)
            raw = self.port.read_until(TERMINATOR, timeout=self.timeout_s, device=self.name,
                                       request=request)
        text = raw.decode("ascii", errors="replace").strip()
        numbers = _NUMBER.findall(text)
        if not numbers or float(numbers[-1]) != float(seconds):
            raise ProtocolError(self.name, f"{command} echoed {text!r}, expected {seconds}",
                                [(request, raw)])

    def arm_watchdog(self, seconds: float) -> None:
        """``OUT_WD1@<s>``: heating and stirring off unless sent again within ``seconds``.

        Not retried: a lost echo is reported, the caller decides (re-sending a
        watchdog command is harmless and is what :meth:`refresh` does).
        """
        s = int(round(seconds))
        lo, hi = WATCHDOG_RANGE_S
        if not lo <= s <= hi:
            raise LimitError(self.name, "watchdog period", seconds, WATCHDOG_RANGE_S, "s")
        self._watchdog_command(f"OUT_WD1@{s}", s)

    def disarm_watchdog(self) -> None:
        """``OUT_WD2@0``: the documented way to stop the watchdog function."""
        self._watchdog_command("OUT_WD2@0", 0)

    def __repr__(self) -> str:
        return f"IkaNamurDriver({getattr(self.port, 'url', self.port)!r})"
