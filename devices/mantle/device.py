"""Ophyd devices for heating mantles and temperature controllers.

``mantle.set(T)`` is what ``bps.mv(mantle, T)`` calls: it refuses a temperature
outside the limits (:class:`LimitError`, before anything is sent), writes the
setpoint, switches heating on and returns a Status that finishes when the
probe has stayed within ``tolerance`` of ``T`` for ``settle_time`` seconds of
device-clock time — the pattern of apstools' ``PVPositionerSoftDone``.

Components (names fixed by the device contract): ``temperature`` (hinted, the
probe), ``setpoint``, ``ramp_rate`` (°C/min, 0 = as fast as the mantle can),
``heater_on`` (0/1; ``set(0)`` switches heating off and lets the flask cool),
``watchdog`` (s, 0 = off), ``tolerance``, ``settle_time``, ``max_temperature``;
:class:`IkaMantle` adds ``stir_rpm`` and ``plate_temperature``,
:class:`EurothermMantle` adds ``output`` (%) and ``working_setpoint``.

Design decisions
----------------
* **Deadline**: a move fails with :class:`InstrumentTimeout` if not settled by
  ``gap / rate + settle_time + 10 min`` (device clock), where ``rate`` is the
  ramp rate or, if slower or unlimited, ``timeout_rate_c_min`` (default
  2 °C/min, the slowest a working mantle heats or a flask cools near the
  target).  Time during which the device could not poll (a virtual-clock
  jump, a suspended computer) extends the deadline.  The Ophyd status also
  carries a wall-clock backstop for the largest possible gap.
* **Ramping**: the Eurotherm ramps its own working setpoint (register 35).
  The IKA has no ramp: the device steps the setpoint from the current probe
  temperature every ``ramp_step_s`` (10 s) on the device clock.  After a
  virtual-clock jump the setpoint catches up in one step, as a host would have
  stepped it meanwhile.
* **Untrustworthy readings switch heating off**, then raise: a reading outside
  ``sensor_range_c`` (open/unplugged probe, Eurotherm sensor break) →
  :class:`SensorFault`; above ``max_temperature_c + overtemp_margin_c`` →
  :class:`InstrumentAlarm`; while heating toward a setpoint more than
  ``stale_gap_c`` away, a reading that has not changed at all for ``stale_s``
  → :class:`SensorFault` (frozen probe/controller), and one that changes but
  has not risen by ``0.1 °C`` for ``stale_s`` → :class:`InstrumentAlarm`
  (heater not heating: power loss, tripped cut-out, mantle unplugged).  Near
  the setpoint and when cooling no staleness check applies: a well-regulated
  flask may legitimately read the same value for hours.
* **Setpoint verification**: while waiting, the controller's setpoint is read
  back every poll; a value we did not write (power-on reset, front-panel edit)
  raises :class:`InstrumentAlarm` and switches heating off.
* **stop() vs safe()**: the RunEngine calls ``stop(success=True)`` on every
  device it moved at every pause and at the end of every run, so ``stop()``
  only ends the move (its status succeeds, as a positioner's does, so that a
  paused plan resumes from its checkpoint) and holds the current (validated)
  setpoint — a finished ``heat_to`` keeps its temperature, a paused heat-up
  holds where it is.  ``safe()`` (and ``heater_on.set(0)``) switches heating
  off and fails a running move; the experiment wrapper calls it on abort and
  failure.
* **Watchdog** (IKA): ``arm_watchdog(s)`` sends ``OUT_WD1@s``; the controller
  switches heating and stirring off unless refreshed within ``s``.  A ``set()``
  in progress refreshes it (a heat-up may outlast the period); otherwise plans
  must call ``refresh_watchdog()`` — or ``bps.mv(mantle.watchdog, s)`` — at
  least once per period, and must not ``bps.sleep`` longer than the period
  (the controller would trip, on the bench as in simulation).  When the device
  clock says the period has lapsed without a refresh, the device treats the
  controller as tripped: ``heater_on`` reads 0 and the next ``set()`` raises
  :class:`InstrumentAlarm` until :meth:`Mantle.reset_alarm`.  The Eurotherm
  3216 offers no communications watchdog: the methods return False and log a
  warning saying so.
* **Heater state of the IKA** cannot be queried over NAMUR: ``heater_on`` reads
  the last commanded state (0 after a watchdog lapse).
"""

from __future__ import annotations

import logging
import math
import threading
from contextlib import contextmanager

from ophyd import Component as Cpt
from ophyd import Device

from photoreactor.devices.common.errors import (
    InstrumentAlarm,
    InstrumentError,
    InstrumentTimeout,
    LimitError,
    SensorFault,
)
from photoreactor.devices.common.signals import HwSignal, HwSignalRO, SoftSignal
from photoreactor.devices.common.status import Deadline, report_progress, run_in_thread

log = logging.getLogger(__name__)

#: device-clock seconds added to every move deadline
MOVE_MARGIN_S = 600.0
#: a reading must rise by more than this to count as progress while heating
RISE_C = 0.1
#: slowest ramp the wall-clock backstop of a move allows for, °C/min
BACKSTOP_RATE_C_MIN = 0.1
#: how long safe() waits for another thread to release the port / control lock
SAFE_LOCK_WAIT_S = 2.0


class _Cancel(threading.Event):
    """Stops a move; ``success`` says whether its status succeeds or fails."""

    success = False


@contextmanager
def _held(lock, timeout_s: float, device: str, what: str):
    """Acquire ``lock`` within ``timeout_s`` (wall) or raise :class:`InstrumentTimeout`."""
    if not lock.acquire(timeout=timeout_s):
        raise InstrumentTimeout(device, f"{what}: port still busy after {timeout_s:g} s")
    try:
        yield
    finally:
        lock.release()


class Mantle(Device):
    """A heating mantle regulated by a temperature controller (base class).

    Parameters
    ----------
    driver
        The controller driver (:class:`~photoreactor.devices.mantle.ika.IkaNamurDriver`
        or :class:`~photoreactor.devices.mantle.eurotherm.EurothermDriver`).
    clock : Clock
        Device clock (wall on the bench, virtual in simulation).
    name : str
        Device name (``"mantle"``).
    max_temperature_c : float
        Highest temperature ``set()`` accepts (the profile's hard limit; the
        ``max_temperature`` signal may be lowered below it, never raised above).
    min_temperature_c : float
        Lowest setpoint accepted.
    tolerance_c, settle_s : float
        ``set()`` is done when the probe stays within ``tolerance_c`` for ``settle_s``.
    ramp_rate_c_min : float
        Initial ramp rate (0 = unlimited).
    poll_s : float
        Device-clock period of the readings taken while a move runs.
    stale_s, stale_gap_c : float
        Staleness check (see the module notes).
    sensor_range_c : (float, float)
        Physically possible readings; outside is a sensor fault.
    overtemp_margin_c : float
        Alarm above ``max_temperature_c`` plus this.
    timeout_rate_c_min : float
        Slowest expected heating/cooling rate, for move deadlines.
    """

    temperature = Cpt(HwSignalRO, getter="_read_temperature", units="degC", kind="hinted",
                      value=0.0)
    setpoint = Cpt(HwSignal, getter="_read_setpoint", setter="_write_setpoint", units="degC",
                   kind="normal", value=0.0)
    ramp_rate = Cpt(HwSignal, getter="_read_ramp_rate", setter="_write_ramp_rate",
                    units="degC/min", kind="normal", value=0.0)
    heater_on = Cpt(HwSignal, getter="_read_heater_on", setter="_write_heater_on",
                    kind="normal", value=0, limits=(0, 1))
    watchdog = Cpt(HwSignal, getter="_read_watchdog", setter="_write_watchdog", units="s",
                   kind="config", value=0.0)
    tolerance = Cpt(SoftSignal, units="degC", kind="config", value=1.0, limits=(0.01, 50.0))
    settle_time = Cpt(SoftSignal, units="s", kind="config", value=30.0, limits=(0.0, 86400.0))
    max_temperature = Cpt(SoftSignal, units="degC", kind="config", value=300.0)

    safe_order = 20

    @property
    def has_watchdog(self) -> bool:
        """True if the controller offers a communications watchdog (IKA yes, Eurotherm no)."""
        return bool(self.driver.has_watchdog)

    def __init__(self, driver, *, clock, name: str, max_temperature_c: float,
                 min_temperature_c: float = 0.0, tolerance_c: float = 1.0,
                 settle_s: float = 30.0, ramp_rate_c_min: float = 0.0, poll_s: float = 5.0,
                 stale_s: float = 300.0, stale_gap_c: float = 5.0,
                 sensor_range_c: tuple[float, float] = (-50.0, 600.0),
                 overtemp_margin_c: float = 15.0, timeout_rate_c_min: float = 2.0,
                 ramp_step_s: float = 10.0, **kwargs):
        if not min_temperature_c < max_temperature_c:
            raise ValueError(f"{name}: min_temperature_c {min_temperature_c} must be below "
                             f"max_temperature_c {max_temperature_c}")
        self.driver = driver
        self.clock = clock
        self.hard_max_c = float(max_temperature_c)
        self.min_temperature_c = float(min_temperature_c)
        self.poll_s = float(poll_s)
        self.stale_s = float(stale_s)
        self.stale_gap_c = float(stale_gap_c)
        self.sensor_range_c = (float(sensor_range_c[0]), float(sensor_range_c[1]))
        self.overtemp_margin_c = float(overtemp_margin_c)
        self.timeout_rate_c_min = float(timeout_rate_c_min)
        self.ramp_step_s = float(ramp_step_s)
        self._control = threading.RLock()      # one control action at a time
        self._state = threading.Lock()         # guards the bookkeeping below
        self._cancel: threading.Event | None = None
        self._ramping = False
        self._heater_cmd = False               # last commanded heater state
        self._target_c: float | None = None    # what set() is heading for
        self._regulating_to_c: float | None = None  # controller setpoint right now
        self._written_sp_c: float | None = None     # last setpoint we wrote
        self._progress: dict | None = None
        self._wd_period_s = 0.0
        self._wd_last = 0.0
        self._wd_tripped = False
        super().__init__("", name=name, **kwargs)
        limits = (self.min_temperature_c, self.hard_max_c)
        self.max_temperature.set_limits(*limits)
        self.max_temperature.put(self.hard_max_c)
        self.setpoint.set_limits(*limits)
        self.tolerance.put(float(tolerance_c))
        self.settle_time.put(float(settle_s))
        self.ramp_rate.set_limits(0.0, 1000.0)
        self._initial_ramp_c_min = float(ramp_rate_c_min)

    # ------------------------------------------------------------------ helpers
    @property
    def port_lock(self):
        return self.driver.port.lock

    def _check_target(self, value) -> float:
        try:
            target = float(value)
        except (TypeError, ValueError):
            raise LimitError(self.name, "temperature", value,
                             (self.min_temperature_c, self.hard_max_c), "degC") from None
        high = min(self.hard_max_c, float(self.max_temperature.get()))
        if not (math.isfinite(target) and self.min_temperature_c <= target <= high):
            raise LimitError(self.name, "temperature", value, (self.min_temperature_c, high),
                             "degC")
        return target

    def _heater_off_quietly(self) -> None:
        """Best effort heater off from inside a failure path (never raises)."""
        try:
            self._switch_off()
        except Exception as exc:  # the original fault is what the plan must see
            log.error("%s: could not switch heating off after a fault: %s", self.name, exc)

    def _switch_off(self) -> None:
        with self._state:
            self._heater_cmd = False
            self._progress = None
        with _held(self.port_lock, SAFE_LOCK_WAIT_S, self.name, "heater off"):
            self.driver.stop_heating()
        self.heater_on.update_readback(0)

    # ----------------------------------------------------------- temperature
    def _read_temperature(self) -> float:
        try:
            pv = float(self.driver.temperature_c())
        except SensorFault:
            self._heater_off_quietly()
            raise
        now = self.clock.time()
        lo, hi = self.sensor_range_c
        if not (math.isfinite(pv) and lo <= pv <= hi):
            self._heater_off_quietly()
            raise SensorFault(self.name, f"probe reads {pv} °C, outside the possible "
                              f"{lo:g}…{hi:g} °C: thermocouple/PT1000 open, unplugged or "
                              "broken. Heating switched off.")
        if pv > self.hard_max_c + self.overtemp_margin_c:
            self._heater_off_quietly()
            raise InstrumentAlarm(self.name, f"over-temperature: probe reads {pv:.1f} °C, limit "
                                  f"{self.hard_max_c:g} °C (+{self.overtemp_margin_c:g}). "
                                  "Heating switched off; check the controller output stage.")
        self._check_progress(pv, now)
        return pv

    def _check_progress(self, pv: float, now: float) -> None:
        with self._state:
            sp = self._regulating_to_c
            if not self._heater_cmd or sp is None or sp - pv <= self.stale_gap_c:
                self._progress = None
                return
            # keyed on the move's target, not the controller setpoint, so that the
            # steps of a host-side ramp do not restart the clock
            key = self._target_c if self._target_c is not None else sp
            p = self._progress
            if p is None or p["key"] != key:
                self._progress = {"key": key, "last": pv, "changed": now, "best": pv,
                                  "rose": now}
                return
            if pv != p["last"]:
                p["last"], p["changed"] = pv, now
            if pv > p["best"] + RISE_C:
                p["best"], p["rose"] = pv, now
            frozen = now - p["changed"] > self.stale_s
            stalled = now - p["rose"] > self.stale_s
            since = now - (p["changed"] if frozen else p["rose"])
        if frozen:
            self._heater_off_quietly()
            raise SensorFault(self.name, f"probe reading frozen at {pv:.1f} °C for {since:.0f} s "
                              f"while heating toward {sp:g} °C: probe or controller stuck. "
                              "Heating switched off.")
        if stalled:
            self._heater_off_quietly()
            raise InstrumentAlarm(self.name, f"not heating: {pv:.1f} °C, no rise for {since:.0f} s "
                                  f"while regulating to {sp:g} °C (power loss, tripped cut-out, "
                                  "mantle unplugged or too weak?). Heating switched off.")

    # ----------------------------------------------------------- setpoint
    def _read_setpoint(self) -> float:
        return float(self.driver.setpoint_c())

    def _write_setpoint(self, value) -> None:
        target = self._check_target(value)
        with self._control:
            self._write_controller_setpoint(target)
            with self._state:
                self._target_c = target

    def _write_controller_setpoint(self, value_c: float) -> None:
        self.driver.set_setpoint_c(value_c)
        with self._state:
            self._written_sp_c = float(value_c)
            self._regulating_to_c = float(value_c)

    # ----------------------------------------------------------- ramp rate
    def _read_ramp_rate(self) -> float:
        return float(self.ramp_rate._readback)

    def _write_ramp_rate(self, value) -> None:
        if not (math.isfinite(float(value)) and float(value) >= 0):
            raise LimitError(self.name, "ramp_rate", value, (0.0, 1000.0), "degC/min")

    # ----------------------------------------------------------- heater
    def _read_heater_on(self) -> int:
        return int(self._heater_cmd and not self._watchdog_lapsed())

    def _write_heater_on(self, value) -> None:
        if int(value) not in (0, 1):
            raise LimitError(self.name, "heater_on", value, (0, 1))
        if int(value) == 0:
            self._cancel_move()
            with self._control:
                self._switch_off()
        else:
            self._raise_if_tripped()
            with self._control:
                self._switch_on()

    def _switch_on(self) -> None:
        self.driver.start_heating()
        with self._state:
            self._heater_cmd = True
            self._progress = None
        self.heater_on.update_readback(1)

    # ----------------------------------------------------------- watchdog
    def _watchdog_lapsed(self) -> bool:
        if self._wd_period_s > 0 and self.clock.time() - self._wd_last > self._wd_period_s:
            self._wd_tripped = True
        return self._wd_tripped

    @property
    def watchdog_tripped(self) -> bool:
        """True when the controller's watchdog lapsed and switched heating off by itself
        (latched until :meth:`reset_alarm`); no I/O."""
        return self._watchdog_lapsed()

    def _raise_if_tripped(self) -> None:
        if self._watchdog_lapsed():
            raise InstrumentAlarm(self.name, f"the controller's watchdog ({self._wd_period_s:g} s) "
                                  "was not refreshed in time, so it switched heating and "
                                  "stirring off. Call mantle.reset_alarm() before heating again.")

    def _read_watchdog(self) -> float:
        return float(self._wd_period_s)

    def _write_watchdog(self, value) -> None:
        seconds = float(value)
        if seconds == 0:
            self.disarm_watchdog()
        elif not self.arm_watchdog(seconds):
            raise InstrumentError(self.name, f"{type(self.driver).__name__} has no "
                                  "communications watchdog")

    def arm_watchdog(self, seconds: float) -> bool:
        """Arm the controller's communications watchdog; True if the controller has one.

        Heating (and stirring) switch off unless :meth:`refresh_watchdog` is called
        within ``seconds`` (IKA: 20–1500 s).
        """
        if not self.driver.has_watchdog:
            log.warning("%s: %s has no communications watchdog; heating will NOT switch off "
                        "if this computer stops. Use the controller's alarm relay or an "
                        "independent over-temperature cut-out for unattended runs.",
                        self.name, type(self.driver).__name__)
            return False
        self._raise_if_tripped()
        self.driver.arm_watchdog(seconds)
        with self._state:
            self._wd_period_s = float(round(seconds))
            self._wd_last = self.clock.time()
        self.watchdog.update_readback(self._wd_period_s)
        return True

    def refresh_watchdog(self) -> bool:
        """Re-send the watchdog period (must happen within each period); False if not armed."""
        if self._wd_period_s <= 0:
            return False
        self._raise_if_tripped()
        self.driver.arm_watchdog(self._wd_period_s)
        with self._state:
            self._wd_last = self.clock.time()
        return True

    def disarm_watchdog(self) -> bool:
        """Stop the watchdog; False (with a warning) if the controller has none."""
        if not self.driver.has_watchdog:
            log.warning("%s: %s has no communications watchdog to disarm", self.name,
                        type(self.driver).__name__)
            return False
        self.driver.disarm_watchdog()
        with self._state:
            self._wd_period_s = 0.0
        self.watchdog.update_readback(0.0)
        return True

    def reset_alarm(self) -> None:
        """Acknowledge a watchdog trip (IKA: ``RESET``; heating and stirring stay off)."""
        with self._control:
            if hasattr(self.driver, "reset"):
                self.driver.reset()
            with self._state:
                self._wd_tripped = False
                self._wd_period_s = 0.0
                self._heater_cmd = False
        self.watchdog.update_readback(0.0)
        self.heater_on.update_readback(0)

    def _refresh_watchdog_if_due(self, now: float) -> None:
        if self._wd_period_s > 0 and now - self._wd_last > self._wd_period_s / 3.0:
            self.refresh_watchdog()

    # ----------------------------------------------------------- moving
    def _move_timeout_s(self, gap_c: float) -> float:
        ramp = float(self.ramp_rate.get())
        rate = min(ramp, self.timeout_rate_c_min) if ramp > 0 else self.timeout_rate_c_min
        return abs(gap_c) / rate * 60.0 + float(self.settle_time.get()) + MOVE_MARGIN_S

    def _cancel_move(self, success: bool = False) -> None:
        """End the running move: its status succeeds (``success``) or fails."""
        with self._state:
            cancel, self._cancel = self._cancel, None
        if cancel is not None:
            cancel.success = success
            cancel.set()

    def set(self, value, **kwargs):
        """Heat (or cool under regulation) to ``value`` °C; Status done when settled.

        Raises :class:`LimitError` at once for a temperature outside
        ``min_temperature_c … max_temperature``; a watchdog lapse raises
        :class:`InstrumentAlarm` at once.
        """
        target = self._check_target(value)
        self._raise_if_tripped()
        self._cancel_move()
        cancel = _Cancel()
        with self._state:
            self._cancel = cancel
            self._target_c = target
        # wall-clock backstop only (the worker enforces the real deadline): the
        # largest gap at a crawl, so it never fires before the worker's own deadline
        cached_ramp = float(self.ramp_rate._readback)     # no I/O on the RunEngine thread
        crawl = min(BACKSTOP_RATE_C_MIN, cached_ramp) if cached_ramp > 0 else BACKSTOP_RATE_C_MIN
        backstop_s = (self.hard_max_c - self.min_temperature_c) / crawl * 60.0
        return run_in_thread(self, lambda: self._move(target, cancel), clock=self.clock,
                             expected_s=backstop_s + MOVE_MARGIN_S,
                             name=f"{self.name}-heat-to-{target:g}")

    def _move(self, target: float, cancel: _Cancel) -> None:
        clock = self.clock
        tol = float(self.tolerance.get())
        settle = float(self.settle_time.get())
        ramp_c_min = float(self.ramp_rate.get())
        with self._control:
            if self._check_cancel(cancel, target):
                return
            pv0 = self._read_temperature()
            # time the host could not poll (virtual-clock jump, suspended computer) is
            # excused: the deadline catches a mantle that does not heat, not a host that
            # was away; the status's wall backstop bounds the rest
            deadline = Deadline(clock, self._move_timeout_s(target - pv0), min_wall_s=0.0,
                                poll_s=self.poll_s)
            t0 = deadline.start
            self._start_move(target, pv0, ramp_c_min, t0)
            self._switch_on()
        in_band_since = None
        while True:
            now = clock.time()
            with self._control:
                if self._check_cancel(cancel, target):
                    return
                self._refresh_watchdog_if_due(now)
                ramp_done = self._step_ramp(target, now)
                pv = self._read_temperature()
                self.temperature.update_readback(pv, now)
                self._verify_setpoint()
            report_progress(current=pv, initial=pv0, target=target, unit="degC", precision=1)
            if ramp_done and abs(pv - target) <= tol:
                in_band_since = now if in_band_since is None else in_band_since
                if now - in_band_since >= settle:
                    with self._state:
                        self._ramping = False
                    return
            else:
                in_band_since = None
            if deadline.expired(now):
                raise InstrumentTimeout(
                    self.name, f"{target:g} °C not reached within {deadline.allowed_s:.0f} s: "
                    f"probe reads {pv:.1f} °C (tolerance ±{tol:g} °C). Is the probe in the flask and "
                    "the mantle powered? Heating is still on.")
            clock.sleep(self.poll_s)

    def _check_cancel(self, cancel: _Cancel, target: float) -> bool:
        """True if the move was stopped successfully (end it); raise if it was aborted."""
        if not cancel.is_set():
            return False
        with self._state:
            self._ramping = False
        if cancel.success:
            return True
        raise InstrumentError(self.name, f"heating to {target:g} °C was interrupted (safe(), "
                              "heater off or a new set()) before it settled")

    # hooks the controller classes specialise ----------------------------
    def _start_move(self, target: float, pv0: float, ramp_c_min: float, t0: float) -> None:
        """Write the (first) setpoint of a move starting at ``pv0`` °C at time ``t0``."""
        raise NotImplementedError

    def _step_ramp(self, target: float, now: float) -> bool:
        """Advance a ramp; return True once the controller regulates to ``target`` itself."""
        return not self._ramping

    def _verify_setpoint(self) -> None:
        expected = self._written_sp_c
        if expected is None:
            return
        got = float(self.driver.setpoint_c())
        # the controller stores the setpoint at its own resolution
        if abs(got - expected) > max(self.driver.setpoint_resolution_c / 2.0, 1e-3) + 1e-6:
            self._heater_off_quietly()
            raise InstrumentAlarm(self.name, f"controller setpoint reads {got:g} °C but "
                                  f"{expected:g} °C was set: the controller was reset (power "
                                  "loss?) or changed at its front panel. Heating switched off.")

    # ----------------------------------------------------------- stop / safe
    def stop(self, *, success: bool = False) -> None:
        """End a running ``set()`` and hold the current setpoint (heating stays on).

        The RunEngine calls ``stop(success=True)`` at every pause and at the end
        of every run: the move's status then finishes successfully, as an Ophyd
        positioner's does (a failed status would abort the run on resume), and
        the plan re-issues the move from its checkpoint.  ``success=False``
        fails the status.  Use :meth:`safe` (or ``heater_on.set(0)``) to switch
        heating off.
        """
        with self._state:
            ramping = self._ramping
            self._ramping = False
        self._cancel_move(success=success)
        if ramping:
            try:
                self._hold()
            except Exception as exc:  # stop() must not raise into the RunEngine's cleanup
                log.error("%s: could not hold the ramp at its current setpoint: %s",
                          self.name, exc)

    def _hold(self) -> None:
        """Freeze a ramp where it is (the controller classes know how)."""

    def safe(self) -> None:
        """Heating off, whatever else is going on (stirring is left as it is).

        Waits at most ``SAFE_LOCK_WAIT_S`` for a running move to let go, then at
        most that again for the port, plus one driver exchange (a timed-out read
        and its retries); raises if the controller cannot be reached.
        """
        self._cancel_move()
        with self._state:
            self._ramping = False
        got = self._control.acquire(timeout=SAFE_LOCK_WAIT_S)
        try:
            self._switch_off()
        finally:
            if got:
                self._control.release()

    def destroy(self) -> None:
        self._cancel_move()
        super().destroy()


class IkaMantle(Mantle):
    """Mantle on an IKA NAMUR controller: device-side ramp, stirrer, watchdog.

    Extra parameters: ``max_stir_rpm`` (upper limit of ``stir_rpm``).
    """

    stir_rpm = Cpt(HwSignal, getter="_read_stir", setter="_write_stir", units="rpm",
                   kind="normal", value=0.0)
    plate_temperature = Cpt(HwSignalRO, getter="_read_plate", units="degC", kind="normal",
                            value=0.0)

    def __init__(self, driver, *, max_stir_rpm: float = 1500.0, **kwargs):
        super().__init__(driver, **kwargs)
        self.stir_rpm.set_limits(0.0, float(max_stir_rpm))
        self.ramp_rate.put(self._initial_ramp_c_min)   # host-side: nothing to send

    def _start_move(self, target, pv0, ramp_c_min, t0):
        if ramp_c_min > 0 and abs(target - pv0) > 0.05:
            start = round(min(max(pv0, self.min_temperature_c), self.hard_max_c), 1)
            with self._state:
                self._ramping = True
                self._ramp = {"start": start, "t0": t0, "rate_c_s": ramp_c_min / 60.0,
                              "stepped": t0}
            self._write_controller_setpoint(start)
        else:
            with self._state:
                self._ramping = False
            self._write_controller_setpoint(target)

    def _step_ramp(self, target, now):
        if not self._ramping:
            return True
        r = self._ramp
        span = target - r["start"]
        travelled = r["rate_c_s"] * (now - r["t0"])
        if travelled >= abs(span):
            self._write_controller_setpoint(target)
            with self._state:
                self._ramping = False
            return True
        if now - r["stepped"] >= self.ramp_step_s:
            sp = round(r["start"] + math.copysign(travelled, span), 1)
            if sp != self._written_sp_c:
                self._write_controller_setpoint(sp)
            r["stepped"] = now
        return False

    def _hold(self):
        pass  # the controller already holds the last ramp step we wrote

    def _read_stir(self) -> float:
        return float(self.driver.stir_speed_rpm())

    def _write_stir(self, value) -> None:
        rpm = float(value)
        with self._control:
            if rpm <= 0:
                self.driver.stop_stirring()
            else:
                self.driver.set_stir_rpm(rpm)
                self.driver.start_stirring()

    def _read_plate(self) -> float:
        return float(self.driver.plate_temperature_c())


class EurothermMantle(Mantle):
    """Mantle on a Eurotherm 3216 / 2416: controller-side ramp, no stirrer, no watchdog."""

    output = Cpt(HwSignalRO, getter="_read_output", units="%", kind="normal", value=0.0)
    working_setpoint = Cpt(HwSignalRO, getter="_read_wsp", units="degC", kind="normal",
                           value=0.0)

    def _read_ramp_rate(self) -> float:
        return float(self.driver.ramp_rate_c_min())

    def _write_ramp_rate(self, value) -> None:
        super()._write_ramp_rate(value)
        with self._control:
            self.driver.set_ramp_rate_c_min(float(value))

    def _read_heater_on(self) -> int:
        on = bool(self.driver.heater_on())
        with self._state:
            self._heater_cmd = on
        return int(on)

    def _read_output(self) -> float:
        return float(self.driver.output_percent())

    def _read_wsp(self) -> float:
        return float(self.driver.working_setpoint_c())

    def _start_move(self, target, pv0, ramp_c_min, t0):
        with self._state:
            self._ramping = ramp_c_min > 0
        self._write_controller_setpoint(target)
        with self._state:
            # the controller ramps from the probe temperature: judge progress against
            # its working setpoint, read every poll in _verify_setpoint
            self._regulating_to_c = pv0 if ramp_c_min > 0 else target

    def _verify_setpoint(self):
        super()._verify_setpoint()
        if self._ramping:
            wsp = float(self.driver.working_setpoint_c())
            with self._state:
                self._regulating_to_c = wsp
                written = self._written_sp_c
                if written is None or abs(wsp - written) < 0.05:
                    self._ramping = False

    def _hold(self):
        with self._control:
            wsp = float(self.driver.working_setpoint_c())
            self._write_controller_setpoint(wsp)
