"""A small simulated rig for the unattended-operation tests: IKA mantle, DC2200 LED and two
New Era pumps on the minimal world, a virtual clock and a plain RunEngine (no catalog)."""

from __future__ import annotations

import time

import pytest
from bluesky import RunEngine

from photoreactor.config import load_profile
from photoreactor.session import Session, build_devices
from photoreactor.sim_devices.bench import build_bench
from photoreactor.sim_devices.clock import install_sleep_handler

#: serial read timeout of the drivers here (wall s): only paid while a fault silences a device
TIMEOUT_S = 0.05

CALIBRATION = {"current_a": [0.0, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0],
               "irradiance_mw_cm2": [0.0, 1.9, 9.8, 19.5, 38.5, 75.0, 109.0, 141.0, 170.0],
               "date": "2026-11-01", "sensor": "S121C"}


def rig_profile(**sections) -> dict:
    pump = {"class": "NE1000Pump", "port": "sim://pumps", "baudrate": 19200,
            "syringe_diameter_mm": 14.57, "syringe_volume_ml": 10, "max_rate_ml_min": 8,
            "rate_ml_min": 2.0, "timeout_s": TIMEOUT_S, "retries": 1}
    raw = {
        "name": "queue-rig", "reactor_id": "rig-1", "operator": "tester",
        "clock": {"kind": "virtual", "speed": 1000},
        "catalog": {"kind": "embedded"},
        "simulation": {"seed": 1, "world": "minimal", "serial_timeout_s": TIMEOUT_S},
        "devices": {
            "mantle": {"class": "IkaMantle", "port": "sim://mantle", "max_temperature_c": 300,
                       "tolerance_c": 1.0, "settle_s": 30, "timeout_s": TIMEOUT_S},
            "led": {"class": "DC2200Led", "resource": "USB0::0x1313::0x80C8::M00000001::INSTR",
                    "visa_backend": "@emulator", "wavelength_nm": 460, "max_current_a": 1.0,
                    "calibration": CALIBRATION, "timeout_s": 0.2},
            "pump_cd": {**pump, "address": 1,
                        "reagent": {"name": "Cd oleate 0.04 M", "species": "Cd",
                                    "concentration_mol_l": 0.04, "volume_ml": 10}},
            "pump_s": {**pump, "address": 2,
                       "reagent": {"name": "S 0.04 M", "species": "S",
                                   "concentration_mol_l": 0.04, "volume_ml": 10}},
        },
    }
    raw.update(sections)
    return raw


@pytest.fixture
def make_rig(tmp_path, clock):
    """``make_rig(**profile_sections)`` -> a Session on the rig (RunEngine, no catalog)."""
    made = []

    def make(**sections):
        prof = load_profile(rig_profile(**sections))
        bench = build_bench(prof, clock)
        devices = build_devices(prof, clock)
        RE = RunEngine({}, call_returns_result=True)
        install_sleep_handler(RE, clock)
        session = Session(profile=prof, RE=RE, devices=devices, catalog=None, clock=clock,
                          data_dir=tmp_path, bench=bench)
        session.make_safe()
        made.append(session)
        return session

    yield make
    for s in made:
        if s.RE.state != "idle":
            s.RE.halt()
        s.close()


@pytest.fixture
def rig(make_rig):
    return make_rig()


def until(predicate, wall_s: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` a few ms apart (wall) until true; fail after ``wall_s``."""
    end = time.perf_counter() + wall_s
    while not predicate():
        if time.perf_counter() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)
