"""Ophyd signals whose value lives in an instrument, read and written through hooks.

Classic Ophyd's soft :class:`ophyd.Signal` keeps its value in memory; EPICS
signals talk to a PV.  Our instruments sit behind a driver (serial, VISA,
USB), so every device needs the same small adaptor.  It is written once here,
after the pattern of PSI ``ophyd_devices`` (a signal base class with final
``get``/``put`` and ``_hw_get``/``_hw_set`` hooks), and reused by every device
package.

Classes
-------
:class:`HwSignal`
    Read **and** write the instrument.  ``get()`` calls the read hook and caches
    the result; ``put()`` validates, calls the write hook, caches the written
    value and fires ``value`` subscriptions; ``set()`` returns a Status at once
    and performs the ``put`` on a worker thread (never the RunEngine thread).
:class:`HwSignalRO`
    Read-only readback (``put`` raises :class:`ophyd.utils.ReadOnlyError`).
:class:`SoftSignal`
    A value held by the device itself (reagent name, calibration date, a dose
    counter) but time-stamped on the device clock and carrying units, so it
    reads and describes like the hardware signals beside it.

Hooks
-----
Either subclass and override :meth:`HwSignal._hw_get` / :meth:`HwSignal._hw_set`,
or — usually simpler — name methods of the parent device in the component::

    class Pump(Device):
        rate = Cpt(HwSignal, getter="_read_rate", setter="_write_rate",
                   units="mL/min", kind="normal", value=0.0)

        def _read_rate(self) -> float: return self.driver.rate_ml_min()
        def _write_rate(self, v: float) -> None: self.driver.set_rate(v)

``getter``/``setter`` may also be callables (``getter=lambda sig: ...`` receives
the signal).  A signal with no getter returns its cached value (the last value
written or pushed with :meth:`HwSignal.update_readback`).

Design decisions
----------------
* **Clock timestamps**: readings are stamped with the device clock (virtual in a
  simulation) taken from the ``clock=`` argument, else the parent chain's
  ``clock`` attribute, else the wall clock.  Runs on a virtual clock then carry
  virtual times consistently.
* **Re-entrancy guard**: if a read hook (directly or through some callback)
  ends up calling ``get()`` on the same signal in the same thread, the inner call
  returns the cached value instead of recursing into the instrument.
* **No subscriptions from ``get()``** (an Ophyd pitfall: subscribers calling
  ``get`` recurse).  ``value`` subscriptions fire on ``put`` and on
  :meth:`HwSignal.update_readback` (for pollers/worker threads that already hold
  a fresh value), and only when the value changed.
* **Typed initial values**: ``value=`` defaults to ``0.0``; pass ``""`` for
  strings, ``0`` for flags, an array for spectra.  ``describe()`` uses the cached
  value and therefore never touches the instrument (and never sees ``None``).
* **Units and limits** go into ``describe()`` (``units``, ``lower_ctrl_limit`` /
  ``upper_ctrl_limit``) so they land in the event descriptor.  A value outside
  ``limits`` raises :class:`~photoreactor.devices.common.errors.LimitError`
  naming the device, before the write hook is called.
* **``set()``** finishes its Status from a worker thread via
  :func:`~photoreactor.devices.common.status.run_in_thread`; the status is done
  when the write hook returned (the instrument acknowledged).  Devices whose
  motion takes time (a pump dose, a mantle ramp) override ``Device.set`` with
  their own completion logic instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from ophyd import Signal
from ophyd.utils import ReadOnlyError

from .errors import LimitError
from .status import run_in_thread
from .timing import WallClock

_WALL = WallClock()

#: device-clock seconds a single signal write is expected to take (status backstop)
WRITE_EXPECTED_S = 5.0


def _changed(old: Any, new: Any) -> bool:
    """True when ``new`` differs from ``old`` (arrays compared element-wise)."""
    if isinstance(old, np.ndarray) or isinstance(new, np.ndarray):
        try:
            return not np.array_equal(np.asarray(old), np.asarray(new), equal_nan=True)
        except TypeError:  # non-numeric arrays
            return not np.array_equal(np.asarray(old), np.asarray(new))
    try:
        return bool(old != new)
    except Exception:  # incomparable types: treat as a change
        return True


class SoftSignal(Signal):
    """An in-memory value with device-clock timestamps, units and optional limits.

    Parameters
    ----------
    units : str, optional
        Engineering units recorded in ``describe()`` (``"mL"``, ``"mol/L"``, ``"nm"``).
    limits : (float, float), optional
        Inclusive lower/upper bound checked on ``put``; outside raises
        :class:`LimitError` naming the owning device.
    clock : Clock, optional
        Timestamp source; default: the parent chain's ``clock``, else wall time.
    value : any
        Typed initial value (never ``None``).
    **kwargs
        Passed to :class:`ophyd.Signal` (``name``, ``parent``, ``kind`` ...).
    """

    def __init__(self, *, units: str = "", limits: tuple[float, float] | None = None,
                 clock=None, value: Any = 0.0, **kwargs):
        if value is None:
            raise TypeError(f"signal {kwargs.get('name')!r}: initial value must not be None "
                            "(describe() breaks on None); pass a typed default")
        super().__init__(value=value, **kwargs)
        self.units = units
        self._limits = tuple(limits) if limits is not None else None
        self._clock = clock
        self._metadata["timestamp"] = self.clock.time()

    # -- clock ------------------------------------------------------------
    @property
    def clock(self):
        """The clock stamping this signal's readings (explicit, parent's, or wall)."""
        if self._clock is not None:
            return self._clock
        obj = self.parent
        while obj is not None:
            clk = getattr(obj, "clock", None)
            if clk is not None and hasattr(clk, "time"):
                return clk
            obj = getattr(obj, "parent", None)
        return _WALL

    @property
    def device_name(self) -> str:
        """Name of the owning device (for error messages), else this signal's name."""
        root = self.root
        return getattr(root, "name", None) or self.name

    @property
    def source_name(self) -> str:
        return f"soft:{self.name}"

    # -- limits -----------------------------------------------------------
    @property
    def limits(self):
        return self._limits if self._limits is not None else (0, 0)

    def set_limits(self, low: float, high: float) -> None:
        """Change the allowed range (e.g. after a syringe change)."""
        self._limits = (low, high)

    def check_value(self, value):
        super().check_value(value)
        if self._limits is None:
            return
        low, high = self._limits
        try:
            v = float(value)
        except (TypeError, ValueError):
            return
        if not (low <= v <= high):
            attr = self.attr_name or self.name
            raise LimitError(self.device_name, attr, value, (low, high), self.units)

    # -- ophyd plumbing ---------------------------------------------------
    def put(self, value, *, timestamp=None, force=False, metadata=None, **kwargs):
        if timestamp is None:
            timestamp = self.clock.time()
        super().put(value, timestamp=timestamp, force=force, metadata=metadata, **kwargs)

    def set(self, value, *, timeout=None, settle_time=None, **kwargs):
        """Write ``value`` and return a finished Status (memory writes are instant)."""
        from ophyd.status import Status

        self.check_value(value)  # a LimitError reaches the plan before anything changes
        status = Status(self, timeout=timeout)
        self.put(value)
        status.set_finished()
        return status

    def describe(self):
        desc = super().describe()
        entry = desc[self.name]
        entry["units"] = self.units
        if self._limits is not None:
            entry["lower_ctrl_limit"], entry["upper_ctrl_limit"] = self._limits
        return desc


class HwSignal(SoftSignal):
    """A value read from and written to an instrument through hooks.

    Parameters
    ----------
    getter : str or callable, optional
        Name of a parent-device method returning the current value, or a callable
        taking this signal.  Without one, ``get()`` returns the cached value.
    setter : str or callable, optional
        Name of a parent-device method taking the new value, or a callable taking
        ``(signal, value)``.  Without one (and without overriding
        :meth:`_hw_set`) the signal is read-only.
    units, limits, clock, value, **kwargs
        As for :class:`SoftSignal`.
    """

    def __init__(self, *, getter: str | Callable | None = None,
                 setter: str | Callable | None = None, **kwargs):
        self._getter = getter
        self._setter = setter
        self._guard = threading.local()
        super().__init__(**kwargs)

    # -- hooks (override in subclasses, or pass getter/setter) -------------
    def _hw_get(self) -> Any:
        """Read the value from the instrument (called by :meth:`get`)."""
        if self._getter is None:
            return self._readback
        if callable(self._getter):
            return self._getter(self)
        return getattr(self.parent, self._getter)()

    def _hw_set(self, value: Any) -> None:
        """Write ``value`` to the instrument (called by :meth:`put`)."""
        if self._setter is None:
            raise ReadOnlyError(f"{self.name} is read-only")
        if callable(self._setter):
            self._setter(self, value)
        else:
            getattr(self.parent, self._setter)(value)

    @property
    def source_name(self) -> str:
        return f"hw:{self.name}"

    @property
    def write_access(self) -> bool:
        return self._setter is not None or type(self)._hw_set is not HwSignal._hw_set

    # -- final get / put --------------------------------------------------
    def get(self, **kwargs):
        """Read the instrument (through :meth:`_hw_get`) and cache the value.

        Re-entrant calls from the same thread return the cached value.
        """
        if getattr(self._guard, "busy", False):
            return self._readback
        self._guard.busy = True
        try:
            value = self._hw_get()
        finally:
            self._guard.busy = False
        self._readback = value
        self._metadata["timestamp"] = self.clock.time()
        return value

    def put(self, value, *, timestamp=None, force=False, metadata=None, **kwargs):
        """Validate, write to the instrument, cache and notify subscribers."""
        if not force:
            if not self.write_access:
                raise ReadOnlyError(f"{self.name} is read-only")
            self.check_value(value)
        self._hw_set(value)
        ts = self.clock.time() if timestamp is None else timestamp
        # force=True: the value was validated above; Signal.put must not re-check
        Signal.put(self, value, timestamp=ts, force=True, metadata=metadata)

    def update_readback(self, value: Any, timestamp: float | None = None) -> None:
        """Store a value read elsewhere (e.g. by a status poller) and notify on change.

        Use this from worker threads that already queried the instrument, so that
        live plots follow a move without extra serial traffic.
        """
        old = self._readback
        self._readback = value
        ts = self.clock.time() if timestamp is None else timestamp
        self._metadata["timestamp"] = ts
        if _changed(old, value):
            self._run_subs(sub_type=self.SUB_VALUE, old_value=old, value=value, timestamp=ts)

    def set(self, value, *, timeout=None, settle_time=None, **kwargs):
        """Return a Status at once; the write happens on a worker thread.

        The status fails with the driver's exception (``InstrumentTimeout``,
        ``InstrumentRejected`` ...) or the :class:`LimitError`.  Validation
        happens first, on the caller's thread, so a plan sees a limit error
        before anything is sent.
        """
        if not self.write_access:
            raise ReadOnlyError(f"{self.name} is read-only")
        self.check_value(value)
        return run_in_thread(self, lambda: self.put(value), clock=self.clock,
                             expected_s=WRITE_EXPECTED_S, name=f"{self.name}-set")


class HwSignalRO(HwSignal):
    """A read-only instrument readback (``put``/``set`` raise ``ReadOnlyError``)."""

    def __init__(self, **kwargs):
        if kwargs.get("setter") is not None:
            raise TypeError("HwSignalRO takes no setter")
        super().__init__(**kwargs)

    @property
    def write_access(self) -> bool:
        return False
