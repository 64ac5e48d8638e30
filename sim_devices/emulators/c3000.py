"""Emulated Tricontinent C3000 syringe pumps (DT protocol) on one serial/RS-485 port.

:class:`C3000Bus` sits behind ``sim://<name>`` and holds one
:class:`C3000Firmware` per address character; the bench gets one
:class:`C3000View` per device so faults hit one pump.

Firmware behaviour (bytes as in :mod:`photoreactor.devices.pump.c3000`): command
strings buffered until ``R``; report commands ``Q``, ``?``, ``?2``, ``?6``, ``&``
answered at once; ``Z``/``Y``/``W`` initialise, ``I``/``O``/``B``/``E`` valve,
``V`` speed, ``A``/``P``/``D`` plunger moves, ``T`` terminate; operand checks
(error ``c``), unknown commands (``b``), a second plunger move in one string
(``d``), commands while busy (``o``), moves before initialisation (``g``).

The plunger position is computed lazily: while the valve points at the flask,
from the world's flow on the pump's line (dispense = infuse, pick-up = withdraw);
otherwise (reservoir, initialisation) from speed × time.  A stall is scheduled
by limiting the flow segment, so a clock jump mid-move stays exact.

Faults (per pump, through its view): common ``"no_reply"``, ``"garbled"``,
``"disconnect"`` (the whole port), plus

``"stall"``       plunger overload now (error ``i``, flow stopped, sticky until ``Z``);
                  while injected every new move overloads half-way
``"power_loss"``  the pump restarts: move stopped, not initialised (error ``g``
                  until ``Z``), position reported as 0 although the plunger — and
                  the liquid — are still where they were

Decision: ``Z`` homes the plunger through the reservoir port (contents return to
the reservoir, never into the flask) at 1000 increments/s.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .base import ChainedPump, PumpChain, PumpView, attach_pump, emulates, garble

ETX = b"\x03"
INIT_SPEED = 1000
SPEED_RANGE = (5, 5800)
VALVES = "IOBE"


@dataclass
class _Move:
    start_t: float
    start_pos: float
    target_pos: float
    speed: float             # increments/s
    via_flask: bool
    limit_reason: str = "target"


class C3000Firmware(ChainedPump):
    def __init__(self, bus: C3000Bus, address: int, line: str, *, syringe_volume_ml: float,
                 contents_ml: float, flask_port: str = "O", steps: int = 3000):
        super().__init__(bus, address, line)
        self.steps = steps
        self.step_ml = syringe_volume_ml / steps
        self.flask_port = flask_port
        self.pos = contents_ml / self.step_ml       # physical plunger position (increments)
        self.initialized = True
        self.valve = "I"
        self.speed = 1400
        self.sticky: int = 0
        self.move: _Move | None = None
        self.pending = ""
        self.version = "C3000 DT V2.3"

    # -- lazy plunger ------------------------------------------------------
    def _moved_now(self) -> tuple[float, bool]:
        """(increments moved in the current move, still running)."""
        move = self.move
        assert move is not None
        if move.via_flask:
            ml, running = self.world.flow_state(self.line)
            return ml / self.step_ml, running
        total = abs(move.target_pos - move.start_pos)
        done = min(total, move.speed * (self.now() - move.start_t))
        return done, done < total

    def current_pos(self) -> float:
        if self.move is None:
            return self.pos
        moved, _ = self._moved_now()
        sign = 1.0 if self.move.target_pos >= self.move.start_pos else -1.0
        return self.move.start_pos + sign * moved

    def sync(self) -> None:
        if self.move is None:
            return
        _, running = self._moved_now()
        if running:
            return
        reason = self.move.limit_reason
        self.pos = self.current_pos()
        self.move = None
        if reason == "stall":
            self.sticky = 9
        else:
            self.pos = round(self.pos)

    def busy(self) -> bool:
        self.sync()
        return self.move is not None

    def _start(self, target: int, speed: float) -> None:
        via_flask = self.valve == self.flask_port
        move = _Move(self.now(), self.pos, float(target), float(speed), via_flask)
        distance = abs(target - self.pos)
        if self.has("stall"):
            distance /= 2.0
            move.limit_reason = "stall"
            move.target_pos = self.pos + math.copysign(distance, target - self.pos)
        self.move = move
        if via_flask:
            rate_ml_s = speed * self.step_ml
            sign = 1.0 if target < self.pos else -1.0   # plunger up = dispense into flask
            self.world.start_flow(self.line, sign * rate_ml_s, distance * self.step_ml)

    def _halt(self) -> None:
        """Stop the plunger where it is now."""
        if self.move is None:
            return
        if self.move.via_flask:
            self.world.stop_flow(self.line)
        self.pos = self.current_pos()
        self.move = None

    def stall_now(self) -> None:
        self.sync()
        if self.move is not None:
            self._halt()
            self.sticky = 9

    def power_loss(self) -> None:
        self.sync()
        self._halt()
        self.initialized = False
        self.sticky = 7
        self.pending = ""

    # -- protocol ------------------------------------------------------------
    def reported_pos(self) -> int:
        return int(round(self.current_pos())) if self.initialized else 0

    def status_byte(self, transient: int = 0) -> int:
        code = transient or self.sticky
        return (0x40 if self.busy() else 0x60) | code

    def handle(self, text: str) -> tuple[int, str]:
        """Process the command string after the address; return (status byte, data)."""
        execute = text.endswith("R")
        body = text[:-1] if execute else text
        # report commands: answered at once
        if body == "Q":
            return self.status_byte(), ""
        if body.startswith("?"):
            return self._report(body[1:])
        if body == "&":
            return self.status_byte(), self.version
        if body == "T":   # terminate: immediate, with or without R
            self._halt()
            self.pending = ""
            return self.status_byte(), ""
        tokens = re.findall(r"([A-Za-z])(\d*)", body)
        if "".join(a + b for a, b in tokens) != body:
            return self.status_byte(2), ""
        if self.busy():
            return self.status_byte(15), ""
        self.pending += body
        if not execute:
            return self.status_byte(), ""
        program, self.pending = self.pending, ""
        return self.status_byte(self._execute(re.findall(r"([A-Za-z])(\d*)", program))), ""

    def _report(self, which: str) -> tuple[int, str]:
        if which == "":
            return self.status_byte(), str(self.reported_pos())
        if which == "2":
            return self.status_byte(), str(self.speed)
        if which == "6":
            return self.status_byte(), self.valve.lower()
        return self.status_byte(2), ""

    def _execute(self, tokens) -> int:
        """Run a buffered program; return a transient error code (0 = accepted)."""
        moves = [t for t in tokens if t[0] in "APDZYW"]
        if len(moves) > 1:
            return 4
        valve, speed, target, init = self.valve, self.speed, None, False
        for cmd, arg in tokens:
            n = int(arg) if arg else None
            if cmd in "ZYW":
                init = True
            elif cmd in VALVES and n is None:
                valve = cmd
            elif cmd == "V" and n is not None:
                if not SPEED_RANGE[0] <= n <= SPEED_RANGE[1]:
                    return 3
                speed = n
            elif cmd in "APD" and n is not None:
                if not self.initialized:
                    return 7
                if self.sticky:
                    return self.sticky
                base = round(self.pos)
                target = n if cmd == "A" else base + n if cmd == "P" else base - n
                if not 0 <= target <= self.steps:
                    return 3
            else:
                return 2
        if init:
            self.valve = "I"
            self.speed = speed
            self.initialized = True
            self.sticky = 0
            self._start(0, INIT_SPEED)
            return 0
        if self.sticky and target is None and (valve != self.valve or speed != self.speed):
            return self.sticky
        self.valve, self.speed = valve, speed
        if target is not None and target != round(self.pos):
            self._start(target, speed)
        return 0


class C3000Bus(PumpChain):
    """The far end of one C3000 serial line (several pumps by address character)."""

    firmware_class = C3000Firmware
    model = "C3000"
    request_end = b"\r"
    reply_end = ETX + b"\r\n"

    def pump_key(self, address: int) -> str:
        return chr(0x31 + address)

    def handle(self, frame: bytes) -> bytes | None:
        try:
            text = frame.decode("ascii").strip()
        except UnicodeDecodeError:
            return None
        if len(text) < 3 or text[0] != "/":
            return None
        pump = self.pumps.get(text[1])
        if pump is None or pump.has("no_reply"):
            return None
        status, data = pump.handle(text[2:])
        reply = b"/0" + bytes([status]) + data.encode("ascii") + self.reply_end
        if pump.has("garbled"):
            reply = garble(reply, self.reply_end)
        return reply


class C3000View(PumpView):
    """One pump of a :class:`C3000Bus`, as the bench sees it."""


@emulates("C3000Pump")
def attach(bench, name: str, config: dict) -> C3000View:
    """Attach pump ``name`` to the C3000 line emulator of its port (created on first use)."""
    return attach_pump(bench, name, config, C3000Bus, C3000View,
                       flask_port=str(config.get("flask_port", "O")))
