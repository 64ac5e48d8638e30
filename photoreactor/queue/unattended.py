"""Put a session in unattended mode: watchdogs, guards, resumable sleeps, notifications.

:func:`install_unattended` is called by :func:`photoreactor.session.open_session`
when the session runs inside the queue server's worker (or when asked with
``open_session(..., unattended=True)``), *after* every device was made safe:

1. the notifier is subscribed to the RunEngine (every run end, every safety event);
2. a keeper thread feeds the controllers' watchdogs, which are armed at the
   start of every plan and disarmed at its end once nothing is left on;
3. the guards (suspenders) are installed, fed by a poller thread, and the
   step tracker is added to the RunEngine's preprocessors;
4. the RunEngine's ``sleep`` becomes :class:`~.sleep.UnattendedSleep`.

The profile's ``safety:`` section configures it (all keys optional)::

    safety:
      unattended: auto        # auto: in the queue server only | true | false
      watchdog: {heater_s: 600, pump_s: 255, refresh_fraction: 0.25}
      suspenders:
        poll_s: 10
        temperature: {band_c: 10, resume_after_s: 60, max_suspend_s: 1800}
        light: {resume_after_s: 10, max_suspend_s: 600}
        pumps: {resume_after_s: 10, max_suspend_s: 600}

and ``notifications:`` the notifier (see :mod:`.notify`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .interrupted import RunMarker, report_interrupted
from .notify import Notifier
from .sleep import UnattendedSleep
from .suspenders import Guard, SignalPoller, StepTracker, build_guards
from .watchdog import WatchdogKeeper

log = logging.getLogger(__name__)

SAFETY_KEYS = {"unattended", "watchdog", "suspenders"}
WATCHDOG_KEYS = {"heater_s", "pump_s", "refresh_fraction", "enabled"}
SUSPENDER_KEYS = {"poll_s", "min_wall_s", "temperature", "light", "pumps"}
GUARD_KEYS = {"band_c", "arm_within_c", "resume_after_s", "max_suspend_s", "enabled"}
#: longest virtual-clock slice of a plan's sleep when no watchdog sets a shorter one (s)
DEFAULT_SLICE_S = 60.0


class SafetyConfigError(ValueError):
    """A ``safety:`` section that cannot work."""


def check_safety_config(safety: dict) -> dict:
    """Validate the profile's ``safety`` section; return it (a copy) or raise with what is wrong."""
    safety = dict(safety or {})
    _unknown("safety", safety, SAFETY_KEYS)
    if safety.get("unattended", "auto") not in ("auto", True, False):
        raise SafetyConfigError(f"safety.unattended must be auto, true or false, not "
                                f"{safety['unattended']!r}")
    wd = dict(safety.get("watchdog") or {})
    _unknown("safety.watchdog", wd, WATCHDOG_KEYS)
    if "heater_s" in wd and not 20 <= float(wd["heater_s"]) <= 1500:
        raise SafetyConfigError(f"safety.watchdog.heater_s = {wd['heater_s']}: the IKA accepts "
                                "20-1500 s")
    if "pump_s" in wd and not 1 <= float(wd["pump_s"]) <= 255:
        raise SafetyConfigError(f"safety.watchdog.pump_s = {wd['pump_s']}: New Era pumps accept "
                                "1-255 s")
    sus = dict(safety.get("suspenders") or {})
    _unknown("safety.suspenders", sus, SUSPENDER_KEYS)
    for name in ("temperature", "light", "pumps"):
        sec = sus.get(name)
        if sec is False or sec is None:
            continue
        if not isinstance(sec, dict):
            raise SafetyConfigError(f"safety.suspenders.{name} must be a mapping or false")
        _unknown(f"safety.suspenders.{name}", sec, GUARD_KEYS)
        for key in ("resume_after_s", "max_suspend_s", "band_c"):
            if key in sec and not float(sec[key]) > 0:
                raise SafetyConfigError(f"safety.suspenders.{name}.{key} must be positive, "
                                        f"not {sec[key]!r}")
    safety["watchdog"], safety["suspenders"] = wd, sus
    return safety


def _unknown(where: str, section: dict, allowed: set) -> None:
    extra = set(section) - allowed
    if extra:
        raise SafetyConfigError(f"{where}: unknown key(s) {sorted(extra)}; allowed: {sorted(allowed)}")


def worker_active() -> bool:
    """True inside the Bluesky queue server's worker."""
    try:
        from bluesky_queueserver import is_re_worker_active
    except ImportError:
        return False
    return bool(is_re_worker_active())


def wanted(profile, requested: bool | None) -> bool:
    """Whether a session should run unattended: the caller, else the profile, else the worker."""
    if requested is not None:
        return bool(requested)
    mode = (profile.safety or {}).get("unattended", "auto")
    if mode in (True, False):
        return mode
    return worker_active()


@dataclass
class Unattended:
    """What :func:`install_unattended` set up; :meth:`close` takes it down again."""

    notifier: Notifier
    keeper: WatchdogKeeper | None
    poller: SignalPoller
    guards: list[Guard]
    tracker: StepTracker
    sleep: UnattendedSleep
    watchdog_report: dict = field(default_factory=dict)
    _RE: object = None
    _token: int | None = None
    _catalog: object = None
    _problem_hook: object = None
    _storage_token: int | None = None
    _marker_token: int | None = None
    _notice_thread: object = None

    def status(self) -> dict:
        """Health summary (the queue's ``safety_report`` function returns it)."""
        return {
            "watchdogs": dict(self.keeper.candidates) if self.keeper else {},
            "watchdogs_armed_now": dict(self.keeper.armed) if self.keeper else {},
            "watchdog_errors": dict(self.keeper.errors) if self.keeper else {},
            "unprotected": list(self.keeper.unprotected) if self.keeper else [],
            "guards": {g._sig.name: {"tripped": g.tripped, "value": g.value, "limit": g.limit,
                                     "detail": self.poller.details.get(g._sig.name, ""),
                                     "suspensions": g.suspensions} for g in self.guards},
            "notifications": {"log_file": str(self.notifier.log_file or ""),
                              "undelivered": list(self.notifier.failures)},
        }

    def close(self) -> None:
        """Stop the threads and disarm the watchdogs (call after the devices were made safe)."""
        self.poller.stop()
        RE = self._RE
        if RE is not None:
            for g in self.guards:
                try:
                    RE.remove_suspender(g)
                except Exception:
                    pass
            try:
                RE.preprocessors.remove(self.tracker.wrap)
            except ValueError:
                pass
            if self._token is not None:
                RE.unsubscribe(self._token)
        if self.keeper is not None:
            self.keeper.stop(disarm=True)
        if self._catalog is not None and self._problem_hook in self._catalog.on_problem:
            self._catalog.on_problem.remove(self._problem_hook)
        if self._notice_thread is not None:
            self._notice_thread.join(timeout=60.0)   # the interrupted-run notice, if still due
        for token in (self._storage_token, self._marker_token):
            if RE is not None and token is not None:
                RE.unsubscribe(token)
        self.notifier.close()


def install_unattended(session, safety: dict | None = None,
                       notifications: dict | None = None) -> Unattended:
    """Arm watchdogs, install guards, resumable sleep and notifications on ``session``.

    Parameters
    ----------
    session : Session
        An open session (devices already made safe).
    safety, notifications : dict, optional
        Override the profile's ``safety`` / ``notifications`` sections.
    """
    prof = session.profile
    safety = check_safety_config(prof.safety if safety is None else safety)
    notifications = prof.notifications if notifications is None else notifications
    RE, clock = session.RE, session.clock

    notifier = Notifier(notifications, session.data_dir, reactor=prof.reactor_id, clock=clock)
    token = RE.subscribe(notifier)
    catalog, problem_hook, storage_token = _watch_storage(session, notifier)
    marker_token = notice_thread = None
    if catalog is not None and hasattr(catalog, "data_dir"):
        # the previous session died mid-run? tell the chemist (after the devices were made
        # safe, which open_session did); then mark this session's own runs
        notice_thread = report_interrupted(session, notifier)
        marker_token = RE.subscribe(RunMarker(catalog.data_dir))

    wd = safety["watchdog"]
    keeper = None
    report = {}
    if wd.get("enabled", True):
        keeper = WatchdogKeeper(session.devices, clock, heater_s=float(wd.get("heater_s", 600.0)),
                                pump_s=float(wd.get("pump_s", 255.0)),
                                refresh_fraction=float(wd.get("refresh_fraction", 0.25)),
                                on_event=notifier.event)
        keeper.start()            # feeds whatever is armed; arming happens per plan

    tracker = StepTracker()
    if keeper is not None and keeper.candidates:
        tracker.on_start.append(keeper.arm)
        tracker.on_end.append(keeper.release)
        report = {name: f"armed during plans ({period:g} s)"
                  for name, period in keeper.candidates.items()}
        report.update({name: "no watchdog" for name in keeper.unprotected})
    poller, guards = build_guards(session.devices, clock, safety["suspenders"], tracker=tracker,
                                  on_event=notifier.event)
    poller.poll_once()          # guards start from the present state, not from 0
    for g in guards:
        RE.install_suspender(g)
    RE.preprocessors.append(tracker.wrap)
    poller.start()

    # virtual clock: slice long sleeps so the watchdogs are fed in time (the hard
    # limit) and the guards see a fault within a slice of when it happened
    between = [poller.poll_once]
    max_jump = max(poller.poll_s, DEFAULT_SLICE_S)
    if keeper is not None and keeper.candidates:
        between.insert(0, keeper.refresh)
        max_jump = min(max_jump, keeper.max_jump_s)
    sleeper = UnattendedSleep(clock, max_jump_s=max_jump, between=between)
    sleeper.install(RE)

    log.info("unattended mode: watchdogs %s; guards %s; notifications to %s",
             report or "none", [g._sig.name for g in guards], notifier.log_file)
    notifier.notify("info", f"unattended session started on profile {prof.name}",
                    f"watchdogs: {report}\nguards: {[g._sig.name for g in guards]}")
    return Unattended(notifier=notifier, keeper=keeper, poller=poller, guards=guards,
                      tracker=tracker, sleep=sleeper, watchdog_report=report, _RE=RE,
                      _token=token, _catalog=catalog, _problem_hook=problem_hook,
                      _storage_token=storage_token, _marker_token=marker_token, _notice_thread=notice_thread)


def _watch_storage(session, notifier):
    """Notify (kind ``storage``) when the ingester gives up on a run or the catalog server
    has been unreachable for a minute; the catalog checks at each run start and stop."""
    catalog = getattr(session, "catalog", None)
    if catalog is None or not hasattr(catalog, "on_problem"):
        return None, None, None

    def hook(problem: dict) -> None:
        uid = problem.get("uid") or ""
        if problem.get("outage"):
            subject = f"catalog server unreachable: run {uid[:8]} waits in its journal"
            body = (f"{problem['error']}\nAcquisition goes on; the data are safe in "
                    f"{problem['journal']} and reach the catalog when the server is back.")
        else:
            subject = (f"run {uid[:8]} could not be stored in the catalog" if uid
                       else "the catalog ingester cannot start")
            body = (f"{problem['error']}\nThe journal is kept"
                    + (f" at {problem['journal']}" if problem.get("journal") else "")
                    + "; after fixing the cause, delete the .error file beside it and the next "
                      "catalog opened on that directory replays the run.")
        notifier.notify("storage", subject, body, uid=uid)

    catalog.on_problem.append(hook)

    def at_stop(name, doc):
        if name == "stop":
            catalog.report_problems()

    return catalog, hook, session.RE.subscribe(at_stop)


__all__ = ["install_unattended", "Unattended", "check_safety_config", "SafetyConfigError",
           "wanted", "worker_active"]
