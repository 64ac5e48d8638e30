"""Driver for Ocean Insight (Ocean Optics) spectrometers through python-seabreeze.

The driver wraps a *seabreeze-shaped* object — ``seabreeze.spectrometers.Spectrometer``
on the bench, :class:`photoreactor.sim_devices.emulators.seabreeze.SimSeabreezeSpectrometer`
in simulation — and adds what the library leaves to the caller:

* **a lock** around every call (seabreeze is not thread-safe);
* **deadlines**: every call runs on a worker thread and the caller waits at most
  the work's expected duration (integration time × frames, on the device clock)
  plus a margin; a silent USB transfer becomes :class:`InstrumentTimeout`
  instead of a frozen RunEngine;
* **typed errors** (:class:`InstrumentDisconnected`, :class:`InstrumentTimeout`,
  :class:`InstrumentRejected`, :class:`ProtocolError`) naming the device and
  carrying the call and the library's message as the "raw exchange";
* **model limits** (pixels, integration range, full-scale count) checked before
  anything is sent (:class:`LimitError`);
* **averaging** of N scans, with **saturation** detected on every single scan
  (an average of a clipped and an unclipped scan looks unclipped);
* **discarding the first frame** after the integration time or the lamp changed
  (it was exposed, at least partly, with the old setting).

The driver itself keeps seabreeze's method names (``wavelengths()``,
``intensities()``, ``integration_time_micros()``, ``max_intensity``, ``pixels``,
``trigger_mode()``, ``close()`` ...) so code written for a seabreeze
``Spectrometer`` — e.g. the burst-acquisition flyer in
``devices/spectrometer/burst.py`` — can take the driver and get the timeouts and
typed errors for free.

Decisions where the specification is silent
-------------------------------------------
* **Lamp control** uses the spectrometer's lamp-enable line, python-seabreeze's
  ``spec.f.strobe_lamp.enable_lamp(bool)`` (``lamp_control="strobe_lamp"``).
  On a DH-mini / DH-2000 that TTL line drives the lamp *shutter*, so the lamp
  stays warm and stable while the shutter opens and closes.  Where no lamp
  feature exists (or the lamp is wired otherwise) use ``lamp_control="manual"``:
  the lamp state is then what the operator says it is, and the driver never
  touches it.  A separate shutter instrument would be its own device class.
* **Electric-dark correction** (``correct_dark_counts``) is not used: the stored
  dark frame removes the offset per pixel, which is more accurate, and raw
  frames keep the saturation test meaningful.  **Nonlinearity correction** can
  be enabled (``correct_nonlinearity=True``); the correction only raises counts
  near full scale, so a clipped pixel still reads ≥ the full-scale count.
* **Saturation threshold** is ``saturation_fraction × max_intensity`` with a
  default fraction of 1.0 (the ADC clipped); lower it (e.g. 0.95) to also flag
  the non-linear top of the range.
* **Timeouts**: a call may take ``frames × (2 × integration + 50 ms)`` (a
  free-running detector delivers the *next* complete frame, i.e. up to two
  integration periods, plus the USB transfer) plus ``timeout_margin_s`` of
  device-clock time.  Because a virtual clock may *jump* while a frame is being
  read (a plan sleeping in parallel), a call is declared hung only after the
  device-clock deadline has passed *and* a further ``min_wall_timeout_s`` of
  wall time has gone by without an answer (a
  :class:`~photoreactor.devices.common.status.Deadline`).
* **Retries**: reading a frame is idempotent, so a frame that fails with a
  transfer or protocol error is retried once (``retries=1``); a timed-out call is
  not retried (the USB endpoint is still busy).  Configuration calls
  (integration time, lamp) are not retried.
* **Model table** (pixels, integration range, full scale) is the published
  one; the *device's own* report is authoritative and a disagreement with the
  table is logged, not fatal.  A profile that names a model different from
  the connected unit is an error (wrong serial number in the profile).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from photoreactor.devices.common.errors import (
    InstrumentDisconnected,
    InstrumentError,
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.common.timing import Deadline, WallClock

log = logging.getLogger(__name__)

BACKENDS = ("cseabreeze", "pyseabreeze", "emulator")
LAMP_CONTROLS = ("strobe_lamp", "manual")


@dataclass(frozen=True)
class ModelSpec:
    """Published characteristics of one spectrometer model."""

    name: str
    pixels: int
    min_integration_us: int
    max_integration_us: int
    max_count: int
    dark_pixels: bool = True


#: PROTOCOLS.md model table, keyed by the model string seabreeze reports
MODELS: dict[str, ModelSpec] = {
    "USB2000PLUS": ModelSpec("USB2000PLUS", 2048, 1_000, 655_000_000, 65535),
    "FLAMES": ModelSpec("FLAMES", 2048, 1_000, 655_000_000, 65535),
    "HR4000": ModelSpec("HR4000", 3840, 10, 655_000_000, 16383),
    "USB4000": ModelSpec("USB4000", 3840, 10, 65_000_000, 65535),
    "QEPRO": ModelSpec("QEPRO", 1044, 8_000, 1_600_000_000, 262143),
    "ST": ModelSpec("ST", 1516, 1_560, 6_000_000, 16383, dark_pixels=False),
    # no electric-dark pixels on the Ocean ST (PROTOCOLS.md) nor the SR4 (pyseabreeze)
    "SR4": ModelSpec("SR4", 3648, 6_000, 10_000_000, 65535, dark_pixels=False),
}

_ALIASES = {"FLAME": "FLAMES", "OCEANST": "ST", "OCEANSR4": "SR4", "QE": "QEPRO"}


def normalize_model(model: str) -> str:
    """Canonical model key: ``"Flame-S"`` → ``"FLAMES"``, ``"USB2000+"`` → ``"USB2000PLUS"``,
    ``"QE-PRO"``/``"QE Pro"`` → ``"QEPRO"``, ``"Ocean ST"`` → ``"ST"``."""
    key = str(model).upper().replace("+", "PLUS")
    key = "".join(ch for ch in key if ch.isalnum())
    return _ALIASES.get(key, key)


@dataclass
class Frame:
    """One averaged acquisition.

    Attributes
    ----------
    counts : ndarray
        Mean counts per pixel over ``scans`` frames (float).
    saturated : ndarray of bool
        Pixels that reached the saturation threshold in *any* of the scans.
    scans : int
        Number of frames averaged (discarded frames not included).
    integration_time_ms : float
        Integration time of every averaged frame.
    timestamp : float
        Device-clock time when the last frame arrived.
    peak_count : float
        Highest single-scan count seen on any pixel.
    lamp_on : bool
        Lamp (shutter) state during the exposure, as commanded.
    """

    counts: np.ndarray
    saturated: np.ndarray
    scans: int
    integration_time_ms: float
    timestamp: float
    peak_count: float
    lamp_on: bool

    @property
    def any_saturated(self) -> bool:
        return bool(self.saturated.any())


def _backend_error_types(backend: str) -> tuple[type[BaseException], ...]:
    """Exception types the named backend raises for instrument/transport failures."""
    types: list[type[BaseException]] = []
    if backend == "emulator":
        from photoreactor.sim_devices.emulators.seabreeze import SeaBreezeError

        types.append(SeaBreezeError)
    else:
        from seabreeze.spectrometers import SeaBreezeError

        types.append(SeaBreezeError)
        try:  # pyseabreeze talks through pyusb, whose errors can escape the library
            import usb.core

            types.append(usb.core.USBError)
        except ImportError:
            pass
    types.append(OSError)
    return tuple(types)


def open_seabreeze(backend: str, serial_number: str | None = None, *, device: str = "spectrometer"):
    """Open a spectrometer through ``backend`` and return ``(spectrometer, error_types)``.

    Parameters
    ----------
    backend : {"cseabreeze", "pyseabreeze", "emulator"}
        python-seabreeze backend (``pyseabreeze`` is needed for vendor-0x0999
        models such as the Ocean ST), or the simulator.
    serial_number : str, optional
        Open this unit; default the first unopened spectrometer found.
    device : str
        Device name for error messages.

    Raises
    ------
    ImportError
        python-seabreeze is not installed (``pip install photoreactor[lab]``).
    InstrumentDisconnected
        No such spectrometer, or it is already open (OceanView, another session).
    """
    if backend not in BACKENDS:
        raise ValueError(f"{device}: spectrometer backend must be one of {list(BACKENDS)}, "
                         f"not {backend!r}")
    if backend == "emulator":
        from photoreactor.sim_devices.emulators.seabreeze import (
            SimSeabreezeSpectrometer as Spectrometer,
        )
    else:
        try:
            import seabreeze
        except ImportError:
            raise ImportError(
                f"{device}: the Ocean spectrometer needs python-seabreeze, which is not "
                f"installed. Install the lab extras: pip install 'photoreactor[lab]' "
                f"(then, on Linux, run seabreeze_os_setup once for the USB rules).") from None
        try:
            seabreeze.use(backend)
        except Exception as exc:  # another backend was already loaded in this process
            raise InstrumentDisconnected(
                device, f"cannot switch python-seabreeze to the {backend} backend: {exc} "
                "(one backend per process: use the same 'backend' for every spectrometer)") from exc
        from seabreeze.spectrometers import Spectrometer
    errors = _backend_error_types(backend)
    what = f"serial number {serial_number!r}" if serial_number else "the first available unit"
    try:
        spec = (Spectrometer.from_serial_number(str(serial_number)) if serial_number
                else Spectrometer.from_first_available())
    except errors as exc:
        raise InstrumentDisconnected(
            device, f"cannot open Ocean spectrometer ({what}) via {backend}: {exc}. Check the "
            "USB cable, that no other program (OceanView, another session) holds it, and the "
            "serial number in the profile.",
            [(f"open({what})".encode(), str(exc).encode())]) from exc
    return spec, errors


class OceanDriver:
    """Thread-safe, deadline-bounded wrapper of a seabreeze ``Spectrometer``.

    Parameters
    ----------
    spec : seabreeze-shaped spectrometer
        Already opened (see :func:`open_seabreeze`).
    name : str
        Device name used in every error.
    clock : Clock
        Device clock (wall on the bench, virtual in simulation).
    model : str, optional
        Model the profile expects; a mismatch with the connected unit raises.
    errors : tuple of exception types
        What the backend raises for transport/instrument failures.
    timeout_margin_s : float
        Device-clock seconds added to every call's expected duration.
    min_wall_timeout_s : float
        Wall seconds a call may still take after its device-clock deadline.
    correct_nonlinearity : bool
        Ask seabreeze to linearise counts with the unit's EEPROM coefficients.
    saturation_fraction : float
        Fraction of ``max_intensity`` at which a pixel counts as saturated.
    lamp_control : {"strobe_lamp", "manual"}
        How the probe lamp is switched (see module notes).
    retries : int
        Extra attempts for a failed frame read (idempotent); never for settings.
    """

    def __init__(self, spec, *, name: str = "spectrometer", clock=None, model: str | None = None,
                 errors: tuple[type[BaseException], ...] = (OSError,),
                 timeout_margin_s: float = 2.0, min_wall_timeout_s: float = 1.0,
                 correct_nonlinearity: bool = False, saturation_fraction: float = 1.0,
                 lamp_control: str = "strobe_lamp", retries: int = 1):
        if lamp_control not in LAMP_CONTROLS:
            raise ValueError(f"{name}: lamp_control must be one of {list(LAMP_CONTROLS)}, "
                             f"not {lamp_control!r}")
        if not 0.5 <= float(saturation_fraction) <= 1.0:
            raise ValueError(f"{name}: saturation_fraction must be between 0.5 and 1.0, "
                             f"not {saturation_fraction!r}")
        self._spec = spec
        self.name = name
        self.clock = clock if clock is not None else WallClock()
        self._errors = tuple(errors)
        self.timeout_margin_s = float(timeout_margin_s)
        self.min_wall_timeout_s = float(min_wall_timeout_s)
        self.correct_nonlinearity = bool(correct_nonlinearity)
        self.saturation_fraction = float(saturation_fraction)
        self.lamp_control = lamp_control
        self.retries = int(retries)
        #: held by the worker thread for the whole of each backend call sequence
        self._io_lock = threading.Lock()
        self._discard_next = True   # the frame in progress at open has an unknown history
        self._lamp_on = False
        self._closed = False
        self.exchange_log: list[tuple[bytes, bytes]] = []

        # -- identify the unit (these are cached by seabreeze: cheap, but bounded anyway)
        self.serial_number = str(self._call("serial_number", lambda: spec.serial_number))
        self.model = str(self._call("model", lambda: spec.model))
        self.pixels = int(self._call("pixels", lambda: spec.pixels))
        self.max_intensity = float(self._call("max_intensity", lambda: spec.max_intensity))
        lo, hi = self._call("integration_time_micros_limits",
                            lambda: spec.integration_time_micros_limits)
        self.integration_time_micros_limits = (int(lo), int(hi))
        wl = np.asarray(self._call("wavelengths", spec.wavelengths), dtype=float)
        if wl.shape != (self.pixels,) or not np.all(np.isfinite(wl)) or np.any(np.diff(wl) <= 0):
            raise ProtocolError(name, f"wavelength calibration of {self.model} {self.serial_number} "
                                f"is not {self.pixels} increasing numbers",
                                [(b"wavelengths()", repr(wl[:4]).encode())])
        self._wavelengths = wl
        self.model_key = normalize_model(self.model)
        self.spec_table = MODELS.get(self.model_key)
        if model is not None and normalize_model(model) != self.model_key:
            raise InstrumentRejected(
                name, f"the profile expects a {model} but serial number {self.serial_number} "
                f"is a {self.model}: fix 'model' or 'serial_number' in the profile")
        if self.spec_table is not None:
            table = self.spec_table
            reported = (self.pixels, self.integration_time_micros_limits, int(self.max_intensity))
            expected = (table.pixels, (table.min_integration_us, table.max_integration_us),
                        table.max_count)
            if reported != expected:
                log.warning("%s: %s reports pixels/limits/full scale %s, model table says %s; "
                            "using the device's values", name, self.model, reported, expected)
        self._integration_us = None  # unknown until we set it

    # -- seabreeze-shaped surface ----------------------------------------------
    @property
    def f(self):
        """The backend's feature accessor (``spec.f``), for features this driver does not wrap."""
        return self._spec.f

    def wavelengths(self) -> np.ndarray:
        """Pixel wavelengths in nm (cached at open; a copy)."""
        return self._wavelengths.copy()

    def integration_time_micros(self, integration_time_micros: int) -> None:
        """Set the integration time (µs); the next frame is discarded."""
        us = int(integration_time_micros)
        lo, hi = self.integration_time_micros_limits
        if not lo <= us <= hi:
            raise LimitError(self.name, "integration time", us / 1000.0, (lo / 1000.0, hi / 1000.0),
                             "ms")

        def work():
            self._backend(f"integration_time_micros({us})",
                          lambda: self._spec.integration_time_micros(us), rejected=True)
            self._integration_us = us
            self._discard_next = True

        self._run("set integration time", work, expected_s=0.0)

    def intensities(self, correct_dark_counts: bool = False,
                    correct_nonlinearity: bool | None = None) -> np.ndarray:
        """One raw frame (counts per pixel), after discarding a stale frame if one is pending."""
        if correct_dark_counts:
            raise InstrumentRejected(self.name, "electric-dark correction is not used by this "
                                     "driver: subtract a stored dark frame instead")
        if self._integration_us is None:
            raise InstrumentRejected(self.name, "set the integration time before acquiring")
        nl = self.correct_nonlinearity if correct_nonlinearity is None else bool(correct_nonlinearity)
        frames = 2 if self._discard_next else 1
        return self._run("read a frame", lambda: self._read_frames(1, nl)[0],
                         expected_s=self.frame_time_s() * frames)

    def spectrum(self, correct_dark_counts: bool = False,
                 correct_nonlinearity: bool | None = None) -> np.ndarray:
        """``vstack((wavelengths, intensities))`` like seabreeze's ``Spectrometer.spectrum``."""
        return np.vstack((self._wavelengths, self.intensities(correct_dark_counts,
                                                              correct_nonlinearity)))

    def trigger_mode(self, mode: int) -> None:
        """Set the trigger mode (0 = normal/free-running; others per the model's manual)."""
        m = int(mode)
        self._run("set trigger mode", lambda: self._backend(
            f"trigger_mode({m})", lambda: self._spec.trigger_mode(m), rejected=True), expected_s=0.0)
        self._discard_next = True

    def close(self) -> None:
        """Release the USB device (so OceanView or another session can open it)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._run("close", lambda: self._backend("close()", self._spec.close), expected_s=0.0,
                      check_open=False)
        except InstrumentError as exc:  # a dead device is closed enough
            log.warning("%s: close failed: %s", self.name, exc)

    # -- convenience -------------------------------------------------------------
    @property
    def integration_limits_ms(self) -> tuple[float, float]:
        lo, hi = self.integration_time_micros_limits
        return lo / 1000.0, hi / 1000.0

    @property
    def integration_time_ms(self) -> float:
        """Integration time last set through this driver (NaN before the first set)."""
        return float("nan") if self._integration_us is None else self._integration_us / 1000.0

    def set_integration_time_ms(self, integration_time_ms: float) -> None:
        """Set the integration time in ms (rounded to whole µs)."""
        self.integration_time_micros(int(round(float(integration_time_ms) * 1000.0)))

    @property
    def saturation_level(self) -> float:
        """Counts at or above which a pixel is flagged saturated."""
        return self.saturation_fraction * self.max_intensity

    @property
    def lamp_on(self) -> bool:
        """The lamp (shutter) state last commanded."""
        return self._lamp_on

    @property
    def discard_pending(self) -> bool:
        """True when the next frame will be thrown away (settings changed since it began)."""
        return self._discard_next

    def frame_time_s(self) -> float:
        """Worst-case device-clock seconds for one frame: two integration periods plus transfer."""
        us = self._integration_us or self.integration_time_micros_limits[0]
        return 2.0 * us / 1e6 + 0.05

    def expected_acquire_s(self, scans: int) -> float:
        """Device-clock seconds :meth:`acquire` may take for ``scans`` frames (without margin)."""
        return self.frame_time_s() * (int(scans) + (1 if self._discard_next else 0))

    def set_lamp(self, on: bool) -> None:
        """Open (True) or close (False) the probe lamp through the lamp-enable line.

        With ``lamp_control="manual"`` only the recorded state changes.  The next
        frame is discarded after a change (it was partly exposed).
        """
        on = bool(on)
        if self.lamp_control == "manual":
            if on != self._lamp_on:
                log.info("%s: lamp is manual — make sure it is %s", self.name, "ON" if on else "OFF")
            self._lamp_on = on
            return

        def work():
            lamp = self._lamp_feature()
            self._backend(f"f.strobe_lamp.enable_lamp({on})", lambda: lamp.enable_lamp(on),
                          rejected=True)
            if on != self._lamp_on:
                self._discard_next = True
            self._lamp_on = on

        self._run("switch the lamp", work, expected_s=0.0)

    def lamp_off_best_effort(self, *, timeout_s: float = 2.0) -> None:
        """Switch the lamp off even while another call is stuck in a USB transfer.

        Tries the normal locked path for a short while; if a hung acquisition
        holds the lock, sends the lamp command alongside it (a shutter left open
        on a photosensitive sample is worse than a racing control transfer).
        Raises the typed error if the lamp could not be reached.
        """
        if self.lamp_control == "manual":
            self._lamp_on = False
            log.warning("%s: lamp is under manual control — switch it off by hand", self.name)
            return
        if self._io_lock.acquire(timeout=min(0.2, timeout_s)):
            self._io_lock.release()
            self._run("switch the lamp off", lambda: self._lamp_off_unlocked(), expected_s=0.0,
                      budget_s=timeout_s)
        else:
            log.warning("%s: an acquisition is still hung; sending lamp-off alongside it", self.name)
            self._run("switch the lamp off", lambda: self._lamp_off_unlocked(), expected_s=0.0,
                      budget_s=timeout_s, lock=False)

    def _lamp_off_unlocked(self) -> None:
        lamp = self._lamp_feature()
        self._backend("f.strobe_lamp.enable_lamp(False)", lambda: lamp.enable_lamp(False),
                      rejected=True)
        if self._lamp_on:
            self._discard_next = True
        self._lamp_on = False

    def _lamp_feature(self):
        feats = self._backend("f", lambda: self._spec.f)
        lamp = getattr(feats, "strobe_lamp", None)
        if lamp is None:
            raise InstrumentRejected(
                self.name, f"this {self.model} has no lamp-enable (strobe_lamp) feature: set "
                "lamp_control: manual in the profile and switch the lamp by hand")
        return lamp

    def acquire(self, scans: int = 1, *, cancel: threading.Event | None = None) -> Frame:
        """Average ``scans`` frames, flagging saturation on every single one.

        Parameters
        ----------
        scans : int
            Frames to average (≥ 1).
        cancel : threading.Event, optional
            Checked between frames; when set, raises :class:`InterruptedError`.

        Raises
        ------
        InstrumentTimeout, InstrumentDisconnected, ProtocolError, InstrumentRejected
        """
        n = int(scans)
        if n < 1:
            raise LimitError(self.name, "scans to average", n, (1, "∞"))
        if self._integration_us is None:
            raise InstrumentRejected(self.name, "set the integration time before acquiring")
        it_ms = self.integration_time_ms

        def work():
            frames = self._read_frames(n, self.correct_nonlinearity, cancel=cancel)
            stack = np.vstack(frames)
            level = self.saturation_level
            return Frame(counts=stack.mean(axis=0), saturated=(stack >= level).any(axis=0),
                         scans=n, integration_time_ms=it_ms, timestamp=self.clock.time(),
                         peak_count=float(stack.max()), lamp_on=self._lamp_on)

        return self._run(f"acquire {n} scan(s)", work, expected_s=self.expected_acquire_s(n))

    # -- internals ---------------------------------------------------------------
    def _read_frames(self, n: int, nonlinearity: bool, *, cancel=None) -> list[np.ndarray]:
        """Read ``n`` good frames (worker thread, io lock held), discarding a stale one first."""
        call = f"intensities(correct_dark_counts=False, correct_nonlinearity={nonlinearity})"
        if self._discard_next:
            self._read_one(call, nonlinearity)
            self._discard_next = False
        frames = []
        for _ in range(n):
            if cancel is not None and cancel.is_set():
                raise InterruptedError(f"{self.name}: acquisition stopped")
            frames.append(self._read_one(call, nonlinearity))
        return frames

    def _read_one(self, call: str, nonlinearity: bool) -> np.ndarray:
        attempt = 0
        while True:
            try:
                raw = self._backend(call, lambda: self._spec.intensities(
                    correct_dark_counts=False, correct_nonlinearity=nonlinearity))
                frame = np.asarray(raw, dtype=float)
                if frame.shape != (self.pixels,) or not np.all(np.isfinite(frame)):
                    raise ProtocolError(
                        self.name, f"corrupt frame: expected {self.pixels} finite counts, got "
                        f"shape {frame.shape}", [(call.encode(), repr(frame[:4]).encode())])
                return frame
            except (InstrumentDisconnected, ProtocolError) as exc:
                if attempt >= self.retries or self._closed:
                    raise
                attempt += 1
                log.warning("%s: frame read failed (%s); retrying (%d/%d)", self.name, exc,
                            attempt, self.retries)

    def _backend(self, call: str, fn: Callable, *, rejected: bool = False):
        """Call the backend; translate its exceptions into typed instrument errors."""
        try:
            return fn()
        except self._errors as exc:
            text = str(exc) or type(exc).__name__
            exchange = [(call.encode(), text.encode())]
            self.exchange_log.append(exchange[0])
            lowered = text.lower()
            if "timeout" in type(exc).__name__.lower() or "timed out" in lowered:
                raise InstrumentTimeout(self.name, f"{call} timed out in the USB layer: {text}",
                                        exchange) from exc
            if rejected or "not support" in lowered or "out of range" in lowered:
                raise InstrumentRejected(self.name, f"{call} refused: {text}", exchange) from exc
            raise InstrumentDisconnected(
                self.name, f"{call} failed: {text} — is the spectrometer still connected and "
                "powered? (replug it and restart the session)", exchange) from exc

    def _call(self, what: str, fn: Callable):
        """A quick query at open time (bounded like every other call)."""
        return self._run(what, lambda: self._backend(what, fn), expected_s=0.0)

    def _run(self, what: str, work: Callable, *, expected_s: float, budget_s: float | None = None,
             lock: bool = True, check_open: bool = True):
        """Run ``work`` on a worker thread holding the io lock; wait with a deadline."""
        if check_open and self._closed:
            raise InstrumentDisconnected(self.name, f"cannot {what}: the driver was closed")
        result: dict = {}
        done = threading.Event()

        def target():
            try:
                if lock:
                    with self._io_lock:
                        result["value"] = work()
                else:
                    result["value"] = work()
            except BaseException as exc:  # delivered to the caller below
                result["error"] = exc
            finally:
                done.set()

        threading.Thread(target=target, daemon=True, name=f"{self.name}-{what}").start()
        budget = expected_s + self.timeout_margin_s if budget_s is None else budget_s
        self._wait(done, budget, what)
        if "error" in result:
            raise result["error"]
        return result.get("value")

    def _wait(self, done: threading.Event, budget_s: float, what: str) -> None:
        deadline = Deadline(self.clock, budget_s, min_wall_s=self.min_wall_timeout_s)
        while not done.wait(timeout=0.005):
            if deadline.expired():
                call = f"{what} (deadline {budget_s:.3g} s)"
                raise InstrumentTimeout(
                    self.name, f"no answer to '{what}' within {budget_s:.3g} s: the spectrometer "
                    "is not responding (USB transfer hung?)", [(call.encode(), b"")])

    def __repr__(self) -> str:
        return f"OceanDriver({self.model} {self.serial_number}, name={self.name!r})"
