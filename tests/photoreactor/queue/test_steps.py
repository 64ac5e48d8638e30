"""The step tracker: a checkpoint before each step, none inside one; doses are unrepeatable."""

from __future__ import annotations

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from ophyd import Component as Cpt
from ophyd import Device, Signal
from ophyd.sim import det, motor

from photoreactor.queue.suspenders import StepTracker, is_dosing_device


class FakePump(Device):
    """Looks like a dosing device to the tracker (a reagent and a dispensed readback)."""

    dispensed = Cpt(Signal, value=0.0)
    reagent = "Cd oleate"


def commands(plan, tracker):
    """Run ``tracker.wrap(plan)`` by hand; return [(command, obj name, unrepeatable)]."""
    out = []
    gen = tracker.wrap(plan)
    response = None
    while True:
        try:
            msg = gen.send(response)
        except StopIteration:
            return out
        out.append((msg.command, getattr(msg.obj, "name", None), tracker.unrepeatable))
        response = None
        if msg.command == "read":
            response = {}


def test_checkpoints_go_between_steps_never_inside_one():
    def plan():
        yield from bps.mv(motor, 1)
        yield from bps.sleep(5)
        yield from bps.trigger_and_read([det])
        yield from bps.sleep(5)

    cmds = [c for c, _, _ in commands(bpp.run_wrapper(plan()), StepTracker())]
    # the tracker's own start: rewindable again, and the replay guard seen by the RunEngine
    assert cmds[:2] == ["rewindable", "null"]
    body = cmds[2:]
    i = body.index("set")
    assert body[i - 1] == "checkpoint" and body[i + 1] == "wait"   # set ... wait is one step
    create, save = body.index("create"), body.index("save")
    assert "checkpoint" not in body[create:save]                   # never inside an event
    assert body[create - 1] == "checkpoint"
    trigger = body.index("trigger")
    assert body[trigger - 1] == "checkpoint" and body[trigger + 1] == "wait"
    for j, c in enumerate(body):
        if c == "sleep":
            assert body[j - 1] == "checkpoint"


def test_a_dose_marks_its_step_unrepeatable_until_the_next_step():
    pump = FakePump(name="pump_cd")
    assert is_dosing_device(pump) and is_dosing_device(pump.dispensed)
    assert not is_dosing_device(motor)

    def plan():
        yield from bps.mv(motor, 1)
        yield from bps.mv(pump, 0.5)
        yield from bps.sleep(10)

    rows = commands(plan(), StepTracker())
    flags = {(c, n): u for c, n, u in rows if c in ("set", "wait", "sleep")}
    assert flags[("set", "motor")] == ""
    assert flags[("set", "pump_cd")] == "pump_cd"
    waits = [u for c, _, u in rows if c == "wait"]
    assert waits == ["", "pump_cd"]          # the dose's wait belongs to the dose
    assert flags[("sleep", None)] == ""      # the next step is repeatable again


def test_errors_thrown_at_an_inserted_checkpoint_reach_the_plan():
    """An abort arriving at a checkpoint must still run the plan's own cleanup."""
    cleaned = []

    def plan():
        try:
            yield from bps.sleep(1)
        finally:
            cleaned.append(True)

    gen = StepTracker().wrap(plan())
    msg = gen.send(None)
    while msg.command != "checkpoint":
        msg = gen.send(None)
    try:
        gen.throw(RuntimeError("abort"))
    except RuntimeError:
        pass
    assert cleaned == [True]
