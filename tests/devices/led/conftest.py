"""Fixtures: LED devices built by their real builders on emulators and a minimal world."""

from __future__ import annotations

import pytest

CALIBRATION = {
    "current_a": [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0],
    "irradiance_mw_cm2": [0.0, 0.9, 1.9, 3.9, 9.8, 19.5, 38.5, 75.0, 109.0, 141.0, 170.0],
    "date": "2026-11-01",
    "sensor": "S121C",
}

DC2200_CFG = {"class": "DC2200Led", "resource": "USB0::0x1313::0x80C8::M00000001::INSTR",
              "visa_backend": "@emulator", "wavelength_nm": 460, "max_current_a": 1.0,
              "calibration": CALIBRATION, "timeout_s": 0.2}


@pytest.fixture
def bench():
    """A slow virtual clock (1×, jumps with advance) so doses are exact to micro-seconds."""
    import photoreactor.sim_devices  # noqa: F401  (registers sim:// and @emulator)
    from photoreactor.sim_devices.bench import SimBench
    from photoreactor.sim_devices.clock import VirtualClock
    from photoreactor.sim_devices.world import MinimalReactor

    clock = VirtualClock(speed=1.0, start=1_000_000.0)
    return SimBench(clock=clock, world=MinimalReactor(clock), serial_timeout_s=0.05)


def make_dc2200(bench, name="led", **overrides):
    from photoreactor.devices.led.build import build_dc2200
    from photoreactor.sim_devices.emulators import dc2200

    cfg = {**DC2200_CFG, **overrides}
    emu = dc2200.attach(bench, name, cfg)
    return build_dc2200(name, cfg, bench.clock), emu


def make_dc4100(bench, name, channel, **overrides):
    from photoreactor.devices.led.build import build_dc4100
    from photoreactor.sim_devices.emulators import dc4100

    cfg = {"class": "DC4100Led", "port": "sim://leds", "channel": channel, "wavelength_nm": 405,
           "timeout_s": 0.05, **overrides}
    emu = dc4100.attach(bench, name, cfg)
    return build_dc4100(name, cfg, bench.clock), emu


@pytest.fixture
def led(bench):
    device, emu = make_dc2200(bench)
    device.emu = emu
    return device
