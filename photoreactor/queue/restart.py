"""After the RE Manager (re)starts: reopen the worker environment when the profile says so.

An unattended reactor whose manager crashed and was restarted (systemd
``Restart=on-failure``, a reboot) should be ready again without someone at the
keyboard: the environment open, i.e. the startup run, every device made safe, the
watchdogs and guards installed, the ``interrupted`` notice sent.  It must *not*
carry on with a half-done synthesis by itself: the devices were made safe, the flask
cooled, a dose may have been cut off — a chemist decides whether the queue runs again.

``photoreactor queue manager`` starts a small helper process beside the RE Manager
(:func:`spawn_after_start`) which

1. waits until the manager answers;
2. notes whether the queue was running when the previous manager died: the last item
   of the manager's history has exit status ``unknown`` (what the manager records for
   an item that was running when it died), or the data directory holds the run marker
   of :mod:`.interrupted` (``queue-running.json``, or its moved-aside copy whose
   notice is still due);
3. opens the environment, unless it is already open (the worker itself makes every
   device safe first);
4. starts the queue **only** if it was running when the manager died *and* the profile
   says ``restart_queue_after_crash: true`` *and* the worker reports every device safe;
   otherwise the queue stays stopped, items intact;
5. logs and notifies (``restarted``) what it did: environment open or not, whether a
   run was cut off (plan, queue item), the queue left stopped with N items waiting (or
   started again).

Profile section (``queue:``)::

    reopen_environment_on_start: true   # default true, false when safety.unattended is false
    restart_queue_after_crash: false    # default false: never restart a cut-off queue
    reopen_timeout_s: 600               # how long opening the environment may take

A manager that starts while nothing was running (a reboot of an idle reactor) gets its
environment opened too; the queue was stopped, so it stays stopped.
``photoreactor queue manager --no-reopen`` starts a manager without the helper (e.g. for
maintenance).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: how long the helper waits for the manager to answer at all
CONNECT_TIMEOUT_S = 120.0
OPEN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class RestartPolicy:
    """What a (re)started manager does by itself (``queue:`` section of the profile)."""

    reopen_environment: bool = True
    restart_queue_after_crash: bool = False
    open_timeout_s: float = OPEN_TIMEOUT_S


def restart_policy(profile) -> RestartPolicy:
    """The policy of a :class:`~photoreactor.config.Profile`.

    ``reopen_environment_on_start`` defaults to true on an unattended profile — every
    profile whose ``safety.unattended`` is not ``false`` (``auto``, the default, means
    "inside the queue server", which is where the manager runs).
    """
    from .manager import QueueConfigError

    cfg = dict(profile.queue or {})
    unattended = (profile.safety or {}).get("unattended", "auto") is not False
    out = {}
    for key, default in (("reopen_environment_on_start", unattended),
                         ("restart_queue_after_crash", False)):
        value = cfg.get(key, default)
        if not isinstance(value, bool):
            raise QueueConfigError(f"queue.{key} must be true or false, not {value!r}")
        out[key] = value
    timeout = cfg.get("reopen_timeout_s", OPEN_TIMEOUT_S)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise QueueConfigError(f"queue.reopen_timeout_s must be a positive number, not {timeout!r}")
    return RestartPolicy(reopen_environment=out["reopen_environment_on_start"],
                         restart_queue_after_crash=out["restart_queue_after_crash"],
                         open_timeout_s=float(timeout))


def marker_dir(profile, data: str | os.PathLike | None = None) -> Path:
    """Where the session of ``profile`` keeps its run marker (the catalog's data directory)."""
    if profile.catalog.get("kind", "embedded") == "embedded":
        return profile.data_dir(data)
    from photoreactor.storage.catalog import default_spool_dir

    if data:
        return Path(data).expanduser()
    return Path(profile.catalog.get("path") or default_spool_dir()).expanduser()


def marker_left(directory: Path | None) -> dict | None:
    """The run marker a dead session left (without moving it: the worker does that)."""
    import json

    from .interrupted import MARKER, PENDING

    if directory is None:
        return None
    for name in (PENDING, MARKER):
        path = Path(directory) / name
        if path.exists():
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError):
                return {"run_uid": "", "plan_name": ""}
    return None


def cut_off_item(history: list[dict]) -> dict | None:
    """The item that was running when the manager died: the last history item, if its
    exit status is ``unknown``."""
    if not history:
        return None
    last = history[-1]
    return last if (last.get("result") or {}).get("exit_status") == "unknown" else None


def wait_for_manager(RM, timeout_s: float) -> dict:
    """The manager's status once it answers and is not busy starting up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = RM.status()
            if status.get("manager_state") in ("idle", "executing_queue", "paused"):
                return status
        except Exception as exc:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise TimeoutError(f"the RE Manager did not answer within {timeout_s:g} s: "
                                   f"{exc}") from None
        if time.monotonic() > deadline:
            raise TimeoutError(f"the RE Manager stayed busy for {timeout_s:g} s")
        time.sleep(0.5)


def after_start(RM, policy: RestartPolicy, notifier, *, marker: dict | None = None,
                connect_timeout_s: float = CONNECT_TIMEOUT_S) -> dict:
    """Reopen the environment (and, if allowed, the queue) of a freshly started manager.

    ``RM``: a ``bluesky_queueserver_api`` client; ``marker``: the run marker the previous
    session left (:func:`marker_left`).  Returns what was done (also notified).
    """
    from bluesky_queueserver_api import BFunc

    report = {"environment": "not reopened", "queue": "stopped", "cut_off": None,
              "queued": 0}
    status = wait_for_manager(RM, connect_timeout_s)
    item = cut_off_item(list(RM.history_get()["items"]))
    was_running = item is not None or marker is not None
    if item is not None:
        report["cut_off"] = {"name": item.get("name", ""), "item_uid": item.get("item_uid", "")}
    elif marker is not None:
        report["cut_off"] = {"name": marker.get("plan_name", ""), "item_uid": ""}
    report["queued"] = int(status.get("items_in_queue", 0))

    if status.get("worker_environment_exists"):
        report["environment"] = "already open"
    else:
        log.info("reopening the worker environment (the startup makes every device safe)")
        try:
            RM.environment_open()
            RM.wait_for_idle(timeout=policy.open_timeout_s)
            ok = bool(RM.status()["worker_environment_exists"])
        except Exception as exc:  # noqa: BLE001 - say so, leave the queue alone
            log.error("reopening the environment failed: %s", exc)
            ok = False
            report["error"] = str(exc)
        report["environment"] = "reopened" if ok else "FAILED to open"

    if was_running and report["environment"] != "FAILED to open":
        if policy.restart_queue_after_crash:
            report["queue"] = _restart_queue(RM, BFunc)
        else:
            report["queue"] = "left stopped (queue.restart_queue_after_crash is false)"
    _notify(notifier, report, was_running)
    return report


def _restart_queue(RM, BFunc) -> str:
    """Start the queue again, only if the worker says every device is safe."""
    try:
        task = RM.function_execute(BFunc("safety_report"), run_in_background=True)["task_uid"]
        RM.wait_for_completed_task(task, timeout=60)
        result = RM.task_result(task)["result"]
        safe = (result.get("return_value") or {}).get("safe_at_start") or {}
        unsafe = {k: v for k, v in safe.items() if v != "safe"}
        if not result.get("success") or not safe or unsafe:
            return f"left stopped: not every device is known to be safe ({unsafe or result.get('msg')})"
        RM.queue_start()
        return "started again (queue.restart_queue_after_crash is true)"
    except Exception as exc:  # noqa: BLE001
        log.error("restarting the queue failed: %s", exc)
        return f"left stopped: starting it failed ({exc})"


def _notify(notifier, report: dict, was_running: bool) -> None:
    cut = report["cut_off"]
    env = report["environment"]
    if was_running:
        what = cut["name"] or "a plan"
        subject = (f"queue server restarted after a crash: {what} was cut off; environment "
                   f"{env}; queue {report['queue'].split(' (')[0].split(':')[0]}")
    else:
        subject = f"queue server started: environment {env}; queue stopped"
    lines = [f"environment: {env}" + (f" ({report['error']})" if report.get("error") else "")]
    if cut:
        lines.append(f"cut off:     {cut['name']}" + (f" (queue item {cut['item_uid']})"
                                                      if cut["item_uid"] else ""))
    lines += [f"queue:       {report['queue']}, {report['queued']} item(s) waiting", ""]
    if env == "FAILED to open":
        lines.append("The devices may not have been made safe: look at the reactor and the "
                     "manager's log, then `photoreactor queue open`.")
    elif was_running and not report["queue"].startswith("started"):
        lines.append("Every device was made safe when the environment opened.  Nothing runs "
                     "until someone decides it may: `photoreactor queue start` (or remove the "
                     "cut-off plan's follow-ups first).")
    log.warning("%s", subject) if was_running else log.info("%s", subject)
    print(f"photoreactor: {subject}", flush=True)
    notifier.notify("restarted", subject, "\n".join(lines))


def run(profile, data: str | os.PathLike | None = None, *, settings=None) -> dict | None:
    """The helper's work for ``profile`` (a path or name): connect, reopen, notify."""
    from photoreactor.config import load_profile

    from .manager import client, queue_settings
    from .notify import Notifier

    prof = load_profile(profile)
    policy = restart_policy(prof)
    if not policy.reopen_environment:
        return None
    settings = settings or queue_settings(prof)
    mdir = marker_dir(prof, data)
    marker = marker_left(mdir)
    log_dir = mdir if prof.catalog.get("kind", "embedded") == "embedded" else None
    notifier = Notifier(prof.notifications, log_dir, reactor=prof.reactor_id)
    RM = client(settings, timeout_s=10.0)
    try:
        return after_start(RM, policy, notifier, marker=marker)
    except Exception as exc:  # noqa: BLE001 - the manager never came up: say so
        notifier.notify("restarted", "queue server start: the environment was NOT reopened",
                        f"{type(exc).__name__}: {exc}")
        print(f"photoreactor: environment not reopened: {exc}", file=sys.stderr, flush=True)
        return None
    finally:
        RM.close()
        notifier.close()


def spawn_after_start(profile, data: str | os.PathLike | None = None) -> int | None:
    """Fork a detached helper running :func:`run` (the caller then ``exec``s the manager).

    Double fork: the helper is re-parented (to init / systemd) so the manager never has
    to reap it; it stays in the caller's process group and session, so stopping the
    service (or ``killpg``) ends it as well.  Returns the helper's intermediate pid in
    the parent, never returns in the helper.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return pid
    try:
        if os.fork():
            os._exit(0)
        code = 0
        try:
            logging.basicConfig(level=logging.INFO,
                                format="photoreactor-reopen %(levelname)s: %(message)s")
            run(profile, data)
        except BaseException as exc:  # noqa: BLE001
            print(f"photoreactor: reopen helper failed: {exc}", file=sys.stderr, flush=True)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    finally:
        os._exit(1)
