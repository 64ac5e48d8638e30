"""A session: RunEngine + devices + catalog + clock, built from one profile.

>>> from photoreactor import open_session
>>> s = open_session("sim")                 # simulated reactor on a virtual clock
>>> s.RE(grow_until(s.mantle, s.spectrometer))
>>> s.catalog.client.search(Key("plan_name") == "grow_until")

The same function backs the IPython profiles (``profiles/*/startup``), the
``photoreactor`` command line and the queue server's startup script, so all three
see identical devices and metadata.

What a session sets up, in order:

1. the clock (wall, or virtual with the RunEngine's ``sleep`` replaced so
   ``bps.sleep`` jumps virtual time);
2. for simulated profiles, the bench: reactor model and one emulator per device;
3. devices, through the same builders on real and simulated profiles;
4. every device driven to its safe state (light off, heat off, pumps stopped) —
   a previous session may have died mid-run;
5. the RunEngine with default metadata (operator, reactor id, profile, clock),
   the catalog writer, progress bars on waits and — in an interactive terminal —
   the live display;
6. in unattended mode (inside the queue server, or ``unattended=True``): the
   hardware watchdogs armed and fed, the guards (suspenders), resumable sleeps
   and notifications (:mod:`photoreactor.queue.unattended`).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bluesky import RunEngine

from photoreactor.config import Profile, load_profile
from photoreactor.devices.common.timing import WallClock

log = logging.getLogger(__name__)


@dataclass
class Session:
    """Everything a chemist (or the queue server) needs to run plans."""

    profile: Profile
    RE: RunEngine
    devices: dict
    catalog: object
    clock: object
    data_dir: Path | None
    bench: object = None
    safe_report: dict = field(default_factory=dict)
    #: watchdogs, guards and notifications of an unattended session (photoreactor.queue)
    unattended: object = None

    def __getattr__(self, name):
        devices = self.__dict__.get("devices", {})
        if name in devices:
            return devices[name]
        raise AttributeError(f"session has no attribute or device {name!r}; "
                             f"devices: {sorted(devices)}")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.devices))

    @property
    def world(self):
        """The simulated reactor (simulated profiles only)."""
        if self.bench is None:
            raise AttributeError("this session runs real hardware: there is no simulated world")
        return self.bench.world

    def make_safe(self) -> dict:
        """Drive every device to its safe state; never raises. Returns {device: error or 'safe'}."""
        from photoreactor.devices.safety import make_all_safe

        self.safe_report = make_all_safe(self.devices)
        return self.safe_report

    def namespace(self) -> dict:
        """Names for an interactive console or the queue server's startup."""
        import bluesky.plan_stubs as bps
        import bluesky.plans as bp

        import photoreactor.plans as plans

        ns = {"RE": self.RE, "session": self, "catalog": self.catalog.client,
              "clock": self.clock, "bp": bp, "bps": bps, "plans": plans}
        ns.update({name: getattr(plans, name) for name in getattr(plans, "__all__", [])})
        from photoreactor.queue import queue_namespace

        ns.update(queue_namespace(self))     # wait_until, safety_report (+ sim fault drills)
        ns.update(self.devices)
        return ns

    def close(self) -> None:
        from photoreactor.devices.common.transport import close_all_serial

        self.make_safe()
        if self.unattended is not None:     # after make_safe: disarm only once safe
            self.unattended.close()
            self.unattended = None
        for dev in self.devices.values():
            try:
                dev.destroy()
            except Exception:
                pass
        close_all_serial()
        if self.catalog is not None:
            self.catalog.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _stamp_clock_start(clock):
    """Preprocessor: every run's start document carries ``clock_start_s`` (device clock).

    The RunEngine stamps documents with wall time while the devices stamp their
    readings with the session clock; on a virtual clock the two differ, and this
    is the origin reports put "time since start" on.
    """
    import bluesky.preprocessors as bpp

    def mutate(msg):
        if msg.command == "open_run" and "clock_start_s" not in msg.kwargs:
            return msg._replace(kwargs={**msg.kwargs, "clock_start_s": clock.time()})
        return msg

    return lambda plan: bpp.msg_mutator(plan, mutate)


def make_clock(profile: Profile):
    if profile.clock.get("kind") == "virtual":
        from photoreactor.sim_devices.clock import VirtualClock

        return VirtualClock(speed=float(profile.clock.get("speed", 1000.0)))
    return WallClock()


def build_devices(profile: Profile, clock) -> dict:
    from photoreactor.devices.registry import load_all

    classes = load_all()
    devices = {}
    for name, cfg in profile.devices.items():
        devices[name] = classes[cfg["class"]].build(name, cfg, clock)
    return devices


def interactive() -> bool:
    """True in a terminal session, False under the queue server, CI or a pipe."""
    try:
        from bluesky_queueserver import is_re_worker_active

        if is_re_worker_active():
            return False
    except ImportError:
        pass
    return sys.stdout.isatty() and not os.environ.get("CI")


def open_session(profile: str | os.PathLike | Profile = "sim", data_dir: str | os.PathLike | None = None,
                 *, live: bool | None = None, progress: bool | None = None,
                 md: dict | None = None, unattended: bool | None = None) -> Session:
    """Build a ready session from a profile.

    Parameters
    ----------
    profile : str, path or Profile
        ``"sim"``, ``"lab-example"``, a directory holding ``profile.yaml``, or a YAML path.
    data_dir : path, optional
        Embedded catalog location; default from ``$PHOTOREACTOR_DATA``, the
        profile's ``catalog.path``, else ``~/.local/share/photoreactor/<profile>``.
    live : bool, optional
        Live table/plots; default on only in an interactive terminal.
    progress : bool, optional
        Progress bars on waits; default on only in an interactive terminal.
    md : dict, optional
        Extra default metadata for every run.
    unattended : bool, optional
        Arm the hardware watchdogs, install the guards (suspenders), resumable
        sleeps and notifications (:mod:`photoreactor.queue.unattended`); default
        from the profile's ``safety.unattended`` (``auto``: only inside the queue
        server's worker).
    """
    from photoreactor.storage import open_catalog

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    clock = make_clock(prof)
    bench = None
    if prof.simulated:
        from photoreactor.sim_devices.bench import build_bench

        bench = build_bench(prof, clock)
    devices = build_devices(prof, clock)

    RE = RunEngine({}, call_returns_result=True)
    if clock.kind == "virtual":
        from photoreactor.sim_devices.clock import install_sleep_handler

        install_sleep_handler(RE, clock)
    RE.md.update({
        "operator": prof.operator,
        "reactor_id": prof.reactor_id,
        "profile": prof.name,
        "clock": clock.describe(),
        "simulated": bench is not None,
    })
    if md:
        RE.md.update(md)
    RE.preprocessors.append(_stamp_clock_start(clock))

    data_dir = prof.data_dir(data_dir) if prof.catalog.get("kind", "embedded") == "embedded" else None
    catalog = open_catalog(prof.catalog, data_dir)
    RE.subscribe(catalog.writer)

    show = interactive()
    if progress if progress is not None else show:
        from bluesky.utils import ProgressBarManager

        RE.waiting_hook = ProgressBarManager()
    if live if live is not None else show:
        try:
            from photoreactor.analysis.live import install_live_display

            install_live_display(RE)
        except ImportError:
            from bluesky.callbacks.best_effort import BestEffortCallback

            bec = BestEffortCallback()
            bec.disable_plots()
            RE.subscribe(bec)

    session = Session(profile=prof, RE=RE, devices=devices, catalog=catalog, clock=clock,
                      data_dir=data_dir, bench=bench)
    report = session.make_safe()
    failed = {k: v for k, v in report.items() if v != "safe"}
    if failed:
        log.warning("could not make safe at session start: %s", failed)
    from photoreactor.queue.unattended import install_unattended, wanted

    if wanted(prof, unattended):
        session.unattended = install_unattended(session)
    return session
