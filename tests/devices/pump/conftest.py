"""Fixtures: a small simulated bench (virtual clock, minimal world) for pump tests."""

from __future__ import annotations

import copy
import time
from types import SimpleNamespace

import pytest

import photoreactor.sim_devices  # noqa: F401  (registers sim:// and the emulator backends)
from photoreactor.sim_devices.world import MinimalReactor

CD_CONFIG = {
    "class": "NE1000Pump", "port": "sim://pumps", "address": 1, "baudrate": 19200,
    "syringe_diameter_mm": 14.57, "syringe_volume_ml": 10, "max_rate_ml_min": 8,
    "rate_ml_min": 2.0, "timeout_s": 0.1,
    "reagent": {"name": "Cd myristate 0.04 M in ODE", "species": "Cd",
                "concentration_mol_l": 0.04, "solvent": "ODE", "volume_ml": 10},
}
S_CONFIG = {
    **CD_CONFIG, "address": 2,
    "reagent": {"name": "S 0.1 M in ODE", "species": "S", "concentration_mol_l": 0.1,
                "solvent": "ODE", "volume_ml": 5},
}


def make_bench(clock):
    """A minimal bench: the clock, a minimal world, short serial timeouts."""
    return SimpleNamespace(clock=clock, world=MinimalReactor(clock, seed=0),
                           serial_timeout_s=0.1, emulators={})


def _attach_and_build(bench, name, config, overrides, attach, build):
    """Attach the emulator for ``name`` and build the device: ``(device, view)``."""
    cfg = copy.deepcopy(config)
    cfg.update(overrides)
    view = attach(bench, name, cfg)
    bench.emulators[name] = view
    return build(name, cfg, bench.clock), view


def make_ne_pump(bench, name="pump_cd", config=None, **overrides):
    """An NE-1000 on sim://pumps: ``(device, view)``."""
    from photoreactor.devices.pump.build import build_ne1000
    from photoreactor.sim_devices.emulators.newera import attach

    return _attach_and_build(bench, name, config or CD_CONFIG, overrides, attach, build_ne1000)


@pytest.fixture
def bench(clock):
    return make_bench(clock)


def _pump_factory(bench, make_pump):
    """Fixture body: ``make(name, config, **overrides)``; the devices' workers end afterwards."""
    made = []

    def make(*args, **overrides):
        dev, view = make_pump(bench, *args, **overrides)
        made.append(dev)
        return dev, view

    yield make
    for dev in made:
        dev._cancel.set()


@pytest.fixture
def ne_pump(bench):
    """``make(name, config, **overrides)`` → (device, emulator view) on sim://pumps."""
    yield from _pump_factory(bench, make_ne_pump)


ZN_CONFIG = {
    "class": "C3000Pump", "port": "sim://dt", "address": 0, "baudrate": 9600,
    "syringe_volume_ml": 5.0, "max_rate_ml_min": 20.0, "rate_ml_min": 1.0, "timeout_s": 0.1,
    "reagent": {"name": "Zn oleate 0.1 M in ODE", "species": "Zn", "concentration_mol_l": 0.1,
                "solvent": "ODE", "volume_ml": 4.0},
}


def make_c3000(bench, name="pump_zn", config=None, **overrides):
    """A C3000 on sim://dt: ``(device, view)``."""
    from photoreactor.devices.pump.build import build_c3000
    from photoreactor.sim_devices.emulators.c3000 import attach

    return _attach_and_build(bench, name, config or ZN_CONFIG, overrides, attach, build_c3000)


@pytest.fixture
def c3000_pump(bench):
    """``make(name, config, **overrides)`` → (device, emulator view) on sim://dt."""
    yield from _pump_factory(bench, make_c3000)


# What differs between the pump families where their behaviour is the same: how to
# build one, what its syringe holds, its rate limit, the alarm codes its firmware
# reports for the injected faults, and how the firmware says it is moving.
PUMP_FAMILIES = {
    "ne1000": SimpleNamespace(fixture="ne_pump", name="pump_cd", full_ml=10.0,
                              max_rate_ml_min=8.0, alarm={"stall": "S", "power_loss": "R"},
                              moving=lambda view: view.firmware.moving()),
    "c3000": SimpleNamespace(fixture="c3000_pump", name="pump_zn", full_ml=4.0,
                             max_rate_ml_min=20.0, alarm={"stall": "i", "power_loss": "g"},
                             moving=lambda view: view.firmware.busy()),
}


@pytest.fixture(params=sorted(PUMP_FAMILIES))
def pump_family(request):
    """One pump family's facts plus ``make(**overrides)`` → (device, view), for shared tests."""
    family = PUMP_FAMILIES[request.param]
    return SimpleNamespace(**vars(family), make=request.getfixturevalue(family.fixture))


def wait(status, wall_s=10.0):
    """Wait (wall time) for a status and return it; its outcome is the test's to check."""
    status.wait(wall_s)
    return status


def start_move(pump, bench, volume_ml, *, until_ml):
    """Start dispensing ``volume_ml``; return its status once ``until_ml`` has flowed."""
    status = pump.set(volume_ml)
    while bench.world.flow_state(pump.name)[0] < until_ml:
        time.sleep(0.001)
    return status


def alarm_mid_move(pump, view, bench, fault, *, until_ml):
    """Start a 2 mL dose, inject ``fault`` once ``until_ml`` has flowed: the PumpAlarm it ends with."""
    from photoreactor.devices.pump import PumpAlarm

    status = start_move(pump, bench, 2.0, until_ml=until_ml)
    view.inject(fault)
    with pytest.raises(PumpAlarm) as err:
        status.wait(10)
    return err.value
