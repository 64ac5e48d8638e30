"""Kinetic fits, turnover numbers and photon bookkeeping against SCIENCE.md numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from photoreactor.analysis import kinetics as K
from photoreactor.analysis import photons as P

# -- first order / Avrami ----------------------------------------------------


def test_first_order_fit_recovers_rate_and_plateau():
    t = np.linspace(0, 4 * 3600, 40)
    k = 1 / 1800.0
    y = 0.8 - 0.7 * np.exp(-k * t) + np.random.default_rng(0).normal(0, 0.003, t.size)
    fit = K.fit_first_order(t, y)
    assert fit.k_per_s == pytest.approx(k, rel=0.03)
    assert fit.y_inf == pytest.approx(0.8, abs=0.005)
    assert fit.y0 == pytest.approx(0.1, abs=0.01)
    assert fit.half_life_s == pytest.approx(1800 * math.log(2), rel=0.03)
    assert fit.time_to_fraction_s(0.5) == pytest.approx(fit.half_life_s)
    assert fit.residual_rms < 0.005
    np.testing.assert_allclose(fit(t), 0.8 - 0.7 * np.exp(-k * t), atol=0.01)


def test_first_order_fit_refuses_flat_or_short_data():
    with pytest.raises(ValueError, match="do not change"):
        K.fit_first_order([0, 1, 2, 3], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="at least 4"):
        K.fit_first_order([0, 1], [0, 1])


def test_avrami_fit():
    t = np.linspace(0, 10 * 3600, 30)
    x = 1 - np.exp(-((t / 14400.0) ** 2.5))
    fit = K.fit_avrami(t, x + np.random.default_rng(1).normal(0, 0.005, t.size))
    assert fit.n == pytest.approx(2.5, rel=0.05)
    assert fit.k_per_s == pytest.approx(1 / 14400.0, rel=0.03)
    assert fit.half_time_s == pytest.approx(14400 * math.log(2) ** (1 / 2.5), rel=0.03)


# -- interdiffusion (SCIENCE.md E) ---------------------------------------------

def test_sphere_exchange_complete_in_about_four_hours_at_1e_22():
    r = 1.6  # 3.2 nm CdSe
    one_h = K.sphere_exchange_fraction(3600, r)
    four_h = K.sphere_exchange_fraction(4 * 3600, r)
    assert 0.8 < one_h < 0.9
    assert four_h > 0.995
    # ~1000× smaller D at room temperature without thiol: barely started after 4 h
    assert K.sphere_exchange_fraction(4 * 3600, r, 1e-25) < 0.15
    # short-time and series branches agree where they meet
    r_m = r * 1e-9
    t_switch = 1e-3 * r_m**2 / 1e-22
    lo = K.sphere_exchange_fraction(t_switch * 0.999, r)
    hi = K.sphere_exchange_fraction(t_switch * 1.001, r)
    assert lo == pytest.approx(hi, rel=2e-3)
    assert K.sphere_exchange_fraction(0.0, r) == 0.0


def test_time_to_exchange_inverts_and_fit_recovers_d():
    t99 = K.time_to_exchange_s(0.99, 1.6)
    assert K.sphere_exchange_fraction(t99, 1.6) == pytest.approx(0.99, abs=1e-6)
    assert 2 * 3600 < t99 < 4 * 3600
    t = np.array([300, 600, 1200, 1800, 3600, 7200, 14400.0])
    x = K.sphere_exchange_fraction(t, 1.6, 1.3e-22)
    fit = K.fit_interdiffusion(t, x + np.random.default_rng(2).normal(0, 0.005, t.size), 1.6)
    assert fit.diffusion_m2_s == pytest.approx(1.3e-22, rel=0.05)


# -- turnover ------------------------------------------------------------------

@pytest.mark.parametrize(("yield_pct", "mol_pct", "ton"), [
    (88, 0.001, 88_000), (7, 0.001, 7_000), (93, 0.001, 93_000), (30, 0.0005, 60_000),
    (19, 10, 1.9), (21, 10, 2.1),
])
def test_ton_table_1(yield_pct, mol_pct, ton):
    """SCIENCE.md A3 Table 1."""
    assert K.ton_from_yield(yield_pct / 100, mol_pct) == pytest.approx(ton)


def test_ton_from_amounts_and_tof():
    substrate = 0.25e-3
    qd = substrate * 0.001 / 100
    assert K.turnover_number(0.88 * substrate, qd) == pytest.approx(88_000)
    # SCIENCE.md D: TON 17 964 per cluster, TOF 2 994 per cluster per hour over 6 h
    assert K.turnover_frequency_per_h(17964, 6 * 3600) == pytest.approx(2994, abs=0.5)
    assert K.ton_per_cluster(1.0e-3, 13e-3 / 17964) == pytest.approx(17964)
    with pytest.raises(ValueError, match="positive"):
        K.turnover_number(1e-3, 0.0)


# -- photons -------------------------------------------------------------------

def test_photon_flux_from_power():
    # 1 mW at 400 nm: P λ/(h c) = 2.0137e15 photons/s
    assert P.photon_flux_per_s(1e-3, 400.0) == pytest.approx(2.0137e15, rel=1e-4)
    assert P.photon_flux_mol_s(1e-3, 400.0) == pytest.approx(2.0137e15 / 6.02214076e23, rel=1e-4)
    assert P.photon_energy_j(1239.84) == pytest.approx(1.602176634e-19, rel=1e-5)  # 1 eV
    with pytest.raises(ValueError):
        P.photon_energy_j(0)


def test_dose_step_vs_trapezoid_and_cumulative():
    # a programme: 5 mW/cm² for 1 h, 150 mW/cm² for 10 min, then off
    t = np.array([0.0, 3600.0, 4200.0])
    irr = np.array([5.0, 150.0, 0.0])
    assert P.radiant_dose_j_cm2(t, irr) == pytest.approx(5e-3 * 3600 + 0.150 * 600)
    assert P.radiant_dose_j_cm2(t, irr, method="trapezoid") == pytest.approx(
        0.5 * (5e-3 + 0.150) * 3600 + 0.5 * 0.150 * 600)
    cum = P.radiant_dose_j_cm2(t, irr, cumulative=True)
    np.testing.assert_allclose(cum, [0.0, 18.0, 108.0])
    ph = P.photon_dose_mol_cm2(t, irr, 460.0)
    assert ph == pytest.approx(108.0 / P.photon_energy_j(460.0) / 6.02214076e23)
    by_stage = P.photon_dose_by_stage(t, irr, ["low", "high", "off"], 460.0)
    assert by_stage["low"] == pytest.approx(18.0 / P.photon_energy_j(460.0) / 6.02214076e23)
    assert by_stage["off"] == 0.0
    assert sum(by_stage.values()) == pytest.approx(ph)
    with pytest.raises(ValueError, match="non-decreasing"):
        P.radiant_dose_j_cm2([0, 2, 1], [1, 1, 1])


def test_apparent_quantum_yield_round_trip():
    """SCIENCE.md B: AQY 0.32 % at 400 nm for CO₂ → CO (2 e⁻)."""
    photons = P.incident_photons_mol(irradiance_mw_cm2=10.0, area_cm2=1.0,
                                     duration_s=3600.0, wavelength_nm=400.0)
    assert photons == pytest.approx(P.photon_flux_mol_s(10e-3, 400.0) * 3600)
    co = 0.0032 * photons / 2
    assert P.apparent_quantum_yield(co, 2, photons) == pytest.approx(0.0032)


def test_poisson_excitation_statistics():
    """SCIENCE.md A3: Mn excitation rate 0.11–6.8 per dot; hot electrons need i ≥ 2."""
    lam = np.array([0.11, 6.8])
    p2 = P.probability_at_least(2, lam)
    np.testing.assert_allclose(p2, 1 - np.exp(-lam) * (1 + lam))
    assert p2[0] == pytest.approx(0.005624, abs=1e-6)
    assert p2[1] == pytest.approx(0.99131, abs=1e-5)
    assert P.poisson_probability(3, 2.0) == pytest.approx(8 / 6 * math.exp(-2))
    assert sum(P.poisson_probability(i, 6.8) for i in range(60)) == pytest.approx(1.0)
    assert P.poisson_probability(0, 0.0) == 1.0
    assert P.mean_excitations(1e19, 1e-15, 1e-3) == pytest.approx(10.0)
