"""Build the simulated bench for a profile: the world plus one emulator per device.

For each device entry in the profile, the emulator registered for its class
(:func:`photoreactor.sim_devices.emulators.base.emulates`) is attached to the
bench; it registers itself under the address the device entry names
(``port: sim://pumps``, ``resource: ...`` with ``visa_backend: "@emulator"``,
``serial_number: ...``), so the device builder then opens it like hardware.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .emulators.base import Emulator, attachers, clear_registries
from .world import MinimalReactor, Reactor


@dataclass
class SimBench:
    """The simulated world and its emulators, by device name."""

    clock: object
    world: Reactor
    emulators: dict[str, Emulator] = field(default_factory=dict)
    serial_timeout_s: float = 0.2

    def emulator(self, device_name: str) -> Emulator:
        try:
            return self.emulators[device_name]
        except KeyError:
            raise KeyError(f"no emulator for device {device_name!r}; "
                           f"have {sorted(self.emulators)}") from None


def make_world(clock, sim_config: dict) -> Reactor:
    """The reactor model named by the profile's ``simulation.world``."""
    kind = sim_config.get("world", "reactor")
    seed = int(sim_config.get("seed", 0))
    if kind == "minimal":
        return MinimalReactor(clock, seed=seed)
    if kind == "reactor":
        try:
            from .reactor import ReactorModel
        except ImportError:  # physical model not available: run on the minimal world
            return MinimalReactor(clock, seed=seed)
        return ReactorModel(clock, seed=seed, **sim_config.get("scenario", {}))
    raise ValueError(f"simulation.world must be 'reactor' or 'minimal', not {kind!r}")


def build_bench(profile, clock) -> SimBench:
    """Create the world and attach an emulator for every device in ``profile``."""
    clear_registries()
    sim = profile.simulation
    bench = SimBench(clock=clock, world=make_world(clock, sim),
                     serial_timeout_s=float(sim.get("serial_timeout_s", 0.2)))
    table = attachers()
    for name, cfg in profile.devices.items():
        attach = table.get(cfg["class"])
        if attach is None:
            raise ValueError(f"device {name!r}: no emulator for class {cfg['class']!r}; "
                             f"simulated classes are {sorted(table)}")
        emulator = attach(bench, name, cfg)
        if emulator is not None:
            bench.emulators[name] = emulator
            for fault in (cfg.get("emulator") or {}).get("faults", []):
                emulator.inject(fault)
    return bench
