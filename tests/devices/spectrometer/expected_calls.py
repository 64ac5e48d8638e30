"""A seabreeze-shaped fake that asserts the exact calls a driver makes, in order.

The spectrometer speaks USB through python-seabreeze, so its "wire protocol"
as seen by our driver is the sequence of library calls.  Like
``tests/devices/protocol.py`` does for bytes, :class:`ExpectedSeabreeze`
replays a list of ``(call, result)`` pairs: the driver must make exactly these
calls in this order (a different call fails the test at once) and every pair
must be consumed by the end of the ``with`` block.  A result that is an
exception instance is raised instead of returned; a :class:`threading.Event`
result blocks the call until the event is set (a hung USB transfer).

Calls are tuples: ``("serial_number",)`` for properties,
``("integration_time_micros", 10000)``, ``("intensities", False, False)``
(dark correction, nonlinearity), ``("enable_lamp", True)``, ``("trigger_mode", 0)``,
``("close",)``.
"""

from __future__ import annotations

import threading

import numpy as np


class CallMismatch(AssertionError):
    """The driver made a call other than the one expected next."""


class SeaBreezeError(Exception):
    """What the fake raises for instrument errors (the driver is told to expect it)."""


class _Lamp:
    def __init__(self, fake):
        self._fake = fake

    def enable_lamp(self, state):
        return self._fake._call("enable_lamp", state)


class _Features:
    def __init__(self, fake, lamp: bool):
        self.strobe_lamp = _Lamp(fake) if lamp else None


class ExpectedSeabreeze:
    """Fake ``seabreeze.spectrometers.Spectrometer`` checking every call."""

    def __init__(self, pairs, *, lamp_feature: bool = True):
        self.pairs = list(pairs)
        self.made: list[tuple] = []
        self._lock = threading.Lock()
        self._features = _Features(self, lamp_feature)

    def _call(self, *call):
        with self._lock:
            self.made.append(call)
            if not self.pairs:
                raise CallMismatch(f"unexpected call {call!r}: no more calls expected "
                                   f"(made so far: {self.made[:-1]!r})")
            expected, result = self.pairs.pop(0)
            if expected != call:
                raise CallMismatch(f"expected {expected!r}, driver called {call!r}")
        if isinstance(result, threading.Event):
            result.wait(10.0)
            raise SeaBreezeError("Data transfer error: USB read timed out")
        if isinstance(result, BaseException):
            raise result
        return result.copy() if isinstance(result, np.ndarray) else result

    # -- seabreeze surface ---------------------------------------------------
    @property
    def serial_number(self):
        return self._call("serial_number")

    @property
    def model(self):
        return self._call("model")

    @property
    def pixels(self):
        return self._call("pixels")

    @property
    def max_intensity(self):
        return self._call("max_intensity")

    @property
    def integration_time_micros_limits(self):
        return self._call("integration_time_micros_limits")

    @property
    def f(self):
        return self._features

    def wavelengths(self):
        return self._call("wavelengths")

    def integration_time_micros(self, us):
        return self._call("integration_time_micros", us)

    def intensities(self, correct_dark_counts=False, correct_nonlinearity=False):
        return self._call("intensities", correct_dark_counts, correct_nonlinearity)

    def trigger_mode(self, mode):
        return self._call("trigger_mode", mode)

    def close(self):
        return self._call("close")

    # -- context -------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self.pairs:
            raise AssertionError(f"calls expected but never made: {self.pairs!r}")
        return False


PIXELS = 8
WAVELENGTHS = np.linspace(400.0, 700.0, PIXELS)


def identify(model="FLAMES", serial="FLMS01234", pixels=PIXELS, max_count=65535.0,
             limits=(1_000, 655_000_000), wavelengths=None):
    """The calls :class:`OceanDriver` makes on open, in order."""
    wl = WAVELENGTHS if wavelengths is None else wavelengths
    return [(("serial_number",), serial), (("model",), model), (("pixels",), pixels),
            (("max_intensity",), max_count), (("integration_time_micros_limits",), limits),
            (("wavelengths",), wl)]


def frame(level: float, pixels: int = PIXELS) -> np.ndarray:
    return np.full(pixels, float(level))
