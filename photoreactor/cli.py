"""The ``photoreactor`` command line.

::

    photoreactor demo                      # the main job: SCIENCE.md A end to end, simulated
    photoreactor run PLAN -p key=value ... [--check]
    photoreactor plans                     # plans with the first line of their docstring
    photoreactor runs [--json]             # uid, plan, start, exit status
    photoreactor report UID | --last       # figures and CSV tables
    photoreactor shell                     # IPython with RE, devices and plans loaded
    photoreactor fidelity                  # simulator vs published numbers
    photoreactor check PROFILE             # validate a profile without opening anything
    photoreactor safe                      # drive every device of a profile to its safe state
    photoreactor queue ACTION              # unattended runs: redis, manager, add, list, start ...
    photoreactor catalog-server start|stop|status   # the lab's shared Tiled catalog on PostgreSQL

Every command takes ``--profile`` (default ``sim``, or ``$PHOTOREACTOR_PROFILE``) and
``--data DIR`` (embedded catalog location).  Failures print one readable line and
exit non-zero: 2 for usage and configuration errors, 1 for a failed run.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from datetime import datetime
from pathlib import Path

import yaml


def _parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"parameter {pair!r} is not of the form key=value")
        params[key] = yaml.safe_load(value) if value else ""
    return params


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


def _plan_catalogue() -> dict:
    """Experiment plans: the ones that open their own runs and can be run alone."""
    import photoreactor.plans as plans

    return {name: getattr(plans, name) for name in plans.EXPERIMENTS}


def _bind_plan(func, params: dict, devices: dict):
    """Fill device parameters by name and check every required parameter is given."""
    sig = inspect.signature(func)
    kwargs = dict(params)
    for name, p in sig.parameters.items():
        if name in kwargs or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in devices:
            kwargs[name] = devices[name]
        elif p.default is p.empty:
            raise UsageError(f"plan {func.__name__} needs parameter {name!r} (-p {name}=...)")
    unknown = set(kwargs) - set(sig.parameters)
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
        raise UsageError(f"plan {func.__name__} has no parameter(s) {sorted(unknown)}; "
                         f"it takes {list(sig.parameters)}")
    # device names given as strings (-p pump=pump_s) resolve to the devices
    for k, v in list(kwargs.items()):
        if isinstance(v, str) and v in devices:
            kwargs[k] = devices[v]
    return kwargs


def _open(args, **kw):
    from photoreactor import open_session

    return open_session(args.profile, args.data, **kw)


def cmd_plans(args) -> int:
    for name, func in sorted(_plan_catalogue().items()):
        doc = (inspect.getdoc(func) or "").splitlines()
        print(f"{name:24s} {doc[0] if doc else ''}")
    return 0


def cmd_run(args) -> int:
    catalogue = _plan_catalogue()
    if args.plan not in catalogue:
        raise UsageError(f"unknown plan {args.plan!r}; `photoreactor plans` lists them")
    params = _parse_params(args.param)
    session = _open(args)
    try:
        kwargs = _bind_plan(catalogue[args.plan], params, session.devices)
        if args.check:
            from photoreactor.plans.preflight import check_plan

            report = check_plan(catalogue[args.plan], kwargs, session)
            print(report.format())
            return 0 if report.ok else 1
        result = session.RE(catalogue[args.plan](**kwargs))
        uids = result.run_start_uids
        print(f"{args.plan}: exit status {result.exit_status}"
              f"{' (' + result.reason + ')' if result.reason else ''}; runs {', '.join(uids)}")
        return 0 if result.exit_status == "success" else 1
    finally:
        session.close()


def _catalog(args):
    from photoreactor.config import load_profile
    from photoreactor.storage import open_catalog

    prof = load_profile(args.profile)
    embedded = prof.catalog.get("kind", "embedded") == "embedded"
    # a reader: no writer or ingester; for a server the same spool a session uses
    return open_catalog(prof.catalog, prof.data_dir(args.data) if embedded else args.data,
                        write=False)


def cmd_runs(args) -> int:
    cat = _catalog(args)
    try:
        rows = []
        for uid, start, stop in cat.runs():
            rows.append({"uid": uid, "plan": start.get("plan_name", ""),
                         "start": datetime.fromtimestamp(start.get("time", 0)).isoformat(timespec="seconds"),
                         "exit_status": stop.get("exit_status", "running or interrupted"),
                         "reason": stop.get("reason", ""), "sample": start.get("sample", "")})
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(f"{r['uid'][:8]}  {r['start']}  {r['plan']:22s} {r['exit_status']:10s} {r['sample']}")
            if not rows:
                print(f"no runs in {cat.location}")
        return 0
    finally:
        cat.close()


def cmd_report(args) -> int:
    from photoreactor.analysis.report import write_report

    cat = _catalog(args)
    try:
        if args.last:
            uids = [uid for uid, _, _ in cat.runs()]
            if not uids:
                raise UsageError(f"no runs in {cat.location}")
            uid = uids[-1]
        elif args.uid:
            uid = args.uid
            if uid not in cat.client:
                matches = [u for u, _, _ in cat.runs() if u.startswith(uid)]
                if len(matches) != 1:
                    raise UsageError(f"run {uid!r} not found (or ambiguous) in {cat.location}")
                uid = matches[0]
        else:
            raise UsageError("give a run uid or --last")
        out = Path(args.out or Path("reports") / uid[:8])
        paths = write_report(cat.client[uid], out)
        for p in paths:
            print(p)
        return 0
    finally:
        cat.close()


def cmd_demo(args) -> int:
    from photoreactor.demo import run_demo

    out = Path(args.out or "reports/demo")
    session = _open(args, live=False)
    try:
        ok = run_demo(session, out)
    finally:
        session.close()
    return 0 if ok else 1


def cmd_shell(args) -> int:
    session = _open(args)
    ns = session.namespace()
    try:
        from IPython import start_ipython
    except ImportError:
        import code

        code.interact(local=ns, banner="photoreactor console (install ipython for a better one)")
        return 0
    start_ipython(argv=[], user_ns=ns)
    session.close()
    return 0


def cmd_fidelity(args) -> int:
    from photoreactor.sim_devices.reactor.fidelity import print_fidelity

    return 0 if print_fidelity() else 1


def cmd_check(args) -> int:
    from photoreactor.config import load_profile

    prof = load_profile(args.target or args.profile)
    print(f"profile {prof.name} ({prof.path}): {len(prof.devices)} devices, clock {prof.clock['kind']}, "
          f"catalog {prof.catalog.get('kind')}: OK")
    return 0


def cmd_safe(args) -> int:
    session = _open(args, live=False, progress=False)
    try:
        report = session.make_safe()
    finally:
        session.close()
    for name, state in report.items():
        print(f"{name:16s} {state}")
    return 0 if all(v == "safe" for v in report.values()) else 1


def cmd_catalog_server(args) -> int:
    from photoreactor.catalog_server import run_command

    return run_command(args)


def cmd_queue(args) -> int:
    from photoreactor.queue.cli import main as queue_main

    return queue_main(args)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", default=os.environ.get("PHOTOREACTOR_PROFILE", "sim"),
                        help="profile name or path (default: sim)")
    common.add_argument("--data", default=None, help="embedded catalog directory")
    p = argparse.ArgumentParser(prog="photoreactor", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str, *, shared: bool = True) -> argparse.ArgumentParser:
        """Sub-command ``name`` running ``func(args)``; ``shared`` adds --profile and --data."""
        s = sub.add_parser(name, parents=[common] if shared else [], help=help)
        s.set_defaults(func=func)
        return s

    s = command("demo", cmd_demo, "run the full simulated synthesis (SCIENCE.md A)")
    s.add_argument("--out", help="figure directory (default reports/demo)")
    s = command("run", cmd_run, "run one plan")
    s.add_argument("plan")
    s.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="plan parameter")
    s.add_argument("--check", action="store_true", help="pre-flight only: duration, budget, violations")
    command("plans", cmd_plans, "list plans")
    s = command("runs", cmd_runs, "list runs in the catalog")
    s.add_argument("--json", action="store_true")
    s = command("report", cmd_report, "figures and tables for a run")
    s.add_argument("uid", nargs="?")
    s.add_argument("--last", action="store_true")
    s.add_argument("--out", help="output directory (default reports/<uid>)")
    command("shell", cmd_shell, "interactive console with the session loaded")
    command("fidelity", cmd_fidelity, "simulator vs published numbers")
    s = command("check", cmd_check, "validate a profile")
    s.add_argument("target", nargs="?")
    command("safe", cmd_safe, "drive every device to its safe state")
    s = command("queue", cmd_queue, "unattended runs: Redis, RE Manager, queue items "
                "(photoreactor queue -h)")
    from photoreactor.queue.cli import configure_parser

    configure_parser(s)
    s = command("catalog-server", cmd_catalog_server, "the lab's shared catalog: Tiled on "
                "PostgreSQL (README: Lab-scale storage)", shared=False)
    from photoreactor.catalog_server import add_arguments

    add_arguments(s)
    return p


def main(argv: list[str] | None = None) -> int:
    from photoreactor.config import ProfileError
    from photoreactor.devices.common.errors import InstrumentError, LimitError, ReagentError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, ProfileError) as exc:
        print(f"photoreactor: error: {exc}", file=sys.stderr)
        return 2
    except (InstrumentError, LimitError, ReagentError, ValueError) as exc:
        print(f"photoreactor: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("photoreactor: interrupted (devices were made safe)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
