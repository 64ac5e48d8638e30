"""A simulated Ocean spectrometer with python-seabreeze's ``Spectrometer`` interface.

:class:`SimSeabreezeSpectrometer` is what the ``"emulator"`` backend of
:func:`photoreactor.devices.spectrometer.ocean.open_seabreeze` opens: the same
methods and properties as ``seabreeze.spectrometers.Spectrometer``
(``from_serial_number``/``from_first_available`` that open on construction and
refuse a unit already open, ``integration_time_micros`` that refuses values
outside ``integration_time_micros_limits``, cached ``wavelengths()``,
``intensities(correct_dark_counts, correct_nonlinearity)`` that refuses a
correction the model cannot do, ``max_intensity``, ``pixels``, ``trigger_mode``,
``close``, and the lamp-enable feature ``f.strobe_lamp.enable_lamp(bool)``), so
the real driver runs unchanged against it.

What a frame contains (rendered by :mod:`photoreactor.sim_devices.optics`)
-------------------------------------------------------------------------
* lamp (deuterium–halogen) × detector response × sample transmission
  ``10^(−A·L)`` with ``A`` from ``world.absorbance(λ)`` (per cm) and the probe
  path length ``L`` (``path_length_cm``, default 0.1 cm) — only while the lamp
  is enabled;
* emission ``world.emission(λ, λ_exc)`` × irradiance of every light the world
  has switched on (the LED), × detector response, whatever the lamp does;
* dark offset with fixed pattern, dark current, shot and read noise from a
  generator seeded per unit (``seed``, default from the serial number), integer
  counts clipped at the model's full scale.

Acquisition takes the integration time on the (virtual) clock.  Like a real
free-running detector, the first frame after the integration time changes is
still exposed with the *old* integration time, and the first frame after the
lamp switches is exposed half with the old lamp state — so a driver that does
not discard that frame gets a visibly wrong spectrum.

Faults (``inject``/``clear``)
-----------------------------
``"disconnect"``    every call raises :class:`SeaBreezeError` (cable pulled)
``"no_reply"``      ``intensities()`` blocks (until the fault is cleared, the unit
                    is closed, or ``max_block_wall_s`` wall seconds) — a hung
                    bulk transfer; control calls (lamp, settings) still work
``"garbled"``       ``intensities()`` returns a truncated frame (corrupt transfer)
``"saturation"``    the lamp is 50× too bright: every lamp-lit frame clips
``"lamp_failure"``  the lamp gives no light although it is enabled

Decisions: the simulated detector is linear, so the nonlinearity coefficients
it reports are ``[1, 0, …]`` and the correction is the identity; the lamp-enable
feature exists on every simulated model; only trigger mode 0 (normal,
free-running) is simulated.
"""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import dataclass

import numpy as np

from photoreactor.sim_devices import optics

from .base import COMMON_FAULTS, Emulator, emulates, register_spectrometer, spectrometer_emulator


class SeaBreezeError(Exception):
    """Stand-in for ``seabreeze.spectrometers.SeaBreezeError`` (same role, same messages)."""

    def __init__(self, message: str = "", error_code: int | None = None):
        super().__init__(message)
        self.error_code = error_code


@dataclass(frozen=True)
class SimModel:
    """Per-model parameters of the simulated unit (seabreeze model string as key)."""

    model: str
    pixels: int
    min_integration_us: int
    max_integration_us: int
    max_count: int
    dark_pixel_indices: tuple[int, ...]
    wavelength_coefficients: tuple[float, float, float, float]
    dark_offset_counts: float
    read_noise_counts: float
    electrons_per_count: float
    dark_current_counts_per_s: float
    nonlinearity: bool = True


def _r(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b))


#: limits and full scale from PROTOCOLS.md; wavelength ranges and noise typical of each model
SIM_MODELS: dict[str, SimModel] = {m.model: m for m in (
    SimModel("FLAMES", 2048, 1_000, 655_000_000, 65535, _r(6, 21),
             (200.0, 0.4713, -1.5e-5, 0.0), 1500.0, 6.0, 40.0, 150.0),
    SimModel("USB2000PLUS", 2048, 1_000, 655_000_000, 65535, _r(6, 21),
             (200.0, 0.4713, -1.5e-5, 0.0), 1500.0, 6.0, 40.0, 150.0),
    SimModel("HR4000", 3840, 10, 655_000_000, 16383, _r(2, 13),
             (200.0, 0.2385, -1.0e-6, 0.0), 150.0, 2.0, 10.0, 40.0),
    SimModel("USB4000", 3840, 10, 65_000_000, 65535, _r(5, 16),
             (200.0, 0.2385, -1.0e-6, 0.0), 1500.0, 6.0, 40.0, 150.0),
    SimModel("QEPRO", 1044, 8_000, 1_600_000_000, 262143, _r(0, 4) + _r(1040, 1044),
             (200.0, 0.8, -2.0e-5, 0.0), 3000.0, 15.0, 6.0, 30.0),
    SimModel("ST", 1516, 1_560, 6_000_000, 16383, (),
             (350.0, 0.31, -1.0e-6, 0.0), 200.0, 3.0, 10.0, 40.0),
    SimModel("SR4", 3648, 6_000, 10_000_000, 65535, (),
             (190.0, 0.25, -1.4e-6, 0.0), 1500.0, 6.0, 40.0, 150.0, nonlinearity=False),
)}

_MODEL_ALIASES = {"FLAME": "FLAMES", "OCEANST": "ST", "OCEANSR4": "SR4", "QE": "QEPRO"}


def sim_model(model: str) -> SimModel:
    """Look up a model by any common spelling (``"FLAME-S"``, ``"USB2000+"``, ``"QE Pro"``)."""
    key = "".join(ch for ch in str(model).upper().replace("+", "PLUS") if ch.isalnum())
    key = _MODEL_ALIASES.get(key, key)
    try:
        return SIM_MODELS[key]
    except KeyError:
        raise ValueError(f"no simulated spectrometer model {model!r}; simulated models: "
                         f"{sorted(SIM_MODELS)}") from None


class _StrobeLampFeature:
    """``spec.f.strobe_lamp``: the lamp-enable line."""

    def __init__(self, emu: SimSeabreezeSpectrometer):
        self._emu = emu

    def enable_lamp(self, state: bool) -> None:
        self._emu._enable_lamp(bool(state))


class _NonlinearityFeature:
    """``spec.f.nonlinearity_coefficients``: the linear detector's identity polynomial."""

    def __init__(self, emu: SimSeabreezeSpectrometer):
        self._emu = emu

    def get_nonlinearity_coefficients(self) -> list[float]:
        self._emu._check_usable("get_nonlinearity_coefficients")
        return [1.0] + [0.0] * 7


class _Features:
    def __init__(self, emu: SimSeabreezeSpectrometer):
        self.strobe_lamp = _StrobeLampFeature(emu)
        self.nonlinearity_coefficients = _NonlinearityFeature(emu) if emu.spec.nonlinearity else None


class SimSeabreezeSpectrometer(Emulator):
    """Simulated Ocean spectrometer (see module docstring).

    Parameters
    ----------
    serial_number : str
        Serial number the unit is registered and opened under.
    clock : Clock
        The simulation clock; an exposure sleeps its integration time on it.
    world : Reactor, optional
        Supplies ``absorbance(λ)``, ``emission(λ, λ_exc)`` and the lights; without
        one the probe sees a blank.
    model : str
        Model (any spelling :func:`sim_model` knows); default Flame-S.
    path_length_cm : float
        Optical path of the dip probe through the sample.
    seed : int, optional
        Noise and fixed-pattern seed (default: derived from the serial number).
    lamp_peak_counts_per_ms : float, optional
        Lamp counts per ms at the brightest pixel through a blank (default 6 % of
        full scale per ms: a 10 ms reference peaks near 60 % of full scale).
    emission_counts_per_s : float, optional
        Counts per second at an emission peak of 1 (world units) per mW/cm² of
        excitation (default 2.5 % of the lamp's peak rate).
    led_scatter : float
        Fraction of the excitation light scattered into the probe, per mW/cm²,
        relative to ``emission_counts_per_s`` (default 0: no stray LED line).
    max_block_wall_s : float
        How long a ``"no_reply"`` read blocks at most (wall seconds) before the
        simulated USB layer gives up with an error.
    """

    faults = COMMON_FAULTS | {"saturation", "lamp_failure"}

    def __init__(self, serial_number: str, *, clock, world=None, model: str = "FLAMES",
                 path_length_cm: float = 0.1, seed: int | None = None,
                 lamp_peak_counts_per_ms: float | None = None,
                 emission_counts_per_s: float | None = None, led_scatter: float = 0.0,
                 max_block_wall_s: float = 10.0):
        super().__init__(f"spectrometer {serial_number}")
        self.spec = sim_model(model)
        self._serial_number = str(serial_number)
        self.clock = clock
        self.world = world
        if not float(path_length_cm) > 0:
            raise ValueError(f"path_length_cm must be positive, not {path_length_cm!r}")
        self.path_length_cm = float(path_length_cm)
        seed = zlib.crc32(self._serial_number.encode()) if seed is None else int(seed)
        self.rng = np.random.default_rng(seed)
        self.detector = optics.Detector(
            pixels=self.spec.pixels, max_count=self.spec.max_count,
            dark_offset_counts=self.spec.dark_offset_counts,
            dark_current_counts_per_s=self.spec.dark_current_counts_per_s,
            read_noise_counts=self.spec.read_noise_counts,
            electrons_per_count=self.spec.electrons_per_count, seed=seed)
        self._wavelengths = optics.wavelength_axis(self.spec.pixels, self.spec.wavelength_coefficients)
        peak_per_ms = (0.06 * self.spec.max_count if lamp_peak_counts_per_ms is None
                       else float(lamp_peak_counts_per_ms))
        self._lamp_counts_per_s = optics.lamp_signal_counts_per_s(self._wavelengths, peak_per_ms * 1e3)
        self._response = optics.silicon_response(self._wavelengths)
        self.emission_counts_per_s = (0.025 * peak_per_ms * 1e3 if emission_counts_per_s is None
                                      else float(emission_counts_per_s))
        self.led_scatter = float(led_scatter)
        self.max_block_wall_s = float(max_block_wall_s)
        self._features = _Features(self)
        self._unblock = threading.Condition(self.lock)
        # -- instrument state
        self.is_open = False
        self.integration_time_us = max(self.spec.min_integration_us, 100_000)
        self._stale_integration_us: int | None = None   # exposure in progress at the old setting
        self.lamp_on = False
        self._lamp_fraction_pending: float | None = None  # exposure spanning a lamp switch
        self.trigger_mode_value = 0
        self.frames_read = 0
        self.calls: list[tuple] = []

    # -- seabreeze-style construction ----------------------------------------
    @classmethod
    def from_serial_number(cls, serial: str | None = None) -> SimSeabreezeSpectrometer:
        """Open the registered simulated unit with this serial number."""
        if serial is None:
            return cls.from_first_available()
        try:
            emu = spectrometer_emulator(str(serial))
        except OSError:
            raise SeaBreezeError(f"No device attached with serial number '{serial}'.") from None
        emu.open()
        return emu

    @classmethod
    def from_first_available(cls) -> SimSeabreezeSpectrometer:
        """Open the first registered simulated unit that is not open yet."""
        for emu in list_devices():
            if not emu.is_open:
                emu.open()
                return emu
        raise SeaBreezeError("No unopened device found.")

    def open(self) -> None:
        with self.lock:
            self.calls.append(("open",))
            if self.has("disconnect"):
                raise SeaBreezeError("Failed to open device (no USB device found)")
            if self.is_open:
                raise SeaBreezeError("Device already opened.")
            self.is_open = True

    def close(self) -> None:
        with self.lock:
            self.calls.append(("close",))
            self.is_open = False
            self._unblock.notify_all()

    def clear(self, fault: str | None = None) -> None:
        super().clear(fault)
        with self.lock:
            self._unblock.notify_all()

    # -- identity and limits ---------------------------------------------------
    @property
    def serial_number(self) -> str:
        return self._serial_number

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def pixels(self) -> int:
        return self.spec.pixels

    @property
    def max_intensity(self) -> float:
        self._check_usable("max_intensity")
        return float(self.spec.max_count)

    @property
    def integration_time_micros_limits(self) -> tuple[int, int]:
        self._check_usable("integration_time_micros_limits")
        return (self.spec.min_integration_us, self.spec.max_integration_us)

    @property
    def f(self) -> _Features:
        self._check_usable("f")
        return self._features

    @property
    def features(self) -> dict:
        feats = self.f
        return {"strobe_lamp": [feats.strobe_lamp],
                "nonlinearity_coefficients": ([feats.nonlinearity_coefficients]
                                              if feats.nonlinearity_coefficients else [])}

    # -- commands --------------------------------------------------------------
    def wavelengths(self) -> np.ndarray:
        self._check_usable("wavelengths")
        return self._wavelengths.copy()

    def integration_time_micros(self, integration_time_micros: int) -> None:
        us = int(integration_time_micros)
        with self.lock:
            self._check_usable("integration_time_micros", us)
            lo, hi = self.spec.min_integration_us, self.spec.max_integration_us
            if not lo <= us <= hi:
                raise SeaBreezeError("[Fix] Specified integration time is out of range.", error_code=1)
            if us != self.integration_time_us:
                # the exposure already under way keeps the old setting
                self._stale_integration_us = self.integration_time_us
                self.integration_time_us = us

    def trigger_mode(self, mode: int) -> None:
        with self.lock:
            self._check_usable("trigger_mode", mode)
            if int(mode) != 0:
                raise SeaBreezeError(f"trigger mode {mode} is not simulated (only 0, normal)")
            self.trigger_mode_value = 0

    def _enable_lamp(self, state: bool) -> None:
        with self.lock:
            self._check_usable("enable_lamp", state)
            if state != self.lamp_on:
                self._lamp_fraction_pending = 0.5
            self.lamp_on = state

    def intensities(self, correct_dark_counts: bool = False,
                    correct_nonlinearity: bool = False) -> np.ndarray:
        """Expose for the integration time (device clock) and return one frame of counts."""
        with self.lock:
            self._check_usable("intensities", correct_dark_counts, correct_nonlinearity)
            if correct_dark_counts and not self.spec.dark_pixel_indices:
                raise SeaBreezeError("This device does not support dark count correction.")
            if correct_nonlinearity and not self.spec.nonlinearity:
                raise SeaBreezeError("This device does not support nonlinearity correction.")
            self._block_while_hung()
            exposure_us = self._stale_integration_us or self.integration_time_us
            self._stale_integration_us = None
            lamp_fraction = (self._lamp_fraction_pending if self._lamp_fraction_pending is not None
                             else float(self.lamp_on))
            self._lamp_fraction_pending = None
        self.clock.sleep(exposure_us / 1e6)
        frame = self.render(exposure_us / 1e6, lamp_fraction)
        with self.lock:
            self._check_usable("intensities")  # unplugged during the exposure
            self.frames_read += 1
            if self.has("garbled"):
                return frame[: self.spec.pixels // 2]
        if correct_dark_counts:
            frame = frame - frame[list(self.spec.dark_pixel_indices)].mean()
        return frame

    # -- rendering -------------------------------------------------------------
    def photo_counts_per_s(self, lamp_fraction: float) -> np.ndarray:
        """Mean optical signal (counts/s per pixel) for the world's current state."""
        wl = self._wavelengths
        signal = np.zeros_like(wl)
        lamp_gain = 0.0 if self.has("lamp_failure") else (50.0 if self.has("saturation") else 1.0)
        if lamp_fraction > 0 and lamp_gain > 0:
            absorbance = (np.zeros_like(wl) if self.world is None
                          else np.asarray(self.world.absorbance(wl), float))
            signal += (lamp_fraction * lamp_gain * self._lamp_counts_per_s
                       * optics.transmission(absorbance, self.path_length_cm))
        if self.world is not None:
            with self.world.lock:
                self.world.update()
                lights = [(w, i) for w, i in self.world.light.values() if i > 0]
            for excitation_nm, irradiance in lights:
                emitted = np.asarray(self.world.emission(wl, excitation_nm), float)
                signal += self.emission_counts_per_s * irradiance * self._response * np.clip(
                    np.nan_to_num(emitted), 0.0, None)
                if self.led_scatter > 0:
                    signal += (self.emission_counts_per_s * self.led_scatter * irradiance
                               * self._response * np.exp(-0.5 * ((wl - excitation_nm) / 8.0) ** 2))
        return signal

    def render(self, integration_s: float, lamp_fraction: float) -> np.ndarray:
        """One noisy, digitised frame for the world's state now."""
        return self.detector.render(self.photo_counts_per_s(lamp_fraction), integration_s, self.rng)

    # -- helpers ---------------------------------------------------------------
    def _check_usable(self, call: str, *args) -> None:
        self.calls.append((call, *args))
        if self.has("disconnect"):
            raise SeaBreezeError("Data transfer error: the USB device is gone (disconnected)")
        if not self.is_open:
            raise SeaBreezeError("Device is not open.")

    def _block_while_hung(self) -> None:
        """With ``no_reply`` active, wait (lock released) like a bulk read that never completes."""
        end = time.monotonic() + self.max_block_wall_s
        while self.has("no_reply") and self.is_open:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise SeaBreezeError("Data transfer error: USB read timed out")
            self._unblock.wait(timeout=min(remaining, 0.1))
        if not self.is_open:
            raise SeaBreezeError("Device is not open.")

    def __repr__(self) -> str:
        return f"<SimSeabreezeSpectrometer {self.model}:{self.serial_number}>"


def list_devices() -> list[SimSeabreezeSpectrometer]:
    """Every registered simulated spectrometer (like ``seabreeze.spectrometers.list_devices``)."""
    from . import base

    # base keeps the registry private; reading it here avoids a second registry
    return list(base._spectrometer_emulators.values())


#: emulator options a profile may give under ``emulator:`` (besides ``faults``)
EMULATOR_OPTIONS = {"path_length_cm", "seed", "lamp_peak_counts_per_ms", "emission_counts_per_s",
                    "led_scatter", "max_block_wall_s"}


@emulates("OceanSpectrometer")
def attach(bench, name: str, config: dict) -> SimSeabreezeSpectrometer:
    """Create the simulated unit for a profile entry and register it under its serial number."""
    serial = config.get("serial_number")
    if not serial:
        raise ValueError(f"device {name!r}: a simulated OceanSpectrometer needs a 'serial_number' "
                         "(e.g. SIM-FLMS0001) to be registered under")
    options = dict(config.get("emulator") or {})
    options.pop("faults", None)
    unknown = set(options) - EMULATOR_OPTIONS
    if unknown:
        raise ValueError(f"device {name!r}: unknown emulator option(s) {sorted(unknown)}; "
                         f"allowed: {sorted(EMULATOR_OPTIONS)}")
    emu = SimSeabreezeSpectrometer(str(serial), clock=bench.clock, world=bench.world,
                                   model=config.get("model", "FLAMES"), **options)
    register_spectrometer(str(serial), emu)
    return emu
