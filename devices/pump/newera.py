"""Driver for New Era NE-1000 / NE-500 family syringe pumps (RS-232, daisy chain 0-99).

Wire protocol (NE-1000 manual, RS-232 section; PROTOCOLS.md)
-----------------------------------------------------------
* **Basic mode**: ``<addr><CMD>[<args>]\\r`` → ``STX <2-digit addr> <status> [<data>] ETX``.
* **Safe mode** (``SAF n``): ``STX <len> <data> <CRC16 hi> <CRC16 lo> ETX`` both ways,
  ``len = len(data) + 4`` (bytes after STX, including itself), CRC-16/CCITT with
  initial value 0 over ``data`` (:func:`binascii.crc_hqx`).  The manual's example
  ``02 08 'SAF0' 55 43 03`` is a unit test.  In safe mode the pump stops with
  alarm ``T`` when no valid packet arrives for ``n`` seconds.
* **Status** ``I`` infusing, ``W`` withdrawing, ``S`` stopped, ``P`` paused, ``T``
  pause phase, ``U`` trigger wait, ``X`` purging; **alarm** ``A?`` + ``R`` reset /
  power loss, ``S`` stall, ``T`` safe-mode timeout, ``E`` program error, ``O``
  phase out of range.  An alarm is acknowledged by the pump reporting it in the
  reply to any valid command; that command is *not* executed.
* **Errors** in the data field: ``?`` unknown command, ``?NA`` not applicable,
  ``?OOR`` out of range, ``?COM`` invalid packet, ``?IGN`` ignored.
* **Numbers**: at most 4 digits plus a decimal point, at most 3 decimals
  (:func:`format_number`).

Design decisions (where the manual is silent or sources disagree)
-----------------------------------------------------------------
* The address is sent without a leading zero (``1RAT...``); commands and
  arguments are separated by single spaces (``1RAT 1.5 MM``), which the pump's
  parser accepts and which keeps logs readable.
* Reply framing is recognised per reply: after STX an ASCII digit means a basic
  frame (read to ETX), any other byte is a safe-mode length byte (all replies are
  far shorter than 0x30 bytes).  So the driver copes with the pump answering
  ``SAF n`` in either framing, and with a pump left in safe mode by an earlier
  session (:meth:`NE1000Driver.connect` detects the mode).
* A frame from another address (a late reply or an auto-alarm packet from a
  neighbour on the chain) is discarded and the read repeated, at most twice.
* ``?COM`` (the pump received a corrupted packet) is a :class:`ProtocolError`
  and, like a timeout or garbled reply, is retried for idempotent exchanges
  (queries, parameter writes, ``CLD``, ``STP``, ``SAF``); ``RUN`` and ``PUR`` are
  never retried.
* A move clears both dispensed counters (``CLD INF``, ``CLD WDR``) first, because
  the pump stops when the counter of the running direction reaches ``VOL``.
* ``VOL 0`` means *pump forever*: :meth:`NE1000Driver.set_volume` refuses it.
* Rate and volume units are chosen per value to keep the most significant
  digits (:func:`best_rate_units`, :func:`best_volume_units`).
"""

from __future__ import annotations

import binascii
import logging
import math
import re
import threading

from photoreactor.devices.common.errors import (
    InstrumentError,
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)

from .base import PumpAlarm, PumpState, SyringePumpDriver

log = logging.getLogger(__name__)

STX = 0x02
ETX = 0x03
CR = b"\r"

#: µL per unit of each rate unit per minute
RATE_UNITS_ML_MIN = {"UM": 1e-3, "MM": 1.0, "UH": 1e-3 / 60.0, "MH": 1.0 / 60.0}
VOLUME_UNITS_ML = {"UL": 1e-3, "ML": 1.0}

STATUS_TEXT = {
    "I": "infusing", "W": "withdrawing", "S": "stopped", "P": "paused",
    "T": "pause phase", "U": "waiting for trigger", "X": "purging",
}
ALARM_TEXT = {
    "R": "pump was reset (power interrupted); the move was stopped and settings may be lost",
    "S": "pump motor stalled (blocked line, closed valve, or syringe at end of travel)",
    "T": "safe-mode communications timeout: the watchdog stopped the pump",
    "E": "pumping program error",
    "O": "pumping program phase out of range",
}
ERROR_TEXT = {
    "?": "command not recognised",
    "?NA": "command not applicable now",
    "?OOR": "value out of range for this pump and syringe",
    "?COM": "pump received an invalid packet",
    "?IGN": "command ignored (simultaneous phase start)",
}

#: NE-1000 plunger speed limits (mm/min), from the specified rate range
#: (1699 mL/h max with a 26.59 mm syringe, 0.73 µL/h min with a 4.78 mm syringe)
MAX_LINEAR_MM_MIN = 1699.0 / 60.0 / (math.pi / 4 * 2.659 ** 2) * 10.0
MIN_LINEAR_MM_MIN = 0.73e-3 / 60.0 / (math.pi / 4 * 0.478 ** 2) * 10.0


# -- numbers ------------------------------------------------------------------
def format_number(value: float) -> str:
    """Format ``value`` the way the pump accepts numbers.

    At most 4 digits plus a decimal point and at most 3 decimals; trailing zeros
    are dropped (``1.5``, ``0.125``, ``12.35``, ``9999``).

    Raises
    ------
    ValueError
        Negative, non-finite, too large (> 9999) or so small it rounds to zero —
        the caller should switch to other units.
    """
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"cannot send {value!r} to a New Era pump (must be finite and >= 0)")
    for _ in range(2):  # a second pass when rounding adds an integer digit (9.9996 -> 10.00)
        int_digits = len(str(int(v)))
        if int_digits > 4:
            raise ValueError(f"{value!r} has more than 4 integer digits; use larger units")
        decimals = min(3, 4 - int_digits)
        text = f"{v:.{decimals}f}"
        if len(text.split(".")[0]) == int_digits:
            break
        v = float(text)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if float(text) == 0.0 and float(value) > 0:
        raise ValueError(f"{value!r} is too small to express with 3 decimals; use smaller units")
    if len(text.replace(".", "")) > 4:  # e.g. 10000 after rounding 9999.6
        raise ValueError(f"{value!r} has more than 4 digits; use larger units")
    return text


def _rounding_error(value: float) -> float:
    try:
        return abs(float(format_number(value)) - value) / value
    except ValueError:
        return math.inf


def best_rate_units(rate_ml_min: float) -> tuple[str, str]:
    """Choose the rate unit keeping the most digits: returns ``(number_text, unit)``."""
    if not rate_ml_min > 0:
        raise ValueError(f"rate must be positive, got {rate_ml_min!r} mL/min")
    best = min(RATE_UNITS_ML_MIN, key=lambda u: (_rounding_error(rate_ml_min / RATE_UNITS_ML_MIN[u]),
                                                 ("MM", "UM", "MH", "UH").index(u)))
    value = rate_ml_min / RATE_UNITS_ML_MIN[best]
    return format_number(value), best


def best_volume_units(volume_ml: float) -> tuple[str, str]:
    """Choose µL or mL for ``volume_ml`` (> 0): returns ``(number_text, unit)``."""
    if not volume_ml > 0:
        raise ValueError(f"volume must be positive, got {volume_ml!r} mL")
    # ties go to µL: the DIS counter then resolves 0.01 µL instead of 1 µL
    best = min(VOLUME_UNITS_ML, key=lambda u: (_rounding_error(volume_ml / VOLUME_UNITS_ML[u]),
                                               ("UL", "ML").index(u)))
    return format_number(volume_ml / VOLUME_UNITS_ML[best]), best


# -- framing ------------------------------------------------------------------
def crc16(data: bytes) -> int:
    """CRC-16/CCITT, initial value 0, as the pump computes it over packet data."""
    return binascii.crc_hqx(data, 0)


def safe_packet(data: bytes) -> bytes:
    """Wrap ``data`` in a safe-mode packet: STX len data CRChi CRClo ETX."""
    crc = crc16(data)
    return bytes([STX, len(data) + 4]) + data + bytes([crc >> 8, crc & 0xFF, ETX])


class NE1000Driver(SyringePumpDriver):
    """One New Era pump at ``address`` on a (possibly shared) serial port.

    Parameters
    ----------
    port : SerialPort
        From :func:`photoreactor.devices.common.transport.open_serial`; shared by
        every pump on the chain (one lock).
    address : int
        Network address 0-99 set on the pump.
    name : str
        Device name for errors.
    timeout_s : float
        Read timeout per reply (wall seconds; the pump answers within ~50 ms).
    retries : int
        Extra attempts for idempotent exchanges after a timeout/garbled reply.
    """

    watchdog_supported = True

    def __init__(self, port, address: int, *, name: str = "", timeout_s: float = 0.5,
                 retries: int = 2):
        if not 0 <= int(address) <= 99:
            raise ValueError(f"New Era pump address must be 0-99, got {address!r}")
        self.port = port
        self.address = int(address)
        self.name = name or f"ne1000@{address}"
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.safe_mode = False
        self.watchdog_s = 0
        self.direction = "INF"
        self.model = ""
        self.firmware = ""
        self.last_status = ""
        self._diameter_mm = 0.0
        self._lock = threading.RLock()  # per-driver state; the port lock is per port

    # -- low level -------------------------------------------------------
    def _encode(self, command: str) -> bytes:
        text = f"{self.address}{command}".encode("ascii")
        return safe_packet(text) if self.safe_mode else text + CR

    def _read_frame(self, request: bytes, timeout: float) -> bytes:
        """Read one reply frame (either framing); return its data (addr+status+payload)."""
        head = self.port.read_exact(2, timeout=timeout, device=self.name, request=request)
        if head[0] != STX:
            raise ProtocolError(self.name, f"reply does not start with STX: {head!r}",
                                [(request, head)])
        if 0x30 <= head[1] <= 0x39:  # basic: the first address digit
            rest = self.port.read_until(bytes([ETX]), timeout=timeout, device=self.name,
                                        request=request)
            return head[1:2] + rest[:-1]
        length = head[1]
        if length < 7:
            raise ProtocolError(self.name, f"impossible safe-mode packet length {length}",
                                [(request, head)])
        rest = self.port.read_exact(length - 1, timeout=timeout, device=self.name,
                                    request=request)
        raw = head + rest
        data, crc_bytes, end = rest[:-3], rest[-3:-1], rest[-1]
        if end != ETX:
            raise ProtocolError(self.name, "safe-mode packet not terminated by ETX", [(request, raw)])
        if crc16(data) != int.from_bytes(crc_bytes, "big"):
            raise ProtocolError(self.name, "safe-mode reply failed its CRC check", [(request, raw)])
        return data

    def _exchange_once(self, command: str, timeout: float, lock_timeout: float) -> tuple[str, str]:
        request = self._encode(command)
        if not self.port.lock.acquire(timeout=lock_timeout):
            raise InstrumentTimeout(self.name, f"serial port busy for {lock_timeout:g} s",
                                    [(request, b"")])
        try:
            self.port.write(request, device=self.name)
            for _ in range(3):
                data = self._read_frame(request, timeout)
                try:
                    text = data.decode("ascii")
                    addr = int(text[:2])
                except (UnicodeDecodeError, ValueError):
                    raise ProtocolError(self.name, f"unreadable reply {data!r}",
                                        [(request, data)]) from None
                if addr == self.address:
                    break
                log.debug("%s: discarding frame from address %d: %r", self.name, addr, data)
            else:
                raise ProtocolError(self.name, "no reply from this address, only its neighbours",
                                    [(request, data)])
        finally:
            self.port.lock.release()
        return self._parse(text[2:], request, data)

    def _parse(self, body: str, request: bytes, raw: bytes) -> tuple[str, str]:
        exchange = [(request, raw)]
        if body.startswith("A?"):
            code = body[2:3]
            self.last_status = f"alarm {code}"
            raise PumpAlarm(self.name, ALARM_TEXT.get(code, f"unknown alarm {code!r}"), exchange,
                            code=code)
        if not body or body[0] not in STATUS_TEXT:
            raise ProtocolError(self.name, f"unknown status in reply {raw!r}", exchange)
        status, payload = body[0], body[1:]
        self.last_status = status
        if payload.startswith("?"):
            text = ERROR_TEXT.get(payload, f"error {payload}")
            cls = ProtocolError if payload == "?COM" else InstrumentRejected
            raise cls(self.name, f"{text} ({request.decode('ascii', 'replace').strip()!r})", exchange)
        return status, payload

    def transact(self, command: str, *, idempotent: bool, timeout_s: float | None = None,
                 retries: int | None = None, lock_timeout_s: float = 5.0) -> tuple[str, str]:
        """Send ``command`` (without address/terminator); return ``(status, data)``.

        Idempotent exchanges are retried after a timeout or a garbled reply;
        alarms, rejections and disconnects are never retried.
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        attempts = 1 + ((self.retries if retries is None else retries) if idempotent else 0)
        for attempt in range(attempts):
            try:
                return self._exchange_once(command, timeout, lock_timeout_s)
            except (InstrumentTimeout, ProtocolError) as exc:
                if attempt == attempts - 1:
                    raise
                log.info("%s: retrying %r after %s", self.name, command, exc)
        raise AssertionError("unreachable")

    def query(self, command: str, **kw) -> tuple[str, str]:
        return self.transact(command, idempotent=True, **kw)

    # -- protocol commands -----------------------------------------------
    def status(self) -> str:
        """The status character (empty command: the pump answers with its prompt)."""
        return self.query("")[0]

    def version(self) -> str:
        """Firmware identity, e.g. ``"NE1000V3.928"`` (also sets ``model``/``firmware``)."""
        _, data = self.query("VER")
        match = re.fullmatch(r"NE(\d+\w*)V(\d+\.\d+)", data)
        if not match:
            raise ProtocolError(self.name, f"unexpected VER reply {data!r}")
        self.model, self.firmware = f"NE-{match.group(1)}", match.group(2)
        return data

    def diameter_mm(self) -> float:
        _, data = self.query("DIA")
        return self._float(data, "DIA")

    def set_diameter_mm(self, diameter_mm: float) -> None:
        if not 0.1 <= diameter_mm <= 50.0:
            raise LimitError(self.name, "syringe diameter", diameter_mm, (0.1, 50.0), "mm")
        self.transact(f"DIA {format_number(diameter_mm)}", idempotent=True)
        self._diameter_mm = float(diameter_mm)

    def rate(self) -> tuple[float, str]:
        """``(value, unit)`` as the pump reports it (unit UM, MM, UH or MH)."""
        _, data = self.query("RAT")
        match = re.fullmatch(r"([\d.]+)\s*(UM|MM|UH|MH)", data.strip().upper())
        if not match:
            raise ProtocolError(self.name, f"unexpected RAT reply {data!r}")
        return float(match.group(1)), match.group(2)

    def set_rate(self, value: float, unit: str) -> None:
        if unit not in RATE_UNITS_ML_MIN:
            raise ValueError(f"rate unit must be one of {sorted(RATE_UNITS_ML_MIN)}, got {unit!r}")
        self.transact(f"RAT {format_number(value)} {unit}", idempotent=True)

    def rate_ml_min(self) -> float:
        value, unit = self.rate()
        return value * RATE_UNITS_ML_MIN[unit]

    def set_rate_ml_min(self, rate_ml_min: float) -> float:
        lo, hi = self.rate_range_ml_min()
        if not lo <= rate_ml_min <= hi:
            raise LimitError(self.name, "pumping rate", rate_ml_min, (round(lo, 6), round(hi, 4)),
                             "mL/min")
        text, unit = best_rate_units(rate_ml_min)
        self.set_rate(float(text), unit)
        return float(text) * RATE_UNITS_ML_MIN[unit]

    def rate_range_ml_min(self) -> tuple[float, float]:
        """Rate range of the NE-1000 drive for the configured syringe diameter."""
        d = self._diameter_mm
        if d <= 0:
            return (0.0, math.inf)
        area_cm2 = math.pi / 4 * (d / 10.0) ** 2
        return (area_cm2 * MIN_LINEAR_MM_MIN / 10.0, area_cm2 * MAX_LINEAR_MM_MIN / 10.0)

    def volume(self) -> tuple[float, str]:
        _, data = self.query("VOL")
        match = re.fullmatch(r"([\d.]+)\s*(UL|ML)", data.strip().upper())
        if not match:
            raise ProtocolError(self.name, f"unexpected VOL reply {data!r}")
        return float(match.group(1)), match.group(2)

    def set_volume_units(self, unit: str) -> None:
        if unit not in VOLUME_UNITS_ML:
            raise ValueError(f"volume unit must be UL or ML, got {unit!r}")
        self.transact(f"VOL {unit}", idempotent=True)

    def set_volume(self, value: float) -> None:
        """Volume to dispense in the current volume units (> 0; 0 would pump forever)."""
        if not value > 0:
            raise ValueError(f"{self.name}: refusing VOL {value!r}: VOL 0 makes the pump run "
                             "until stopped")
        self.transact(f"VOL {format_number(value)}", idempotent=True)

    def set_direction(self, direction: str) -> None:
        if direction not in ("INF", "WDR"):
            raise ValueError(f"direction must be INF or WDR, got {direction!r}")
        self.transact(f"DIR {direction}", idempotent=True)
        self.direction = direction

    def get_direction(self) -> str:
        _, data = self.query("DIR")
        if data not in ("INF", "WDR"):
            raise ProtocolError(self.name, f"unexpected DIR reply {data!r}")
        return data

    def clear_dispensed(self, direction: str) -> None:
        if direction not in ("INF", "WDR"):
            raise ValueError(f"direction must be INF or WDR, got {direction!r}")
        self.transact(f"CLD {direction}", idempotent=True)

    def dispensed(self) -> tuple[str, float, float]:
        """``(status, infused_ml, withdrawn_ml)`` from ``DIS``."""
        status, data = self.query("DIS")
        match = re.fullmatch(r"I([\d.]+)W([\d.]+)(UL|ML)", data.strip().upper())
        if not match:
            raise ProtocolError(self.name, f"unexpected DIS reply {data!r}")
        scale = VOLUME_UNITS_ML[match.group(3)]
        return status, float(match.group(1)) * scale, float(match.group(2)) * scale

    def run(self) -> str:
        """Start pumping (never retried: a lost reply must not start the pump twice)."""
        return self.transact("RUN", idempotent=False)[0]

    def purge(self) -> str:
        return self.transact("PUR", idempotent=False)[0]

    def stop_pump(self, *, timeout_s: float | None = None) -> str:
        # a shorter wait for the port lock: safe() must return within seconds
        return self.transact("STP", idempotent=True, timeout_s=timeout_s, lock_timeout_s=2.0)[0]

    def set_safe_mode(self, seconds: int) -> None:
        """``SAF n``: n = 1-255 enters safe mode with an n-second watchdog, 0 leaves it."""
        n = int(seconds)
        if not 0 <= n <= 255:
            raise LimitError(self.name, "watchdog timeout", seconds, (1, 255), "s")
        try:
            self.transact(f"SAF{n}", idempotent=True)
        except PumpAlarm:
            raise
        except InstrumentError:
            # the pump may have switched framing before answering: re-sync
            self.detect_mode()
            if self.safe_mode != (n > 0):
                raise
        self.safe_mode = n > 0
        self.watchdog_s = n

    def detect_mode(self) -> bool:
        """Find out whether the pump is in safe mode (left there by an earlier session)."""
        for mode in (self.safe_mode, not self.safe_mode):
            self.safe_mode = mode
            try:
                self.transact("", idempotent=True, retries=0)
                return mode
            except PumpAlarm:
                return mode  # it answered (with an alarm): the framing is right
            except (InstrumentTimeout, ProtocolError):
                continue
        raise InstrumentTimeout(self.name, f"no answer at address {self.address} in basic or "
                                "safe mode: check cable, baud rate and the pump's address")

    # -- SyringePumpDriver -----------------------------------------------
    def connect(self) -> str:
        try:
            self.detect_mode()
        except PumpAlarm:
            pass
        try:
            ident = self.version()
        except PumpAlarm as exc:
            # a pending alarm (e.g. R after power-up) is acknowledged by this reply
            log.warning("%s: pump reported %s at connect; acknowledged", self.name, exc)
            ident = self.version()
        self.direction = self.get_direction()
        self._diameter_mm = self.diameter_mm()
        return ident

    def check_move(self, volume_ml: float, rate_ml_min: float) -> None:
        lo, hi = self.rate_range_ml_min()
        if not lo <= rate_ml_min <= hi:
            raise LimitError(self.name, "pumping rate", rate_ml_min, (round(lo, 6), round(hi, 4)),
                             "mL/min")
        try:
            best_volume_units(abs(volume_ml))
        except ValueError:
            raise LimitError(self.name, "volume", abs(volume_ml), (0.0005e-3, 9999.0),
                             "mL") from None

    def start_move(self, volume_ml: float, rate_ml_min: float) -> float:
        self.move_commanded = False
        if volume_ml == 0 or not math.isfinite(volume_ml):
            raise ValueError(f"{self.name}: move volume must be finite and non-zero")
        direction = "INF" if volume_ml > 0 else "WDR"
        self.set_rate_ml_min(rate_ml_min)
        self.set_direction(direction)
        text, unit = best_volume_units(abs(volume_ml))
        self.set_volume_units(unit)
        self.set_volume(float(text))
        self.clear_dispensed("INF")
        self.clear_dispensed("WDR")
        self.move_commanded = True
        self.run()
        moved = float(text) * VOLUME_UNITS_ML[unit]
        return moved if volume_ml > 0 else -moved

    def volume_resolution_ml(self, volume_ml: float) -> float:
        """One display digit of ``DIS`` for a move of ``volume_ml`` (4 digits, <= 3 decimals)."""
        if not volume_ml:
            return 1e-3
        text, unit = best_volume_units(abs(volume_ml))
        decimals = min(3, 4 - len(text.split(".")[0]))
        return 10.0 ** (-decimals) * VOLUME_UNITS_ML[unit]

    def poll(self) -> PumpState:
        status, infused, withdrawn = self.dispensed()
        moved = infused if self.direction == "INF" else withdrawn
        return PumpState(moving=status in ("I", "W", "X"), moved_ml=moved,
                         status=STATUS_TEXT.get(status, status))

    def stop(self, *, timeout_s: float | None = None) -> None:
        """Send STP; if the reply is an alarm (now acknowledged), send STP once more."""
        try:
            self.stop_pump(timeout_s=timeout_s)
        except PumpAlarm:
            # an alarm has already stopped the pump; the second STP confirms it
            self.stop_pump(timeout_s=timeout_s)

    # -- watchdog ---------------------------------------------------------
    def arm_watchdog(self, seconds: float) -> None:
        n = math.ceil(seconds)
        if not 1 <= n <= 255:
            raise LimitError(self.name, "watchdog timeout", seconds, (1, 255), "s")
        self.set_safe_mode(n)

    def refresh_watchdog(self) -> None:
        if not self.safe_mode:
            raise InstrumentRejected(self.name, "watchdog is not armed (call arm_watchdog first)")
        self.status()

    def disarm_watchdog(self) -> None:
        if self.safe_mode:
            self.set_safe_mode(0)

    def _float(self, text: str, what: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise ProtocolError(self.name, f"unexpected {what} reply {text!r}") from None

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"NE1000Driver({self.port!r}, address={self.address})"


__all__ = ["NE1000Driver", "format_number", "best_rate_units", "best_volume_units", "crc16",
           "safe_packet"]
