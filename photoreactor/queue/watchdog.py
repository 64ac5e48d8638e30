"""Hardware watchdogs for unattended runs: arm them, keep them fed, let them bite.

If the orchestrating process dies (killed, crashed, the computer loses power),
nothing on the host can switch the heater off.  The controllers can: the IKA
switches heating and stirring off when its communications watchdog
(``OUT_WD1@s``) is not refreshed within ``s`` seconds, a New Era pump in safe
mode stops when it hears nothing for ``s`` seconds.  :class:`WatchdogKeeper`
arms these watchdogs at the start of an unattended session and refreshes them
from a thread on the session clock, so they only ever bite when the host is gone.

Decisions
---------
* **Which devices**: any device with ``has_watchdog`` true (heating
  controllers) or ``watchdog_supported`` true (pumps) is armed; the other
  devices that heat, pump or shine are listed in
  :attr:`WatchdogKeeper.unprotected` with a warning (a Eurotherm 3216 and the
  Thorlabs LED drivers have no communications watchdog: use the controller's
  alarm relay, the LED driver's interlock or an independent cut-out for
  overnight runs).
* **Periods**: ``heater_s`` (default 600 s; IKA accepts 20–1500 s) and
  ``pump_s`` (default 255 s, the New Era maximum).  Long periods make the
  watchdog robust to a loaded computer; short ones stop the hardware sooner.
  A simulated session at 1000× turns 255 s into a quarter of a wall second;
  its virtual clock does not count a stall of the host beyond 0.1 s of wall
  time (:mod:`photoreactor.sim_devices.clock`), so a loaded machine that
  pauses the process does not trip the emulated controllers.
* **Refresh** every ``refresh_fraction`` (¼) of the shortest period, on the
  session clock.  A pump that is dosing is skipped: its own status polls keep
  its watchdog fed, and a refresh must not acknowledge a stall alarm the dose
  is about to report.
* **A plan's sleep must not starve the watchdog**: on a virtual clock a
  ``bps.sleep(3600)`` jumps an hour at once and the controllers would trip
  (as they would on the bench if nobody refreshed them for an hour).  The
  unattended sleep handler (:mod:`.sleep`) therefore advances the clock in
  slices of at most :attr:`WatchdogKeeper.max_jump_s` and calls
  :meth:`WatchdogKeeper.refresh` between slices — what the keeper thread
  does in real time.
* **A controller that comes back from a power cut** has lost its watchdog
  (IKA and New Era power up with it off): the New Era reports alarm ``R``,
  after which the pump is re-armed; the IKA is re-armed by every refresh anyway
  (a refresh re-sends ``OUT_WD1@s``).
* **Armed while a plan runs.**  The unattended session arms the watchdogs at
  the start of every plan and, at its end, disarms them again if nothing is
  left heating or pumping (:meth:`WatchdogKeeper.release`); a plan that
  leaves the heater on keeps them armed.  Idle, everything is off and there is
  nothing to guard — and a simulated controller cannot tell a dead host from
  one busy for a wall second importing a library (at 1000× a second is 17
  virtual minutes), so keeping them armed through the queue server's own
  start-up would only produce false trips.
* **Orderly shutdown** disarms the watchdogs *after* the session made the
  devices safe, so that the next session does not find a latched IKA error.
  A plan that starts after a lapse finds the IKA tripped (error 2 latched,
  heating refused): :meth:`WatchdogKeeper.arm` acknowledges it (``RESET`` —
  heating and stirring stay off) before arming again.
* Refresh failures never raise: they are recorded in :attr:`WatchdogKeeper.errors`,
  logged, and reported once per episode through ``on_event`` (the
  notification hook).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ._clockwait import wait_on_clock

log = logging.getLogger(__name__)

#: pump ``state`` values during which the dose's own polls feed the watchdog
MOVING_STATES = frozenset({"starting", "infusing", "withdrawing"})


def pump_moving(pump) -> bool:
    """Whether a pump device is running a move (no I/O).

    The device's ``state`` signal is not reliable for this: it keeps saying
    ``infusing``/``withdrawing`` after a move that completed normally (reported;
    the move's ``else: state = idle`` is skipped by its ``return``).  Its
    ``_moving`` flag is cleared in a ``finally`` and is; a public ``moving``
    attribute is preferred if the device gains one.
    """
    for attr in ("moving", "_moving"):
        flag = getattr(pump, attr, None)
        if isinstance(flag, bool):
            return flag
    try:
        return pump.state.get() in MOVING_STATES
    except Exception:
        return True          # cannot tell: leave it to the move's own polls


def _kind(dev) -> str | None:
    """``"heater"``, ``"pump"`` or None (no watchdog) for a device."""
    if getattr(dev, "has_watchdog", False) is True:
        return "heater"
    if getattr(dev, "watchdog_supported", False) is True:
        return "pump"
    return None


def _needs_watchdog(dev) -> bool:
    """Devices that keep heating, pumping or shining on their own if the host dies.

    A light source has an ``output`` switch next to its ``irradiance``; a power meter
    only reads irradiance and is not one.
    """
    shines = hasattr(dev, "irradiance") and hasattr(dev, "output")
    return shines or hasattr(dev, "heater_on") or hasattr(dev, "dispensed")


class WatchdogKeeper:
    """Arms the controllers' own watchdogs and refreshes them on the session clock.

    Parameters
    ----------
    devices : dict
        Session devices by name.
    clock : Clock
        The session clock (virtual or wall).
    heater_s, pump_s : float
        Watchdog periods (controller seconds) for heating controllers and pumps.
    refresh_fraction : float
        Refresh every this fraction of the shortest armed period.
    on_event : callable, optional
        ``on_event(kind, message)`` for watchdog problems (``kind`` is
        ``"watchdog"``); the unattended set-up passes the notifier.
    """

    def __init__(self, devices: dict, clock, *, heater_s: float = 600.0, pump_s: float = 255.0,
                 refresh_fraction: float = 0.25,
                 on_event: Callable[[str, str], None] | None = None):
        if not 0 < refresh_fraction <= 0.5:
            raise ValueError(f"refresh_fraction must be in (0, 0.5], got {refresh_fraction!r}: "
                             "a watchdog refreshed less often than twice per period trips on "
                             "the first delay")
        self.devices = dict(devices)
        self.clock = clock
        self.periods_s = {"heater": float(heater_s), "pump": float(pump_s)}
        self.refresh_fraction = float(refresh_fraction)
        self.on_event = on_event
        #: device name -> watchdog period it gets when armed (s)
        self.candidates: dict[str, float] = {
            name: self.periods_s[_kind(dev)] for name, dev in self.devices.items()
            if _kind(dev) is not None}
        #: devices that keep heating, pumping or shining with nothing to stop them if the
        #: host dies (no watchdog of their own)
        self.unprotected: list[str] = [name for name, dev in self.devices.items()
                                       if _kind(dev) is None and _needs_watchdog(dev)]
        for name in self.unprotected:
            log.warning("%s has no communications watchdog: if this computer stops during an "
                        "unattended run, nothing switches it off (use an interlock or an "
                        "independent cut-out)", name)
        #: device name -> armed period (s)
        self.armed: dict[str, float] = {}
        #: device name -> last refresh error (cleared by the next good refresh)
        self.errors: dict[str, str] = {}
        self.refreshes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ arming
    @property
    def interval_s(self) -> float:
        """Session-clock seconds between refreshes (inf when no device has a watchdog)."""
        if not self.candidates:
            return float("inf")
        return min(self.candidates.values()) * self.refresh_fraction

    @property
    def max_jump_s(self) -> float:
        """Longest virtual-clock jump that cannot starve a watchdog once armed."""
        return self.interval_s

    def arm(self) -> dict[str, str]:
        """Arm every watchdog the devices offer; return ``{device: what happened}``."""
        report = {name: "no watchdog" for name in self.unprotected}
        for name, period in self.candidates.items():
            dev = self.devices[name]
            try:
                if _kind(dev) == "heater" and hasattr(dev, "reset_alarm"):
                    # an earlier lapse left the IKA latched (error 2: heating refused);
                    # acknowledging it switches nothing on
                    dev.reset_alarm()
                dev.arm_watchdog(period)
            except Exception as exc:
                self.errors[name] = f"{type(exc).__name__}: {exc}"
                report[name] = f"NOT armed: {self.errors[name]}"
                self._event(f"{name}: could not arm the watchdog ({period:g} s): {exc}")
                continue
            with self._lock:
                self.armed[name] = period
            self.errors.pop(name, None)
            report[name] = f"armed {period:g} s"
        if self.armed:
            log.info("watchdogs armed: %s (refresh every %.0f s)",
                     ", ".join(f"{k} {v:g} s" for k, v in self.armed.items()), self.interval_s)
        return report

    def idle(self) -> bool:
        """True when no device is heating or pumping (the watchdogs have nothing to guard)."""
        for dev in self.devices.values():
            try:
                if hasattr(dev, "heater_on") and int(dev.heater_on.get()):
                    return False
                if hasattr(dev, "dispensed") and pump_moving(dev):
                    return False
            except Exception:
                return False     # cannot tell: keep guarding
        return True

    def release(self) -> bool:
        """Disarm at the end of a plan if nothing is left on; True if disarmed.

        A plan left the heater on (an expert's bare ``heat_to``): the watchdogs
        stay armed and fed until something switches it off.
        """
        if not self.armed or not self.idle():
            return False
        self.disarm()
        return True

    def disarm(self) -> None:
        """Disarm every armed watchdog (orderly shutdown, after the devices were made safe)."""
        with self._lock:
            names = list(self.armed)
            self.armed.clear()
        for name in names:
            try:
                self.devices[name].disarm_watchdog()
            except Exception as exc:  # the controller will trip by itself: that is safe too
                log.warning("%s: could not disarm the watchdog (it will switch the device off "
                            "when it lapses): %s", name, exc)

    # ------------------------------------------------------------------ feeding
    def refresh(self) -> None:
        """Refresh every armed watchdog now; never raises."""
        with self._lock:
            armed = dict(self.armed)
        for name, period in armed.items():
            dev = self.devices[name]
            try:
                if _kind(dev) == "pump":
                    self._refresh_pump(name, dev, period)
                else:
                    dev.refresh_watchdog()
            except Exception as exc:
                self._failed(name, exc)
            else:
                if self.errors.pop(name, None) is not None:
                    log.info("%s: watchdog refreshed again", name)
        self.refreshes += 1

    def _refresh_pump(self, name: str, pump, period: float) -> None:
        from photoreactor.devices.pump.base import PumpAlarm

        if pump_moving(pump):
            return
        try:
            pump.refresh_watchdog()
        except PumpAlarm as alarm:
            if alarm.code == "R":
                # the pump was reset (power cut): it came back without its watchdog
                pump.arm_watchdog(period)
                self._event(f"{name}: pump was reset (power loss?); watchdog re-armed "
                            f"({period:g} s)")
                return
            raise

    def _failed(self, name: str, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        first = name not in self.errors
        self.errors[name] = text
        # once per episode: a tripped controller fails every refresh until it is reset
        (log.error if first else log.debug)("%s: watchdog refresh failed: %s", name, text)
        if first:
            self._event(f"{name}: watchdog refresh failed: {text}")

    def _event(self, message: str) -> None:
        if self.on_event is not None:
            try:
                self.on_event("watchdog", message)
            except Exception as exc:  # a notification problem must not stop the keeper
                log.error("watchdog notification failed: %s", exc)

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        """Refresh (whatever is armed) from a daemon thread until :meth:`stop`."""
        if self._thread is not None or not self.candidates:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="watchdog-keeper")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            if not wait_on_clock(self.clock, self.interval_s, self._stop):
                break

    def stop(self, *, disarm: bool = True) -> None:
        """End the thread; ``disarm=False`` leaves the watchdogs armed (they will bite)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if disarm:
            self.disarm()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


__all__ = ["WatchdogKeeper", "MOVING_STATES", "pump_moving"]
