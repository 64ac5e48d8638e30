"""Shared fixtures.

Hardware tests are opt-in: ``pytest --hardware profiles/lab/profile.yaml`` runs tests
marked ``hardware`` against that profile; without the flag they are skipped.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--hardware", metavar="PROFILE", default=None,
                     help="run hardware tests against the instruments of this profile")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--hardware"):
        return
    skip = pytest.mark.skip(reason="hardware test: run with --hardware PROFILE")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def hardware_profile(request):
    """The profile named by ``--hardware`` (tests using it are skipped without the flag)."""
    path = request.config.getoption("--hardware")
    if not path:
        pytest.skip("hardware test: run with --hardware PROFILE")
    from photoreactor.config import load_profile

    return load_profile(path)


@pytest.fixture
def clock():
    """A fast virtual clock (1000x), fresh per test."""
    from photoreactor.sim_devices.clock import VirtualClock

    return VirtualClock(speed=1000.0)


@pytest.fixture
def RE(clock):
    """A function-scoped RunEngine whose ``sleep`` jumps the virtual clock."""
    from bluesky import RunEngine

    from photoreactor.sim_devices.clock import install_sleep_handler

    engine = RunEngine({}, call_returns_result=True)
    install_sleep_handler(engine, clock)
    yield engine
    if engine.state != "idle":
        engine.halt()


#: fixtures that own a whole simulated session across tests (they clean up themselves)
SESSION_FIXTURES = {"sim", "sim_session"}


@pytest.fixture(autouse=True)
def _fresh_emulators(request):
    """Each test starts with no registered emulators and no open shared ports."""
    yield
    if SESSION_FIXTURES & set(request.fixturenames):
        return
    from photoreactor.devices.common.transport import close_all_serial
    from photoreactor.sim_devices.emulators.base import clear_registries

    close_all_serial()
    clear_registries()
