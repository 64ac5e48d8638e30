"""``photoreactor queue ...``: a thin wrapper around Redis, the RE Manager and its API.

::

    photoreactor queue redis [--port 6379] [--dir DIR]     # persistent Redis (foreground)
    photoreactor queue manager [--no-reopen]               # RE Manager for --profile (foreground);
                                                           # reopens the environment by itself
                                                           # (queue.reopen_environment_on_start)
    photoreactor queue lists [--check] [--connected]       # regenerate / check the plan list
    photoreactor queue open | close                        # the worker environment
    photoreactor queue add PLAN -p key=value ... [--at 22:00] [--nights N] [--front]
    photoreactor queue list                                # queue, running item, history
    photoreactor queue start | stop                        # run the queue / stop after this item
    photoreactor queue pause [--now] | resume | abort      # the running plan
    photoreactor queue remove UID | clear                  # take items out of the queue
    photoreactor queue safety                              # watchdogs, guards, safe state (worker)
    photoreactor queue status

Device parameters of a plan are filled in by name (``mantle``, ``spectrometer``
...) as for ``photoreactor run``; give ``-p pump=pump_s`` to choose another.
Every command has a ``qserver`` equivalent (``qserver queue add plan
'{"name": ...}'``) using the addresses in the profile's ``queue:`` section.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from datetime import datetime

_CLOCK_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")


def configure_parser(p) -> None:
    """Add the ``queue`` sub-commands to the ``photoreactor queue`` parser ``p``."""
    import argparse

    # --profile/--data also after the action (``photoreactor queue list --profile lab``);
    # SUPPRESS keeps a value given before the action
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", default=argparse.SUPPRESS, help="profile name or path")
    common.add_argument("--data", default=argparse.SUPPRESS, help="data directory")
    sub = p.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    add_parser = sub.add_parser

    def with_common(name, **kw):
        return add_parser(name, parents=[common], **kw)

    sub.add_parser = with_common
    s = sub.add_parser("redis", help="run a Redis that persists the queue (foreground)")
    s.add_argument("--port", type=int, default=6379)
    s.add_argument("--dir", help="where Redis keeps its append-only file "
                   "(default <data dir>/redis)")
    s = sub.add_parser("manager", help="run the RE Manager for the profile (foreground)")
    s.add_argument("--redis", help="Redis address (default: the profile's queue.redis)")
    s.add_argument("--verbose", action="store_true")
    s.add_argument("--no-reopen", action="store_true",
                   help="do not reopen the environment once the manager is up (the profile's "
                   "queue.reopen_environment_on_start otherwise decides)")
    s = sub.add_parser("lists", help="regenerate the checked-in list of plans and devices")
    s.add_argument("--check", action="store_true", help="only compare; exit 1 if it differs")
    s.add_argument("--connected", action="store_true",
                   help="real profile: run its startup with the instruments connected instead "
                   "of describing the devices from their classes")
    for name, text in [("open", "open the worker environment (runs the startup)"),
                       ("close", "close the worker environment"),
                       ("list", "show the queue, the running item and the history"),
                       ("start", "start running the queue"),
                       ("stop", "stop the queue after the running item"),
                       ("resume", "resume a paused plan"),
                       ("abort", "abort a paused plan (it ends in the safe state)"),
                       ("clear", "remove every item from the queue"),
                       ("safety", "ask the worker for its safety report"),
                       ("status", "RE Manager status")]:
        sub.add_parser(name, help=text)
    s = sub.add_parser("pause", help="pause the running plan (at its next step; --now: at once)")
    s.add_argument("--now", action="store_true")
    s = sub.add_parser("remove", help="remove an item from the queue")
    s.add_argument("uid")
    s = sub.add_parser("add", help="add a plan to the queue")
    s.add_argument("plan")
    s.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="plan parameter")
    s.add_argument("--at", help="start at this local time (22:00) or ISO date-time")
    s.add_argument("--nights", type=int, default=1, help="repeat nightly (needs --at)")
    s.add_argument("--front", action="store_true", help="add at the front of the queue")


def main(args) -> int:
    from .manager import client, queue_settings

    settings = queue_settings(args.profile, redis=getattr(args, "redis", None))
    action = args.queue_command
    if action in LOCAL:
        return LOCAL[action](args, settings)
    from bluesky_queueserver_api.comm_base import RequestFailedError, RequestTimeoutError

    RM = client(settings)
    try:
        return REMOTE[action](args, settings, RM)
    except RequestFailedError as exc:
        print(f"photoreactor queue {action}: refused: {exc.response.get('msg') or exc}",
              file=sys.stderr)
        return 1
    except RequestTimeoutError as exc:
        print(f"photoreactor queue {action}: RE Manager not reachable at {settings.control} "
              f"({exc}); is `photoreactor queue manager --profile {settings.profile_name}` "
              "running?", file=sys.stderr)
        return 1
    finally:
        RM.close()


# ---------------------------------------------------------------- local actions
def _redis(args, settings) -> int:
    from photoreactor.config import load_profile

    from .manager import redis_command

    data = args.dir or str(load_profile(args.profile).data_dir(args.data) / "redis")
    os.makedirs(data, exist_ok=True)
    cmd = redis_command(args.port, data)
    print(f"photoreactor: Redis on port {args.port}, queue persisted in {data}", flush=True)
    os.execv(cmd[0], cmd)
    return 0


def _manager(args, settings) -> int:
    from .manager import manager_command
    from .restart import restart_policy, spawn_after_start

    if args.data:
        os.environ["PHOTOREACTOR_DATA"] = str(args.data)
    if not settings.existing_file.is_file():
        print(f"photoreactor: warning: {settings.existing_file} is missing: items cannot be "
              "checked before the environment is open; generate it with `photoreactor queue "
              f"lists --profile {settings.profile_name}`", file=sys.stderr)
    cmd = manager_command(settings, verbose=args.verbose)
    print(f"photoreactor: RE Manager for profile {settings.profile_name}: control "
          f"{settings.control}, Redis {settings.redis} (prefix {settings.redis_prefix})",
          flush=True)
    from photoreactor.config import load_profile

    policy = restart_policy(load_profile(args.profile))
    if policy.reopen_environment and not args.no_reopen:
        after = ("the queue starts again after a crash only if every device is safe"
                 if policy.restart_queue_after_crash else "the queue stays stopped")
        print("photoreactor: the environment will be reopened once the manager is up "
              f"(queue.reopen_environment_on_start); {after}", flush=True)
        spawn_after_start(args.profile, args.data)
    os.execv(cmd[0], cmd)
    return 0


def _lists(args, settings) -> int:
    from .manager import check_existing, generate_for

    if args.check:
        problems = check_existing(settings, connected=args.connected)
        for p in problems:
            print(p)
        if problems:
            print(f"run `photoreactor queue lists --profile {settings.profile_name}` and commit "
                  f"{settings.existing_file}")
        return 1 if problems else 0
    settings.queue_dir.mkdir(parents=True, exist_ok=True)
    print(generate_for(settings, settings.existing_file, connected=args.connected))
    return 0


LOCAL = {"redis": _redis, "manager": _manager, "lists": _lists}


# ---------------------------------------------------------------- API actions
def _parse_params(pairs) -> dict:
    import yaml

    from photoreactor.cli import UsageError

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"parameter {pair!r} is not of the form key=value")
        if _CLOCK_TIME.match(value):
            out[key] = value          # YAML 1.1 would read 22:30 as the number 1350
        else:
            out[key] = yaml.safe_load(value) if value else ""
    return out


def _device_kwargs(settings, plan: str, params: dict) -> dict:
    """Fill required parameters named like a device of the profile with that device's name."""
    import yaml

    from photoreactor.cli import UsageError

    listing = yaml.safe_load(settings.existing_file.read_text()) if settings.existing_file.is_file() else {}
    plans = listing.get("existing_plans") or {}
    devices = set(listing.get("existing_devices") or {})
    if plans and plan not in plans:
        raise UsageError(f"unknown plan {plan!r}; the queue knows {sorted(plans)}")
    kwargs = dict(params)
    for p in (plans.get(plan) or {}).get("parameters", []):
        name = p["name"]
        if name in kwargs or "default" in p or p["kind"]["name"].startswith("VAR_"):
            continue
        if name in devices:
            kwargs[name] = name
        else:
            raise UsageError(f"plan {plan} needs parameter {name!r} (-p {name}=...)")
    return kwargs


def _add(args, settings, RM) -> int:
    from .manager import scheduled_items

    kwargs = _device_kwargs(settings, args.plan, _parse_params(args.param))
    items = scheduled_items(args.plan, kwargs, at=args.at, nights=args.nights)
    pos = "front" if args.front else "back"
    if args.front:
        items = items[::-1]
    for item in items:
        reply = RM.item_add(item, pos=pos)
        print(f"added {reply['item']['name']:18s} {reply['item']['item_uid']}  "
              f"({reply['qsize']} in the queue)")
    return 0


def _list(args, settings, RM) -> int:
    queue = RM.queue_get()
    running = queue.get("running_item") or {}
    if running:
        print(f"running: {_describe(running)}")
    print(f"queue ({len(queue['items'])}):")
    for item in queue["items"]:
        print(f"  {_describe(item)}")
    history = RM.history_get()["items"]
    print(f"history ({len(history)}):")
    for item in history[-20:]:
        result = item.get("result", {})
        print(f"  {_describe(item)}  -> {result.get('exit_status', '?')}"
              + (f": {result['msg']}" if result.get("msg") else ""))
    return 0


def _describe(item: dict) -> str:
    args = [repr(a) for a in item.get("args", [])]
    args += [f"{k}={v!r}" for k, v in item.get("kwargs", {}).items()]
    return f"{item['item_uid'][:8]}  {item['name']}({', '.join(args)})"


def _simple(method, **kw):
    def run(args, settings, RM) -> int:
        reply = getattr(RM, method)(**kw)
        print(f"{method}: {reply.get('msg') or 'ok'}")
        return 0 if reply.get("success", True) else 1
    return run


def _open(args, settings, RM) -> int:
    RM.environment_open()
    RM.wait_for_idle(timeout=600)
    status = RM.status()
    ok = status["worker_environment_exists"]
    print("environment open" if ok else "environment did not open: see the manager's output")
    return 0 if ok else 1


def _close(args, settings, RM) -> int:
    RM.environment_close()
    RM.wait_for_idle(timeout=120)
    print("environment closed")
    return 0


def _pause(args, settings, RM) -> int:
    RM.re_pause("immediate" if args.now else "deferred")
    print("pause requested" + (" (immediate)" if args.now else " (at the next step)"))
    return 0


def _remove(args, settings, RM) -> int:
    RM.item_remove(uid=args.uid)
    print(f"removed {args.uid}")
    return 0


def _safety(args, settings, RM) -> int:
    from bluesky_queueserver_api import BFunc

    reply = RM.function_execute(BFunc("safety_report"), run_in_background=True)
    RM.wait_for_completed_task(reply["task_uid"], timeout=60)
    result = RM.task_result(reply["task_uid"])["result"]
    if not result.get("success"):
        print(result.get("msg") or result)
        return 1
    print(json.dumps(result["return_value"], indent=2))
    return 0


def _status(args, settings, RM) -> int:
    st = RM.status()
    print(f"manager {st['manager_state']}, RE {st['re_state']}, environment "
          f"{'open' if st['worker_environment_exists'] else 'closed'}, "
          f"{st['items_in_queue']} queued, {st['items_in_history']} in history "
          f"({datetime.fromtimestamp(time.time()).isoformat(timespec='seconds')})")
    return 0


REMOTE = {
    "open": _open, "close": _close, "add": _add, "list": _list,
    "start": _simple("queue_start"), "stop": _simple("queue_stop"),
    "resume": _simple("re_resume"), "abort": _simple("re_abort"),
    "clear": _simple("queue_clear"), "pause": _pause, "remove": _remove,
    "safety": _safety, "status": _status,
}
