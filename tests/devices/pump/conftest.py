"""Fixtures: a small simulated bench (virtual clock, minimal world) for pump tests."""

from __future__ import annotations

import copy
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


def make_ne_pump(bench, name="pump_cd", config=None, **overrides):
    """Attach the emulator for ``name`` and build the device: ``(device, view)``."""
    from photoreactor.devices.pump.build import build_ne1000
    from photoreactor.sim_devices.emulators.newera import attach

    cfg = copy.deepcopy(config or CD_CONFIG)
    cfg.update(overrides)
    view = attach(bench, name, cfg)
    bench.emulators[name] = view
    return build_ne1000(name, cfg, bench.clock), view


@pytest.fixture
def bench(clock):
    return make_bench(clock)


@pytest.fixture
def ne_pump(bench):
    """``make(name, config, **overrides)`` → (device, emulator view) on sim://pumps."""
    made = []

    def make(name="pump_cd", config=None, **overrides):
        dev, view = make_ne_pump(bench, name, config, **overrides)
        made.append(dev)
        return dev, view

    yield make
    for dev in made:
        dev._cancel.set()


ZN_CONFIG = {
    "class": "C3000Pump", "port": "sim://dt", "address": 0, "baudrate": 9600,
    "syringe_volume_ml": 5.0, "max_rate_ml_min": 20.0, "rate_ml_min": 1.0, "timeout_s": 0.1,
    "reagent": {"name": "Zn oleate 0.1 M in ODE", "species": "Zn", "concentration_mol_l": 0.1,
                "solvent": "ODE", "volume_ml": 4.0},
}


def make_c3000(bench, name="pump_zn", config=None, **overrides):
    from photoreactor.devices.pump.build import build_c3000
    from photoreactor.sim_devices.emulators.c3000 import attach

    cfg = copy.deepcopy(config or ZN_CONFIG)
    cfg.update(overrides)
    view = attach(bench, name, cfg)
    bench.emulators[name] = view
    return build_c3000(name, cfg, bench.clock), view


@pytest.fixture
def c3000_pump(bench):
    made = []

    def make(name="pump_zn", config=None, **overrides):
        dev, view = make_c3000(bench, name, config, **overrides)
        made.append(dev)
        return dev, view

    yield make
    for dev in made:
        dev._cancel.set()
