"""A simulated session shared by the plan tests of one module.

Opening a session (emulators, reactor model, catalog) costs seconds, so a module
shares one; every test starts from a fresh flask (recipe charged by the
simulated chemist), full syringes and every device safe.
"""

from __future__ import annotations

import pytest

from photoreactor.session import open_session


@pytest.fixture(scope="module")
def sim_session(tmp_path_factory):
    s = open_session("sim", tmp_path_factory.mktemp("catalog"), live=False, progress=False)
    yield s
    s.close()


@pytest.fixture
def sim(sim_session):
    """The module's session, reset: devices safe, faults cleared, syringes refilled."""
    s = sim_session
    for emu in s.bench.emulators.values():
        emu.clear()
    s.make_safe()
    for dev in s.devices.values():
        if hasattr(dev, "load_syringe"):
            dev.load_syringe(dev.reagent.volume_ml if dev.reagent.volume_ml else 0.0)
    yield s
    for emu in s.bench.emulators.values():
        emu.clear()
    s.make_safe()


def blank_then(s, recipe: str, *, spectrometer=None, **options):
    """Record the blank in pure solvent, then let the simulated chemist charge ``recipe``."""
    from photoreactor.plans import record_blank

    s.world.charge("empty", volume_ml=8.0)
    s.RE(record_blank(spectrometer or s.spectrometer))
    s.world.charge(recipe, **options)


def latest_run(s, plan_name: str):
    """The most recently started run of ``plan_name`` in the session's catalog.

    By start time, not by listing order: the ingester may register two runs that
    closed moments apart in either order.
    """
    started = [(start["time"], uid) for uid, start, _ in s.catalog.runs()
               if start.get("plan_name") == plan_name]
    assert started, f"no {plan_name} run in the catalog"
    return s.catalog.client[max(started)[1]]


def assert_reactor_safe(s):
    """Light off, heating off, no pump moving — read from the instruments and the world."""
    assert s.led.output.get() == 0, "LED output still on"
    assert s.mantle.heater_on.get() == 0, "heater still on"
    world = s.world.state()
    assert world["irradiance_mw_cm2"] == 0.0
    for line, (_, running) in ((k, s.world.flow_state(k)) for k in s.world.lines):
        assert not running, f"{line} still pumping"
