"""The LED light source as an Ophyd device: irradiance at the vial, dose, protection.

One class, :class:`LedSource`, drives any LED driver object with the small
interface below (:class:`DC2200Driver`, :class:`DC4100Channel`); the profile
classes ``DC2200Led`` and ``DC4100Led`` are its two concrete forms.

Components (names fixed by the device contract)
----------------------------------------------
``irradiance``        mW/cm² at the vial (hinted).  ``set(x)`` converts through the
                      calibration table, refuses x outside the calibrated range
                      (``LimitError``, before anything moves), programs the
                      current, output on for x > 0, output off for x == 0.
                      Readback: the calibrated irradiance of the *measured*
                      current while the output is on (× duty cycle in PWM), 0 when off.
``current``           A, the programmed constant-current setpoint (``set`` drives
                      the current directly, within the current limit).
``output``            0/1, read from the instrument; ``set`` switches it.
``measured_current``  A, measured by the instrument (DC4100: the programmed
                      current while on — that model measures nothing).
``current_limit``     A (config): the lower of the instrument's limit and the
                      profile's ``max_current_a``.
``tripped``           0/1: any protection flag (see :meth:`LedSource.trip_reasons`).
``wavelength``        nm (config).
``energy_dose``       mJ/cm² of light delivered to the vial since :meth:`reset_dose`.
``photon_dose``       µmol photons/cm² (energy dose / (N_A·h·c/λ)).
``calibration_*``     the table in use, its date and sensor (config, so every run
                      records the calibration its irradiances came from).

Design decisions
----------------
* **Dose on the device clock**: irradiance × time is integrated piecewise between
  changes (:class:`~photoreactor.devices.led.calibration.DoseIntegrator`), so it is
  exact across virtual-clock jumps.  Every dose read asks the instrument whether
  the output is still on; if it has gone off by itself (trip, power loss), light
  is booked only up to the last time it was confirmed on.
* **Booked irradiance** is the calibrated value of the *programmed* current (the
  regulated quantity in constant-current mode), not of a noisy measurement.
* **Pause / resume**: when the RunEngine pauses or a suspender trips (it calls
  ``pause()`` on every object a plan used — the device or any of its writable
  signals), the light is switched off, and ``resume()`` restores it.  A paused
  photoreaction therefore receives no light, and the dose stays right.
* **stop() is safe()**: output off.  The RunEngine calls ``stop`` only on objects
  moved as a whole (``bps.mv(led, x)``); plans that set ``led.irradiance`` keep
  their light until they switch it off or the experiment wrapper does.
* **safe()** bypasses the device's command lock (a worker may be stuck in a slow
  exchange), waits at most ~2 s for the transport, and marks any in-flight
  ``set`` as superseded so it cannot switch the light back on afterwards.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Protocol

from ophyd import Component as Cpt
from ophyd import Device

from photoreactor.devices.common.errors import InstrumentAlarm, InstrumentRejected, LimitError
from photoreactor.devices.common.signals import HwSignal, HwSignalRO, SoftSignal
from photoreactor.devices.common.status import run_in_thread

from .calibration import DoseIntegrator, LedCalibration, NotCalibrated, photon_dose_umol_cm2

log = logging.getLogger(__name__)

#: device-clock seconds a light change is expected to take (status backstop)
SWITCH_EXPECTED_S = 10.0


class LedDriver(Protocol):
    """What :class:`LedSource` needs from an LED driver (one output)."""

    name: str
    model: str

    def set_constant_current_mode(self) -> None: ...
    def set_current(self, current_a: float) -> float: ...        # returns the current programmed
    def set_output(self, on: bool) -> None: ...
    def output_on(self) -> bool: ...
    def measured_current(self) -> float: ...
    def current_limit(self) -> float: ...
    def trip_flags(self) -> dict[str, bool]: ...
    def switch_off(self, timeout_s: float = 1.0, lock_timeout_s: float = 2.0) -> None: ...


class LedSignal(HwSignal):
    """A writable LED signal: validated by the device, and pause-aware.

    ``validator`` names a device method called with the new value before anything
    is sent (it raises ``LimitError``).  ``pause``/``resume`` forward to the
    device, because the RunEngine calls them on the objects a plan used — often
    ``led.irradiance`` rather than ``led``.
    """

    def __init__(self, *, validator: str | None = None, **kwargs):
        self._validator = validator
        super().__init__(**kwargs)

    def check_value(self, value):
        super().check_value(value)
        if self._validator is not None:
            getattr(self.parent, self._validator)(value)

    def set(self, value, *, timeout=None, settle_time=None, **kwargs):
        """Validate now, switch on a worker thread; a ``safe()`` in between wins."""
        if not self.write_access:
            return super().set(value, timeout=timeout, settle_time=settle_time, **kwargs)
        self.check_value(value)
        device = self.parent
        generation = device._generation

        def work():
            device._tls.generation = generation
            try:
                self.put(value)
            finally:
                device._tls.generation = None

        return run_in_thread(self, work, clock=self.clock, expected_s=SWITCH_EXPECTED_S,
                             name=f"{self.name}-set")

    def pause(self):
        self.parent.pause()

    def resume(self):
        self.parent.resume()


class LedSource(Device):
    """An irradiance-calibrated LED at the reactor vial.

    Parameters
    ----------
    driver : LedDriver
        Opened driver for this LED output.
    clock : Clock
        Device clock (wall or virtual); timestamps and dose integration use it.
    name : str
        Device name (``"led"``).
    wavelength_nm : float
        Peak emission wavelength of the LED head (nm).
    calibration : LedCalibration or dict, optional
        Current ↔ irradiance table; without one the LED can be switched and
        driven by current, but not set by irradiance.
    max_current_a : float, optional
        Software current limit (A), applied on top of the instrument's limit.
    """

    safe_order = 10

    irradiance = Cpt(LedSignal, getter="_read_irradiance", setter="_write_irradiance",
                     validator="_check_irradiance", units="mW/cm^2", kind="hinted", value=0.0)
    current = Cpt(LedSignal, setter="_write_current", validator="_check_current", units="A",
                  kind="normal", value=0.0)
    output = Cpt(LedSignal, getter="_read_output", setter="_write_output",
                 validator="_check_output", units="", kind="normal", value=0)
    measured_current = Cpt(HwSignalRO, getter="_read_measured_current", units="A",
                           kind="normal", value=0.0)
    current_limit = Cpt(HwSignalRO, getter="_read_current_limit", units="A", kind="config",
                        value=0.0)
    tripped = Cpt(HwSignalRO, getter="_read_tripped", units="", kind="normal", value=0)
    wavelength = Cpt(SoftSignal, units="nm", kind="config", value=0.0)
    energy_dose = Cpt(HwSignalRO, getter="_read_energy_dose", units="mJ/cm^2", kind="normal",
                      value=0.0)
    photon_dose = Cpt(HwSignalRO, getter="_read_photon_dose", units="umol/cm^2", kind="normal",
                      value=0.0)
    calibration_current = Cpt(SoftSignal, units="A", kind="config", value=[])
    calibration_irradiance = Cpt(SoftSignal, units="mW/cm^2", kind="config", value=[])
    calibration_date = Cpt(SoftSignal, units="", kind="config", value="")
    calibration_sensor = Cpt(SoftSignal, units="", kind="config", value="")
    #: ``bps.mv(led.calibration_table, table.to_config())`` installs a calibration from a
    #: plan (``calibrate_led``) through the message stream, like any other setting
    calibration_table = Cpt(HwSignal, setter="_write_calibration_table", units="",
                            kind="omitted", value={})

    def __init__(self, driver: LedDriver, clock, *, name: str, wavelength_nm: float,
                 calibration: LedCalibration | dict | None = None,
                 max_current_a: float | None = None, **kwargs):
        self.clock = clock
        self.driver = driver
        self._cmd_lock = threading.RLock()
        self._generation = 0
        self._tls = threading.local()
        self._dose = DoseIntegrator(clock)
        self._commanded_current_a = 0.0
        self._commanded_output = False
        self._mode = None              # "CC" or "PWM" once we have set it
        self._pwm = None               # (frequency_hz, duty_percent) in PWM mode
        self._paused_state = None
        self._last_trip_flags: dict[str, bool] = {}
        if not wavelength_nm or not float(wavelength_nm) > 0:
            raise ValueError(f"{name}: wavelength_nm must be a positive number, "
                             f"got {wavelength_nm!r}")
        self._wavelength_nm = float(wavelength_nm)
        self.max_current_a = None if max_current_a is None else float(max_current_a)
        if self.max_current_a is not None and not self.max_current_a > 0:
            raise ValueError(f"{name}: max_current_a must be positive, got {max_current_a!r}")
        super().__init__(name=name, **kwargs)
        self.wavelength.put(self._wavelength_nm)
        self._calibration = LedCalibration.uncalibrated()
        self._apply_calibration(calibration if isinstance(calibration, LedCalibration)
                                else LedCalibration.from_config(calibration))
        self._hw_limit_a = float(driver.current_limit())
        if driver.output_on():
            # a previous session left the light on; the session's safe() follows,
            # but until then book what the instrument is delivering
            log.warning("%s: LED output was already on at start-up", name)
            self._commanded_output = True
            self._commanded_current_a = float(driver.measured_current())
            self._book_light()

    # -- public API ---------------------------------------------------------------
    @property
    def calibration(self) -> LedCalibration:
        """The current ↔ irradiance table in use (``irradiance_range`` for pre-flight)."""
        return self._calibration

    def set_calibration(self, current_a, irradiance_mw_cm2, date, sensor: str) -> LedCalibration:
        """Install a new calibration table (validated; strictly increasing).

        The light already on keeps its current; the dose is booked with the old
        table up to now and with the new one from now on.  Returns the table.
        """
        cal = LedCalibration(current_a, irradiance_mw_cm2, date=date, sensor=sensor)
        with self._cmd_lock:
            self._apply_calibration(cal)
            self._book_light()
        return cal

    def _write_calibration_table(self, table: dict) -> None:
        cal = LedCalibration.from_config(table)
        self.set_calibration(cal.current_a, cal.irradiance_mw_cm2, cal.date, cal.sensor)

    def set(self, irradiance_mw_cm2: float, **kwargs):
        """``bps.mv(led, x)``: same as ``led.irradiance.set(x)``."""
        return self.irradiance.set(irradiance_mw_cm2, **kwargs)

    def reset_dose(self) -> None:
        """Start the energy and photon dose from zero now."""
        self._dose.reset()
        self.energy_dose.update_readback(0.0)
        self.photon_dose.update_readback(0.0)

    def trip_reasons(self) -> list[str]:
        """Names of the protection flags currently set (reads the instrument)."""
        self._last_trip_flags = dict(self.driver.trip_flags())
        return sorted(k for k, v in self._last_trip_flags.items() if v)

    @property
    def current_limit_a(self) -> float:
        """The effective current limit (A) used to validate setpoints (no I/O)."""
        if self.max_current_a is None:
            return self._hw_limit_a
        return min(self._hw_limit_a, self.max_current_a)

    def safe(self) -> None:
        """Output off, bounded in time, whatever else is going on."""
        self._generation += 1
        self.driver.switch_off()
        self._commanded_output = False
        self._dose.set_level(0.0)
        self.output.update_readback(0)

    def stop(self, *, success: bool = False) -> None:
        """Ophyd stop: the light goes off (see the module notes)."""
        self.safe()

    def pause(self) -> None:
        """RunEngine pause / suspension: remember the light, switch it off."""
        if self._paused_state is not None and not self._commanded_output:
            return              # already paused and dark (pause() reaches us once per object)
        self._paused_state = (self._commanded_output, self._commanded_current_a, self._mode,
                              self._pwm)
        try:
            self.safe()
        except Exception as exc:  # the RunEngine is pausing: report, do not raise
            log.error("%s: could not switch the light off on pause: %s", self.name, exc)

    def resume(self) -> None:
        """RunEngine resume: restore the light as it was before the pause."""
        state, self._paused_state = self._paused_state, None
        if state is None:
            return
        was_on, current_a, mode, pwm = state
        if not was_on:
            return
        gen = self._generation
        with self._cmd_lock:
            if mode == "PWM" and pwm is not None:
                self._program_pwm(current_a, *pwm)
            else:
                self._program_current(current_a)
            self._switch(True, gen)

    # -- validation (caller's thread, before anything moves) ------------------------
    def _check_irradiance(self, value) -> None:
        x = _number(self.name, "irradiance", value)
        if x < 0:
            raise LimitError(self.name, "irradiance", x, self._calibration.irradiance_range,
                             "mW/cm²")
        if x == 0:
            return
        if not self._calibration.is_calibrated:
            raise NotCalibrated(f"{self.name}: no irradiance calibration — run calibrate_led "
                                "with the power meter at the vial position, or put a "
                                "calibration table in the profile")
        lo, hi = self._calibration.irradiance_range
        if not lo <= x <= hi:
            raise LimitError(self.name, "irradiance", x, (lo, hi), "mW/cm²")
        need = self._calibration.current_for(x)
        if need > self.current_limit_a + 1e-12:
            raise LimitError(self.name, f"drive current for {x:g} mW/cm²", round(need, 6),
                             (0.0, self.current_limit_a), "A")

    def _check_current(self, value) -> None:
        a = _number(self.name, "current", value)
        if not 0 <= a <= self.current_limit_a + 1e-12:
            raise LimitError(self.name, "current", a, (0.0, self.current_limit_a), "A")

    def _check_output(self, value) -> None:
        if value not in (0, 1, True, False):
            raise LimitError(self.name, "output", value, "0 (off) or 1 (on)", "")

    # -- hardware hooks (worker thread) -------------------------------------------------
    def _op_generation(self) -> int:
        """The safe() generation this operation started under (set() captures it early)."""
        gen = getattr(self._tls, "generation", None)
        return self._generation if gen is None else gen

    def _write_irradiance(self, value) -> None:
        x = float(value)
        gen = self._op_generation()
        self._paused_state = None   # a new command supersedes a pause left behind by an abort
        with self._cmd_lock:
            if x == 0:
                self._switch(False, gen)
                return
            self._program_current(self._calibration.current_for(x))
            self._switch(True, gen)

    def _write_current(self, value) -> None:
        with self._cmd_lock:
            self._program_current(float(value))

    def _write_output(self, value) -> None:
        gen = self._op_generation()
        self._paused_state = None
        with self._cmd_lock:
            self._switch(bool(value), gen)

    def _program_current(self, current_a: float) -> None:
        if self._mode != "CC":
            self.driver.set_constant_current_mode()
            self._mode, self._pwm = "CC", None
        actual = self.driver.set_current(current_a)
        self._commanded_current_a = actual
        self.current.update_readback(actual)
        self._book_light()

    def _program_pwm(self, current_a: float, frequency_hz: float, duty_percent: float) -> None:
        raise NotImplementedError(f"{self.name}: {self.driver.model} has no PWM light programme")

    def _switch(self, on: bool, generation: int) -> None:
        superseded = InstrumentAlarm(self.name, "light switch-on cancelled: safe()/stop() was "
                                     "called while it was being set")
        if on and generation != self._generation:
            raise superseded
        try:
            self.driver.set_output(on)
        except InstrumentRejected as exc:
            # a protection that refuses the output is an alarm the plan must see as such
            reasons = self.trip_reasons() if on else []
            if reasons:
                raise InstrumentAlarm(self.name, f"LED output refused: {', '.join(reasons)} "
                                      "tripped", exc.exchange) from exc
            raise
        if on and generation != self._generation:
            # safe() ran while we were switching on: it wins
            self.driver.set_output(False)
            self._commanded_output = False
            self._dose.set_level(0.0)
            raise superseded
        self._commanded_output = on
        self._book_light()
        self.output.update_readback(int(on))
        if on and not self.driver.output_on():
            reasons = self.trip_reasons()
            self._commanded_output = False
            self._dose.set_level(0.0)
            self.output.update_readback(0)
            raise InstrumentAlarm(self.name, "LED output did not come on"
                                  + (f": {', '.join(reasons)} tripped" if reasons
                                     else " (no protection flag set)"))

    def _light_level(self) -> float:
        """Irradiance the vial receives now, by the commanded state (NaN if unknown)."""
        if not self._commanded_output:
            return 0.0
        level = self._calibration.irradiance_for(self._commanded_current_a)
        if self._mode == "PWM" and self._pwm is not None:
            level *= self._pwm[1] / 100.0
        return level

    def _book_light(self) -> None:
        self._dose.set_level(self._light_level())

    def _sync_output(self) -> bool:
        """Ask the instrument whether the light is on; fix the books if it went off."""
        on = bool(self.driver.output_on())
        with self._cmd_lock:
            if self._commanded_output and not on:
                log.warning("%s: LED output found off (trip or power loss?); dose booked up "
                            "to the last confirmation", self.name)
                self._dose.lost()
                self._commanded_output = False
            elif on and not self._commanded_output:
                log.warning("%s: LED output found on without a command (front panel?)", self.name)
                self._commanded_output = True
                self._book_light()
            elif on:
                self._dose.confirm()
        return on

    # -- readbacks ------------------------------------------------------------------------
    def _read_output(self) -> int:
        return int(self._sync_output())

    def _read_irradiance(self) -> float:
        if not self._sync_output():
            return 0.0
        if self._mode == "PWM" and self._pwm is not None:
            return self._light_level()
        return self._calibration.irradiance_for(self.driver.measured_current())

    def _read_measured_current(self) -> float:
        return float(self.driver.measured_current())

    def _read_current_limit(self) -> float:
        self._hw_limit_a = float(self.driver.current_limit())
        return self.current_limit_a

    def _read_tripped(self) -> int:
        return int(bool(self.trip_reasons()))

    def _read_energy_dose(self) -> float:
        self._sync_output()
        return self._dose.energy_mj_cm2()

    def _read_photon_dose(self) -> float:
        self._sync_output()
        return photon_dose_umol_cm2(self._dose.energy_mj_cm2(), self._wavelength_nm)

    # -- helpers ----------------------------------------------------------------------------
    def _apply_calibration(self, cal: LedCalibration) -> None:
        self._calibration = cal
        self.calibration_current.put([float(x) for x in cal.current_a])
        self.calibration_irradiance.put([float(x) for x in cal.irradiance_mw_cm2])
        self.calibration_date.put(cal.date)
        self.calibration_sensor.put(cal.sensor)


def _number(device: str, quantity: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise LimitError(device, quantity, value, "a number", "") from None
    if not math.isfinite(x):
        raise LimitError(device, quantity, value, "a finite number", "")
    return x


class DC2200Led(LedSource):
    """Thorlabs DC2200 with one LED head; adds the PWM light programme."""

    def pulse(self, peak_irradiance_mw_cm2: float, *, frequency_hz: float, duty_percent: float):
        """Pulse the LED (hardware PWM) until the next irradiance/output change.

        Parameters
        ----------
        peak_irradiance_mw_cm2 : float
            Irradiance while a pulse is on (within the calibrated range).
        frequency_hz : float
            0.1 Hz – 20 kHz.
        duty_percent : float
            0.1 – 99.9 %; the vial receives ``duty/100 × peak`` on average, and
            that average is what the dose books and ``irradiance`` reads back.

        Returns
        -------
        Status
            Finished when the instrument runs the programme; ``LimitError`` is
            raised at once for values out of range.
        """
        from .dc2200 import PWM_DUTY_PERCENT, PWM_FREQUENCY_HZ

        self._check_irradiance(peak_irradiance_mw_cm2)
        if not peak_irradiance_mw_cm2 > 0:
            raise LimitError(self.name, "peak irradiance", peak_irradiance_mw_cm2,
                             self._calibration.irradiance_range, "mW/cm²")
        if not PWM_FREQUENCY_HZ[0] <= frequency_hz <= PWM_FREQUENCY_HZ[1]:
            raise LimitError(self.name, "PWM frequency", frequency_hz, PWM_FREQUENCY_HZ, "Hz")
        if not PWM_DUTY_PERCENT[0] <= duty_percent <= PWM_DUTY_PERCENT[1]:
            raise LimitError(self.name, "PWM duty cycle", duty_percent, PWM_DUTY_PERCENT, "%")
        current_a = self._calibration.current_for(peak_irradiance_mw_cm2)
        gen = self._generation

        def work():
            self._paused_state = None
            with self._cmd_lock:
                self._program_pwm(current_a, float(frequency_hz), float(duty_percent))
                self._switch(True, gen)

        return run_in_thread(self, work, clock=self.clock, expected_s=SWITCH_EXPECTED_S,
                             name=f"{self.name}-pulse")

    def _program_pwm(self, current_a: float, frequency_hz: float, duty_percent: float) -> None:
        self.driver.set_pwm_mode()
        self._mode = "PWM"
        actual = self.driver.configure_pwm(current_a, frequency_hz, duty_percent, 0)
        self._pwm = (frequency_hz, duty_percent)
        self._commanded_current_a = actual
        self.current.update_readback(actual)
        self._book_light()


class DC4100Led(LedSource):
    """One channel (LED head) of a Thorlabs DC4100/DC4104."""


__all__ = ["LedSource", "DC2200Led", "DC4100Led", "LedSignal", "LedDriver"]
