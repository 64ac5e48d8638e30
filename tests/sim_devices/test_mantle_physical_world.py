"""Both mantles regulating the physical reactor model (mantle/flask/contents heat lag).

Checks that the emulators' regulation suits the world the simulated profile uses:
the heat-up time SCIENCE.md implies (10 mL ODE, 25 → 240 °C in 5–15 min), small
overshoot, a tight hold, and the same answer whether time passes in one jump.
Skipped until the physical model is importable.
"""

from __future__ import annotations

import pytest

import photoreactor.sim_devices  # noqa: F401  (sim:// scheme)
from photoreactor.sim_devices.bench import SimBench, make_world

reactor = pytest.importorskip("photoreactor.sim_devices.reactor")


@pytest.fixture(params=["IkaMantle", "EurothermMantle"])
def mantle(request, clock):
    from photoreactor.devices.mantle.build import build_eurotherm_mantle, build_ika_mantle
    from photoreactor.sim_devices.emulators import eurotherm, ika

    world = make_world(clock, {"world": "reactor", "seed": 1,
                               "scenario": {"recipe": "A1_cds_core"}})
    bench = SimBench(clock=clock, world=world, serial_timeout_s=0.05)
    cfg = {"class": request.param, "port": "sim://mantle", "max_temperature_c": 300,
           "timeout_s": 0.05}
    attach, build = {"IkaMantle": (ika.attach, build_ika_mantle),
                     "EurothermMantle": (eurotherm.attach, build_eurotherm_mantle)}[request.param]
    emu = attach(bench, "mantle", cfg)
    dev = build("mantle", cfg, clock)
    yield dev, emu, world
    dev.destroy()


def test_heat_up_overshoot_and_hold(mantle, clock):
    dev, emu, world = mantle
    seen = []
    dev.temperature.subscribe(lambda value, **kw: seen.append(value), run=False)
    t0 = clock.time()
    dev.set(240.0).wait(60)
    minutes = (clock.time() - t0) / 60.0
    assert 5.0 <= minutes <= 15.0, f"settled in {minutes:.1f} min"
    assert max(seen) - 240.0 < 5.0
    band = []
    for _ in range(60):
        clock.advance(60.0)
        band.append(world.temperature_c())
    assert 239.0 <= min(band) <= max(band) <= 241.0


def test_cooling_under_regulation_and_heater_off(mantle, clock):
    dev, emu, world = mantle
    dev.set(200.0).wait(60)
    dev.set(150.0).wait(60)
    assert abs(world.temperature_c() - 150.0) <= 1.0
    dev.heater_on.set(0).wait(10)
    clock.advance(3600.0)
    assert world.temperature_c() < 60.0
