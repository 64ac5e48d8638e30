"""Driver for Tricontinent C3000 (Cavro-compatible) syringe pumps, DT protocol.

Why this model as the second family
-----------------------------------
The brief offered the Harvard Pump 11 Elite or the C3000.  The C3000 was chosen
because its protocol is unambiguous where it matters for unattended runs: every
reply is one ``/0 <status> <data> ETX`` frame with a fixed terminator, the
status byte carries *busy* and an *error code* in every reply, and the plunger
position (hence the volume moved, from the pump's own reading) comes back in one
query.  The Elite's replies end in a bare prompt (``NN:``/``NN>``/``NN*``) with no
terminator, which the sources describe inconsistently, so a driver could only
find the end of a reply by waiting — slow and fragile.  The C3000 is also the
pump most automated synthesis platforms use to draw reagents from reservoirs,
which :meth:`C3000Driver.refill` exposes.

Wire protocol (PROTOCOLS.md)
----------------------------
* Request ``/<addr><commands>[R]\\r``; ``<addr>`` is ``'1'`` + the address switch
  (0 → ``'1'`` ... 9 → ``':'`` ... 14 → ``'?'``).  ``R`` executes the command
  string; the report commands ``Q`` (status), ``?``/``?n`` (reports), ``&``
  (firmware) are answered at once.
* Reply ``/0<status><data>ETX CR LF``.  Status bit 0x20 set = ready (idle),
  clear = busy; low nibble = error: 1 ``a`` initialisation error, 2 ``b`` invalid
  command, 3 ``c`` invalid operand, 4 ``d`` invalid command sequence, 6 ``f``
  EEPROM failure, 7 ``g`` not initialised, 9 ``i`` plunger overload, 10 ``j``
  valve overload, 11 ``k`` plunger move not allowed, 15 ``o`` command overflow
  (lower case idle, upper case busy).
* Commands used: ``Z`` initialise, ``I``/``O``/``B``/``E`` valve, ``V<n>`` top
  speed, ``A<n>`` absolute plunger position, ``P<n>`` pick up, ``T`` terminate,
  ``Q``, ``?`` plunger position, ``?2`` top speed, ``?6`` valve, ``&`` version.

Decisions (check against the manual of the unit on the bench)
-------------------------------------------------------------
* Standard resolution: a full stroke is ``steps_per_stroke`` = 3000 increments;
  ``V`` is in increments per second, 5-5800.  Rate (mL/min) = V × step volume × 60.
* Moves use absolute positions (``O V<speed> A<target> R``) so the volume moved
  is ``|position − start| × step volume`` from the pump's own report.
* Infuse into the flask = valve to ``flask_port`` and dispense (plunger up);
  withdraw from the flask = valve to ``flask_port`` and pick up.  Refill = valve
  to ``reservoir_port`` and pick up.
* A leading 0xFF byte (RS-485 line turn-around on some units) is ignored.
* Errors 1, 6, 7, 9, 10, 11 are hardware conditions → :class:`PumpAlarm` (code =
  the error letter); 2, 3, 4, 15 are refusals → :class:`InstrumentRejected`.
* The "syringe diameter" is derived (volume / stroke length); it cannot be set.
* No communication watchdog on this model.
"""

from __future__ import annotations

import logging
import math
import re

from photoreactor.devices.common.errors import (
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.common.timing import wait_until

from .base import PumpAlarm, PumpState, SyringePumpDriver

log = logging.getLogger(__name__)

ETX = b"\x03"
REPLY_END = b"\n"
SPEED_RANGE = (5, 5800)

ERRORS = {
    1: ("a", "initialisation error (plunger or valve could not home)", True),
    2: ("b", "invalid command", False),
    3: ("c", "invalid operand (position, speed or port out of range)", False),
    4: ("d", "invalid command sequence", False),
    6: ("f", "EEPROM failure", True),
    7: ("g", "pump not initialised (power loss?): run initialize(); its position is unknown", True),
    9: ("i", "plunger overload (blocked line, closed port or viscous liquid); re-initialise", True),
    10: ("j", "valve overload", True),
    11: ("k", "plunger move not allowed (valve in bypass or stuck)", True),
    15: ("o", "command overflow (pump busy)", False),
}


def address_char(address: int) -> str:
    """The DT address character for address switch position ``address`` (0-14)."""
    if not 0 <= int(address) <= 14:
        raise ValueError(f"C3000 address switch must be 0-14, got {address!r}")
    return chr(0x31 + int(address))


class C3000Driver(SyringePumpDriver):
    """One C3000 on a (possibly shared RS-485) serial port.

    Parameters
    ----------
    port : SerialPort
        Shared port from :func:`~photoreactor.devices.common.transport.open_serial`.
    address : int
        Address switch position 0-14.
    syringe_volume_ml : float
        Installed syringe (mL); sets the volume per increment.
    flask_port, reservoir_port : str
        Valve positions (``I``, ``O``, ``B``, ``E``) leading to the flask and to
        the reagent reservoir.
    stroke_mm : float
        Plunger stroke for a full syringe (30 mm on the C3000).
    steps_per_stroke : int
        Increments per full stroke (3000, standard resolution).
    """

    watchdog_supported = False

    def __init__(self, port, address: int, *, name: str = "", syringe_volume_ml: float,
                 flask_port: str = "O", reservoir_port: str = "I", stroke_mm: float = 30.0,
                 steps_per_stroke: int = 3000, timeout_s: float = 0.5, retries: int = 2):
        self.port = port
        self.address = int(address)
        self.addr = address_char(address)
        self.name = name or f"c3000@{address}"
        for label, p in (("flask_port", flask_port), ("reservoir_port", reservoir_port)):
            if p not in ("I", "O", "B", "E"):
                raise ValueError(f"{self.name}: {label} must be one of I, O, B, E; got {p!r}")
        if flask_port == reservoir_port:
            raise ValueError(f"{self.name}: flask and reservoir cannot share valve port {flask_port}")
        self.flask_port, self.reservoir_port = flask_port, reservoir_port
        self.syringe_volume_ml = float(syringe_volume_ml)
        self.stroke_mm = float(stroke_mm)
        self.steps = int(steps_per_stroke)
        self.step_ml = self.syringe_volume_ml / self.steps
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.firmware = ""
        self._start_pos = 0
        self._speed = 0
        self.initialized = True
        self.last_exchange: tuple[bytes, bytes] = (b"", b"")

    # -- low level -------------------------------------------------------
    def _request(self, commands: str, execute: bool) -> bytes:
        return f"/{self.addr}{commands}{'R' if execute else ''}\r".encode("ascii")

    def _exchange_once(self, request: bytes, timeout: float, lock_timeout: float) -> bytes:
        if not self.port.lock.acquire(timeout=lock_timeout):
            raise InstrumentTimeout(self.name, f"serial port busy for {lock_timeout:g} s",
                                    [(request, b"")])
        try:
            self.port.write(request, device=self.name)
            return self.port.read_until(REPLY_END, timeout=timeout, device=self.name,
                                        request=request)
        finally:
            self.port.lock.release()

    def _parse(self, request: bytes, raw: bytes) -> tuple[int, str]:
        frame = raw.lstrip(b"\xff")
        if not (frame.startswith(b"/0") and frame.endswith(ETX + b"\r\n")) or len(frame) < 6:
            raise ProtocolError(self.name, f"malformed reply {raw!r}", [(request, raw)])
        status = frame[2]
        if not 0x40 <= status <= 0x7F:
            raise ProtocolError(self.name, f"bad status byte {status:#04x}", [(request, raw)])
        try:
            data = frame[3:-3].decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(self.name, f"unreadable reply {raw!r}", [(request, raw)]) from None
        return status, data

    def send(self, commands: str, *, execute: bool, idempotent: bool,
             timeout_s: float | None = None, lock_timeout_s: float = 5.0,
             check: bool = True) -> tuple[bool, int, str]:
        """Send a command string; return ``(busy, error_code, data)``.

        With ``check`` an error code raises (:class:`PumpAlarm` or
        :class:`InstrumentRejected`).  Idempotent exchanges are retried after a
        timeout or a malformed reply; moves are not.
        """
        request = self._request(commands, execute)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                raw = self._exchange_once(request, timeout, lock_timeout_s)
                status, data = self._parse(request, raw)
                break
            except (InstrumentTimeout, ProtocolError) as exc:
                if attempt == attempts - 1:
                    raise
                log.info("%s: retrying %r after %s", self.name, request, exc)
        self.last_exchange = (request, raw)
        busy, code = not (status & 0x20), status & 0x0F
        if code and check:
            self._raise(code, request, raw)
        return busy, code, data

    def _raise(self, code: int, request: bytes | None = None, raw: bytes = b"",
               moved_ml: float | None = None):
        if request is None:
            request, raw = self.last_exchange
        letter, text, hardware = ERRORS.get(code, (f"#{code}", f"error {code}", True))
        if code == 7:
            self.initialized = False
        exchange = [(request, raw)]
        if hardware:
            raise PumpAlarm(self.name, text, exchange, code=letter, moved_ml=moved_ml)
        raise InstrumentRejected(self.name, f"{text} ({request.decode('ascii', 'replace').strip()!r})",
                                 exchange)

    def _int(self, data: str, what: str) -> int:
        if not re.fullmatch(r"\d+", data):
            raise ProtocolError(self.name, f"unexpected {what} report {data!r}")
        return int(data)

    # -- queries ----------------------------------------------------------
    def query_status(self) -> tuple[bool, int]:
        """``(busy, error_code)`` from ``Q`` (no exception for an error code)."""
        busy, code, _ = self.send("Q", execute=False, idempotent=True, check=False)
        return busy, code

    def position_steps(self) -> int:
        _, _, data = self.send("?", execute=False, idempotent=True)
        return self._int(data, "plunger position")

    def top_speed(self) -> int:
        _, _, data = self.send("?2", execute=False, idempotent=True)
        return self._int(data, "top speed")

    def valve(self) -> str:
        _, _, data = self.send("?6", execute=False, idempotent=True)
        if data.upper() not in ("I", "O", "B", "E"):
            raise ProtocolError(self.name, f"unexpected valve report {data!r}")
        return data.upper()

    def version(self) -> str:
        _, _, data = self.send("&", execute=False, idempotent=True)
        self.firmware = data
        return data

    # -- commands ---------------------------------------------------------
    def set_speed(self, speed: int) -> None:
        lo, hi = SPEED_RANGE
        if not lo <= speed <= hi:
            raise LimitError(self.name, "plunger speed", speed, SPEED_RANGE, "increments/s")
        self.send(f"V{int(speed)}", execute=True, idempotent=True)
        self._speed = int(speed)

    def move_to(self, port: str, speed: int, position: int) -> None:
        """Valve to ``port``, top speed ``speed``, plunger to ``position`` (never retried)."""
        if not 0 <= position <= self.steps:
            raise LimitError(self.name, "plunger position", position, (0, self.steps), "increments")
        self.send(f"{port}V{int(speed)}A{int(position)}", execute=True, idempotent=False)
        self._speed = int(speed)

    def terminate(self, *, timeout_s: float | None = None) -> None:
        """Stop the plunger.  An error code in the reply (e.g. a stall that already
        stopped it) is not a failure to stop: only silence or garbage raise."""
        self.send("T", execute=True, idempotent=True, timeout_s=timeout_s, lock_timeout_s=2.0,
                  check=False)

    def initialize(self, *, clock, timeout_s: float = 60.0) -> None:
        """Home plunger and valve (``Z``): the syringe empties to the reservoir side."""
        self.send("Z", execute=True, idempotent=False)
        self._wait_idle(clock, timeout_s, "initialisation")
        self.initialized = True
        self._start_pos = 0

    def refill(self, volume_ml: float, rate_ml_min: float, *, cancel, clock,
               timeout_s: float) -> float:
        """Pick up ``volume_ml`` through the reservoir port; return the volume drawn (mL)."""
        steps = round(volume_ml / self.step_ml)
        start = self.position_steps()
        if steps < 1 or start + steps > self.steps:
            raise LimitError(self.name, "refill volume", volume_ml,
                             (self.step_ml, (self.steps - start) * self.step_ml), "mL")
        self.move_to(self.reservoir_port, self._speed_for(rate_ml_min), start + steps)
        try:
            self._wait_idle(clock, timeout_s, "refill", cancel=cancel)
        finally:
            if cancel is not None and cancel.is_set():
                self.terminate()
        end = self.position_steps()
        self._start_pos = end   # a refill is not a flask move: "dispensed" restarts at 0
        return (end - start) * self.step_ml

    def _wait_idle(self, clock, timeout_s: float, what: str, cancel=None) -> None:
        def idle() -> bool:
            busy, code = self.query_status()
            if code:
                self._raise(code)
            return not busy

        wait_until(idle, clock=clock, timeout_s=timeout_s, poll_s=0.5, device=self.name,
                   what=what, cancel=cancel)

    def _speed_for(self, rate_ml_min: float) -> int:
        speed = round(rate_ml_min / 60.0 / self.step_ml)
        lo, hi = self.rate_range_ml_min()
        if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
            raise LimitError(self.name, "pumping rate", rate_ml_min, (round(lo, 6), round(hi, 3)),
                             "mL/min")
        return speed

    # -- SyringePumpDriver -----------------------------------------------
    def connect(self) -> str:
        ident = self.version()
        busy, code = self.query_status()
        if code == 7:
            self.initialized = False
            log.warning("%s: pump is not initialised; call initialize() before moving", self.name)
        elif code:
            log.warning("%s: pump reports error %s at connect", self.name,
                        ERRORS.get(code, ("?", code))[1])
        self._speed = self.top_speed()
        # "dispensed" reads the last flask move: none yet in this session
        self._start_pos = self.position_steps() if self.initialized else 0
        return ident

    def diameter_mm(self) -> float:
        return math.sqrt(4.0 * self.syringe_volume_ml * 1000.0 / (math.pi * self.stroke_mm))

    def set_diameter_mm(self, diameter_mm: float) -> None:
        raise InstrumentRejected(self.name, "the C3000 syringe diameter follows from the syringe "
                                 "volume and stroke; change syringe_volume_ml instead")

    def rate_ml_min(self) -> float:
        return self.top_speed() * self.step_ml * 60.0

    def set_rate_ml_min(self, rate_ml_min: float) -> float:
        speed = self._speed_for(rate_ml_min)
        self.set_speed(speed)
        return speed * self.step_ml * 60.0

    def rate_range_ml_min(self) -> tuple[float, float]:
        return (SPEED_RANGE[0] * self.step_ml * 60.0, SPEED_RANGE[1] * self.step_ml * 60.0)

    def volume_resolution_ml(self, volume_ml: float) -> float:
        return self.step_ml * 1.01

    def check_move(self, volume_ml: float, rate_ml_min: float) -> None:
        self._speed_for(rate_ml_min)
        if round(abs(volume_ml) / self.step_ml) < 1:
            raise LimitError(self.name, "volume", abs(volume_ml),
                             (round(self.step_ml, 6), self.syringe_volume_ml), "mL")

    def start_move(self, volume_ml: float, rate_ml_min: float) -> float:
        self.move_commanded = False
        steps = round(abs(volume_ml) / self.step_ml)
        speed = self._speed_for(rate_ml_min)
        start = self.position_steps()
        target = start - steps if volume_ml > 0 else start + steps
        if not 0 <= target <= self.steps:
            room = start if volume_ml > 0 else self.steps - start
            raise LimitError(self.name, "infusion volume" if volume_ml > 0 else "withdrawal volume",
                             abs(volume_ml), (0.0, round(room * self.step_ml, 6)), "mL")
        self._start_pos = start
        self.move_commanded = True
        self.move_to(self.flask_port, speed, target)
        return math.copysign(steps * self.step_ml, volume_ml)

    def poll(self) -> PumpState:
        """One ``?`` query: its status byte says busy/error, its data the position."""
        busy, code, data = self.send("?", execute=False, idempotent=True, check=False)
        moved = abs(self._int(data, "plunger position") - self._start_pos) * self.step_ml
        if code:
            self._raise(code, moved_ml=None if code == 7 else moved)
        return PumpState(moving=busy, moved_ml=moved, status="busy" if busy else "ready")

    def stop(self, *, timeout_s: float | None = None) -> None:
        self.terminate(timeout_s=timeout_s)

    def syringe_contents_ml(self) -> float | None:
        if not self.initialized:
            return None
        return self.position_steps() * self.step_ml

    def __repr__(self) -> str:
        return f"C3000Driver({self.port!r}, address={self.address})"


__all__ = ["C3000Driver", "address_char", "ERRORS"]
