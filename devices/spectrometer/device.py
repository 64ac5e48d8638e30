"""Ophyd face of an Ocean spectrometer: absorbance and emission spectra from raw frames.

Components (names fixed by the device contract)
-----------------------------------------------
========================  ======  ==============================================
``mode``                  normal  ``"absorbance"``, ``"emission"``, ``"raw"``,
                                  ``"dark"``, ``"reference"``
``integration_time``      config  ms; ``set`` is checked against the model's range
``scans_to_average``      config  frames averaged per trigger
``wavelengths``           config  nm, one per pixel
``max_count``             config  detector full scale (counts)
``model``, ``serial_number``  config  which unit took the data
``counts``                normal  averaged raw counts of the last trigger
``absorbance``            normal  A = −log10((S−D)/(R−D)), NaN where undefined or
                                  saturated (S, D or R)
``emission``              normal  S − D (counts), NaN where saturated
``dark``, ``reference``   normal  the stored frames (NaN until taken)
``lamp``                  normal  0/1 probe lamp (shutter) setting
``saturated``             normal  1 when the last frame reached full scale anywhere
``saturated_pixels``      normal  how many pixels did
========================  ======  ==============================================

Behaviour
---------
* ``trigger()`` returns at once; a worker thread averages ``scans_to_average``
  frames through the driver, whose deadline is ``frames × (2 × integration +
  transfer) + margin`` on the device clock.  A failure (timeout, disconnect,
  corrupt frame) fails the status with the driver's typed exception.
* Triggering in ``"dark"`` or ``"reference"`` mode stores the frame.  Absorbance
  needs a dark and a reference, emission a dark, all **at the current
  integration time** — otherwise ``trigger()`` raises
  :class:`SpectrometerNotReady` at once, saying what to take.
* Every trigger also computes whatever the stored frames allow (absorbance
  and emission are NaN arrays when they cannot be computed), so a ``"raw"``
  reading after a dark and reference still carries an absorbance.  Absorbance
  is only computed from frames exposed with the lamp on (an emission frame
  divided by the reference is not an absorbance).
* Saturation is **flagged, never silently used**: ``saturated`` = 1, the
  clipped pixels are NaN in ``absorbance`` and ``emission``, a warning is logged,
  and with ``on_saturation="raise"`` the status fails with
  :class:`DetectorSaturated` (after the readings were stored, so they can be
  inspected).
* A reference with no light above the dark (lamp failed, shutter stuck, probe
  out of the liquid) and an absorbance frame that transmits, summed over every
  lit pixel, less than 0.1 % of the reference raise :class:`SensorFault`: both
  mean the probe light is not reaching the detector.

Decisions where the specification is silent
-------------------------------------------
* **Lamp during exposures** (``auto_lamp=True``, the default): dark and emission
  frames are exposed with the lamp off, reference and absorbance frames with
  it on, whatever ``lamp`` says; afterwards the lamp returns to the ``lamp``
  setting.  A dark frame with the lamp shining, or an emission spectrum
  swamped by it, is never what a chemist wants, and an unattended run should
  not depend on every plan switching the lamp first.  ``"raw"`` frames use the
  lamp as set.  With ``auto_lamp=False`` the lamp is only what ``lamp`` says.
* **Dark and reference are "normal" readings**, not configuration: Bluesky
  reads configuration once per run, but a long run re-takes them, and each
  event should carry the frames its absorbance was computed from.
* Emission is only the dark-subtracted counts; it is not corrected for the
  detector's spectral response (that is a calibration the lab would supply).
* ``stop()`` abandons an averaging loop between frames and switches the lamp
  off; ``safe()`` switches the lamp off (even while an acquisition is hung).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device
from ophyd.utils import ReadOnlyError

from photoreactor.analysis.spectra import absorbance_from_counts
from photoreactor.devices.common.errors import DetectorSaturated, LimitError, SensorFault
from photoreactor.devices.common.signals import HwSignal, SoftSignal
from photoreactor.devices.common.status import run_in_thread

from .ocean import Frame, OceanDriver

log = logging.getLogger(__name__)

MODES = ("absorbance", "emission", "raw", "dark", "reference")

#: lamp state each mode is exposed with when ``auto_lamp`` is on (None: as set)
_LAMP_FOR_MODE = {"dark": False, "emission": False, "reference": True, "absorbance": True,
                  "raw": None}

#: a reference whose brightest pixel is below this many counts above the dark has no light
MIN_REFERENCE_SIGNAL_COUNTS = 100.0

#: overall transmission below which no probe light reaches the detector (A > 3 everywhere)
MIN_TRANSMISSION = 1e-3


class SpectrometerNotReady(RuntimeError):
    """A measurement needs a stored frame (dark, reference) that is missing or stale."""

    def __init__(self, device: str, message: str):
        self.device = device
        super().__init__(f"{device}: {message}")


class ReadbackSignal(SoftSignal):
    """A value the device computes (spectra, flags): read-only to users, stamped on update."""

    @property
    def write_access(self) -> bool:
        return False

    def put(self, value, **kwargs):
        raise ReadOnlyError(f"{self.name} is computed by the device and cannot be written")

    def set(self, value, **kwargs):
        raise ReadOnlyError(f"{self.name} is computed by the device and cannot be set")

    def publish(self, value, timestamp: float) -> None:
        """Store a new value with its acquisition time and notify subscribers."""
        SoftSignal.put(self, value, timestamp=timestamp, force=True)


class ModeSignal(SoftSignal):
    """Measurement mode; only the values in :data:`MODES` are accepted."""

    def check_value(self, value):
        if value not in MODES:
            raise ValueError(f"{self.device_name}: mode must be one of {list(MODES)}, not {value!r}")


class ScansSignal(SoftSignal):
    """Frames averaged per trigger: a whole number within the limits."""

    def check_value(self, value):
        if isinstance(value, bool) or not float(value).is_integer():
            raise ValueError(f"{self.device_name}: scans_to_average must be a whole number, "
                             f"not {value!r}")
        super().check_value(value)

    def put(self, value, **kwargs):
        super().put(int(value), **kwargs)


@dataclass
class _Stored:
    """A stored dark or reference frame."""

    counts: np.ndarray
    saturated: np.ndarray
    integration_time_ms: float
    timestamp: float


class OceanSpectrometer(Device):
    """Ocean spectrometer with absorbance and emission modes (see module docstring).

    Parameters
    ----------
    driver : OceanDriver
        Opened driver (the device never opens hardware itself).
    clock : Clock
        Device clock (timestamps and deadlines).
    name : str
        Device name (``"spectrometer"``).
    integration_time_ms : float
        Initial integration time, applied on construction.
    scans_to_average : int
        Initial number of frames averaged per trigger.
    auto_lamp : bool
        Expose each mode with the lamp it needs (see module notes).
    on_saturation : {"flag", "raise"}
        Only flag saturated frames, or also fail the trigger status.
    min_reference_counts : float
        Pixels whose reference is less than this many counts above the dark are
        NaN in the absorbance (too little light for a meaningful ratio).
    """

    safe_order = 40

    mode = Cpt(ModeSignal, value="absorbance", kind="normal")
    integration_time = Cpt(HwSignal, getter="_read_integration_time",
                           setter="_write_integration_time", units="ms", value=0.0, kind="config")
    scans_to_average = Cpt(ScansSignal, value=1, limits=(1, 100000), kind="config")
    wavelengths = Cpt(ReadbackSignal, value=np.zeros(0), units="nm", kind="config")
    max_count = Cpt(ReadbackSignal, value=0.0, units="counts", kind="config")
    model = Cpt(ReadbackSignal, value="", kind="config")
    serial_number = Cpt(ReadbackSignal, value="", kind="config")
    counts = Cpt(ReadbackSignal, value=np.zeros(0), units="counts", kind="normal")
    absorbance = Cpt(ReadbackSignal, value=np.zeros(0), units="", kind="normal")
    emission = Cpt(ReadbackSignal, value=np.zeros(0), units="counts", kind="normal")
    dark = Cpt(ReadbackSignal, value=np.zeros(0), units="counts", kind="normal")
    reference = Cpt(ReadbackSignal, value=np.zeros(0), units="counts", kind="normal")
    lamp = Cpt(HwSignal, setter="_write_lamp", value=0, limits=(0, 1), kind="normal")
    saturated = Cpt(ReadbackSignal, value=0, kind="normal")
    saturated_pixels = Cpt(ReadbackSignal, value=0, kind="normal")

    def __init__(self, driver: OceanDriver, *, clock, name: str = "spectrometer",
                 integration_time_ms: float = 10.0, scans_to_average: int = 1,
                 auto_lamp: bool = True, on_saturation: str = "flag",
                 min_reference_counts: float = 0.0, **kwargs):
        if on_saturation not in ("flag", "raise"):
            raise ValueError(f"{name}: on_saturation must be 'flag' or 'raise', not {on_saturation!r}")
        self.clock = clock
        self.driver = driver
        self.auto_lamp = bool(auto_lamp) and driver.lamp_control != "manual"
        self.on_saturation = on_saturation
        self.min_reference_counts = float(min_reference_counts)
        self._dark: _Stored | None = None
        self._reference: _Stored | None = None
        self._cancel = threading.Event()
        self._busy = threading.Lock()
        super().__init__(name=name, **kwargs)

        t = clock.time()
        n = driver.pixels
        nan = np.full(n, np.nan)
        self.wavelengths.publish(driver.wavelengths(), t)
        self.max_count.publish(float(driver.max_intensity), t)
        self.model.publish(driver.model, t)
        self.serial_number.publish(driver.serial_number, t)
        for sig in (self.counts, self.absorbance, self.emission, self.dark, self.reference):
            sig.publish(nan.copy(), t)
        self.integration_time.set_limits(*driver.integration_limits_ms)
        # applied now, synchronously: the session is being built, no RunEngine to block
        self.integration_time.put(float(integration_time_ms))
        self.scans_to_average.put(int(scans_to_average))
        self.lamp.put(0)

    # -- signal hooks --------------------------------------------------------------
    def _read_integration_time(self) -> float:
        return self.driver.integration_time_ms

    def _write_integration_time(self, integration_time_ms: float) -> None:
        self.driver.set_integration_time_ms(float(integration_time_ms))

    def _write_lamp(self, value) -> None:
        if value not in (0, 1, True, False):
            raise LimitError(self.name, "lamp", value, (0, 1))
        self.driver.set_lamp(bool(value))

    # -- stored frames -------------------------------------------------------------
    def clear_dark_and_reference(self) -> None:
        """Forget the stored dark and reference (e.g. after moving the probe)."""
        t = self.clock.time()
        self._dark = self._reference = None
        self.dark.publish(np.full(self.driver.pixels, np.nan), t)
        self.reference.publish(np.full(self.driver.pixels, np.nan), t)

    def check_ready(self, mode: str) -> None:
        """Raise :class:`SpectrometerNotReady` if ``mode`` lacks its stored frames (pre-flight)."""
        self._check_ready(mode, self.driver.integration_time_ms)

    def _check_ready(self, mode: str, it_ms: float) -> None:
        need = {"absorbance": ("dark", "reference"), "emission": ("dark",)}.get(mode, ())
        hint = ("take_dark_and_reference(spectrometer)" if "reference" in need
                else "take_dark(spectrometer)")
        for what in need:
            stored = self._dark if what == "dark" else self._reference
            if stored is None:
                raise SpectrometerNotReady(
                    self.name, f"{mode} needs a stored {what} frame and there is none: "
                    f"run {hint} first")
            if not np.isclose(stored.integration_time_ms, it_ms, rtol=1e-6, atol=1e-6):
                raise SpectrometerNotReady(
                    self.name, f"the stored {what} was taken at {stored.integration_time_ms:g} ms "
                    f"but the integration time is now {it_ms:g} ms: run {hint} again")

    # -- acquisition ---------------------------------------------------------------
    def trigger(self):
        """Start an acquisition in the current mode; return its Status at once."""
        mode = self.mode.get()
        it_ms = self.driver.integration_time_ms
        scans = int(self.scans_to_average.get())
        self._check_ready(mode, it_ms)
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(f"{self.name}: an acquisition is already running; wait for it")
        self._cancel.clear()
        lamp_setting = bool(self.lamp.get())
        wanted = _LAMP_FOR_MODE[mode] if self.auto_lamp else None
        # one possible discard frame plus one for each lamp switch (there and back)
        expected_s = self.driver.expected_acquire_s(scans) + 2 * self.driver.frame_time_s() + 2.0

        def work():
            try:
                switched = wanted is not None and wanted != self.driver.lamp_on
                if switched:
                    self.driver.set_lamp(wanted)
                frame = None
                try:
                    frame = self.driver.acquire(scans, cancel=self._cancel)
                finally:
                    if switched and not self._cancel.is_set():
                        try:
                            self.driver.set_lamp(lamp_setting)
                        except Exception as exc:
                            if frame is not None:
                                raise
                            # the acquisition's own error is what the plan must see
                            log.error("%s: could not restore the lamp: %s", self.name, exc)
                self._process(mode, frame)
            finally:
                self._busy.release()

        return run_in_thread(self, work, clock=self.clock, expected_s=expected_s,
                             name=f"{self.name}-trigger")

    def _process(self, mode: str, frame: Frame) -> None:
        """Store / compute everything a frame gives, then raise for what is wrong with it."""
        t = frame.timestamp
        counts, sat = frame.counts, frame.saturated
        if mode == "dark":
            self._dark = _Stored(counts.copy(), sat.copy(), frame.integration_time_ms, t)
            self.dark.publish(counts.copy(), t)
        elif mode == "reference":
            self._reference = _Stored(counts.copy(), sat.copy(), frame.integration_time_ms, t)
            self.reference.publish(counts.copy(), t)

        dark = self._valid(self._dark, frame)
        ref = self._valid(self._reference, frame)
        nan = np.full_like(counts, np.nan)
        emission = nan.copy()
        absorbance = nan.copy()
        if dark is not None:
            emission = np.where(sat | dark.saturated, np.nan, counts - dark.counts)
            # an absorbance needs probe light: a lamp-off frame (dark, emission) has none
            if ref is not None and frame.lamp_on:
                mask = sat | dark.saturated | ref.saturated
                if self.min_reference_counts > 0:
                    mask = mask | ((ref.counts - dark.counts) < self.min_reference_counts)
                absorbance = absorbance_from_counts(counts, dark.counts, ref.counts,
                                                    saturated_mask=mask)
        self.counts.publish(counts.copy(), t)
        self.emission.publish(emission, t)
        self.absorbance.publish(absorbance, t)
        self.saturated.publish(int(frame.any_saturated), t)
        self.saturated_pixels.publish(int(sat.sum()), t)

        if frame.any_saturated:
            wl = self.driver.wavelengths()[sat]
            text = (f"{mode} frame saturated at {int(sat.sum())} pixel(s), "
                    f"{wl.min():.0f}–{wl.max():.0f} nm (full scale {self.driver.max_intensity:g} "
                    f"counts at {frame.integration_time_ms:g} ms): those pixels are NaN; reduce "
                    "integration_time")
            log.warning("%s: %s", self.name, text)
            if self.on_saturation == "raise":
                raise DetectorSaturated(self.name, text)
        if mode == "reference" and dark is not None:
            signal = np.where(sat, np.nan, counts - dark.counts)
            if not np.nanmax(signal, initial=-np.inf) >= MIN_REFERENCE_SIGNAL_COUNTS:
                raise SensorFault(
                    self.name, "the reference has no light above the dark "
                    f"(< {MIN_REFERENCE_SIGNAL_COUNTS:g} counts anywhere): lamp failed or off, "
                    "shutter closed, or fibre/probe disconnected; the reference was stored "
                    "but is unusable")
        if mode == "absorbance" and dark is not None and ref is not None:
            # summed over every lit pixel, so pixel noise cannot fake (or hide) transmitted light
            lit = ((ref.counts - dark.counts) >= MIN_REFERENCE_SIGNAL_COUNTS) & ~sat & ~ref.saturated
            through = float(np.sum((counts - dark.counts)[lit]))
            if lit.any() and through < MIN_TRANSMISSION * float(np.sum((ref.counts - dark.counts)[lit])):
                raise SensorFault(
                    self.name, "no probe light reaches the detector (absorbance > 3 at every "
                    "wavelength): lamp failed, shutter closed, or the probe is blocked")

    @staticmethod
    def _valid(stored: _Stored | None, frame: Frame) -> _Stored | None:
        if stored is None or not np.isclose(stored.integration_time_ms, frame.integration_time_ms,
                                            rtol=1e-6, atol=1e-6):
            return None
        return stored

    # -- safety --------------------------------------------------------------------
    def stop(self, *, success: bool = False) -> None:
        """Abandon an averaging loop and switch the lamp off."""
        self._cancel.set()
        try:
            self.safe()
        except Exception as exc:  # stop() is called from RunEngine cleanup: log, do not raise
            log.error("%s: could not switch the lamp off on stop: %s", self.name, exc)
        super().stop(success=success)

    def safe(self) -> None:
        """Lamp off (works even while an acquisition is hung; bounded to a few seconds)."""
        self._cancel.set()
        self.driver.lamp_off_best_effort(timeout_s=2.0)
        # record what the hardware now does; the HwSignal cache is the lamp setting
        SoftSignal.put(self.lamp, 0, force=True)

    def destroy(self) -> None:
        try:
            self.driver.close()
        finally:
            super().destroy()
