"""Suspenders for unattended runs: pause on a fault, resume when it clears, or abort safe.

Three guards watch the reactor while a plan runs:

``temperature``  the flask is more than ``band_c`` away from the mantle's setpoint
                 (armed only once the flask has reached that setpoint with the
                 heater on, so a heat-up or a cool-down never trips it), or the
                 controller's watchdog switched the heating off while it was armed
                 (a plan switching it off is a cool-down; a lapse is not);
``light``        an LED protection flag is set (interlock open, head or driver
                 over-temperature) or the LED driver stopped answering;
``pumps``        an idle pump reports an alarm (reset after a power cut, ...)
                 or stopped answering.  A pump that fails *during* a dose fails
                 the dose's status, and with it the plan, by itself.

Each guard is a :class:`bluesky.suspenders.SuspenderBase`: when it trips, the
RunEngine suspends the plan — every device the plan moved is stopped (the
mantle keeps regulating at its setpoint, a running dose stops) and every device
it used is paused (the LED switches its light off and restores it on resume).
The guard then waits, on the session clock, for the condition to be normal for
``resume_after_s``; the plan resumes by repeating the step that was interrupted
(see below).  If the condition is still abnormal after ``max_suspend_s`` the
plan raises :class:`SuspensionTimeout`: the experiment wrapper drives the
reactor to its safe state and the run closes with ``exit_status: fail`` and
the reason.  Every suspension, resumption and abort is sent to the
notification hook.

Why a poller
------------
Bluesky suspenders subscribe to a signal, but this project's hardware signals
fire their subscriptions only when written or pushed (reading an instrument
from ``get()`` must not run callbacks).  :class:`SignalPoller` therefore reads
the instruments on the session clock (every ``poll_s``, and never more often
than every ``min_wall_s`` of wall time) and ``put``\\ s the result into plain
Ophyd signals (``guard_temperature_c``, ``guard_light_trips``,
``guard_pump_alarms``) to which the suspenders subscribe.  On a virtual clock
the unattended sleep handler also polls between the slices of a long
``bps.sleep``, so a fault during a simulated night is seen at the right time.

Resuming without repeating a dose
---------------------------------
Bluesky resumes a suspended plan by replaying every message since the last
``checkpoint``.  The project's plans have none, so by default a resumed plan
would repeat everything from its start — every dose again.  The preprocessor
:meth:`StepTracker.wrap` (installed on the RunEngine) inserts a checkpoint
before each *step* of a plan: a ``set``/``trigger`` group up to its ``wait``,
a ``create``…``save`` event, a ``sleep``, a read.  A resumed plan therefore
repeats only the step it was in — a heat-up is re-issued, a measurement taken
again, the interrupted ``sleep`` waits only for the time it had left.  A step
that moves a dosing device (anything carrying a ``reagent``: pumps, the
aliquot sampler) can never be repeated: half a dose was already delivered.
If a guard trips during such a step the plan is aborted to the safe state
(:class:`SuspensionAborted`), and a manual pause during a dose does not replay
it (the dose stays short; the ``dose`` stream records what the pump delivered).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable
from functools import partial

from bluesky.suspenders import SuspenderBase
from bluesky.utils import Msg, NoReplayAllowed, ensure_generator
from ophyd import Signal

from ._clockwait import wait_on_clock
from .watchdog import pump_moving

log = logging.getLogger(__name__)

#: commands that begin a new step (a checkpoint may go before them)
STEP_COMMANDS = frozenset({
    "set", "trigger", "sleep", "create", "read", "kickoff", "complete", "collect", "stage",
    "unstage", "open_run", "close_run", "configure", "wait_for", "stop", "locate", "prepare",
})
#: commands that leave a status the plan later waits for
GROUPED_COMMANDS = frozenset({"set", "trigger", "kickoff", "complete", "prepare"})


class SuspensionTimeout(RuntimeError):
    """A guard stayed tripped longer than allowed: the plan is aborted to the safe state."""


class SuspensionAborted(RuntimeError):
    """A guard tripped during a step that cannot be repeated (a dose): aborted to the safe state."""


# ---------------------------------------------------------------- step tracking
def is_dosing_device(obj) -> bool:
    """True for objects whose ``set`` delivers reagent (pumps, the aliquot sampler)."""
    root = getattr(obj, "root", obj)
    return hasattr(root, "reagent") and hasattr(root, "dispensed")


class StepTracker:
    """Checkpoints between the steps of every plan, and what the current step contains.

    Install with ``RE.preprocessors.append(tracker.wrap)``.

    Attributes
    ----------
    unrepeatable : str
        Name of the dosing device moved in the current step ("" if none).
    """

    def __init__(self, unrepeatable: Callable[[object], bool] = is_dosing_device):
        self._is_unrepeatable = unrepeatable
        self.unrepeatable = ""
        #: set by a guard that tripped during an unrepeatable step: whatever error then
        #: reaches the plan (the stopped pump's failed status may arrive first) is
        #: replaced by SuspensionAborted with this text, so the run says why it ended
        self.abort_reason = ""
        self.guard = _ReplayGuard(self)
        #: called (no arguments) when a plan starts / ends however it ends; the unattended
        #: session arms the hardware watchdogs here and releases them when all is off
        self.on_start: list[Callable[[], object]] = []
        self.on_end: list[Callable[[], object]] = []

    def wrap(self, plan):
        """Preprocessor: the plan with a checkpoint before each of its steps."""
        return _checkpointed(plan, self)


class _ReplayGuard:
    """Seen by the RunEngine at the start of each plan so that its ``pause()`` is called
    at every pause and suspension: it forbids replaying a step that moved a dosing device."""

    name = "replay_guard"

    def __init__(self, tracker: StepTracker):
        self.tracker = tracker

    def pause(self):
        if self.tracker.unrepeatable:
            log.error("the plan was interrupted during a dose from %s: the dose is NOT repeated "
                      "on resume (its 'dose' event records what the pump delivered)",
                      self.tracker.unrepeatable)
            raise NoReplayAllowed(self.tracker.unrepeatable)

    def resume(self):
        pass


def _call_all(hooks, when: str) -> None:
    for hook in hooks:
        try:
            hook()
        except Exception:  # a hook must never decide the fate of the plan
            log.exception("%s hook %r failed", when, hook)


def _checkpointed(plan, tracker: StepTracker):
    _call_all(tracker.on_start, "plan start")
    try:
        return (yield from _steps(plan, tracker))
    finally:
        _call_all(tracker.on_end, "plan end")


def _steps(plan, tracker: StepTracker):
    plan = ensure_generator(plan)
    bundling = False
    pending: set = set()
    tracker.abort_reason = ""
    # a plan starts rewindable (an earlier aborted suspension may have left the flag off)
    yield Msg("rewindable", None, True)
    yield Msg("null", tracker.guard)
    response, error = None, None
    while True:
        try:
            msg = plan.throw(error) if error is not None else plan.send(response)
        except StopIteration as stop:
            return stop.value
        error = None
        cmd = msg.command
        if cmd == "checkpoint":
            tracker.unrepeatable = ""
        elif cmd in STEP_COMMANDS and not bundling and not pending:
            tracker.unrepeatable = ""
            try:
                yield Msg("checkpoint")
            except GeneratorExit:
                plan.close()
                raise
            except BaseException as exc:  # e.g. an abort: the plan must see it (its cleanup)
                error = _why(exc, tracker)
                continue
        if cmd == "create":
            bundling = True
        elif cmd in ("save", "drop"):
            bundling = False
        elif cmd in GROUPED_COMMANDS:
            pending.add(msg.kwargs.get("group"))
            if cmd == "set" and tracker._is_unrepeatable(msg.obj):
                tracker.unrepeatable = getattr(getattr(msg.obj, "root", msg.obj), "name", "pump")
        elif cmd == "wait":
            pending.discard(msg.kwargs.get("group", msg.args[0] if msg.args else None))
        try:
            response = yield msg
        except GeneratorExit:
            plan.close()
            raise
        except BaseException as exc:  # hand RunEngine-thrown errors to the plan
            error = _why(exc, tracker)


def _why(exc: BaseException, tracker: StepTracker) -> BaseException:
    """The error the plan should see: a guard's abort reason takes precedence."""
    if tracker.abort_reason and isinstance(exc, Exception) \
            and not isinstance(exc, SuspensionAborted):
        new = SuspensionAborted(tracker.abort_reason)
        new.__cause__ = exc
        return new
    return exc


# ---------------------------------------------------------------- probes
class Probe:
    """Reads one condition from the hardware: ``read() -> (value, detail)``.

    ``value`` above ``limit`` means abnormal; ``detail`` says what was seen.
    """

    name = "probe"
    units = ""
    limit = 0.0

    def read(self) -> tuple[float, str]:
        raise NotImplementedError

    def hold(self) -> None:
        """The plan is suspended on this probe's account: judge recovery strictly."""

    def release(self) -> None:
        """The suspension is over (resumed or aborted)."""


class TemperatureProbe(Probe):
    """|flask − setpoint| of a mantle, once the flask has reached that setpoint.

    Armed when the heater is on and the probe is within ``arm_within_c`` of
    the setpoint; disarmed when heating is switched off or the setpoint changes
    (a ramp step, a new ``heat_to``), so heat-ups and cool-downs never trip it.
    An unreadable probe while armed reads as infinitely far off.  While the
    plan is suspended on its account (:meth:`hold`) only the flask back within
    the band of the *same* setpoint with the heater on counts as recovered:
    heating switched off meanwhile (the device's own protection does that on a
    sensor fault) is not a recovery.
    """

    units = "degC"

    def __init__(self, mantle, *, band_c: float = 10.0, arm_within_c: float | None = None):
        self.mantle = mantle
        self.name = f"{mantle.name}_temperature"
        self.limit = float(band_c)
        self.arm_within_c = float(arm_within_c if arm_within_c is not None else band_c / 2.0)
        self.armed_sp: float | None = None
        self.held_sp: float | None = None
        self.excursion_sp: float | None = None   # setpoint of the latest abnormal reading

    def hold(self) -> None:
        # polls between the trip and now may already have seen the heater switched off
        self.held_sp = self.excursion_sp if self.excursion_sp is not None else self.armed_sp

    def release(self) -> None:
        self.held_sp = None
        self.excursion_sp = None

    def read(self) -> tuple[float, str]:
        if self.held_sp is not None:
            return self._read_held(self.held_sp)
        m = self.mantle
        if not int(m.heater_on.get()):
            if self.armed_sp is not None and getattr(m, "watchdog_tripped", False):
                # not the plan's cool-down: the controller switched itself off mid-plan
                self.excursion_sp = self.armed_sp
                return math.inf, (f"{m.name}: the controller's watchdog lapsed and switched "
                                  f"heating off (setpoint {self.armed_sp:g} °C); it will not "
                                  "come back by itself")
            self.armed_sp = None
            return 0.0, "heating off"
        try:
            sp = float(m.setpoint.get())
            t = float(m.temperature.get())
        except Exception as exc:
            if self.armed_sp is None:
                return 0.0, f"not regulating yet ({type(exc).__name__})"
            self.excursion_sp = self.armed_sp
            return math.inf, f"{m.name}: temperature unreadable ({type(exc).__name__}: {exc})"
        if self.armed_sp is None or abs(sp - self.armed_sp) > 0.05:
            self.armed_sp = sp if abs(t - sp) <= self.arm_within_c else None
            return 0.0, f"{t:.1f} °C heading for {sp:g} °C"
        off = t - sp
        if abs(off) > self.limit:
            self.excursion_sp = sp
        return abs(off), (f"{m.name}: flask at {t:.1f} °C, setpoint {sp:g} °C ({off:+.1f} °C, "
                          f"tolerance ±{self.limit:g} °C)")

    def _read_held(self, sp: float) -> tuple[float, str]:
        m = self.mantle
        if not int(m.heater_on.get()):
            return math.inf, (f"{m.name}: heating was switched off during the excursion "
                              f"(setpoint {sp:g} °C): it will not come back by itself")
        try:
            t = float(m.temperature.get())
        except Exception as exc:
            return math.inf, f"{m.name}: temperature unreadable ({type(exc).__name__}: {exc})"
        off = t - sp
        return abs(off), (f"{m.name}: flask at {t:.1f} °C, setpoint {sp:g} °C ({off:+.1f} °C, "
                          f"tolerance ±{self.limit:g} °C)")


class LightProbe(Probe):
    """Number of LED protection flags set (interlock, over-temperature); 1 if unreachable."""

    def __init__(self, led):
        self.led = led
        self.name = f"{led.name}_trips"

    def read(self) -> tuple[float, str]:
        try:
            reasons = self.led.trip_reasons()
        except Exception as exc:
            return 1.0, f"{self.led.name}: LED driver not answering ({type(exc).__name__}: {exc})"
        if reasons:
            return float(len(reasons)), f"{self.led.name}: protection tripped: {', '.join(reasons)}"
        return 0.0, "no protection tripped"


class PumpProbe(Probe):
    """Number of idle pumps in alarm or not answering (dosing pumps are watched by the dose)."""

    def __init__(self, pumps: dict):
        self.pumps = dict(pumps)
        self.name = "pump_alarms"
        self.alarms: dict[str, str] = {}

    def read(self) -> tuple[float, str]:
        for name, pump in self.pumps.items():
            if pump_moving(pump):
                continue
            try:
                pump.driver.poll()
            except Exception as exc:
                self.alarms[name] = f"{type(exc).__name__}: {exc}"
            else:
                self.alarms.pop(name, None)
        if not self.alarms:
            return 0.0, "pumps answer without alarm"
        return float(len(self.alarms)), "; ".join(f"{k}: {v}" for k, v in sorted(self.alarms.items()))


# ---------------------------------------------------------------- poller
class SignalPoller:
    """Reads probes on the session clock and pushes their values into Ophyd signals.

    Parameters
    ----------
    clock : Clock
        Session clock.
    poll_s : float
        Session-clock seconds between polls.
    min_wall_s : float
        Never poll more often than this (wall seconds): at 1000× a 10 s period
        would otherwise poll a hundred times a second.
    """

    def __init__(self, clock, *, poll_s: float = 10.0, min_wall_s: float = 0.05):
        self.clock = clock
        self.poll_s = float(poll_s)
        self.min_wall_s = float(min_wall_s)
        self.probes: list[tuple[Probe, Signal]] = []
        self.details: dict[str, str] = {}
        self.polls = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, probe: Probe) -> Signal:
        """Watch ``probe``; return the signal its values are put into."""
        sig = Signal(name=f"guard_{probe.name}", value=0.0)
        self.probes.append((probe, sig))
        return sig

    def poll_once(self) -> None:
        """Read every probe now and push the values (never raises)."""
        with self._lock:
            for probe, sig in self.probes:
                try:
                    value, detail = probe.read()
                except Exception as exc:  # a probe bug must not kill the poller
                    log.exception("guard probe %s failed", probe.name)
                    value, detail = math.inf, f"{probe.name}: {type(exc).__name__}: {exc}"
                self.details[sig.name] = detail
                try:
                    sig.put(float(value))
                except Exception:
                    log.exception("suspender callback for %s failed", sig.name)
            self.polls += 1

    def start(self) -> None:
        if self._thread is not None or not self.probes:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="guard-poller")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            if self._stop.wait(self.min_wall_s):
                break
            if not wait_on_clock(self.clock, self.poll_s, self._stop):
                break

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None


# ---------------------------------------------------------------- the suspender
class Guard(SuspenderBase):
    """Suspend while ``signal`` exceeds ``limit``; resume after ``resume_after_s`` of normal
    readings (session clock); abort the plan after ``max_suspend_s``.

    Parameters
    ----------
    signal : ophyd.Signal
        Fed by a :class:`SignalPoller`.
    limit : float
        Values above are abnormal.
    clock : Clock
        Session clock for ``resume_after_s`` and ``max_suspend_s``.
    what : str
        Short name for messages (``"temperature"``, ``"light"``, ``"pumps"``).
    describe : callable
        Returns the latest detail text (what was read).
    tracker : StepTracker, optional
        When the interrupted step moved a dosing device, abort instead of suspending.
    on_event : callable, optional
        ``on_event(kind, message)`` with kind ``suspended``/``resumed``/``aborted``.
    """

    def __init__(self, signal, *, limit: float, clock, what: str,
                 describe: Callable[[], str] = lambda: "", resume_after_s: float = 60.0,
                 max_suspend_s: float = 1800.0, tracker: StepTracker | None = None,
                 on_event: Callable[[str, str], None] | None = None,
                 probe: Probe | None = None):
        super().__init__(signal, sleep=0, pre_plan=self._hold)
        self.probe = probe
        self.limit = float(limit)
        self.clock = clock
        self.what = what
        self.describe = describe
        self.resume_after_s = float(resume_after_s)
        self.max_suspend_s = float(max_suspend_s)
        self.tracker = tracker
        self.on_event = on_event
        self.bad = False
        self.value = 0.0
        self.since: float | None = None       # session-clock time the fault was first seen
        self.outcome = ""
        self.suspensions = 0

    def __repr__(self):
        # the base class prints its pre_plan, a method of this object: endless recursion
        return (f"Guard({self.what!r}, signal={self._sig.name!r}, limit={self.limit:g}, "
                f"resume_after_s={self.resume_after_s:g}, max_suspend_s={self.max_suspend_s:g})")

    # bluesky's two predicates
    def _should_suspend(self, value):
        return self._is_bad(value)

    def _should_resume(self, value):
        return not self._is_bad(value)

    def _is_bad(self, value) -> bool:
        try:
            return not float(value) <= self.limit   # NaN counts as abnormal
        except (TypeError, ValueError):
            return True

    def __call__(self, value, **kwargs):
        self.value = value
        bad = self._is_bad(value)
        if bad and not self.bad:
            self.since = self.clock.time()
            t = self.tracker
            if t is not None and t.unrepeatable and not t.abort_reason \
                    and self.RE is not None and self.RE.state.is_running:
                t.abort_reason = self._abort_text(t.unrepeatable)
                self._event("aborted", t.abort_reason)
        self.bad = bad
        self._evaluate(value)

    def _evaluate(self, value) -> None:
        """Bluesky's ``SuspenderBase.__call__``, without blocking the polling thread.

        Bluesky makes the suspension event from the calling thread by asking the
        RunEngine's loop and waiting 0.1 s of wall time for it — while holding the
        suspender's lock, which the loop itself may be waiting for — and raises
        "Could not create the suspender event" when the loop is slower: the fault
        is then silently not acted on (a loop busy with a fast virtual clock on a
        loaded host is that slow).  Here the polling thread only schedules the trip;
        the loop makes the event and requests the suspension itself.
        """
        with self._lock:
            if self.RE is None:
                return
            loop = self.RE._loop
            if self._should_suspend(value):
                self._tripped = True
                if self._ev is None:
                    if threading.get_ident() == getattr(loop, "_thread_id", "unknown"):
                        self._trip()            # polled from the plan: as bluesky does
                    else:
                        loop.call_soon_threadsafe(self._trip_in_loop)
            elif self._should_resume(value):
                self._SuspenderBase__set_event(loop)
                self._tripped = False

    def _trip_in_loop(self) -> None:
        with self._lock:
            self._trip()

    def _trip(self) -> None:
        """In the RunEngine's loop, under the lock: make the event, request the suspension."""
        if self._ev is not None or not self._tripped or self.RE is None:
            return              # already suspended, or back to normal meanwhile
        self._ev = asyncio.Event()
        if self.RE.state.is_running:
            self.RE._loop.call_soon(partial(
                self.RE.request_suspend, self._ev.wait, pre_plan=self._pre_plan,
                post_plan=self._post_plan, justification=self._get_justification()))

    def _abort_text(self, device: str) -> str:
        why = f"{self.what} guard: {self.describe()}"
        return (f"{why}; a dose from {device} was running and cannot be repeated: "
                "aborted to the safe state")

    def _get_justification(self):
        if not self.tripped:
            return ""
        return f"{self.what} guard: {self.describe()}"

    # what the RunEngine runs while the plan is suspended
    def _hold(self):
        why = self._get_justification() or f"{self.what} guard tripped"
        t = self.tracker
        if t is not None and (t.unrepeatable or t.abort_reason):
            if not t.abort_reason:
                t.abort_reason = self._abort_text(t.unrepeatable)
                self._event("aborted", t.abort_reason)
            raise SuspensionAborted(t.abort_reason)
        self.suspensions += 1
        self._event("suspended", f"{why}; plan suspended (light off, doses stopped, heater "
                                 f"holding); resumes after {self.resume_after_s:g} s of normal "
                                 f"readings, aborts after {self.max_suspend_s:g} s")
        if self.probe is not None:
            self.probe.hold()
        try:
            yield Msg("wait_for", None, [self._until_normal_or_timeout])
        finally:
            if self.probe is not None:
                self.probe.release()
        if self.outcome == "timeout":
            msg = (f"{self.what} guard: still abnormal after {self.max_suspend_s:g} s "
                   f"({self.describe()}): aborted to the safe state")
            self._event("aborted", msg)
            raise SuspensionTimeout(msg)
        self._event("resumed", f"{self.what} guard: back to normal ({self.describe()}); "
                               "repeating the interrupted step")

    async def _until_normal_or_timeout(self):
        clock = self.clock
        start = self.since if self.since is not None else clock.time()
        normal_since = None
        pause_s = max(0.002, min(0.5, clock.wall_seconds(max(self.resume_after_s, 1.0) / 20.0)))
        while True:
            now = clock.time()
            if self.bad:
                normal_since = None
            else:
                normal_since = now if normal_since is None else normal_since
                if now - normal_since >= self.resume_after_s:
                    self.outcome = "cleared"
                    self.since = None
                    return
            if now - start > self.max_suspend_s:
                self.outcome = "timeout"
                return
            await asyncio.sleep(pause_s)

    def _event(self, kind: str, message: str) -> None:
        log.warning("%s", message)
        if self.on_event is not None:
            try:
                self.on_event(kind, message)
            except Exception as exc:  # notifications never break the plan's flow
                log.error("notification failed: %s", exc)


def build_guards(devices: dict, clock, config: dict, *, tracker: StepTracker | None = None,
                 on_event=None) -> tuple[SignalPoller, list[Guard]]:
    """The poller and guards for a session's devices, configured by ``safety.suspenders``.

    ``config`` keys: ``poll_s``, ``min_wall_s`` and one mapping per guard —
    ``temperature: {band_c, resume_after_s, max_suspend_s}``,
    ``light: {resume_after_s, max_suspend_s}``, ``pumps: {...}``; a guard
    mapping ``false`` (or ``enabled: false``) leaves that guard out.
    """
    poller = SignalPoller(clock, poll_s=float(config.get("poll_s", 10.0)),
                          min_wall_s=float(config.get("min_wall_s", 0.05)))
    guards = []

    def section(name):
        sec = config.get(name, {})
        if sec is False or (isinstance(sec, dict) and sec.get("enabled") is False):
            return None
        return dict(sec or {})

    def add(probe, what, sec):
        sig = poller.add(probe)
        guards.append(Guard(sig, limit=probe.limit, clock=clock, what=what,
                            describe=lambda s=sig.name: poller.details.get(s, ""),
                            resume_after_s=float(sec.get("resume_after_s", 60.0)),
                            max_suspend_s=float(sec.get("max_suspend_s", 1800.0)),
                            tracker=tracker, on_event=on_event, probe=probe))

    heaters = {n: d for n, d in devices.items() if hasattr(d, "heater_on") and hasattr(d, "setpoint")}
    lights = {n: d for n, d in devices.items() if hasattr(d, "trip_reasons")}
    pumps = {n: d for n, d in devices.items() if hasattr(d, "dispensed") and hasattr(d, "driver")}
    sec = section("temperature")
    if sec is not None:
        for dev in heaters.values():
            add(TemperatureProbe(dev, band_c=float(sec.get("band_c", 10.0)),
                                 arm_within_c=sec.get("arm_within_c")), "temperature", sec)
    sec = section("light")
    if sec is not None:
        for dev in lights.values():
            add(LightProbe(dev), "light", sec)
    sec = section("pumps")
    if sec is not None and pumps:
        add(PumpProbe(pumps), "pumps", sec)
    return poller, guards


__all__ = ["Guard", "SignalPoller", "StepTracker", "Probe", "TemperatureProbe", "LightProbe",
           "PumpProbe", "SuspensionTimeout", "SuspensionAborted", "build_guards",
           "is_dosing_device"]
