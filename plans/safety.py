"""One safety mechanism for every experiment plan.

:func:`experiment` turns a plan generator into an experiment:

1. **pre-flight** — the plan's requirements (temperatures, the whole reagent
   budget, irradiances, solvent) are checked against the devices' limits before
   any message moves hardware; a violation raises :class:`PreflightError`
   listing every problem;
2. **one run** with metadata built like bluesky's own plans (``plan_name``,
   ``plan_args``, the reagents loaded in each pump, the devices used) merged with
   the caller's ``md``;
3. **safe state on every exit path** — success, exception, ``RE.abort()``,
   Ctrl-C followed by abort, a suspender's abort: light off, heating off, pumps
   stopped, spectrometer lamp off.  Each device is made safe on its own: a dead
   instrument is reported and the next one is still switched off.  The run is
   closed by the RunEngine with its exit status and reason, and everything
   recorded up to then stays in the catalog.

Plans that start several runs (a reaction-zone map) use ``open_run=False`` and
wrap each of their runs in an experiment of their own.
"""

from __future__ import annotations

import functools
import inspect
import logging

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import FailedStatus, RunEngineControlException
from ophyd import Device

from .preflight import PreflightError, find_violations

log = logging.getLogger(__name__)


def _devices_in(arguments: dict) -> dict:
    found = {}
    for value in arguments.values():
        items = value if isinstance(value, list | tuple) else [value]
        for v in items:
            if isinstance(v, Device):
                found[v.name] = v
    return found


def _read_now(signal):
    """Limits are configuration: read them directly, outside the message stream.

    Pre-flight must finish before the first message that could move anything,
    and limits do not change during a plan.
    """
    return signal.get()


def safe_state(devices: dict):
    """Plan: drive every device in ``devices`` to its safe state, continuing past failures."""
    ordered = sorted(devices.values(), key=lambda d: getattr(d, "safe_order", 50))
    for dev in ordered:
        try:
            if hasattr(dev, "irradiance"):                  # LED: light off
                yield from bps.mv(dev.irradiance, 0.0)
            elif hasattr(dev, "heater_on"):                  # mantle: heating off
                yield from bps.mv(dev.heater_on, 0)
            elif hasattr(dev, "lamp") and hasattr(dev, "mode"):  # spectrometer lamp
                yield from bps.mv(dev.lamp, 0)
            elif hasattr(dev, "dispensed"):                  # pump: stop
                yield from bps.stop(dev)
        except Exception as exc:  # keep going: the next device may be the heater
            log.error("could not make %s safe: %s", dev.name, exc)
            try:
                dev.safe()   # last resort, outside the message stream
            except Exception as exc2:
                log.error("%s.safe() failed too: %s", dev.name, exc2)


def _run_returning_result(plan, md):
    """``bpp.run_wrapper`` that hands back the plan's return value (not the run uid).

    Plans return what they decided (final E1, the zone, a calibration table);
    callers — the zone map, the CLI, the queue — need it.
    """
    yield from bps.open_run(md)

    def except_plan(e):
        if isinstance(e, RunEngineControlException):
            yield from bps.close_run(exit_status=e.exit_status)
        else:
            # a failed status says only "DeviceStatus(... success=False)": record its cause
            cause = e.__cause__ if isinstance(e, FailedStatus) and e.__cause__ else e
            yield from bps.close_run(exit_status="fail",
                                     reason=f"{type(cause).__name__}: {cause}")

    return (yield from bpp.contingency_wrapper(plan, except_plan=except_plan,
                                               else_plan=bps.close_run))


def _plan_args(arguments: dict) -> dict:
    out = {}
    for k, v in arguments.items():
        if k == "md":
            continue
        if isinstance(v, Device):
            out[k] = v.name
        elif isinstance(v, list | tuple) and v and all(isinstance(x, Device) for x in v):
            out[k] = [x.name for x in v]
        else:
            out[k] = v if isinstance(v, str | int | float | bool | type(None)) else repr(v)
    return out


def experiment(requirements=None, *, open_run: bool = True, sample: str | None = None):
    """Decorator making a plan an experiment: pre-flight, one run, safe on every exit.

    Parameters
    ----------
    requirements : callable, optional
        Same signature as the plan; returns :class:`~photoreactor.plans.preflight.Requirements`.
    open_run : bool
        Wrap the plan in one run (False for plans that open their own runs).
    sample : str, optional
        Default ``sample`` metadata.
    """

    def deco(plan_func):
        sig = inspect.signature(plan_func)

        @functools.wraps(plan_func)
        def wrapper(*args, md=None, **kwargs):
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop("md", None)
            devices = _devices_in(arguments)
            if requirements is not None:
                req = requirements(**arguments)
                violations = find_violations(req, read=_read_now)
                if violations:
                    raise PreflightError(plan_func.__name__, violations)
            else:
                req = None
            _md = {
                "plan_name": plan_func.__name__,
                "plan_args": _plan_args(arguments),
                "plan_type": "generator",
                "devices": sorted(devices),
                "reagents": {n: {"name": d.reagent.name, "species": d.reagent.species,
                                 "concentration_mol_l": d.reagent.concentration_mol_l,
                                 "lot": getattr(d.reagent, "lot", "")}
                             for n, d in devices.items() if hasattr(d, "reagent")},
                "hints": {},
            }
            if req is not None:
                _md["estimated_duration_s"] = req.duration_s
                _md["reagent_budget_ml"] = req.budget_ml()
                if req.solvent:
                    _md["solvent"] = req.solvent
            if sample:
                _md["sample"] = sample
            _md.update(md or {})
            body = plan_func(**arguments, **({"md": md} if "md" in sig.parameters else {}))
            if open_run:
                body = _run_returning_result(body, _md)
            return (yield from bpp.finalize_wrapper(body, safe_state(devices)))

        wrapper.requirements = requirements
        wrapper.__signature__ = sig
        return wrapper

    return deco


__all__ = ["experiment", "safe_state", "PreflightError"]
