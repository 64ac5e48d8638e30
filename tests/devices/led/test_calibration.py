"""Calibration table, sweep fitting, photon conversion and dose integration (pure maths)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from photoreactor.devices.led.calibration import (
    DoseIntegrator,
    LedCalibration,
    NotCalibrated,
    fit_calibration,
    photon_dose_umol_cm2,
)

CURRENT = [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0]
IRRADIANCE = [0.0, 0.9, 1.9, 3.9, 9.8, 19.5, 38.5, 75.0, 109.0, 141.0, 170.0]


class ManualClock:
    """A clock that only moves when told (exact dose arithmetic)."""

    kind = "manual"

    def __init__(self, t: float = 1000.0):
        self.t = t

    def time(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s

    def wall_seconds(self, s: float) -> float:
        return 0.0

    def describe(self) -> dict:
        return {"kind": self.kind}


@pytest.fixture
def cal():
    return LedCalibration(CURRENT, IRRADIANCE, date="2026-11-01", sensor="S121C")


def test_range_and_interpolation_hit_the_table(cal):
    assert cal.irradiance_range == (0.0, 170.0)
    assert cal.current_range == (0.0, 1.0)
    for i_a, e in zip(CURRENT, IRRADIANCE, strict=True):
        assert cal.current_for(e) == pytest.approx(i_a, abs=1e-12)
        assert cal.irradiance_for(i_a) == pytest.approx(e, abs=1e-12)


def test_inverse_is_monotonic_and_round_trips(cal):
    targets = np.linspace(0.0, 170.0, 400)
    currents = np.array([cal.current_for(x) for x in targets])
    assert np.all(np.diff(currents) > 0)
    back = np.array([cal.irradiance_for(c) for c in currents])
    np.testing.assert_allclose(back, targets, atol=1e-9)
    # PCHIP never overshoots the neighbouring table points
    c5 = cal.current_for(5.0)
    assert 0.02 < c5 < 0.05


def test_outside_range_and_uncalibrated():
    cal = LedCalibration(CURRENT, IRRADIANCE)
    with pytest.raises(ValueError, match="outside the calibrated range 0–170"):
        cal.current_for(171.0)
    with pytest.raises(ValueError):
        cal.current_for(-0.1)
    # reporting clips instead of extrapolating
    assert cal.irradiance_for(1.2) == pytest.approx(170.0)
    empty = LedCalibration.uncalibrated()
    assert not empty.is_calibrated
    assert empty.irradiance_range == (0.0, 0.0)
    assert math.isnan(empty.irradiance_for(0.5))
    with pytest.raises(NotCalibrated, match="calibrate_led"):
        empty.current_for(1.0)


@pytest.mark.parametrize("current, irradiance, message", [
    ([0.0, 0.1], [0.0], "2 currents but 1"),
    ([0.1], [1.0], "at least two"),
    ([0.0, 0.1, 0.2], [0.0, 5.0, 4.0], r"point 2 \(0.1 A, 5 mW/cm²\) is followed by point 3"),
    ([0.0, 0.2, 0.1], [0.0, 5.0, 6.0], "current must increase strictly"),
    ([0.0, -0.1], [0.0, 1.0], "must not be negative"),
    ([0.0, 0.1], [0.0, float("nan")], "finite"),
])
def test_invalid_tables_are_refused(current, irradiance, message):
    with pytest.raises(ValueError, match=message):
        LedCalibration(current, irradiance)


def test_config_round_trip_and_dates():
    cal = LedCalibration.from_config({"current_a": CURRENT, "irradiance_mw_cm2": IRRADIANCE,
                                      "date": dt.date(2026, 11, 1), "sensor": "S121C"})
    assert cal.date == "2026-11-01"
    assert LedCalibration.from_config(cal.to_config()) == cal
    assert LedCalibration.from_config(None) == LedCalibration.uncalibrated()
    with pytest.raises(ValueError, match="unknown key"):
        LedCalibration.from_config({"current_a": [0, 1], "irradiance_mw_cm2": [0, 1], "lot": 3})
    with pytest.raises(ValueError, match="needs"):
        LedCalibration.from_config({"current_a": [0, 1]})


def _true(i):
    return 196.0 * i / (1 + 0.15 * i)


def test_fit_calibration_from_noisy_sweep_with_repeats():
    rng = np.random.default_rng(3)
    currents = np.repeat(np.linspace(0.0, 1.0, 21), 3)
    measured = _true(currents) * (1 + rng.normal(0, 0.003, currents.size)) + rng.normal(
        0, 0.01, currents.size)
    cal = fit_calibration(currents, measured, date="2026-11-02", sensor="S121C")
    assert cal.current_a.size >= 20
    assert np.all(np.diff(cal.irradiance_mw_cm2) > 0)
    assert cal.irradiance_range[1] > 150.0
    for target in (1.0, 5.0, 150.0):
        assert _true(cal.current_for(target)) == pytest.approx(target, rel=0.02)
    assert cal.date == "2026-11-02" and cal.sensor == "S121C"


def test_fit_smooths_small_dips_and_clips_dark_noise():
    cur = [0.0, 0.1, 0.2, 0.3, 0.4]
    irr = [-0.01, 20.0, 39.5, 39.0, 78.0]   # 0.5 mW/cm² dip: noise
    cal = fit_calibration(cur, irr)
    assert cal.irradiance_mw_cm2[0] == 0.0
    assert np.all(np.diff(cal.irradiance_mw_cm2) > 0)
    # the pooled pair became one point at the lower current
    assert 0.3 not in cal.current_a
    assert cal.irradiance_for(0.2) == pytest.approx(39.25)


def test_fit_refuses_a_sweep_where_the_led_tripped():
    with pytest.raises(ValueError, match="tripped"):
        fit_calibration([0.0, 0.2, 0.4, 0.6], [0.0, 40.0, 80.0, 0.0])


def test_fit_refuses_no_light_or_too_few_points():
    with pytest.raises(ValueError, match="no light"):
        fit_calibration([0.0, 0.5, 1.0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="two distinct"):
        fit_calibration([0.5, 0.5], [1.0, 1.1])
    with pytest.raises(ValueError, match="non-finite"):
        fit_calibration([0.0, 0.5], [0.0, float("inf")])


def test_photon_dose_matches_planck_relation():
    # SCIENCE.md: E[eV] = 1239.84 / λ[nm];  N = P·λ/(h·c)
    e_photon_j = 1239.84 / 460.0 * 1.602176634e-19
    expected_umol = 1.0 / e_photon_j / 6.02214076e23 * 1e6   # 1 J/cm²
    assert photon_dose_umol_cm2(1000.0, 460.0) == pytest.approx(expected_umol, rel=1e-5)
    assert photon_dose_umol_cm2(1000.0, 460.0) == pytest.approx(3.8453, rel=1e-4)
    with pytest.raises(ValueError):
        photon_dose_umol_cm2(1.0, 0.0)


def test_dose_integrates_piecewise_across_jumps():
    clock = ManualClock()
    dose = DoseIntegrator(clock)
    dose.set_level(10.0)
    clock.t += 3600.0                      # one hour in one jump
    assert dose.energy_mj_cm2() == pytest.approx(36000.0)
    dose.set_level(20.0)
    for _ in range(1800):                  # half an hour in 1800 steps: same answer
        clock.t += 1.0
    assert dose.energy_mj_cm2() == pytest.approx(72000.0)
    dose.set_level(0.0)
    clock.t += 1000.0
    assert dose.energy_mj_cm2() == pytest.approx(72000.0)
    dose.reset()
    assert dose.energy_mj_cm2() == 0.0


def test_dose_lost_books_only_until_last_confirmation():
    clock = ManualClock()
    dose = DoseIntegrator(clock)
    dose.set_level(5.0)
    clock.t += 100.0
    dose.confirm()
    clock.t += 900.0                       # the LED tripped somewhere in here
    dose.lost()
    assert dose.energy_mj_cm2() == pytest.approx(500.0)
    clock.t += 100.0
    assert dose.energy_mj_cm2() == pytest.approx(500.0)
    assert dose.level_mw_cm2 == 0.0


def test_unknown_irradiance_gives_unknown_dose_until_reset():
    clock = ManualClock()
    dose = DoseIntegrator(clock)
    dose.set_level(float("nan"))
    clock.t += 10.0
    assert math.isnan(dose.energy_mj_cm2())
    dose.set_level(0.0)
    dose.reset()
    assert dose.energy_mj_cm2() == 0.0
