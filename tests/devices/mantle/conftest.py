"""Mantle fixtures: a minimal world on a virtual clock, the emulators, drivers and devices."""

from __future__ import annotations

import pytest

import photoreactor.sim_devices  # noqa: F401  (registers the sim:// serial scheme)
from photoreactor.devices.common.transport import open_serial
from photoreactor.devices.mantle.device import EurothermMantle, IkaMantle
from photoreactor.devices.mantle.eurotherm import SERIAL_DEFAULTS, EurothermDriver
from photoreactor.devices.mantle.ika import SERIAL_SETTINGS, IkaNamurDriver
from photoreactor.sim_devices.bench import SimBench
from photoreactor.sim_devices.emulators import eurotherm as eurotherm_emu
from photoreactor.sim_devices.emulators import ika as ika_emu
from photoreactor.sim_devices.world import MinimalReactor

#: read timeout of the drivers in these tests (wall seconds; only paid on faults)
TIMEOUT_S = 0.05


@pytest.fixture
def world(clock):
    return MinimalReactor(clock)


@pytest.fixture
def bench(clock, world):
    return SimBench(clock=clock, world=world, serial_timeout_s=TIMEOUT_S)


@pytest.fixture
def ika(bench):
    """(emulator, driver) for an IKA controller on sim://mantle."""
    emu = ika_emu.attach(bench, "mantle", {"port": "sim://mantle"})
    port = open_serial("sim://mantle", **SERIAL_SETTINGS)
    return emu, IkaNamurDriver(port, name="mantle", timeout_s=TIMEOUT_S)


@pytest.fixture
def ika_mantle(ika, clock):
    emu, drv = ika
    dev = IkaMantle(drv, clock=clock, name="mantle", max_temperature_c=300.0, settle_s=30.0,
                    tolerance_c=1.0)
    yield dev
    dev.destroy()


@pytest.fixture
def euro(bench):
    """(emulator, driver) for a Eurotherm 3216 at address 1 on sim://tc."""
    emu = eurotherm_emu.attach(bench, "mantle", {"port": "sim://tc", "address": 1})
    port = open_serial("sim://tc", **SERIAL_DEFAULTS)
    return emu, EurothermDriver(port, 1, name="mantle", timeout_s=TIMEOUT_S)


@pytest.fixture
def euro_mantle(euro, clock):
    emu, drv = euro
    dev = EurothermMantle(drv, clock=clock, name="mantle", max_temperature_c=300.0,
                          settle_s=30.0, tolerance_c=1.0)
    yield dev
    dev.destroy()


def wait(status, wall_s: float = 30.0):
    """Wait for a status in wall time and return it (raises its exception)."""
    status.wait(wall_s)
    return status


def until(predicate, wall_s: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` (a few ms of wall time apart) until true; fail after ``wall_s``.

    Used instead of fixed sleeps to catch a move mid-way (e.g. "heating has
    started"), whatever the speed of the machine running the tests.
    """
    import time

    end = time.perf_counter() + wall_s
    while not predicate():
        if time.perf_counter() > end:
            raise AssertionError(f"{what} not reached within {wall_s} s wall")
        time.sleep(0.002)
