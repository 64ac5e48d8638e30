"""Emulated New Era NE-1000 pumps on one RS-232 daisy chain (one emulator per port).

:class:`NewEraBus` sits behind ``sim://<name>`` and holds the firmware state of
every pump on that chain (:class:`NEPumpFirmware`, one per address); the bench
gets one :class:`NEPumpView` per *device*, so faults can be aimed at one pump
while its neighbour keeps working.

Firmware behaviour (same bytes as the real pump, see
:mod:`photoreactor.devices.pump.newera`): basic and safe-mode framing with CRC
check, status/alarm/error replies, ``DIA RAT VOL DIR RUN STP PUR CLD DIS VER
SAF``, number-format validation (≤ 4 digits, ≤ 3 decimals, else ``?OOR``), rate
limits from the syringe diameter, the dispensed counters and the rule that a
run stops when the counter of its direction reaches ``VOL``.

Liquid moves through the world: ``RUN`` calls ``world.start_flow(line, ±rate,
volume)`` and the state is computed lazily from ``world.flow_state(line)``, so
a clock jump mid-move is exact.  Anything that ends a move early at a time
known in advance (the safe-mode watchdog deadline, the plunger reaching the end
of the syringe, an injected stall) is scheduled by *limiting the volume of the
flow segment*; the reason is recorded and becomes the alarm when the segment
ends.  In safe mode every valid packet moves the watchdog deadline on and
re-schedules the running segment.

Faults (per pump, through its view): common ``"no_reply"``, ``"garbled"``,
``"disconnect"`` (the whole port: a pulled cable), plus

``"stall"``       a running pump stalls at once (alarm ``S``, flow stopped); while
                  the fault stays injected every new run stalls half-way
``"power_loss"``  the pump resets: move stopped, counters cleared, alarm ``R``;
                  safe mode persists but its timer restarts only with the next
                  valid packet (as the manual describes)

and the watchdog timeout (alarm ``T``) happens by itself when safe mode is armed
and packets stop.

Decisions where the manual is silent
------------------------------------
* A pump in safe mode ignores basic (CR) frames and a pump in basic mode ignores
  STX packets: no reply (the driver's mode detection relies only on "answers or
  not").  The reply to ``SAF n`` uses the framing of the new mode.
* A packet with a bad CRC gets a ``?COM`` reply when its address is readable.
* No unsolicited auto-alarm packets are sent (the host's input reset before
  each request would discard them); alarms are reported in the next reply.
* ``STP`` stops (status ``S``) rather than pausing; ``RAT``/``VOL``/``DIR``/
  ``DIA``/``CLD`` while running answer ``?NA``.
"""

from __future__ import annotations

import binascii
import math
import re
from dataclasses import dataclass

from .base import ChainedPump, PumpChain, PumpView, attach_pump, emulates, garble

STX, ETX = 0x02, 0x03

RATE_ML_MIN = {"UM": 1e-3, "MM": 1.0, "UH": 1e-3 / 60.0, "MH": 1.0 / 60.0}
VOLUME_ML = {"UL": 1e-3, "ML": 1.0}
#: drive limits (mm of plunger travel per minute), NE-1000 specification
MAX_MM_MIN = 50.99
MIN_MM_MIN = 6.78e-4
FACTORY_DIAMETER_MM = 26.59

_NUMBER = re.compile(r"^(\d*)(?:\.(\d*))?$")


class BadNumber(ValueError):
    pass


def parse_number(text: str) -> float:
    """The firmware's number rule: 1-4 digits in all, at most 3 after the point."""
    m = _NUMBER.match(text)
    if not m or not text or text == ".":
        raise BadNumber(text)
    whole, frac = m.group(1), m.group(2) or ""
    if len(whole) + len(frac) > 4 or len(frac) > 3 or not (whole + frac):
        raise BadNumber(text)
    return float(text)


def display(value: float) -> str:
    """How the firmware prints a number: 4 digits, the decimals that fit (max 3)."""
    value = max(0.0, value)
    whole = len(str(int(round(value, 3))))
    decimals = max(0, min(3, 4 - whole))
    return f"{value:.{decimals}f}"


def _packet(data: bytes) -> bytes:
    crc = binascii.crc_hqx(data, 0)
    return bytes([STX, len(data) + 4]) + data + bytes([crc >> 8, crc & 0xFF, ETX])


@dataclass
class _Move:
    direction: str            # "INF" or "WDR"
    rate_ml_s: float          # magnitude
    target_ml: float          # volume this run may move (inf: continuous / purge)
    start_contents_ml: float  # syringe contents when the run started
    base_ml: float = 0.0      # moved in earlier segments of this run
    segment_reason: str = "target"
    purge: bool = False


class NEPumpFirmware(ChainedPump):
    """State of one pump on the chain (address, syringe, counters, alarm, mode)."""

    def __init__(self, bus: NewEraBus, address: int, line: str, *, contents_ml: float,
                 syringe_volume_ml: float, model: str = "1000", firmware: str = "3.928"):
        super().__init__(bus, address, line)
        self.contents_ml = float(contents_ml)
        self.syringe_volume_ml = float(syringe_volume_ml)
        self.model, self.firmware = model, firmware
        self.reset_settings()
        self.safe_s = 0
        self.safe = False
        self.wd_deadline: float | None = None
        self.alarm: str | None = None
        self.log: list[tuple[float, str]] = []   # (time, event) for tests and debugging

    def reset_settings(self) -> None:
        self.diameter_mm = FACTORY_DIAMETER_MM
        self.rate_value, self.rate_units = 1.0, "MH"
        self.volume_value, self.volume_units = 0.0, "ML"
        self.direction = "INF"
        self.infused_ml = 0.0
        self.withdrawn_ml = 0.0
        self.move: _Move | None = None

    # -- helpers ----------------------------------------------------------
    def area_cm2(self) -> float:
        return math.pi / 4 * (self.diameter_mm / 10.0) ** 2

    def rate_limits_ml_min(self) -> tuple[float, float]:
        a = self.area_cm2()
        return a * MIN_MM_MIN / 10.0, a * MAX_MM_MIN / 10.0

    def moving(self) -> bool:
        return self.move is not None

    def status_char(self) -> str:
        if self.move is None:
            return "S"
        if self.move.purge:
            return "X"
        return "I" if self.move.direction == "INF" else "W"

    def _progress(self) -> tuple[float, bool]:
        moved, running = self.world.flow_state(self.line)
        return moved, running

    def moved_now_ml(self) -> float:
        if self.move is None:
            return 0.0
        moved, _ = self._progress()
        return self.move.base_ml + moved

    # -- time evolution (lazy) --------------------------------------------
    def sync(self) -> None:
        """Bring the pump up to the clock: end a move whose flow has ended, fire the watchdog."""
        if self.move is not None:
            moved, running = self._progress()
            if not running:
                reason = self.move.segment_reason
                self._finish(self.move.base_ml + moved)
                if reason == "watchdog":
                    self.wd_deadline = None
                    self._raise_alarm("T")
                elif reason in ("stall", "end_of_travel"):
                    self._raise_alarm("S")
        if self.safe and self.wd_deadline is not None and self.now() > self.wd_deadline:
            # also an idle pump alarms; the timer waits for the next valid packet
            self.wd_deadline = None
            if self.move is not None:
                self.world.stop_flow(self.line)
                moved, _ = self._progress()
                self._finish(self.move.base_ml + moved)
            self._raise_alarm("T")

    def _finish(self, moved_ml: float) -> None:
        move = self.move
        if move is None:
            return
        if move.direction == "INF":
            self.infused_ml += moved_ml
            self.contents_ml = max(0.0, move.start_contents_ml - moved_ml)
        else:
            self.withdrawn_ml += moved_ml
            self.contents_ml = min(self.syringe_volume_ml, move.start_contents_ml + moved_ml)
        self.move = None
        self.log.append((self.now(), f"stopped after {moved_ml:.6g} mL"))

    def _raise_alarm(self, code: str) -> None:
        self.alarm = code
        self.log.append((self.now(), f"alarm {code}"))

    def _schedule(self) -> None:
        """Start the next flow segment of the running move, limited by what ends it early."""
        move = self.move
        assert move is not None
        done = move.base_ml
        limits = {"target": move.target_ml - done}
        if move.direction == "INF":
            limits["end_of_travel"] = move.start_contents_ml - done
        else:
            limits["end_of_travel"] = self.syringe_volume_ml - move.start_contents_ml - done
        if self.has("stall"):
            stall_at = (move.target_ml if math.isfinite(move.target_ml)
                        else move.start_contents_ml) / 2.0
            limits["stall"] = stall_at - done
        if self.safe and self.wd_deadline is not None:
            limits["watchdog"] = move.rate_ml_s * max(0.0, self.wd_deadline - self.now())
        reason = min(limits, key=lambda k: limits[k])
        volume = max(0.0, limits[reason])
        move.segment_reason = reason
        sign = 1.0 if move.direction == "INF" else -1.0
        self.world.start_flow(self.line, sign * move.rate_ml_s, volume)

    # -- events -----------------------------------------------------------
    def valid_packet(self) -> None:
        """A valid packet arrived: in safe mode it (re)starts the watchdog timer."""
        if not self.safe or self.safe_s <= 0:
            return
        self.wd_deadline = self.now() + self.safe_s
        if self.move is not None and self.move.segment_reason == "watchdog":
            # stop, read, restart under the world's lock: the clock keeps running, and
            # volume moved between a read and a restart would otherwise go uncounted
            with self.world.lock:
                self.world.stop_flow(self.line)
                moved, _ = self._progress()
                self.move.base_ml += moved
                self._schedule()

    def stall_now(self) -> None:
        self.sync()
        if self.move is not None:
            self.world.stop_flow(self.line)
            moved, _ = self._progress()
            self._finish(self.move.base_ml + moved)
            self._raise_alarm("S")

    def power_loss(self) -> None:
        self.sync()
        if self.move is not None:
            self.world.stop_flow(self.line)
            moved, _ = self._progress()
            self._finish(self.move.base_ml + moved)
        diameter, rate = self.diameter_mm, (self.rate_value, self.rate_units)
        self.reset_settings()
        # diameter and rate live in non-volatile memory; counters and the run do not
        self.diameter_mm = diameter
        self.rate_value, self.rate_units = rate
        self.volume_units = "UL" if diameter <= 14.0 else "ML"
        self.wd_deadline = None   # timer restarts with the first valid packet
        self._raise_alarm("R")

    # -- commands ---------------------------------------------------------
    def execute(self, command: str, args: str) -> tuple[str, str]:
        """Run one command; return ``(status, payload)`` (payload ``?..`` on error)."""
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            return self.status_char(), "?"
        try:
            payload = handler(args)
        except BadNumber:
            payload = "?OOR"
        return self.status_char(), payload

    def _cmd_(self, args):
        return "" if not args else "?"

    def _cmd_VER(self, args):
        return f"NE{self.model}V{self.firmware}"

    def _cmd_DIA(self, args):
        if not args:
            return display(self.diameter_mm)
        if self.moving():
            return "?NA"
        d = parse_number(args)
        if not 0.1 <= d <= 50.0:
            return "?OOR"
        self.diameter_mm = d
        self.volume_units = "UL" if d <= 14.0 else "ML"
        return ""

    def _cmd_RAT(self, args):
        if not args:
            return f"{display(self.rate_value)}{self.rate_units}"
        if self.moving():
            return "?NA"
        m = re.fullmatch(r"([\d.]+)\s*(UM|MM|UH|MH)?", args)
        if not m:
            return "?"
        value = parse_number(m.group(1))
        units = m.group(2) or self.rate_units
        lo, hi = self.rate_limits_ml_min()
        if not lo <= value * RATE_ML_MIN[units] <= hi * (1 + 1e-9):
            return "?OOR"
        self.rate_value, self.rate_units = value, units
        return ""

    def _cmd_VOL(self, args):
        if not args:
            return f"{display(self.volume_value)}{self.volume_units}"
        if self.moving():
            return "?NA"
        if args in VOLUME_ML:
            self.volume_units = args
            return ""
        self.volume_value = parse_number(args)
        return ""

    def _cmd_DIR(self, args):
        if not args:
            return self.direction
        if self.moving():
            return "?NA"
        if args == "REV":
            args = "WDR" if self.direction == "INF" else "INF"
        if args not in ("INF", "WDR"):
            return "?"
        self.direction = args
        return ""

    def _cmd_CLD(self, args):
        if self.moving():
            return "?NA"
        if args == "INF":
            self.infused_ml = 0.0
        elif args == "WDR":
            self.withdrawn_ml = 0.0
        else:
            return "?"
        return ""

    def _cmd_DIS(self, args):
        infused, withdrawn = self.infused_ml, self.withdrawn_ml
        if self.move is not None:
            if self.move.direction == "INF":
                infused += self.moved_now_ml()
            else:
                withdrawn += self.moved_now_ml()
        scale = VOLUME_ML[self.volume_units]
        return f"I{display(infused / scale)}W{display(withdrawn / scale)}{self.volume_units}"

    def _start(self, direction: str, rate_ml_min: float, target_ml: float, purge=False) -> None:
        self.move = _Move(direction=direction, rate_ml_s=rate_ml_min / 60.0, target_ml=target_ml,
                          start_contents_ml=self.contents_ml, purge=purge)
        self.log.append((self.now(), f"run {direction} {target_ml:.6g} mL at {rate_ml_min:.6g} mL/min"))
        self._schedule()

    def _cmd_RUN(self, args):
        if self.moving():
            return "?NA"
        counter = self.infused_ml if self.direction == "INF" else self.withdrawn_ml
        if self.volume_value > 0:
            target = self.volume_value * VOLUME_ML[self.volume_units] - counter
            if target <= 1e-12:
                return ""   # volume already dispensed: the phase ends at once
        else:
            target = math.inf   # VOL 0: run until stopped
        self._start(self.direction, self.rate_value * RATE_ML_MIN[self.rate_units], target)
        return ""

    def _cmd_PUR(self, args):
        if self.moving():
            return "?NA"
        self._start("INF", self.rate_limits_ml_min()[1], math.inf, purge=True)
        return ""

    def _cmd_STP(self, args):
        if self.move is not None:
            self.world.stop_flow(self.line)
            moved, _ = self._progress()
            self._finish(self.move.base_ml + moved)
        return ""

    def _cmd_SAF(self, args):
        if not args:
            return str(self.safe_s)
        n = int(parse_number(args)) if args.isdigit() else -1
        if not 0 <= n <= 255:
            return "?OOR"
        self.safe_s, self.safe = n, n > 0
        self.wd_deadline = self.now() + n if n > 0 else None
        return ""


class NewEraBus(PumpChain):
    """The far end of one RS-232 chain: every New Era pump on ``sim://<name>``."""

    firmware_class = NEPumpFirmware
    model = "New Era"
    reply_end = bytes([ETX])

    # -- framing ----------------------------------------------------------
    def split_frames(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames = []
        while buffer:
            if buffer[0] == STX:
                if len(buffer) < 2 or len(buffer) < buffer[1] + 1:
                    break
                n = buffer[1] + 1
                frames.append(buffer[:n])
                buffer = buffer[n:]
            else:
                i = buffer.find(b"\r")
                if i < 0:
                    break
                frames.append(buffer[: i + 1])
                buffer = buffer[i + 1:]
        return frames, buffer

    def handle(self, frame: bytes) -> bytes | None:
        packet = frame[0] == STX
        crc_ok = True
        if packet:
            data = frame[2:-3]
            crc_ok = (frame[-1] == ETX and len(frame) >= 6
                      and binascii.crc_hqx(data, 0) == int.from_bytes(frame[-3:-1], "big"))
        else:
            data = frame.rstrip(b"\r")
        try:
            text = data.decode("ascii").strip().upper()
        except UnicodeDecodeError:
            return None
        m = re.match(r"^(\d{1,2})?\s*(\*?[A-Z]{0,3})\s*(.*)$", text)
        if not m:
            return None
        address = int(m.group(1)) if m.group(1) else 0
        pump = self.pumps.get(address)
        if pump is None or pump.has("no_reply"):
            return None
        if packet != pump.safe:
            return None   # wrong framing for the pump's mode: ignored
        pump.sync()
        if not crc_ok:
            return self._reply(pump, f"{pump.status_char()}?COM")
        pump.valid_packet()
        if pump.alarm is not None:
            code, pump.alarm = pump.alarm, None   # reporting the alarm acknowledges it
            return self._reply(pump, f"A?{code}")
        command, args = m.group(2).lstrip("*"), m.group(3).strip()
        status, payload = pump.execute(command, args)
        return self._reply(pump, status + payload)

    def _reply(self, pump: NEPumpFirmware, body: str) -> bytes:
        data = f"{pump.address:02d}{body}".encode("ascii")
        reply = _packet(data) if pump.safe else bytes([STX]) + data + bytes([ETX])
        if pump.has("garbled"):
            reply = garble(reply, self.reply_end)
        return reply


class NEPumpView(PumpView):
    """One pump of a :class:`NewEraBus`, as the bench sees it (faults per pump)."""

    def load_syringe(self, volume_ml: float) -> None:
        """The operator swaps in a syringe holding ``volume_ml`` (pump must be stopped)."""
        with self.bus.lock:
            self.firmware.sync()
            if self.firmware.moving():
                raise RuntimeError(f"{self.name}: stop the pump before changing the syringe")
            if not 0 <= volume_ml <= self.firmware.syringe_volume_ml:
                raise ValueError(f"{self.name}: {volume_ml} mL does not fit the syringe")
            self.firmware.contents_ml = float(volume_ml)

    @property
    def log(self):
        return self.bus.log


@emulates("NE1000Pump")
def attach(bench, name: str, config: dict) -> NEPumpView:
    """Attach pump ``name`` to the chain emulator of its port (created on first use)."""
    return attach_pump(bench, name, config, NewEraBus, NEPumpView,
                       model=str(config.get("model", "NE-1000")).replace("NE-", ""))
