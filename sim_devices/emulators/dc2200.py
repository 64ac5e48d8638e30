"""Emulated Thorlabs DC2200 LED driver (SCPI behind the ``"@emulator"`` VISA backend).

The firmware keeps mode, current setpoint, output, PWM settings, protection flags
and a SCPI error queue; it lights the simulated reactor through
``world.set_light(source=<device name>, wavelength_nm, irradiance_mw_cm2)`` with
the head's *true* response at the vial — a fixed, slightly sub-linear curve
(efficiency droop) that the calibration plan measures with the power meter::

    E(I) = efficiency · I / (1 + droop · I)      (mW/cm², I in A)

with ``efficiency = 196 mW/cm² per A`` and ``droop = 0.15 /A`` by default:
≈ 1 mW/cm² at 5.1 mA, 5 mW/cm² at 25.6 mA, 150 mW/cm² at 0.862 A, 170 mW/cm² at 1 A.

Command handling follows SCPI: headers match in short or long form
(``SOUR``/``SOURCE``, optional numeric suffix ``1``), case-insensitive.  The long
form of ``CCURent`` is the instrument's own misspelling ``CCURENT``; the PWM
frequency node is ``FREQ`` only (``FREQUENCY`` is rejected with −113, as some
firmware does).  Unknown headers and bad values go to the error queue
(−113 undefined header, −222 data out of range, −224 illegal parameter value,
−109 missing parameter, −200 execution error); a failed *query* sends no reply,
so the driver times out as it would on the bench.

Faults (``emu.inject``): the common ones plus

``"over_temperature"``  LED head over-temperature: output forced off, the
                        ``...:TEMPERATURE:HEAD:TRIPPED?`` query returns 1, switching
                        on is refused (−200) until the fault is cleared.
``"interlock"``         interlock open: same, on ``...:INTLOCK:TRIPPED?``.
``"power_loss"``        mains lost: the VISA link is gone (connection-lost errors)
                        and the instrument comes back, after ``clear``, in its
                        power-on state (output off, setpoint 0, mode CC).

PWM: with ``SOURCE1:PWM:COUNT 0`` (continuous) the vial gets ``duty × E(I)`` on
average, which is what matters at the chemistry's time scales.  A finite count
is accepted but not timed (the light stays at the average until the next command).
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from collections.abc import Callable

import numpy as np

from .base import COMMON_FAULTS, VisaEmulator, emulates, register_visa

# -- a small SCPI header matcher (shared with the PM100 emulator) ----------------------

_NODE_RE = re.compile(r"^([A-Z*]+)([a-z]*)(?:\[(\d+)\]|(\d+))?$")
_TOKEN_RE = re.compile(r"^([A-Z*]+?)(\d*)$")


class ScpiError(Exception):
    """A SCPI error: pushed onto the queue as ``code,"message"``."""

    def __init__(self, code: int, message: str):
        super().__init__(f'{code},"{message}"')
        self.code = code
        self.message = message


def _compile(pattern: str):
    nodes = []
    for part in pattern.strip(":").split(":"):
        m = _NODE_RE.match(part)
        if not m:
            raise ValueError(f"bad SCPI pattern node {part!r}")
        short, tail, optional, required = m.groups()
        nodes.append((short, short + tail.upper(), optional, required))
    return nodes


def _node_matches(token: str, node) -> bool:
    short, long, optional, required = node
    m = _TOKEN_RE.match(token)
    if not m:
        return False
    alpha, digits = m.groups()
    if alpha not in (short, long):
        return False
    if required is not None:
        return digits == required
    if optional is not None:
        return digits in ("", optional)
    return digits == ""


class ScpiTable:
    """Maps SCPI headers (``"SOURce[1]:CCURent:CURRent"``, ``"...?"``) to handlers.

    Pattern nodes: upper-case letters are the short form, the whole node the long
    form; ``[1]`` an optional numeric suffix, a bare ``3`` a required one.
    Handlers take the argument string and return the reply (queries) or ``None``.
    """

    def __init__(self):
        self._entries: list[tuple[list, bool, Callable[[str], str | None]]] = []

    def add(self, pattern: str, handler: Callable[[str], str | None]) -> None:
        query = pattern.endswith("?")
        self._entries.append((_compile(pattern.rstrip("?")), query, handler))

    def dispatch(self, line: str) -> str | None:
        """Run one command line; raise :class:`ScpiError` for the error queue."""
        line = line.strip()
        if not line:
            return None
        header, _, args = line.partition(" ")
        header = header.upper().lstrip(":")
        query = header.endswith("?")
        tokens = header.rstrip("?").split(":")
        for nodes, is_query, handler in self._entries:
            if is_query != query or len(nodes) != len(tokens):
                continue
            if all(_node_matches(t, n) for t, n in zip(tokens, nodes, strict=True)):
                return handler(args.strip())
        raise ScpiError(-113, "Undefined header")


def scpi_float(args: str, low: float, high: float) -> float:
    """Parse a numeric argument and check its range (−109 / −224 / −222)."""
    if not args:
        raise ScpiError(-109, "Missing parameter")
    try:
        value = float(args.split()[0])
    except ValueError:
        raise ScpiError(-224, "Illegal parameter value") from None
    if not np.isfinite(value) or not low <= value <= high:
        raise ScpiError(-222, "Data out of range")
    return value


def scpi_bool(args: str) -> bool:
    token = args.strip().upper()
    if token in ("ON", "1"):
        return True
    if token in ("OFF", "0"):
        return False
    if not token:
        raise ScpiError(-109, "Missing parameter")
    raise ScpiError(-224, "Illegal parameter value")


class ScpiEmulator(VisaEmulator):
    """A VISA emulator whose firmware is a :class:`ScpiTable` plus an error queue."""

    #: error queue depth (SCPI requires ≥ 2; overflow replaces the last with −350)
    queue_depth = 10

    def __init__(self, name: str):
        super().__init__(name)
        self.errors: deque[tuple[int, str]] = deque()
        self.table = ScpiTable()
        self.table.add("*CLS", self._cls)
        self.table.add("SYSTem:ERRor?", self._next_error)
        self.table.add("SYSTem:ERRor:NEXT?", self._next_error)

    @classmethod
    def attach_entry(cls, name: str, config: dict, **settings) -> ScpiEmulator:
        """``cls(name, **settings)`` for a profile entry, registered at the entry's VISA resource.

        The instrument's serial number is the resource's serial field
        (``USB0::vendor::product::SERIAL::INSTR``) when it has one, else the class
        default; the noise seed is the entry's ``emulator: {seed: ...}`` or one
        stable per device name.
        """
        resource = config["resource"]
        fields = resource.split("::")
        if len(fields) > 3:
            settings["serial"] = fields[3]
        seed = (config.get("emulator") or {}).get("seed", stable_seed(name))
        emu = cls(name, seed=int(seed), **settings)
        register_visa(resource, emu)
        return emu

    def push_error(self, code: int, message: str) -> None:
        if len(self.errors) >= self.queue_depth:
            self.errors[-1] = (-350, "Queue overflow")
        else:
            self.errors.append((code, message))

    def _cls(self, args: str) -> None:
        self.errors.clear()

    def _next_error(self, args: str) -> str:
        code, message = self.errors.popleft() if self.errors else (0, "No error")
        return f'{code:+d},"{message}"'

    def handle(self, command: str) -> str | None:
        with self.lock:
            try:
                return self.table.dispatch(command)
            except ScpiError as err:
                self.push_error(err.code, err.message)
                return None

    def has(self, fault: str) -> bool:
        # while the mains are off the USB link is gone, like a pulled cable
        if fault == "disconnect" and "power_loss" in self.active_faults:
            return True
        return super().has(fault)


def stable_seed(*parts) -> int:
    """A seed that depends only on the given names/numbers (not on hash randomisation)."""
    return zlib.crc32("/".join(str(p) for p in parts).encode())


# -- the DC2200 -------------------------------------------------------------------------

class DC2200Emulator(ScpiEmulator):
    """Firmware of one DC2200 with one LED head, lighting ``world`` as ``source``.

    Parameters
    ----------
    name : str
        Device name; also the light source name in the world.
    world : Reactor
        The simulated reactor (``set_light``).
    wavelength_nm : float
        LED head wavelength.
    current_limit_a : float
        Instrument current limit (setpoints above are refused with −222).
    efficiency_mw_cm2_per_a, droop_per_a : float
        True optical response at the vial (see module docstring).
    seed : int
        Seed of the measured-current noise.
    """

    faults = COMMON_FAULTS | {"over_temperature", "interlock", "power_loss"}

    def __init__(self, name: str, *, world, wavelength_nm: float = 460.0,
                 current_limit_a: float = 1.0, efficiency_mw_cm2_per_a: float = 196.0,
                 droop_per_a: float = 0.15, serial: str = "M00000001", seed: int = 0):
        super().__init__(name)
        self.world = world
        self.source = name
        self.wavelength_nm = float(wavelength_nm)
        self.current_limit_a = float(current_limit_a)
        self.efficiency = float(efficiency_mw_cm2_per_a)
        self.droop = float(droop_per_a)
        self.serial = serial
        self.rng = np.random.default_rng(seed)
        self._power_on_state()
        t = self.table
        t.add("*IDN?", lambda a: f"Thorlabs,DC2200,{self.serial},1.3.1")
        t.add("SYSTem:REMote", self._remote)
        t.add("SOURce[1]:MODE", self._set_mode)
        t.add("SOURce[1]:MODE?", lambda a: self.mode)
        t.add("SOURce[1]:CCURent:CURRent", self._set_cc)
        t.add("SOURce[1]:CCURent:CURRent?", lambda a: f"{self.cc_current_a:.6E}")
        t.add("SOURce[1]:CURRent:LIMit?", lambda a: f"{self.current_limit_a:.6E}")
        t.add("SOURce[1]:CURRent:LIMit:TRIPped?", lambda a: "0")
        t.add("OUTPut[1]:STATe", self._set_output)
        t.add("OUTPut[1]:STATe?", lambda a: "1" if self.output else "0")
        t.add("SENSe3:CURRent:DATA?", self._measured_current)
        t.add("OUTPut[1]:PROTection:INTLock:TRIPped?",
              lambda a: "1" if self.has("interlock") else "0")
        t.add("OUTPut[1]:PROTection:TEMPerature:DRIVer:TRIPped?", lambda a: "0")
        t.add("OUTPut[1]:PROTection:TEMPerature:HEAD:TRIPped?",
              lambda a: "1" if self.has("over_temperature") else "0")
        t.add("SOURce[1]:PWM:CURRent", self._set_pwm_current)
        t.add("SOURce[1]:PWM:FREQ", self._set_pwm_frequency)
        t.add("SOURce[1]:PWM:DCYCle", self._set_pwm_duty)
        t.add("SOURce[1]:PWM:COUNt", self._set_pwm_count)

    # -- state ----------------------------------------------------------------------------
    def _power_on_state(self) -> None:
        self.remote = False
        self.mode = "CC"
        self.cc_current_a = 0.0
        self.output = False
        self.pwm_current_a = 0.0
        self.pwm_frequency_hz = 1000.0
        self.pwm_duty_percent = 50.0
        self.pwm_count = 0
        self.errors.clear()
        self._apply_light()

    def true_irradiance(self, current_a: float) -> float:
        """The head's real irradiance at the vial for a drive current (mW/cm²)."""
        current_a = max(0.0, float(current_a))
        return self.efficiency * current_a / (1.0 + self.droop * current_a)

    def delivered_irradiance(self) -> float:
        """What the vial receives now (mW/cm², time-averaged in PWM)."""
        if not self.output:
            return 0.0
        if self.mode == "PWM":
            return self.true_irradiance(self.pwm_current_a) * self.pwm_duty_percent / 100.0
        return self.true_irradiance(self.cc_current_a)

    def _apply_light(self) -> None:
        if self.world is not None:
            self.world.set_light(self.source, self.wavelength_nm, self.delivered_irradiance())

    def _protection_tripped(self) -> bool:
        return self.has("over_temperature") or self.has("interlock")

    def on_fault(self, fault: str) -> None:
        if fault in ("over_temperature", "interlock"):
            self.output = False
            self._apply_light()
        elif fault == "power_loss":
            self._power_on_state()

    # -- handlers --------------------------------------------------------------------------
    def _remote(self, args: str) -> None:
        self.remote = True

    def _set_mode(self, args: str) -> None:
        mode = args.strip().upper()
        if mode not in ("CC", "PWM"):
            raise ScpiError(-224, "Illegal parameter value")
        self.mode = mode
        self._apply_light()

    def _set_cc(self, args: str) -> None:
        self.cc_current_a = scpi_float(args, 0.0, self.current_limit_a)
        self._apply_light()

    def _set_output(self, args: str) -> None:
        on = scpi_bool(args)
        if on and self._protection_tripped():
            raise ScpiError(-200, "Execution error; protection tripped")
        self.output = on
        self._apply_light()

    def _measured_current(self, args: str) -> str:
        if not self.output:
            value = 0.0
        elif self.mode == "PWM":
            value = self.pwm_current_a * self.pwm_duty_percent / 100.0
        else:
            # constant-current regulation is tight; the ADC adds ~20 µA of noise
            value = max(0.0, self.cc_current_a + self.rng.normal(0.0, 20e-6))
        return f"{value:.6E}"

    def _set_pwm_current(self, args: str) -> None:
        self.pwm_current_a = scpi_float(args, 0.0, self.current_limit_a)
        self._apply_light()

    def _set_pwm_frequency(self, args: str) -> None:
        self.pwm_frequency_hz = scpi_float(args, 0.1, 20_000.0)

    def _set_pwm_duty(self, args: str) -> None:
        self.pwm_duty_percent = scpi_float(args, 0.1, 99.9)
        self._apply_light()

    def _set_pwm_count(self, args: str) -> None:
        count = scpi_float(args, 0, 2**31 - 1)
        if count != int(count):
            raise ScpiError(-224, "Illegal parameter value")
        self.pwm_count = int(count)


@emulates("DC2200Led")
def attach(bench, name: str, config: dict) -> DC2200Emulator:
    """Create the DC2200 firmware for a profile entry and register it at its VISA resource.

    Options under the entry's ``emulator:`` mapping: ``current_limit_a`` (1.0),
    ``efficiency_mw_cm2_per_a`` (196), ``droop_per_a`` (0.15), ``seed``.
    """
    opts = config.get("emulator") or {}
    return DC2200Emulator.attach_entry(
        name, config, world=bench.world, wavelength_nm=float(config["wavelength_nm"]),
        current_limit_a=float(opts.get("current_limit_a", 1.0)),
        efficiency_mw_cm2_per_a=float(opts.get("efficiency_mw_cm2_per_a", 196.0)),
        droop_per_a=float(opts.get("droop_per_a", 0.15)))
