"""Emulated Thorlabs PM100 power meter with a photodiode head at the vial position.

The reading is the light the simulated reactor has *now* at the vial — the sum
of every source in ``world.light`` — through the sensor aperture::

    P = Σ_i E_i · A · R(λ_i) / R(λ_set)  + dark  − zero  + noise

* ``A`` the aperture area (9.5 mm diameter: 0.709 cm²), E_i in mW/cm²;
* ``R(λ) ∝ λ`` — an ideal photodiode's responsivity shape (constant quantum
  efficiency), so a meter left at the wrong wavelength reads wrong by λ_i/λ_set,
  as a real one does;
* ``dark`` a small fixed offset (2 µW: stray light, amplifier offset) that
  ``SENS:CORR:COLL:ZERO`` measures and removes — zeroing with the LED on removes
  the LED too, as on the bench;
* ``noise``: seeded, 0.1 % of the reading + 20 nW, divided by √(averaging count).

A true power above the head's maximum reads the SCPI overflow value 9.9E+37.
The default head is an S121C (9.5 mm, 500 mW): an S120C (50 mW) saturates
above ≈ 70 mW/cm² at the vial, below the 150 mW/cm² the photocatalysis needs.

Faults: the common ones plus ``"power_loss"`` (link gone while active; power-on
state — zero lost, averaging 1 — afterwards).
"""

from __future__ import annotations

import math

import numpy as np

from .base import COMMON_FAULTS, emulates
from .dc2200 import ScpiEmulator, ScpiError, scpi_bool, scpi_float

#: sensor heads the emulator knows: (max power W, wavelength range nm, aperture mm)
SENSORS = {
    "S120C": (0.050, (400.0, 1100.0), 9.5),
    "S121C": (0.500, (400.0, 1100.0), 9.5),
    "S130C": (0.500, (400.0, 1100.0), 9.5),
}
OVERFLOW = "9.900000E+37"


class PM100Emulator(ScpiEmulator):
    """Firmware of a PM100 console with one photodiode head.

    Parameters
    ----------
    name : str
    world : Reactor
        Read through ``world.light`` (source → (wavelength nm, mW/cm²)).
    sensor : str
        Head model (see :data:`SENSORS`).
    aperture_mm : float
        Aperture diameter used to turn irradiance into power.
    dark_w : float
        Offset removed by zeroing.
    seed : int
        Noise seed.
    """

    faults = COMMON_FAULTS | {"power_loss"}

    def __init__(self, name: str, *, world, sensor: str = "S121C", aperture_mm: float | None = None,
                 dark_w: float = 2e-6, serial: str = "P0000001", seed: int = 0):
        super().__init__(name)
        if sensor not in SENSORS:
            raise ValueError(f"PM100 emulator: unknown sensor {sensor!r}; known {sorted(SENSORS)}")
        self.world = world
        self.sensor = sensor
        self.max_power_w, self.wavelength_range_nm, default_aperture = SENSORS[sensor]
        self.aperture_mm = float(aperture_mm or default_aperture)
        self.dark_w = float(dark_w)
        self.serial = serial
        self.rng = np.random.default_rng(seed)
        self._power_on_state()
        t = self.table
        t.add("*IDN?", lambda a: f"Thorlabs,PM100USB,{self.serial},1.6.0")
        t.add("SYSTem:SENSor:IDN?", lambda a: f"{self.sensor},{self.serial}0,01-Jan-2026,1,18,289")
        t.add("SENSe:CORRection:WAVelength", self._set_wavelength)
        t.add("SENSe:CORRection:WAVelength?", lambda a: f"{self.wavelength_nm:.6E}")
        t.add("SENSe:POWer:UNIT", self._set_unit)
        t.add("SENSe:POWer:UNIT?", lambda a: self.unit)
        t.add("SENSe:RANGe:AUTO", self._set_autorange)
        t.add("SENSe:RANGe:AUTO?", lambda a: "1" if self.autorange else "0")
        t.add("SENSe:AVERage:COUNt", self._set_averaging)
        t.add("SENSe:AVERage:COUNt?", lambda a: str(self.averaging))
        t.add("SENSe:CORRection:COLLect:ZERO", self._zero)
        t.add("MEASure:POWer?", self._measure)

    def _power_on_state(self) -> None:
        self.wavelength_nm = 633.0
        self.unit = "W"
        self.autorange = True
        self.averaging = 1
        self.zero_w = 0.0
        self.errors.clear()

    def on_fault(self, fault: str) -> None:
        if fault == "power_loss":
            self._power_on_state()

    @property
    def area_cm2(self) -> float:
        return math.pi * (self.aperture_mm / 20.0) ** 2

    def true_power_w(self) -> float:
        """Optical power through the aperture as the meter's correction reports it (W)."""
        total = 0.0
        for wavelength_nm, irradiance in self.world_light():
            total += irradiance * 1e-3 * self.area_cm2 * wavelength_nm / self.wavelength_nm
        return total

    def world_light(self):
        # the light dict only changes through set_light: no need to advance the physics
        with self.world.lock:
            return list(self.world.light.values())

    # -- handlers -------------------------------------------------------------------------
    def _set_wavelength(self, args: str) -> None:
        lo, hi = self.wavelength_range_nm
        self.wavelength_nm = scpi_float(args, lo, hi)

    def _set_unit(self, args: str) -> None:
        unit = args.strip().upper()
        if unit not in ("W", "DBM"):
            raise ScpiError(-224, "Illegal parameter value")
        self.unit = unit

    def _set_autorange(self, args: str) -> None:
        self.autorange = scpi_bool(args)

    def _set_averaging(self, args: str) -> None:
        value = scpi_float(args, 1, 100_000)
        if value != int(value):
            raise ScpiError(-224, "Illegal parameter value")
        self.averaging = int(value)

    def _zero(self, args: str) -> None:
        self.zero_w = self.true_power_w() + self.dark_w

    def _measure(self, args: str) -> str:
        true_w = self.true_power_w()
        if true_w > self.max_power_w:
            return OVERFLOW
        sigma = (1e-3 * true_w + 20e-9) / math.sqrt(self.averaging)
        watts = true_w + self.dark_w - self.zero_w + self.rng.normal(0.0, sigma)
        if self.unit == "DBM":
            return f"{10 * math.log10(max(watts, 1e-15) * 1e3):.6E}"
        return f"{watts:.6E}"


@emulates("PM100Meter")
def attach(bench, name: str, config: dict) -> PM100Emulator:
    """Create the power-meter firmware and register it at the entry's VISA resource.

    Options under ``emulator:``: ``sensor`` (``"S121C"``), ``dark_w`` (2e-6), ``seed``.
    """
    opts = config.get("emulator") or {}
    return PM100Emulator.attach_entry(
        name, config, world=bench.world, sensor=str(opts.get("sensor", "S121C")),
        aperture_mm=config.get("aperture_mm"), dark_w=float(opts.get("dark_w", 2e-6)))
