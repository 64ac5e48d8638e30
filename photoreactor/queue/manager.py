"""Redis, the RE Manager and the queue's client, for one profile.

One startup, two front ends: ``profiles/<p>/startup/00-session.py`` builds the
session for IPython *and* for the queue server's worker (where
``is_re_worker_active()`` is true, so the session skips its interactive display
and installs the unattended machinery).  Beside it, ``profiles/<p>/queue/``
holds

``user_group_permissions.yaml``
    who may queue what (hand-written; ``primary`` — chemists — may queue the
    experiment plans, ``wait_until`` and the switch-off stubs; ``expert`` every
    plan).  A test checks that it allows every experiment the code defines.
``existing_plans_and_devices.yaml``
    the plans and devices the startup defines, *generated from the code*
    (:func:`generate_existing`, ``photoreactor queue lists``) and checked in:
    CI regenerates it and fails on any difference, so a renamed plan or device
    cannot silently break queued work.  A real profile's list is generated without
    its instruments (:func:`generate_existing_from_classes`: plans from the
    simulated profile's identical startup, devices described from their classes);
    ``--connected`` runs its own startup instead.  The manager is started with
    ``--update-existing-plans-devices NEVER`` so that running it never rewrites
    the checked-in file; it takes the live lists from the worker when the
    environment opens.

Redis
-----
The queue lives in Redis.  To survive a restart of Redis as well as of the
manager, Redis must persist it: :func:`redis_command` starts ``redis-server``
with an append-only file (``appendonly yes``, fsync every second) in a data
directory.  On a lab computer use the distribution's service instead
(``apt-get install redis-server``; set ``appendonly yes`` in
``/etc/redis/redis.conf``).  Each reactor uses its own key prefix
(``queue.redis_prefix``), so several reactors may share one Redis.

Profile section (all optional)::

    queue:
      redis: localhost:6379                  # host:port[/db]
      redis_prefix: photoreactor_sim         # default photoreactor_<profile name>
      control: tcp://localhost:60615         # clients connect here; the manager binds *:port
      info: tcp://localhost:60625            # console output and status stream
      reopen_environment_on_start: true      # default true (false if safety.unattended: false)
      restart_queue_after_crash: false       # never carry on with a cut-off queue by itself
      reopen_timeout_s: 600

The last three: :mod:`.restart` (what ``photoreactor queue manager`` does once the
manager is up).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

QUEUE_KEYS = {"redis", "redis_prefix", "control", "info",
              # what a (re)started manager does by itself: photoreactor.queue.restart
              "reopen_environment_on_start", "restart_queue_after_crash", "reopen_timeout_s"}
EXISTING_FILE = "existing_plans_and_devices.yaml"
PERMISSIONS_FILE = "user_group_permissions.yaml"


class QueueConfigError(ValueError):
    """A ``queue:`` section or a profile layout the queue server cannot use."""


@dataclass(frozen=True)
class QueueSettings:
    """Where the queue of one profile lives."""

    profile_name: str
    startup_dir: Path
    queue_dir: Path
    redis: str = "localhost:6379"
    redis_prefix: str = "photoreactor"
    control: str = "tcp://localhost:60615"
    info: str = "tcp://localhost:60625"
    #: simulated profile: its startup runs anywhere (emulators), so its list is generated
    #: by running it; a real profile's list is generated from the device classes
    simulated: bool = True

    @property
    def existing_file(self) -> Path:
        return self.queue_dir / EXISTING_FILE

    @property
    def permissions_file(self) -> Path:
        return self.queue_dir / PERMISSIONS_FILE

    @staticmethod
    def bind_address(client_address: str) -> str:
        """``tcp://localhost:60615`` -> ``tcp://*:60615`` (what the manager listens on)."""
        m = re.fullmatch(r"tcp://[^:]+:(\d+)", client_address)
        if not m:
            raise QueueConfigError(f"queue address {client_address!r} must look like "
                                   "tcp://host:port")
        return f"tcp://*:{m.group(1)}"


def queue_settings(profile, **overrides) -> QueueSettings:
    """The queue settings of a profile (name, path or :class:`~photoreactor.config.Profile`)."""
    from photoreactor.config import Profile, load_profile

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    if prof.path is None:
        raise QueueConfigError("the queue server needs a profile directory (with startup/ "
                               "and queue/), not a profile built in memory")
    cfg = dict(prof.queue or {})
    unknown = set(cfg) - QUEUE_KEYS
    if unknown:
        raise QueueConfigError(f"{prof.path}: queue: unknown key(s) {sorted(unknown)}; "
                               f"allowed: {sorted(QUEUE_KEYS)}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    root = prof.path.parent
    startup = root / "startup"
    if not (startup / "00-session.py").is_file():
        raise QueueConfigError(f"{startup}: no 00-session.py: the queue server starts from the "
                               "same startup file as the IPython profile")
    prefix = cfg.get("redis_prefix") or "photoreactor_" + re.sub(r"\W", "_", prof.name)
    return QueueSettings(profile_name=prof.name, startup_dir=startup, queue_dir=root / "queue",
                         redis=str(cfg.get("redis", "localhost:6379")), redis_prefix=prefix,
                         control=str(cfg.get("control", "tcp://localhost:60615")),
                         info=str(cfg.get("info", "tcp://localhost:60625")),
                         simulated=bool(prof.simulated))


def _tool(name: str) -> str:
    """A console script installed beside this Python (the venv's), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise QueueConfigError(f"{name} not found: install the queue extra "
                               "(pip install 'photoreactor[queue]')")
    return found


# ---------------------------------------------------------------- Redis
def redis_command(port: int, data_dir: str | os.PathLike, *, bind: str = "127.0.0.1") -> list[str]:
    """``redis-server`` with the queue persisted to an append-only file in ``data_dir``."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise QueueConfigError("redis-server not found: install it (Debian/Ubuntu: "
                               "sudo apt-get install -y redis-server) or point queue.redis at "
                               "an existing Redis")
    return [exe, "--port", str(int(port)), "--bind", bind, "--dir", str(Path(data_dir)),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--protected-mode", "yes"]


# ---------------------------------------------------------------- RE Manager
def manager_command(settings: QueueSettings, *, verbose: bool = False) -> list[str]:
    """The ``start-re-manager`` command line for a profile."""
    cmd = [_tool("start-re-manager"),
           "--startup-dir", str(settings.startup_dir),
           "--existing-plans-devices", str(settings.existing_file),
           "--update-existing-plans-devices", "NEVER",
           "--user-group-permissions", str(settings.permissions_file),
           "--user-group-permissions-reload", "ON_STARTUP",
           "--redis-addr", settings.redis,
           "--redis-name-prefix", settings.redis_prefix,
           "--zmq-control-addr", settings.bind_address(settings.control),
           "--zmq-info-addr", settings.bind_address(settings.info),
           "--zmq-publish-console", "ON"]
    if not verbose:
        cmd.append("--quiet")
    return cmd


# ---------------------------------------------------------------- lists
def generate_existing(settings: QueueSettings, out: str | os.PathLike, *,
                      data_dir: str | os.PathLike | None = None, timeout_s: float = 300.0) -> Path:
    """Run the profile's startup like the worker does and write the plans and devices it defines.

    Uses ``qserver-list-plans-devices`` (the queue server's own tool) in a child
    process with a throw-away data directory, so nothing is written to the lab's
    catalog.  Returns the written path.
    """
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="photoreactor-lists-") as tmp:
        env = dict(os.environ, PHOTOREACTOR_DATA=str(data_dir or Path(tmp) / "data"))
        proc = subprocess.run(
            [_tool("qserver-list-plans-devices"), "--startup-dir", str(settings.startup_dir),
             "--file-dir", str(out.parent), "--file-name", out.name],
            cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or not out.is_file():
        raise QueueConfigError(f"could not list the plans and devices of {settings.startup_dir}:\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return out


def device_classes(profile) -> dict[str, type]:
    """Device name -> the Ophyd class its builder returns, for a profile; nothing is opened."""
    import typing

    from photoreactor.config import Profile, load_profile
    from photoreactor.devices.registry import load_all

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    registry = load_all()
    return {name: typing.get_type_hints(registry[cfg["class"]].build)["return"]
            for name, cfg in prof.devices.items()}


def describe_device_class(cls) -> dict:
    """What the queue server records for a device of class ``cls`` — derived from the class.

    Mirrors ``bluesky_queueserver``'s description of a device *object* (its
    ``_prepare_devices``): readable / movable / flyable (Bluesky protocols), class name,
    module, and the same for every component, recursively.  Ophyd declares components
    on the class (``component_names``, ``Component.cls``), so a device of a given class
    is described the same whether it is connected or not; a test checks this against
    built (emulated) devices of every registered class.
    """
    import typing

    from bluesky import protocols

    def has(proto) -> bool:
        members = getattr(proto, "__protocol_attrs__", None) or typing._get_protocol_attrs(proto)
        return all(hasattr(cls, m) for m in members)

    out = {"classname": cls.__name__, "is_flyable": has(protocols.Flyable),
           "is_movable": has(protocols.Movable), "is_readable": has(protocols.Readable),
           "module": cls.__module__}
    names = getattr(cls, "component_names", ())
    components = {name: describe_device_class(getattr(cls, name).cls) for name in names}
    if components:
        out["components"] = components
    return out


def generate_existing_from_classes(settings: QueueSettings, out: str | os.PathLike, *,
                                   reference: str = "sim", timeout_s: float = 300.0) -> Path:
    """The list for a profile whose instruments are not connected (``lab-example``, CI).

    * plans: the same startup code defines the same plans on every profile (only the
      devices differ), so they are taken from running the ``reference`` (simulated)
      profile's startup, as :func:`generate_existing` does;
    * devices: each device of ``settings``' profile is described from its class
      (:func:`describe_device_class`); the classes the reference profile builds are
      checked against what the queue server recorded for the built devices.
    """
    import yaml
    from bluesky_queueserver.manager.profile_ops import save_existing_plans_and_devices

    from photoreactor.config import load_profile

    ref_settings = queue_settings(reference)
    with tempfile.TemporaryDirectory(prefix="photoreactor-lists-") as tmp:
        ref = yaml.safe_load(generate_existing(ref_settings, Path(tmp) / EXISTING_FILE,
                                               timeout_s=timeout_s).read_text())
    for name, cls in device_classes(load_profile(ref_settings.startup_dir.parent)).items():
        if describe_device_class(cls) != ref["existing_devices"].get(name):
            raise QueueConfigError(f"{cls.__name__} ({reference} device {name}): the queue "
                                   "server describes the built device differently from its "
                                   "class; generate the list with the instruments connected "
                                   "(photoreactor queue lists --connected)")
    devices = {name: describe_device_class(cls) for name, cls in
               sorted(device_classes(load_profile(settings.startup_dir.parent)).items())}
    out = Path(out)
    save_existing_plans_and_devices(existing_plans=ref["existing_plans"],
                                    existing_devices=devices, file_dir=str(out.parent),
                                    file_name=out.name, overwrite=True)
    return out


def generate_for(settings: QueueSettings, out: str | os.PathLike, *,
                 connected: bool = False) -> Path:
    """:func:`generate_existing` (simulated profiles, or ``connected``: the real startup
    with the instruments) else :func:`generate_existing_from_classes`."""
    if settings.simulated or connected:
        return generate_existing(settings, out)
    return generate_existing_from_classes(settings, out)


def check_existing(settings: QueueSettings, *, connected: bool = False) -> list[str]:
    """Regenerate the list and compare it with the checked-in file; return the differences."""
    import yaml

    with tempfile.TemporaryDirectory(prefix="photoreactor-lists-") as tmp:
        fresh = generate_for(settings, Path(tmp) / EXISTING_FILE, connected=connected)
        new = yaml.safe_load(fresh.read_text())
    if not settings.existing_file.is_file():
        return [f"{settings.existing_file} is missing: run `photoreactor queue lists "
                f"--profile {settings.profile_name}`"]
    old = yaml.safe_load(settings.existing_file.read_text())
    problems = []
    for section in ("existing_plans", "existing_devices"):
        a, b = old.get(section) or {}, new.get(section) or {}
        for name in sorted(set(a) - set(b)):
            problems.append(f"{section}: {name} is in the checked-in file but no longer in the code")
        for name in sorted(set(b) - set(a)):
            problems.append(f"{section}: {name} is new in the code")
        for name in sorted(set(a) & set(b)):
            if a[name] != b[name]:
                problems.append(f"{section}: {name} changed (parameters, defaults or docstring)")
    return problems


def allowed_for(settings: QueueSettings, group: str = "primary") -> tuple[set, set]:
    """(plans, devices) the permissions file allows ``group`` among the existing ones."""
    from bluesky_queueserver.manager.profile_ops import load_allowed_plans_and_devices

    plans, devices = load_allowed_plans_and_devices(
        path_existing_plans_and_devices=str(settings.existing_file),
        path_user_group_permissions=str(settings.permissions_file))
    if group not in plans:
        raise QueueConfigError(f"{settings.permissions_file}: no user group {group!r}")
    return set(plans[group]), set(devices[group])


# ---------------------------------------------------------------- client
def client(settings: QueueSettings, *, timeout_s: float = 5.0):
    """A ``bluesky_queueserver_api`` client for the profile's RE Manager (ZeroMQ)."""
    from bluesky_queueserver_api.zmq import REManagerAPI

    return REManagerAPI(zmq_control_addr=settings.control, zmq_info_addr=settings.info,
                        timeout_recv=timeout_s, timeout_send=timeout_s)


def scheduled_items(plan: str, kwargs: dict, *, at: str | None = None, nights: int = 1) -> list:
    """Queue items for ``plan``: preceded by ``wait_until(at)`` and repeated ``nights`` times."""
    from bluesky_queueserver_api import BPlan

    from .schedule import next_start

    if nights < 1:
        raise QueueConfigError(f"--nights must be at least 1, not {nights}")
    if nights > 1 and not at:
        raise QueueConfigError("repeating nightly needs a start time (--at 22:00)")
    if at:
        import time

        next_start(at, time.time())          # refuse a malformed time before queueing anything
    items = []
    for _ in range(nights):
        if at:
            items.append(BPlan("wait_until", at))
        items.append(BPlan(plan, **kwargs))
    return items


__all__ = ["QueueSettings", "QueueConfigError", "queue_settings", "redis_command",
           "manager_command", "generate_existing", "generate_existing_from_classes",
           "generate_for", "describe_device_class", "device_classes", "check_existing", "allowed_for", "client",
           "scheduled_items"]
