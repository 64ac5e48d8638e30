"""The Ophyd face of a syringe pump: doses with reagent bookkeeping, limits and alarms.

``pump.set(volume_ml)`` infuses (positive) into the flask or withdraws (negative)
from it, returning at once a Status finished from a worker thread when the pump
reports *stopped* and its own dispensed reading has reached the volume.  Any
model whose driver implements :class:`~.base.SyringePumpDriver` works; the
profile classes ``NE1000Pump`` and ``C3000Pump`` are thin subclasses.

Before anything moves
---------------------
* a dose larger than the reagent left in the syringe → :class:`ReagentError`
  (the message names the reagent, the dose and what is left);
* a withdrawal that would overfill the syringe, a rate outside
  ``(pump minimum, max_rate_ml_min)`` or a volume the pump cannot resolve →
  :class:`LimitError`;
* a second ``set`` while a move runs → :class:`RuntimeError`.

While moving
------------
The worker polls the pump every ``poll_s`` device-clock seconds (fewer for
short doses), pushing the signed moved volume into ``dispensed`` and the
reagent left into ``remaining``.  A stall, power loss or watchdog alarm fails
the Status with :class:`~.base.PumpAlarm` (an ``InstrumentAlarm``); a pump that
stops short of the volume without an alarm fails it with an
``InstrumentAlarm`` too; no progress within the expected time plus a margin
(a :class:`~photoreactor.devices.common.status.Deadline`: that device-clock
budget, then two wall seconds of grace, so a busy host cannot trip it) fails it
with ``InstrumentTimeout`` after a best-effort stop.  ``stop()``
(RunEngine pause/abort) and ``safe()`` stop the pump and fail a running Status
with :class:`PumpStopped`.

Decisions
---------
* ``dispensed`` is signed like ``set``: +mL infused, −mL withdrawn in the last
  or current move.
* ``remaining`` counts the *reagent* left; withdrawn liquid (an aliquot) is
  tracked separately as syringe contents, which limit further withdrawals to the
  syringe's capacity.  An aliquot pump is configured with an empty syringe
  (``reagent: {name: aliquot, volume_ml: 0}``).
* Reagent bookkeeping uses the pump's own reading after the move (also after an
  alarm, read again once the alarm is acknowledged), never the requested volume.
* A move whose start fails half-way (e.g. the reply to ``RUN`` is lost) is
  followed by a best-effort stop, because the pump may be running.
* Up to three consecutive failed polls are tolerated (the driver already
  retries each query); then the pump is stopped best-effort and the Status fails.
"""

from __future__ import annotations

import logging
import math
import threading

from ophyd import Component as Cpt
from ophyd import Device
from ophyd.status import Status

from photoreactor.devices.common.errors import (
    InstrumentAlarm,
    InstrumentError,
    InstrumentTimeout,
    LimitError,
    ReagentError,
)
from photoreactor.devices.common.signals import HwSignal, HwSignalRO, SoftSignal
from photoreactor.devices.common.status import Deadline, report_progress, run_in_thread

from .base import PumpAlarm, PumpReagent, SyringePumpDriver

log = logging.getLogger(__name__)

#: device-clock seconds added to every move's deadline (start-up, slow polls)
MOVE_MARGIN_S = 30.0
#: consecutive failed polls tolerated during a move
MAX_POLL_FAILURES = 3
#: read timeout (wall s) for the stop sent by safe()
SAFE_TIMEOUT_S = 0.3


class PumpStopped(InstrumentError):
    """A move was interrupted by ``stop()``/``safe()`` before reaching its volume."""


class SyringePump(Device):
    """A syringe pump carrying one reagent.

    Parameters
    ----------
    driver : SyringePumpDriver
        The model's driver (already holding its transport).
    clock : Clock
        Device clock (wall or virtual): deadlines, polls and timestamps.
    name : str
        Device name (= session variable name, e.g. ``"pump_cd"``).
    syringe_volume_ml : float
        Nominal syringe volume (mL).
    reagent : PumpReagent
        What the syringe holds at the start (``reagent.volume_ml`` loaded).
    max_rate_ml_min : float, optional
        Highest rate this setup may use (tubing, chemistry); default: the pump's.
    poll_s : float
        Device-clock seconds between status polls during a move.
    """

    safe_order = 30

    rate = Cpt(HwSignal, getter="_read_rate", setter="_write_rate", units="mL/min",
               kind="normal", value=0.0)
    dispensed = Cpt(HwSignalRO, getter="_read_dispensed", units="mL", kind="hinted", value=0.0)
    remaining = Cpt(SoftSignal, units="mL", kind="normal", value=0.0)
    diameter = Cpt(HwSignal, getter="_read_diameter", setter="_write_diameter", units="mm",
                   kind="config", value=0.0)
    syringe_volume = Cpt(SoftSignal, units="mL", kind="config", value=0.0)
    max_rate = Cpt(SoftSignal, units="mL/min", kind="config", value=0.0)
    reagent_name = Cpt(SoftSignal, kind="config", value="")
    species = Cpt(SoftSignal, kind="config", value="")
    concentration = Cpt(SoftSignal, units="mol/L", kind="config", value=0.0)
    state = Cpt(SoftSignal, kind="omitted", value="idle")

    def __init__(self, driver: SyringePumpDriver, clock, *, name: str, syringe_volume_ml: float,
                 reagent: PumpReagent, max_rate_ml_min: float | None = None,
                 poll_s: float = 1.0, **kwargs):
        self.clock = clock
        self.driver = driver
        self.poll_s = float(poll_s)
        self.syringe_volume_ml = float(syringe_volume_ml)
        if reagent.volume_ml > self.syringe_volume_ml + 1e-9:
            raise ValueError(f"{name}: reagent volume {reagent.volume_ml} mL exceeds the "
                             f"{self.syringe_volume_ml} mL syringe")
        self.reagent = reagent
        self._max_rate_cfg = None if max_rate_ml_min is None else float(max_rate_ml_min)
        self._rate_ml_min = 0.0
        self._remaining_ml = reagent.volume_ml
        self._contents_ml = reagent.volume_ml
        self._moving = False
        self._move_lock = threading.Lock()
        self._cancel = threading.Event()
        self._last_signed_ml = 0.0
        self._sign = 1.0
        super().__init__(name=name, **kwargs)
        self.syringe_volume.put(self.syringe_volume_ml)
        self._publish_reagent()
        self._publish_remaining()

    # -- set-up -----------------------------------------------------------
    def connect(self, *, diameter_mm: float | None = None,
                rate_ml_min: float | None = None) -> str:
        """Talk to the pump: identify it, program the syringe and the rate.

        Returns the pump's identity string.  Called by the builder.
        """
        ident = self.driver.connect()
        if diameter_mm is not None:
            self.driver.set_diameter_mm(float(diameter_mm))
            self.diameter.update_readback(float(diameter_mm))
        lo, hi = self._rate_limits()
        self.rate.set_limits(lo, hi)
        self.max_rate.put(hi)
        contents = self.driver.syringe_contents_ml()
        if contents is not None and abs(contents - self._contents_ml) > 1e-6:
            log.warning("%s: the pump reports %.4g mL in the syringe, the profile says %.4g mL; "
                        "using the pump's reading", self.name, contents, self._contents_ml)
            self._contents_ml = contents
            self._remaining_ml = min(self._remaining_ml, contents)
            self._publish_remaining()
        if rate_ml_min is not None:
            self.rate.put(float(rate_ml_min))
        else:
            current = self.driver.rate_ml_min()
            self._rate_ml_min = current
            self.rate.update_readback(current)
        return ident

    def _rate_limits(self) -> tuple[float, float]:
        lo, hi = self.driver.rate_range_ml_min()
        if self._max_rate_cfg is not None:
            hi = min(hi, self._max_rate_cfg)
        return lo, hi

    # -- signal hooks -----------------------------------------------------
    def _read_rate(self) -> float:
        return self.driver.rate_ml_min()

    def _write_rate(self, rate_ml_min: float) -> None:
        if self._moving:
            raise InstrumentError(self.name, "cannot change the rate during a move")
        self._rate_ml_min = self.driver.set_rate_ml_min(float(rate_ml_min))

    def _read_diameter(self) -> float:
        return self.driver.diameter_mm()

    def _write_diameter(self, diameter_mm: float) -> None:
        if self._moving:
            raise InstrumentError(self.name, "cannot change the syringe diameter during a move")
        self.driver.set_diameter_mm(float(diameter_mm))
        lo, hi = self._rate_limits()
        self.rate.set_limits(lo, hi)
        self.max_rate.put(hi)

    def _read_dispensed(self) -> float:
        if self._moving:
            return self._last_signed_ml   # the mover polls; don't double the traffic
        state = self.driver.poll()
        return self._sign * state.moved_ml

    # -- reagent ----------------------------------------------------------
    def _publish_reagent(self) -> None:
        self.reagent_name.put(self.reagent.name)
        self.species.put(self.reagent.species)
        self.concentration.put(self.reagent.concentration_mol_l)

    def _publish_remaining(self) -> None:
        self.remaining.put(max(0.0, self._remaining_ml))

    @property
    def contents_ml(self) -> float:
        """Liquid in the syringe (reagent plus anything withdrawn), mL."""
        return self._contents_ml

    def moles_to_ml(self, mol: float) -> float:
        """Volume of this pump's reagent holding ``mol`` moles of its species."""
        c = self.reagent.concentration_mol_l
        if not c > 0:
            raise ReagentError(f"{self.name}: {self.reagent.name!r} has no concentration of "
                               f"{self.reagent.species!r}; cannot convert moles to mL")
        return float(mol) / c * 1000.0

    @property
    def moving(self) -> bool:
        """True while a move is in progress (watchdog keepers and guards ask this)."""
        return self._moving

    def load_syringe(self, volume_ml: float, reagent: PumpReagent | None = None) -> None:
        """Record a manual syringe (re)fill: ``volume_ml`` of ``reagent`` (default: same)."""
        if self._moving:
            raise RuntimeError(f"{self.name}: cannot reload the syringe during a move")
        if not 0 <= volume_ml <= self.syringe_volume_ml:
            raise LimitError(self.name, "loaded volume", volume_ml, (0, self.syringe_volume_ml), "mL")
        if reagent is not None:
            self.reagent = reagent
            self._publish_reagent()
        self._remaining_ml = self._contents_ml = float(volume_ml)
        self._publish_remaining()

    # -- motion -----------------------------------------------------------
    def check_move(self, volume_ml: float) -> None:
        """Raise (ReagentError / LimitError) if ``volume_ml`` cannot be moved now."""
        v = float(volume_ml)
        if not math.isfinite(v):
            raise LimitError(self.name, "volume", volume_ml, "(finite)", "mL")
        tol = self.driver.volume_resolution_ml(v) if v else 0.0
        if v > 0 and v > self._remaining_ml + tol:
            raise ReagentError(
                f"{self.name}: dose of {v:.4g} mL of {self.reagent.name!r} needs more than the "
                f"{max(self._remaining_ml, 0.0):.4g} mL left in the syringe; refill it "
                f"(load_syringe) or use a smaller dose")
        if v < 0 and self._contents_ml - v > self.syringe_volume_ml + tol:
            free = self.syringe_volume_ml - self._contents_ml
            raise LimitError(self.name, "withdrawal volume", -v, (0.0, round(free, 6)), "mL")
        if self._rate_ml_min <= 0:
            raise LimitError(self.name, "rate", self._rate_ml_min, self.rate.limits, "mL/min")
        self.driver.check_move(v, self._rate_ml_min)

    def _claim_move(self) -> None:
        """Mark the pump as moving, or refuse if a dose, refill or homing is under way."""
        with self._move_lock:
            if self._moving:
                raise RuntimeError(f"{self.name}: a move is already in progress")
            self._moving = True

    def set(self, volume_ml: float, **kwargs) -> Status:
        """Move ``volume_ml`` (positive: infuse into the flask; negative: withdraw).

        Returns a Status finished when the pump has stopped with the volume
        reached; it fails with ``PumpAlarm``/``InstrumentAlarm`` on a stall or
        other alarm, ``InstrumentTimeout`` when the pump stops answering or
        makes no progress in time, ``PumpStopped`` after ``stop()``/``safe()``.
        """
        v = float(volume_ml)
        if v == 0:  # nothing to move: a finished status, no traffic
            st = Status(self, timeout=1)
            st.set_finished()
            return st
        self.check_move(v)
        self._claim_move()
        self._cancel.clear()
        rate = self._rate_ml_min
        expected_s = abs(v) / rate * 60.0
        budget_s = expected_s * 1.25 + MOVE_MARGIN_S
        try:
            return run_in_thread(self, lambda: self._move(v, rate, expected_s, budget_s),
                                 clock=self.clock, expected_s=budget_s, name=f"{self.name}-move")
        except BaseException:
            self._moving = False
            raise

    def _move(self, volume_ml: float, rate_ml_min: float, expected_s: float,
              budget_s: float) -> None:
        sign = 1.0 if volume_ml > 0 else -1.0
        start_remaining, start_contents = self._remaining_ml, self._contents_ml
        moved = 0.0

        def account(moved_ml: float) -> None:
            self._last_signed_ml = sign * moved_ml
            self.dispensed.update_readback(sign * moved_ml)
            if sign > 0:
                self._remaining_ml = start_remaining - moved_ml
                self._contents_ml = start_contents - moved_ml
            else:
                self._contents_ml = start_contents + moved_ml
            self._publish_remaining()

        silent = [False]           # the pump stopped answering: no point asking again
        target_box = [abs(volume_ml)]
        last_poll = [self.clock.time()]
        try:
            self._sign = sign
            account(0.0)
            self.state.put("starting")
            try:
                commanded = self.driver.start_move(volume_ml, rate_ml_min)
            except BaseException:
                self._best_effort_stop()
                raise
            target = target_box[0] = abs(commanded)
            tol = self.driver.volume_resolution_ml(commanded)
            self.state.put("infusing" if sign > 0 else "withdrawing")
            poll_s = max(min(self.poll_s, expected_s / 20.0), 0.02)
            deadline = Deadline(self.clock, budget_s)
            failures = 0
            while True:
                if self._cancel.is_set():
                    raise PumpStopped(self.name, f"move stopped before reaching {target:.4g} mL")
                try:
                    state = self.driver.poll()
                except PumpAlarm:
                    raise
                except InstrumentError:
                    failures += 1
                    if failures >= MAX_POLL_FAILURES:
                        silent[0] = True
                        self._best_effort_stop()
                        raise
                    self.clock.sleep(poll_s)
                    continue
                failures = 0
                last_poll[0] = self.clock.time()
                moved = max(moved, state.moved_ml)
                account(moved)
                report_progress(current=moved, initial=0.0, target=target, unit="mL",
                                precision=3, time_remaining=max(0.0, (target - moved)
                                                                / rate_ml_min * 60.0))
                if not state.moving:
                    if target - moved <= tol:
                        return
                    if self._cancel.is_set():
                        raise PumpStopped(self.name, f"move stopped after {moved:.4g} of "
                                          f"{target:.4g} mL")
                    raise InstrumentAlarm(
                        self.name, f"pump stopped ({state.status}) after {moved:.4g} of "
                        f"{target:.4g} mL without an alarm (keypad stop? check the pump)")
                if deadline.expired():
                    self._best_effort_stop()
                    raise InstrumentTimeout(
                        self.name, f"dose of {target:.4g} mL at {rate_ml_min:.4g} mL/min not "
                        f"finished within {budget_s:.0f} s (moved {moved:.4g} mL)")
                self.clock.sleep(poll_s)
        except PumpAlarm as alarm:
            if not self.driver.move_commanded:
                # an alarm pending from before (acknowledged by this attempt): nothing moved
                self.state.put("alarm")
                raise
            if alarm.moved_ml is not None:
                moved = max(moved, alarm.moved_ml)
            # the alarm is acknowledged now: read the pump's own count once more
            try:
                moved = max(moved, self.driver.poll().moved_ml)
            except Exception:  # the reading after an alarm is a bonus, not a requirement
                pass
            if alarm.counters_lost:
                # a reset wiped the pump's counters: the alarm struck somewhere since the
                # last poll; book the upper bound so the syringe is never thought fuller
                bound = min(target_box[0], moved + rate_ml_min / 60.0
                            * max(0.0, self.clock.time() - last_poll[0]))
                log.warning("%s: pump reset during a move; between %.4g and %.4g mL moved, "
                            "booking %.4g mL", self.name, moved, bound, bound)
                moved = bound
            account(moved)
            self.state.put("alarm")
            raise
        except BaseException:
            # book what the pump itself says moved (stop, timeout ...) if it still answers
            if not silent[0] and self.driver.move_commanded:
                try:
                    moved = max(moved, self.driver.poll().moved_ml)
                    account(moved)
                except Exception:  # the original failure is what the plan must see
                    pass
            self.state.put("error")
            raise
        finally:
            self._moving = False
            if self.state.get() in ("infusing", "withdrawing"):
                # a completed move returns from inside the loop: the else branch never ran
                self.state.put("idle")

    def _best_effort_stop(self) -> None:
        try:
            self.driver.stop(timeout_s=SAFE_TIMEOUT_S)
        except Exception as exc:  # the original failure is what the plan must see
            log.error("%s: could not stop the pump: %s", self.name, exc)

    def stop(self, *, success: bool = False) -> None:
        """Stop pumping (RunEngine pause/abort); a running Status fails with PumpStopped."""
        self._cancel.set()
        self._best_effort_stop()

    def safe(self) -> None:
        """Stop the pump within a few seconds, raising if it cannot be reached."""
        self._cancel.set()
        self.driver.stop(timeout_s=SAFE_TIMEOUT_S)
        self.state.put("stopped (safe)")

    # -- watchdog -----------------------------------------------------------
    @property
    def watchdog_supported(self) -> bool:
        return self.driver.watchdog_supported

    def arm_watchdog(self, seconds: float) -> None:
        """The pump stops by itself if the host is silent for ``seconds`` (New Era safe mode)."""
        self.driver.arm_watchdog(seconds)

    def refresh_watchdog(self) -> None:
        """Tell the pump the host is alive (resets its watchdog timer)."""
        self.driver.refresh_watchdog()

    def disarm_watchdog(self) -> None:
        self.driver.disarm_watchdog()


class NE1000Pump(SyringePump):
    """New Era NE-1000 / NE-500 family pump (driver :class:`~.newera.NE1000Driver`)."""


class C3000Pump(SyringePump):
    """Tricontinent C3000 syringe pump (driver :class:`~.c3000.C3000Driver`).

    Adds :meth:`refill` from the reservoir port and :meth:`initialize`.
    """

    def refill(self, volume_ml: float) -> Status:
        """Draw ``volume_ml`` of the reagent from the reservoir port into the syringe."""
        v = float(volume_ml)
        if not v > 0 or self._contents_ml + v > self.syringe_volume_ml + 1e-9:
            raise LimitError(self.name, "refill volume", v,
                             (0.0, round(self.syringe_volume_ml - self._contents_ml, 6)), "mL")
        if self._contents_ml - self._remaining_ml > 1e-9:
            raise ReagentError(f"{self.name}: the syringe holds withdrawn liquid; empty it "
                               "before refilling with reagent")
        self._claim_move()
        self._cancel.clear()
        rate = self._rate_ml_min
        budget = v / rate * 60.0 * 1.25 + MOVE_MARGIN_S

        def work():
            try:
                loaded = self.driver.refill(v, rate, cancel=self._cancel, clock=self.clock,
                                            timeout_s=budget)
                self._remaining_ml += loaded
                self._contents_ml += loaded
                self._publish_remaining()
                if self._cancel.is_set():
                    raise PumpStopped(self.name, f"refill stopped after {loaded:.4g} of {v:.4g} mL")
            finally:
                self._moving = False

        return run_in_thread(self, work, clock=self.clock, expected_s=budget,
                             name=f"{self.name}-refill")

    def initialize(self) -> Status:
        """Home the plunger and valve (empties the syringe to the reservoir port)."""
        self._claim_move()

        def work():
            try:
                self.driver.initialize(clock=self.clock, timeout_s=60.0)
                self._remaining_ml = self._contents_ml = 0.0
                self._publish_remaining()
            finally:
                self._moving = False

        return run_in_thread(self, work, clock=self.clock, expected_s=60.0,
                             name=f"{self.name}-init")
