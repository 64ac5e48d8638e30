"""Simulated Eurotherm 3216 / 2416 temperature controller (Modbus RTU slave).

Speaks the bytes the real controller does: functions 03 (read holding
registers), 06 (write one) and 16 (write several), CRC-16 low byte first,
exception replies ``function | 0x80, code``.  Frames with a bad CRC or another
slave's address are ignored, as on a real RS-485 line.

Registers (plain = scaled integer with ``decimals`` places, also readable and
writable as IEEE floats at ``2 * register + 0x8000``):

====  ===================  =====================================================
1     PV                   probe temperature (read-only); 0x8000 / NaN in sensor break
2     target setpoint      writes SP1 (the active setpoint)
3     output %             PID output in auto; writable only in manual (else code 3)
5     working setpoint     read-only: where the ramp is
6     proportional band    °C
8     integral time        s (integer)
9     derivative time      s (integer)
24/25 SP1 / SP2
35    SP rate limit        in ramp units; 0 = no limit
273   auto (0) / manual (1)
531   ramp units           0 per minute, 1 per hour, 2 per second
====  ===================  =====================================================

Regulation is a PID on the working setpoint, registered with the world through
``attach_heater_controller`` and so evaluated on every integration sub-step
(it survives clock jumps).  The working setpoint ramps toward the target at the
rate limit; in manual mode it tracks the PV, so switching to auto starts the
ramp from the current temperature ("servo to PV"), as the real unit does.
Default terms (PB 20 °C, Ti 300 s, Td 50 s, derivative on the measurement,
filtered) suit a fabric mantle on a 25–100 mL flask: with the physical model
they settle 10 mL of ODE at 80–240 °C in 7–15 min with 1–4 °C overshoot and
hold within 0.1 °C; they also regulate the first-order minimal world.  (The
real unit would be autotuned; registers 6/8/9 accept other terms.)

Faults (besides the common ``no_reply``, ``garbled``, ``disconnect``):

``open_thermocouple``  PV reads the sensor-break value; output forced to 0 %
``power_loss``         no replies, no heating; on restore the unit resumes its
                       previous mode with the working setpoint servoed to PV
``stuck_reading``      PV frozen at its value when injected; the PID regulates
                       on the frozen value (a real danger: it keeps heating)
``overheat``           output stage failed on: full power whatever the commands
"""

from __future__ import annotations

import math
import struct
from urllib.parse import urlparse

from .base import COMMON_FAULTS, SerialEmulator, emulates, register_serial

SENSOR_BREAK_RAW = 0x8000
RAMP_UNITS_S = {0: 60.0, 1: 3600.0, 2: 1.0}
FLOAT_BASE = 0x8000

#: plain registers scaled by 10**decimals (the rest are plain integers)
SCALED = {1, 2, 3, 5, 6, 24, 25, 35}
READ_ONLY = {1, 5}
KNOWN = SCALED | {8, 9, 273, 531}


def _crc16(data: bytes) -> bytes:
    """Modbus CRC (table-free, written independently of the driver's on purpose)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
    return bytes([crc & 0xFF, crc >> 8])


class PidLaw:
    """Positional PID with conditional-integration anti-windup; output 0..1.

    Parameters
    ----------
    pb_c : float
        Proportional band, °C (gain = 1 / band).
    ti_s : float
        Integral time, s (0 disables integral action).
    td_s : float
        Derivative time, s, on the measurement (filtered).
    """

    def __init__(self, pb_c: float = 10.0, ti_s: float = 200.0, td_s: float = 0.0):
        self.pb_c, self.ti_s, self.td_s = pb_c, ti_s, td_s
        self.integral = 0.0
        self._prev = None
        self._deriv = 0.0

    def reset(self) -> None:
        self.integral = 0.0
        self._prev = None
        self._deriv = 0.0

    def track(self, output: float, pv: float) -> None:
        """Manual mode: follow ``output`` so that auto starts bumplessly from it."""
        self.integral = min(1.0, max(0.0, output))
        self._prev = pv
        self._deriv = 0.0

    def __call__(self, pv: float, sp: float, dt: float) -> float:
        kc = 1.0 / max(self.pb_c, 1e-6)
        error = sp - pv
        if self._prev is not None and self.td_s > 0 and dt > 0:
            raw = -(pv - self._prev) / dt
            alpha = dt / (self.td_s / 8.0 + dt)
            self._deriv += alpha * (raw - self._deriv)
        self._prev = pv
        p = kc * (error + self.td_s * self._deriv)
        u = p + self.integral
        # integrate only when that does not push further into saturation
        if self.ti_s > 0 and (u < 1.0 or error < 0) and (u > 0.0 or error > 0):
            self.integral = min(1.0, max(-1.0, self.integral + kc * error * dt / self.ti_s))
        return min(1.0, max(0.0, p + self.integral))


class EurothermEmulator(SerialEmulator):
    """Eurotherm 3216 firmware behind ``sim://<name>``, regulating ``world``'s heater.

    Parameters
    ----------
    name : str
        Emulator (port) name.
    world : Reactor
        The simulated reactor (heat via ``attach_heater_controller``).
    clock : Clock
        The bench clock.
    address : int
        Modbus slave address it answers.
    decimals : int
        Decimal places of the scaled plain registers.
    sp_range_c : (float, float)
        Setpoint limits (SP.LO / SP.HI); writes outside raise exception 3.
    pb_c, ti_s, td_s : float
        Initial PID terms (registers 6, 8, 9).
    """

    faults = COMMON_FAULTS | {"open_thermocouple", "power_loss", "stuck_reading", "overheat"}
    reply_end = b""

    def __init__(self, name: str, world, clock, *, address: int = 1, decimals: int = 1,
                 sp_range_c: tuple[float, float] = (0.0, 400.0), pb_c: float = 20.0,
                 ti_s: float = 300.0, td_s: float = 50.0):
        super().__init__(name)
        self.world = world
        self.clock = clock
        self.address = int(address)
        self.decimals = int(decimals)
        self.sp_range_c = sp_range_c
        self.pid = PidLaw(pb_c, ti_s, td_s)
        # instrument state (the law reads these without the emulator lock)
        self.sp1_c = 25.0
        self.sp2_c = 25.0
        self.rate = 0.0                 # register 35, in ramp units
        self.ramp_units = 0             # register 531
        self.manual = True              # power up in manual at 0 %: heating off
        self.manual_output = 0.0        # %
        self.output = 0.0               # % actually applied
        self.working_sp_c = world.temperature_c()
        self.frozen_pv_c: float | None = None
        world.attach_heater_controller(self.law)

    # -- regulation (called by the world under its lock; never take self.lock) --
    def law(self, temperature_c: float, dt_s: float) -> float:
        if self.has("power_loss"):
            self.output = 0.0
            self.working_sp_c = temperature_c
            return 0.0
        if self.has("overheat"):
            self.output = 100.0
            return 1.0
        pv = self.frozen_pv_c if self.frozen_pv_c is not None else temperature_c
        if self.has("open_thermocouple"):
            self.output = 0.0               # sensor-break output
            return 0.0
        if self.manual:
            self.working_sp_c = pv
            self.output = self.manual_output
            self.pid.track(self.manual_output / 100.0, pv)
            return self.output / 100.0
        target = self.sp1_c
        rate_c_s = self.rate / RAMP_UNITS_S[self.ramp_units]
        if rate_c_s <= 0:
            self.working_sp_c = target
        else:
            step = rate_c_s * dt_s
            gap = target - self.working_sp_c
            self.working_sp_c = target if abs(gap) <= step else self.working_sp_c + math.copysign(step, gap)
        power = self.pid(pv, self.working_sp_c, dt_s)
        self.output = 100.0 * power
        return power

    # held regulation (see ReactorModel._regulate)
    def holding_c(self) -> float | None:
        """The setpoint while regulating to it in auto (no ramp, no fault), else ``None``."""
        if (self.manual or self.active_faults or self.frozen_pv_c is not None
                or self.working_sp_c != self.sp1_c):
            return None
        return self.sp1_c

    def holdable_s(self) -> float:
        return math.inf

    def hold(self, dt_s: float, power: float) -> None:
        """Regulated at the setpoint for ``dt_s`` with ``power``: the output follows it."""
        self.output = 100.0 * power

    def on_fault(self, fault: str) -> None:
        if fault == "stuck_reading":
            self.frozen_pv_c = self.world.temperature_c()

    def clear(self, fault: str | None = None) -> None:
        super().clear(fault)
        if not self.has("stuck_reading"):
            self.frozen_pv_c = None

    # -- register values ------------------------------------------------------
    def _pv(self) -> float:
        if self.has("open_thermocouple"):
            return math.nan
        if self.frozen_pv_c is not None:
            return self.frozen_pv_c
        return self.world.temperature_c()

    def _get(self, reg: int) -> float:
        return {
            1: self._pv,
            2: lambda: self.sp1_c,
            3: lambda: self.output,
            5: lambda: self.working_sp_c,
            6: lambda: self.pid.pb_c,
            8: lambda: self.pid.ti_s,
            9: lambda: self.pid.td_s,
            24: lambda: self.sp1_c,
            25: lambda: self.sp2_c,
            35: lambda: self.rate,
            273: lambda: 1 if self.manual else 0,
            531: lambda: self.ramp_units,
        }[reg]()

    def _set(self, reg: int, value: float) -> int:
        """Apply a write; return 0 or a Modbus exception code."""
        if reg not in KNOWN:
            return 2
        if reg in READ_ONLY or not math.isfinite(value):
            return 3
        lo, hi = self.sp_range_c
        if reg in (2, 24, 25):
            if not lo <= value <= hi:
                return 3
            if reg == 25:
                self.sp2_c = value
            else:
                self.sp1_c = value
        elif reg == 3:
            if not self.manual or not 0.0 <= value <= 100.0:
                return 3
            self.manual_output = value
        elif reg == 6:
            if value <= 0:
                return 3
            self.pid.pb_c = value
        elif reg in (8, 9):
            if value < 0:
                return 3
            if reg == 8:
                self.pid.ti_s = value
            else:
                self.pid.td_s = value
        elif reg == 35:
            if value < 0:
                return 3
            self.rate = value
        elif reg == 273:
            if value not in (0, 1):
                return 3
            self.manual = bool(value)
        elif reg == 531:
            if value not in (0, 1, 2):
                return 3
            self.ramp_units = int(value)
        return 0

    def _plain(self, reg: int) -> int:
        value = self._get(reg)
        if reg == 1 and math.isnan(value):
            return SENSOR_BREAK_RAW
        if reg in SCALED:
            value = round(value * 10 ** self.decimals)
        value = max(-32767, min(32767, int(value)))
        return value & 0xFFFF

    def _from_plain(self, reg: int, raw: int) -> float:
        signed = raw - 0x10000 if raw & 0x8000 else raw
        return signed / 10 ** self.decimals if reg in SCALED else float(signed)

    # -- framing ---------------------------------------------------------------
    def split_frames(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames = []
        while len(buffer) >= 2:
            function = buffer[1]
            if function in (0x03, 0x06):
                size = 8
            elif function == 0x10:
                if len(buffer) < 7:
                    break
                size = 9 + buffer[6]
            else:
                size = len(buffer)   # unknown function: the whole burst is one frame
            if len(buffer) < size:
                break
            frames.append(buffer[:size])
            buffer = buffer[size:]
        return frames, buffer

    def _reply(self, pdu: bytes) -> bytes:
        body = bytes([self.address]) + pdu
        return body + _crc16(body)

    def _exception(self, function: int, code: int) -> bytes:
        return self._reply(bytes([function | 0x80, code]))

    def handle(self, frame: bytes) -> bytes | None:
        if len(frame) < 4 or _crc16(frame[:-2]) != frame[-2:]:
            return None                      # line noise: a real slave stays silent
        if frame[0] != self.address:
            return None                      # another slave's frame
        if self.has("power_loss"):
            return None
        self.world.update()                  # apply the change at the current time
        function = frame[1]
        try:
            if function == 0x03:
                start, count = struct.unpack(">HH", frame[2:6])
                return self._read(start, count)
            if function == 0x06:
                reg, raw = struct.unpack(">HH", frame[2:6])
                if reg >= FLOAT_BASE:
                    return self._exception(function, 2)
                code = self._set(reg, self._from_plain(reg, raw)) if reg in KNOWN else 2
                return self._exception(function, code) if code else self._reply(frame[1:6])
            if function == 0x10:
                start, count, nbytes = struct.unpack(">HHB", frame[2:7])
                data = frame[7:7 + nbytes]
                if nbytes != 2 * count or len(data) != nbytes:
                    return self._exception(function, 3)
                words = list(struct.unpack(f">{count}H", data))
                code = self._write_many(start, words)
                return self._exception(function, code) if code else self._reply(frame[1:6])
        except KeyError:
            return self._exception(function, 2)
        return self._exception(function, 1)

    def _read(self, start: int, count: int) -> bytes:
        if not 1 <= count <= 125:
            return self._exception(0x03, 3)
        words = []
        if start >= FLOAT_BASE:
            if (start - FLOAT_BASE) % 2 or count % 2:
                return self._exception(0x03, 2)
            for i in range(count // 2):
                reg = (start - FLOAT_BASE) // 2 + i
                if reg not in KNOWN:
                    return self._exception(0x03, 2)
                words += struct.unpack(">HH", struct.pack(">f", float(self._get(reg))))
        else:
            for reg in range(start, start + count):
                if reg not in KNOWN:
                    return self._exception(0x03, 2)
                words.append(self._plain(reg))
        data = struct.pack(f">{len(words)}H", *words)
        return self._reply(bytes([0x03, len(data)]) + data)

    def _write_many(self, start: int, words: list[int]) -> int:
        if start >= FLOAT_BASE:
            if (start - FLOAT_BASE) % 2 or len(words) % 2:
                return 2
            for i in range(len(words) // 2):
                reg = (start - FLOAT_BASE) // 2 + i
                value = struct.unpack(">f", struct.pack(">HH", *words[2 * i:2 * i + 2]))[0]
                if reg in (8, 9, 273, 531):
                    value = round(value)
                code = self._set(reg, value)
                if code:
                    return code
            return 0
        for i, raw in enumerate(words):
            reg = start + i
            if reg not in KNOWN:
                return 2
            code = self._set(reg, self._from_plain(reg, raw))
            if code:
                return code
        return 0

    def state(self) -> dict:
        """Snapshot for tests and reports."""
        return {"manual": self.manual, "output_percent": self.output, "sp1_c": self.sp1_c,
                "working_sp_c": self.working_sp_c, "rate": self.rate,
                "ramp_units": self.ramp_units, "faults": sorted(self.active_faults)}


def _sim_name(device: str, config: dict) -> str:
    url = str(config.get("port", ""))
    parts = urlparse(url)
    if parts.scheme != "sim":
        raise ValueError(f"device {device!r}: a simulated controller needs port: sim://<name>, "
                         f"not {url!r}")
    return (parts.netloc + parts.path).strip("/")


@emulates("EurothermMantle")
def attach(bench, name: str, config: dict) -> EurothermEmulator:
    """Create the controller on ``config['port']`` and connect it to the bench's heater."""
    emu = EurothermEmulator(_sim_name(name, config), bench.world, bench.clock,
                            address=int(config.get("address", 1)),
                            decimals=int(config.get("decimals", 1)))
    register_serial(emu.name, emu)
    return emu
