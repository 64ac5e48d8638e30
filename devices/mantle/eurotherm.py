"""Driver for Eurotherm 3216 / 2416 temperature controllers over Modbus RTU.

Registers (Modbus addresses as printed in the Eurotherm manuals, used directly
as the PDU address): 1 PV, 2 target setpoint, 3 output %, 5 working setpoint,
24/25 SP1/SP2, 35 setpoint rate limit (0 = off), 273 auto (0) / manual (1),
531 ramp units (0 per minute, 1 per hour, 2 per second).  The map is kept per
model (:data:`REGISTER_MAPS`): other families (3500, nanodac ...) use different
addresses and need their own entry, not a guess.

Values
------
Plain registers hold scaled 16-bit integers whose decimal places follow the
instrument's display resolution (usually one: 240.0 °C is 2400).  Every
parameter is also available as a full-resolution IEEE-754 float in two
registers at ``2 * register + 0x8000`` (high word first).  ``resolution="float"``
(the default) uses the float region for temperatures and rates, which does not
depend on how the controller's decimal point is configured — with scaled
integers a controller set to 0 decimals would read a written 2400 as 2400 °C.
``resolution="scaled"`` uses the plain registers with ``decimals`` places.

Design decisions
----------------
* **Heater off** = manual mode (273 ← 1) then output 0 % (3 ← 0).  The order is
  forced by the instrument: the output is only writable in manual, and manual
  mode starts from the last automatic output (bumpless transfer), so the 0 %
  write must follow.  **Heater on** = automatic mode (273 ← 0): the controller
  regulates to its working setpoint, servoing the working setpoint from the
  current PV and ramping at the rate limit.  (The 3200's front-panel "OFF" loop
  mode is not used: its Modbus value is not in our sources.)
* ``heater_on()`` reads back *auto mode, or a manual output above 0 %* — a
  controller left in manual at 30 % by hand is heating, and must say so.
* **Ramp**: the controller ramps itself (register 35).  The driver reads the
  ramp units (531) and converts °C/min into them; it never rewrites 531, which is
  configuration-level on some units.
* **Sensor break**: the plain PV register reads ``0x8000`` (−32768, Eurotherm's
  "no valid value"); the float region reads NaN in the emulator.  Both raise
  :class:`SensorFault`.  Which float a real unit returns in sensor break is not
  in our sources: anything non-finite is treated as a break, and the Device's
  physical-range check catches the rest.
* **Watchdog**: the 3216 offers no communications watchdog in the register map
  we rely on (:attr:`has_watchdog` is False); heating is not switched off if the
  computer dies.  Use the controller's own alarm relay or an independent
  over-temperature cut-out for unattended runs.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from photoreactor.devices.common.errors import InstrumentRejected, SensorFault

from .modbus import ModbusRtu

#: ramp units register values -> seconds per unit of time
RAMP_UNITS_S = {0: 60.0, 1: 3600.0, 2: 1.0}
RAMP_UNIT_NAMES = {0: "per minute", 1: "per hour", 2: "per second"}

#: the plain register value Eurotherm returns for "no valid value" (sensor break)
SENSOR_BREAK_RAW = 0x8000

#: serial settings every Eurotherm starts from (parity is configurable on the unit)
SERIAL_DEFAULTS = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}


@dataclass(frozen=True)
class RegisterMap:
    """Modbus addresses of the parameters the driver uses, for one model family."""

    model: str
    pv: int = 1
    target_sp: int = 2
    output: int = 3
    working_sp: int = 5
    sp1: int = 24
    sp2: int = 25
    sp_rate: int = 35
    auto_manual: int = 273
    ramp_units: int = 531

    @staticmethod
    def float_address(register: int) -> int:
        """Address of the full-resolution IEEE float copy of ``register``."""
        return 2 * register + 0x8000


REGISTER_MAPS = {
    "3216": RegisterMap("3216"),
    "2416": RegisterMap("2416"),
}


class EurothermDriver:
    """A Eurotherm 3216 / 2416 controller at one Modbus address.

    Parameters
    ----------
    port : SerialPort
        Shared port (several controllers may sit on one RS-485 line).
    address : int
        Modbus slave address (1–247; factory default 1).
    model : str
        Key into :data:`REGISTER_MAPS`.
    resolution : {"float", "scaled"}
        Read and write temperatures as IEEE floats or as scaled integers.
    decimals : int
        Decimal places of the scaled integers (the unit's display resolution).
    name : str
        Device name used in errors.
    timeout_s : float
        Read timeout per reply.
    retries : int
        Extra attempts for reads only.
    """

    has_watchdog = False
    has_stirrer = False
    ramps_itself = True

    def __init__(self, port, address: int = 1, *, model: str = "3216",
                 resolution: str = "float", decimals: int = 1, name: str = "mantle",
                 timeout_s: float = 0.5, retries: int = 2):
        if model not in REGISTER_MAPS:
            raise ValueError(f"{name}: no register map for Eurotherm model {model!r}; "
                             f"known: {sorted(REGISTER_MAPS)}")
        if resolution not in ("float", "scaled"):
            raise ValueError(f"{name}: resolution must be 'float' or 'scaled', not {resolution!r}")
        self.name = name
        self.map = REGISTER_MAPS[model]
        self.model = model
        self.resolution = resolution
        self.decimals = int(decimals)
        self.bus = ModbusRtu(port, address, name=name, timeout_s=timeout_s, retries=retries)

    @property
    def port(self):
        return self.bus.port

    @property
    def setpoint_resolution_c(self) -> float:
        """Smallest setpoint step the controller stores (0 in the float region)."""
        return 0.0 if self.resolution == "float" else 10.0 ** -self.decimals

    # -- value encoding ------------------------------------------------------
    def _read_value(self, register: int, what: str) -> float:
        if self.resolution == "float":
            hi, lo = self.bus.read_registers(self.map.float_address(register), 2)
            value = struct.unpack(">f", struct.pack(">HH", hi, lo))[0]
            if not math.isfinite(value):
                raise SensorFault(self.name, f"{what} reads {value} (sensor break?)")
            return float(value)
        (raw,) = self.bus.read_registers(register, 1)
        if raw == SENSOR_BREAK_RAW:
            raise SensorFault(self.name, f"{what} reads 0x8000, Eurotherm's 'no valid value' "
                              "(sensor break: thermocouple open or unplugged)")
        signed = raw - 0x10000 if raw & 0x8000 else raw
        return signed / 10 ** self.decimals

    def _write_value(self, register: int, value: float, what: str) -> None:
        if self.resolution == "float":
            hi, lo = struct.unpack(">HH", struct.pack(">f", float(value)))
            self.bus.write_registers(self.map.float_address(register), [hi, lo])
            return
        scaled = round(float(value) * 10 ** self.decimals)
        if not -32767 <= scaled <= 32767:
            raise ValueError(f"{self.name}: {what} {value} does not fit a scaled register "
                             f"with {self.decimals} decimal(s)")
        self.bus.write_register(register, scaled & 0xFFFF)

    def _read_int(self, register: int) -> int:
        (raw,) = self.bus.read_registers(register, 1)
        return raw

    # -- temperatures --------------------------------------------------------
    def temperature_c(self) -> float:
        """Process value (the probe), °C."""
        return self._read_value(self.map.pv, "process value")

    def setpoint_c(self) -> float:
        """Target setpoint, °C."""
        return self._read_value(self.map.target_sp, "target setpoint")

    def working_setpoint_c(self) -> float:
        """Working setpoint (where the ramp currently is), °C."""
        return self._read_value(self.map.working_sp, "working setpoint")

    def set_setpoint_c(self, temperature_c: float) -> None:
        """Write the target setpoint (the controller ramps its working setpoint to it)."""
        self._write_value(self.map.target_sp, temperature_c, "setpoint")

    # -- output / mode -------------------------------------------------------
    def output_percent(self) -> float:
        """Heater output demand, % (PID output in auto, manual value in manual)."""
        return self._read_value(self.map.output, "output")

    def is_auto(self) -> bool:
        return self._read_int(self.map.auto_manual) == 0

    def heater_on(self) -> bool:
        """True in automatic mode, or in manual mode with an output above 0 %."""
        if self.is_auto():
            return True
        return self.output_percent() > 0.0

    def start_heating(self) -> None:
        """Automatic mode: regulate to the setpoint."""
        self.bus.write_register(self.map.auto_manual, 0)

    def stop_heating(self) -> None:
        """Manual mode, then 0 % output (in that order, see module notes)."""
        self.bus.write_register(self.map.auto_manual, 1)
        self._write_value(self.map.output, 0.0, "output")

    # -- ramp -----------------------------------------------------------------
    def ramp_units(self) -> int:
        units = self._read_int(self.map.ramp_units)
        if units not in RAMP_UNITS_S:
            raise InstrumentRejected(self.name, f"ramp units register {self.map.ramp_units} "
                                     f"reads {units}, expected 0 (min), 1 (h) or 2 (s)")
        return units

    def ramp_rate_c_min(self) -> float:
        """Setpoint rate limit in °C/min (0 = no limit: step changes)."""
        per_unit = self._read_value(self.map.sp_rate, "setpoint rate limit")
        return per_unit * 60.0 / RAMP_UNITS_S[self.ramp_units()]

    def set_ramp_rate_c_min(self, rate_c_min: float) -> None:
        """Set the rate limit, converting °C/min into the unit's ramp units."""
        if rate_c_min < 0:
            raise ValueError(f"{self.name}: ramp rate must be ≥ 0 °C/min, not {rate_c_min}")
        units = self.ramp_units()
        per_unit = rate_c_min * RAMP_UNITS_S[units] / 60.0
        if rate_c_min > 0 and self.resolution == "scaled" and \
                round(per_unit * 10 ** self.decimals) == 0:
            raise ValueError(
                f"{self.name}: {rate_c_min} °C/min is {per_unit:g} °C {RAMP_UNIT_NAMES[units]}, "
                f"which rounds to 0 (= no limit) at {self.decimals} decimal(s)")
        self._write_value(self.map.sp_rate, per_unit, "setpoint rate limit")

    def __repr__(self) -> str:
        return (f"EurothermDriver({self.model}, address {self.bus.address} on "
                f"{getattr(self.port, 'url', self.port)!r})")
