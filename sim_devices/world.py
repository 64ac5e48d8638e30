"""The interface between emulators and the simulated reactor, and a minimal world.

Emulators never reach into the chemistry: they talk to a :class:`Reactor`
through this small surface —

* **heat**: :meth:`Reactor.attach_heater_controller` registers the temperature
  controller's regulation law, ``law(probe_temperature_c, dt_s) -> power 0..1``;
  the reactor calls it on every integration sub-step, so regulation keeps
  working across clock jumps.  Read back :meth:`Reactor.temperature_c`.
* **liquid**: :meth:`Reactor.connect_line` says which reagent a syringe line
  carries; :meth:`Reactor.start_flow` infuses (positive) or withdraws (negative)
  at a rate until a volume has moved; :meth:`Reactor.flow_state` reports it.
* **light**: :meth:`Reactor.set_light` (irradiance at the vial, 0 when off).
* **optics**: :meth:`Reactor.absorbance` and :meth:`Reactor.emission` on a
  wavelength grid; detector physics (lamp, dark, noise, saturation) belongs to
  the spectrometer emulator.

State is advanced lazily to the clock's time under one lock whenever anything is
read or changed (:meth:`Reactor.update`), in bounded sub-steps, so advancing an
hour in one call or in 3600 calls gives the same answer.

:class:`MinimalReactor` is the simplest world that satisfies the interface
(first-order heating, flows, a fixed absorption band); the physical model in
:mod:`photoreactor.sim_devices.reactor` replaces it in the simulated profile.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Reagent:
    """What a syringe line carries into the flask.

    ``species`` is the chemically active component (``"Cd"``, ``"S"``, ``"Hg"``,
    ``"Ag"``, ``"Zn"``, ``"Se"``, ``"Te"``, ``"OAm"``, ``"TOP"``, ``"DDT"``,
    ``"substrate"``, ``"TAEA"``, ``"B2pin2"``, ``"ascorbate"`` ... or ``"solvent"``),
    at ``concentration_mol_l`` in ``solvent``.
    """

    name: str
    species: str = "solvent"
    concentration_mol_l: float = 0.0
    solvent: str = "ODE"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: dict) -> Reagent:
        return cls(name=cfg["name"], species=cfg.get("species", "solvent"),
                   concentration_mol_l=float(cfg.get("concentration_mol_l", 0.0)),
                   solvent=cfg.get("solvent", "ODE"))


@dataclass
class Flow:
    rate_ml_s: float          # > 0 into the flask, < 0 out of it
    target_ml: float          # magnitude to move
    moved_ml: float = 0.0
    running: bool = True


#: advances shorter than this are deferred to the next update (a virtual clock that
#: runs on wall time moves a few picoseconds between two reads: not worth a sub-step)
MIN_ADVANCE_S = 1e-6


class Reactor:
    """Base class: clocking, locking, sub-stepping, flows and the controller hook.

    Subclasses implement :meth:`_step` (advance physics by ``dt`` seconds) and
    the optics.  ``max_step_s`` bounds a sub-step; physics with slow dynamics
    may take larger steps via :meth:`_step_limit`.
    """

    max_step_s = 1.0

    def __init__(self, clock, *, seed: int = 0, ambient_c: float = 25.0):
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = np.random.default_rng(seed)
        self.ambient_c = ambient_c
        self.t = clock.time()
        self.lines: dict[str, Reagent] = {}
        self.flows: dict[str, Flow] = {}
        self.light: dict[str, tuple[float, float]] = {}   # source -> (wavelength nm, mW/cm2)
        self.stir_rpm = 0.0
        self._heater_law: Callable[[float, float], float] | None = None
        self.heater_power = 0.0   # fraction of mantle maximum, last applied

    # -- time ---------------------------------------------------------------
    def update(self) -> None:
        """Advance the world to the clock's current time."""
        with self.lock:
            now = self.clock.time()
            if now - self.t < MIN_ADVANCE_S:
                return      # a clock read a moment later: nothing physical to do yet
            while self.t < now:
                dt = min(now - self.t, self._step_limit())
                self._advance_flows(dt)
                law = self._heater_law
                self.heater_power = self._regulate(law, dt) if law else 0.0
                self._step(dt)
                self.t += dt

    def _step_limit(self) -> float:
        return self.max_step_s

    def _regulate(self, law: Callable[[float, float], float], dt: float) -> float:
        """Heater power for the next ``dt`` seconds: the controller law sees the probe."""
        return min(1.0, max(0.0, law(self.temperature_c_now(), dt)))

    def _step(self, dt: float) -> None:
        raise NotImplementedError

    # -- heat ---------------------------------------------------------------
    def attach_heater_controller(self, law: Callable[[float, float], float] | None) -> None:
        with self.lock:
            self.update()
            self._heater_law = law

    def temperature_c(self) -> float:
        with self.lock:
            self.update()
            return self.temperature_c_now()

    def temperature_c_now(self) -> float:
        raise NotImplementedError

    def set_stirring(self, rpm: float) -> None:
        with self.lock:
            self.update()
            self.stir_rpm = float(rpm)

    # -- liquid -------------------------------------------------------------
    def connect_line(self, line: str, reagent: Reagent) -> None:
        with self.lock:
            self.lines[line] = reagent

    def start_flow(self, line: str, rate_ml_s: float, volume_ml: float) -> None:
        """Move ``volume_ml`` through ``line`` at ``rate_ml_s`` (negative: withdraw)."""
        with self.lock:
            self.update()
            if line not in self.lines and rate_ml_s > 0:
                raise KeyError(f"no reagent connected to line {line!r}")
            self.flows[line] = Flow(rate_ml_s=rate_ml_s, target_ml=abs(volume_ml))

    def stop_flow(self, line: str) -> None:
        with self.lock:
            self.update()
            if line in self.flows:
                self.flows[line].running = False

    def flow_state(self, line: str) -> tuple[float, bool]:
        """``(volume moved so far in mL, still running)`` for the latest flow on ``line``."""
        with self.lock:
            self.update()
            f = self.flows.get(line)
            return (0.0, False) if f is None else (f.moved_ml, f.running)

    def _advance_flows(self, dt: float) -> None:
        for line, f in self.flows.items():
            if not f.running:
                continue
            step = min(abs(f.rate_ml_s) * dt, f.target_ml - f.moved_ml)
            f.moved_ml += step
            if f.rate_ml_s > 0:
                self._add(line, self.lines[line], step)
            else:
                self._remove(step)
            if f.moved_ml >= f.target_ml - 1e-12:
                f.running = False

    def _add(self, line: str, reagent: Reagent, volume_ml: float) -> None:
        raise NotImplementedError

    def _remove(self, volume_ml: float) -> None:
        raise NotImplementedError

    # -- light --------------------------------------------------------------
    def set_light(self, source: str, wavelength_nm: float, irradiance_mw_cm2: float) -> None:
        with self.lock:
            self.update()
            self.light[source] = (float(wavelength_nm), max(0.0, float(irradiance_mw_cm2)))

    def irradiance_mw_cm2(self) -> float:
        return sum(i for _, i in self.light.values())

    # -- optics -------------------------------------------------------------
    def absorbance(self, wavelengths_nm: np.ndarray) -> np.ndarray:
        """Absorbance (1 cm) of the sample the spectrometer probe sees."""
        raise NotImplementedError

    def emission(self, wavelengths_nm: np.ndarray, excitation_nm: float) -> np.ndarray:
        """Emitted photons per nm per unit excitation (relative)."""
        raise NotImplementedError

    def state(self) -> dict:
        """A summary for tests and the fidelity report."""
        with self.lock:
            self.update()
            return {"time": self.t, "temperature_c": self.temperature_c_now(),
                    "heater_power": self.heater_power}


class MinimalReactor(Reactor):
    """Well-mixed flask with first-order heating and one fixed absorption band.

    Enough for emulators to run before (and independently of) the chemistry:
    heater power ``P`` drives the contents toward ``ambient + P * span_c`` with
    time constant ``tau_s``; doses change the volume; the spectrum is one
    Gaussian band at ``band_nm`` with absorbance ``band_absorbance``.
    """

    def __init__(self, clock, *, seed: int = 0, volume_ml: float = 10.0, tau_s: float = 300.0,
                 span_c: float = 400.0, band_nm: float = 400.0, band_absorbance: float = 0.5):
        super().__init__(clock, seed=seed)
        self.volume_ml = volume_ml
        self.tau_s = tau_s
        self.span_c = span_c
        self.band_nm = band_nm
        self.band_absorbance = band_absorbance
        self._temperature = self.ambient_c
        self.added: dict[str, float] = {}

    def _step(self, dt: float) -> None:
        target = self.ambient_c + self.heater_power * self.span_c
        self._temperature = target + (self._temperature - target) * math.exp(-dt / self.tau_s)

    def temperature_c_now(self) -> float:
        return self._temperature

    def _add(self, line, reagent, volume_ml):
        self.volume_ml += volume_ml
        self.added[line] = self.added.get(line, 0.0) + volume_ml

    def _remove(self, volume_ml):
        self.volume_ml = max(0.0, self.volume_ml - volume_ml)

    def absorbance(self, wavelengths_nm):
        wl = np.asarray(wavelengths_nm, float)
        return self.band_absorbance * np.exp(-0.5 * ((wl - self.band_nm) / 15.0) ** 2)

    def emission(self, wavelengths_nm, excitation_nm):
        wl = np.asarray(wavelengths_nm, float)
        return np.exp(-0.5 * ((wl - self.band_nm - 20.0) / 12.0) ** 2)

    def state(self) -> dict:
        s = super().state()
        s["volume_ml"] = self.volume_ml
        return s
