"""Experiment plans end to end: real drivers over emulated wires, on the reactor model.

Expectations are SCIENCE.md's published outcomes.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from bluesky.utils import FailedStatus, RunEngineInterrupted

from photoreactor.devices.common.errors import InstrumentAlarm
from photoreactor.plans import grow_until, intensity_cascade, silar_shell
from photoreactor.plans.preflight import PreflightError
from tests.plans.conftest import assert_reactor_safe, blank_then, latest_run


def _primary(s, uid, key):
    run = s.catalog.client[uid]
    return np.asarray(run["primary"].read()[key])


def test_grow_until_stops_cds_cores_at_403_nm(sim):
    sim.world.charge("A1_cds_core")
    result = sim.RE(grow_until(sim.mantle, sim.spectrometer, target_e1_nm=403.0, cool_to_c=None))
    assert result.exit_status == "success"
    e1 = _primary(sim, result.run_start_uids[0], "e1_nm")
    assert 403.0 <= e1[-1] < 405.0          # stopped at the target, not past it
    assert np.all(e1[:-1][np.isfinite(e1[:-1])] < 403.0)
    d = _primary(sim, result.run_start_uids[0], "diameter_nm")[-1]
    assert d == pytest.approx(3.5, abs=0.1)  # SCIENCE.md: E1 404 nm ↔ 1.75 nm radius
    assert_reactor_safe(sim)
    start = sim.catalog.client[result.run_start_uids[0]].metadata["start"]
    assert start["plan_name"] == "grow_until"
    assert start["clock"]["kind"] == "virtual"


def test_silar_shell_reaches_460_nm_within_2_nm(sim):
    blank_then(sim, "A2_shell")
    result = sim.RE(silar_shell(sim.mantle, sim.spectrometer, sim.pump_cd, sim.pump_s,
                                target_e1_nm=460.0, particles_mol=60e-9))
    assert result.exit_status == "success"
    uid = result.run_start_uids[0]
    e1 = _primary(sim, uid, "e1_nm")
    assert abs(e1[-1] - 460.0) <= 2.0
    doses = sim.catalog.client[uid]["dose"].read()
    pumps = [str(p) for p in np.asarray(doses["dose_pump"])]
    assert pumps[:2] == ["pump_cd", "pump_s"]        # cation first, then anion
    # doses were computed from the measured size: the first is the largest (≤ 0.5 ML)
    mol = np.asarray(doses["dose_mol"])
    assert mol[0] == pytest.approx(mol[1])
    assert_reactor_safe(sim)


def test_intensity_cascade_records_photon_dose_per_stage(sim):
    sim.world.charge("A4_cascade")
    stages = [{"irradiance_mw_cm2": 1.0, "duration_s": 4 * 3600.0},
              {"irradiance_mw_cm2": 150.0, "duration_s": 2 * 3600.0, "add": {"pump_b2pin2": 0.5}}]
    result = sim.RE(intensity_cascade(sim.led, pumps=[sim.pump_b2pin2], stages=stages))
    assert result.exit_status == "success"
    stage = sim.catalog.client[result.run_start_uids[0]]["stage"].read()
    dose = np.asarray(stage["photon_dose_stage"])
    # µmol photons/cm² = E[J/cm²] / (N_A h c / λ);  λ = 460 nm
    per_umol = 6.02214076e23 * 6.62607015e-34 * 2.99792458e8 / 460e-9 * 1e-6
    expected = [1.0e-3 * 4 * 3600 / per_umol, 150e-3 * 2 * 3600 / per_umol]
    assert dose == pytest.approx(expected, rel=0.02)
    assert_reactor_safe(sim)


def test_preflight_refuses_before_anything_moves(sim):
    runs_before = len(list(sim.catalog.client))
    setpoint_before = sim.mantle.setpoint.get()
    with pytest.raises(PreflightError) as info:
        sim.RE(grow_until(sim.mantle, sim.spectrometer, temperature_c=350.0))
    assert "mantle: 350 °C asked, above its limit of 300 °C" in str(info.value)
    with pytest.raises(PreflightError, match="boiling point of toluene"):
        sim.RE(grow_until(sim.mantle, sim.spectrometer, temperature_c=150.0, solvent="toluene"))
    with pytest.raises(PreflightError, match=r"pump_cd: plan needs .* mL of Cd myristate"):
        sim.RE(silar_shell(sim.mantle, sim.spectrometer, sim.pump_cd, sim.pump_s,
                           particles_mol=2e-6, monolayers=3.0))
    with pytest.raises(PreflightError, match=r"led: 500 mW/cm² asked, calibrated range is 0–170"):
        sim.RE(intensity_cascade(sim.led, stages=[{"irradiance_mw_cm2": 500, "duration_s": 60}]))
    assert len(list(sim.catalog.client)) == runs_before
    assert sim.mantle.setpoint.get() == setpoint_before


def test_pump_stall_mid_silar_fails_the_run_and_leaves_the_reactor_safe(sim):
    blank_then(sim, "A2_shell")
    sim.bench.emulator("pump_s").inject("stall")
    with pytest.raises(FailedStatus) as info:
        sim.RE(silar_shell(sim.mantle, sim.spectrometer, sim.pump_cd, sim.pump_s,
                           target_e1_nm=460.0))
    cause = info.value.__cause__
    assert isinstance(cause, InstrumentAlarm) and cause.device == "pump_s"
    assert "stall" in str(cause).lower()
    assert_reactor_safe(sim)
    run = latest_run(sim, "silar_shell")
    assert run.metadata["stop"]["exit_status"] == "fail"
    assert run.metadata["stop"]["reason"].startswith("PumpAlarm: pump_s")
    # what was measured before the fault is in the catalog
    assert len(run["primary"].read()["e1_nm"]) >= 1


def test_abort_leaves_the_reactor_safe_and_the_run_closed(sim):
    """Ctrl-C in a session = a pause request, then ``RE.abort()``: light off, run closed."""
    sim.world.charge("A4_cascade")
    dosed = threading.Event()

    def watch(name, doc):
        if name == "event" and "dose_mol" in doc["data"]:
            dosed.set()

    def operator():   # the chemist pressing Ctrl-C once the light is on
        dosed.wait(30)
        sim.RE.request_pause(defer=False)

    threading.Thread(target=operator, daemon=True).start()
    stages = [{"irradiance_mw_cm2": 5.0, "duration_s": 3600.0, "add": {"pump_b2pin2": 0.2}},
              {"irradiance_mw_cm2": 150.0, "duration_s": 3600.0}]
    with pytest.raises(RunEngineInterrupted):
        sim.RE(intensity_cascade(sim.led, pumps=[sim.pump_b2pin2], stages=stages), watch)
    assert sim.RE.state == "paused"
    sim.RE.abort(reason="operator abort in test")
    assert_reactor_safe(sim)
    run = latest_run(sim, "intensity_cascade")
    assert run.metadata["stop"]["exit_status"] == "abort"
    assert len(run["dose"].read()["dose_mol"]) == 1     # what happened before stays recorded
