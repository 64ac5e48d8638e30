"""Sizing, optical constants of the exchange and SILAR/exchange doses (SCIENCE.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from photoreactor.analysis import dosing, sizing


def test_cds_sizing_check_values():
    # SCIENCE.md: CdS E1 404 nm → D ≈ 3.5 nm (radius 1.75 nm); 460 nm → D ≈ 5.7 nm
    assert sizing.diameter_nm(404.0, "CdS") == pytest.approx(3.5, abs=0.05)
    assert sizing.diameter_nm(460.0, "CdS") == pytest.approx(5.7, abs=0.05)
    assert sizing.e1_nm_from_diameter(3.5, "CdS") == pytest.approx(404.0, abs=0.5)


def test_a400_per_micromolar_is_linear_in_hg_fraction():
    d = 3.2
    assert sizing.absorbance_400_per_um(d) == pytest.approx(0.0119 * d**3)
    assert sizing.absorbance_400_per_um(d, 1.0) == pytest.approx(0.0317 * d**3)
    assert sizing.absorbance_400_per_um(d, 0.5) == pytest.approx(0.5 * (0.0119 + 0.0317) * d**3)
    # 100 nmol in 8 mL = 12.5 µM; aliquot diluted 101× and read at 400 nm
    a400 = 12.5 / 101 * sizing.absorbance_400_per_um(d)
    assert sizing.concentration_um_from_a400(a400, d, dilution_factor=101) == pytest.approx(12.5)
    with pytest.raises(ValueError, match="0…1"):
        sizing.absorbance_400_per_um(d, 1.2)


def test_alloy_gap_and_apparent_hg_fraction():
    assert sizing.alloy_bulk_gap_ev(0.0) == pytest.approx(1.74)
    assert sizing.alloy_bulk_gap_ev(1.0) == pytest.approx(-0.06)
    assert sizing.alloy_bulk_gap_ev(0.5) == pytest.approx(0.84)
    # SCIENCE.md E: 1S–1S 2.24 → 1.50 eV (Hg only), → 1.24 eV (Hg + Ag) after 1 h
    x_hg = sizing.hg_fraction_from_gap(1.50, 2.24)
    x_ie = sizing.hg_fraction_from_gap(1.24, 2.24)
    assert x_hg == pytest.approx(0.74 / 1.8)
    assert x_ie == pytest.approx(1.0 / 1.8)
    assert sizing.hg_fraction_from_gap(2.30, 2.24) == 0.0


def test_cd_in_cdse_cores_and_exchange_equivalents():
    # 3.2 nm CdSe: V = 17.16 nm³; ρ/M·V·N_A ≈ 314 Cd per particle
    per = dosing.formula_units_per_particle(3.2, "CdSe")
    expected = 5.82 * (4 / 3 * math.pi * 1.6**3 * 1e-21) / 191.37 * 6.02214076e23
    assert per == pytest.approx(expected) and per == pytest.approx(314, abs=1)
    cd = dosing.cation_mol_in_particles(3.2, 100e-9, "CdSe")
    assert cd == pytest.approx(31.4e-6, rel=0.01)
    hg = dosing.exchange_equivalents_mol(cd, 1.5)
    ag = dosing.exchange_equivalents_mol(cd, 0.075)
    assert hg == pytest.approx(47.1e-6, rel=0.01)
    assert dosing.dose_volume_ml(hg, 0.1) == pytest.approx(0.471, rel=0.01)   # 0.1 M Hg(OAc)2
    assert dosing.dose_volume_ml(ag, 0.02) == pytest.approx(0.118, rel=0.01)  # 0.02 M AgNO3
    with pytest.raises(ValueError):
        dosing.exchange_equivalents_mol(cd, -1)


def test_silar_dose_per_monolayer_formula():
    # 60 nmol doped CdS cores, r = 2.0 nm, one CdS monolayer (0.35 nm)
    dose = dosing.silar_dose_mol(4.0, 60e-9, "CdS")
    shell_cm3 = 4 / 3 * math.pi * (2.35**3 - 2.0**3) * 1e-21
    expected = 60e-9 * 6.02214076e23 * 4.82 / 144.48 * shell_cm3
    assert dose == pytest.approx(expected)
    assert dose == pytest.approx(25.1e-6, rel=0.01)
    assert dosing.dose_volume_ml(dose, 0.04) == pytest.approx(0.628, rel=0.01)
    # ZnS: 0.31 nm, ρ 4.09, M 97.47
    zns = dosing.silar_dose_mol(5.6, 60e-9, "ZnS")
    assert zns == pytest.approx(60e-9 * 6.02214076e23 * 4.09 / 97.47 * 4 / 3 * math.pi
                                * (3.11**3 - 2.8**3) * 1e-21)


def test_silar_layers_grow_and_fractions_add_up():
    layers = dosing.silar_layer_doses_mol(4.0, 60e-9, "CdS", 3)
    assert np.all(np.diff(layers) > 0)
    assert layers.sum() == pytest.approx(dosing.silar_dose_mol(4.0, 60e-9, "CdS", 3.0))
    # SCIENCE.md A2: E1 460 nm after ≈ 1.5 ML from r ≈ 2.0 nm → r 2.8 nm (thickness ≈ 0.53 nm)
    assert dosing.shell_diameter_nm(4.0, "CdS", 1.5) == pytest.approx(5.05)
    # 0.8 ML increments (SCIENCE.md E)
    assert dosing.silar_dose_mol(3.2, 100e-9, "CdS", 0.8) < dosing.silar_dose_mol(3.2, 100e-9, "CdS")
    assert dosing.silar_layer_thickness_nm("ZnS") == 0.31
    with pytest.raises(ValueError, match="no monolayer"):
        dosing.silar_dose_mol(4.0, 60e-9, "InP")
    with pytest.raises(ValueError, match="≥ 0"):
        dosing.silar_dose_mol(4.0, 60e-9, "CdS", -1)
    with pytest.raises(ValueError, match="positive"):
        dosing.dose_volume_ml(1e-6, 0.0)
