"""What the spectrometer sees, and process behaviour the plans rely on."""

from __future__ import annotations

import numpy as np
import pytest

from photoreactor.analysis.sizing import concentration_mol_l
from photoreactor.sim_devices.reactor import spectra
from photoreactor.sim_devices.reactor.fidelity import RampSoakLaw
from photoreactor.sim_devices.reactor.materials import HC_EV_NM
from photoreactor.sim_devices.world import Reagent

WL = np.linspace(250.0, 1100.0, 2048)


def _local_maxima(x, y):
    return [x[i] for i in range(1, len(x) - 1) if y[i] > y[i - 1] and y[i] >= y[i + 1]]


def _grow(make, frozen, minutes):
    model = make("A1_cds_core", temperature_c=240.0)
    model.attach_heater_controller(RampSoakLaw(240.0, world=model))
    frozen.advance(minutes * 60.0)
    return model


def test_inverse_sizing_table_matches_the_analysis_module():
    from photoreactor.analysis.sizing import e1_nm_from_diameter

    for d in (2.0, 3.5, 5.7):
        assert spectra.e1_nm(d, "CdS") == pytest.approx(e1_nm_from_diameter(d, "CdS"), abs=0.02)
    assert spectra.e1_nm(3.2, "CdSe") == pytest.approx(e1_nm_from_diameter(3.2, "CdSe"), abs=0.02)


def test_rendered_e1_peak_and_beer_lambert_match_the_model(make, frozen):
    model = _grow(make, frozen, 40)
    s = model.state()
    a = model.absorbance(WL)
    peak = min(_local_maxima(WL, a), key=lambda w: abs(w - s["e1_nm"]))
    assert peak == pytest.approx(s["e1_nm"], abs=1.5)      # E1 is a true maximum
    a_peak = float(np.interp(peak, WL, a))
    conc = concentration_mol_l(a_peak, peak, "CdS")
    assert conc * 1e6 == pytest.approx(s["populations"][0]["concentration_umol_l"], rel=0.05)
    assert 1.0 < a_peak < 10.0                           # realistic 1-cm magnitude


def test_over_dosed_silar_step_shows_a_blue_feature_in_the_second_derivative(make, frozen):
    model = make("A2_shell", temperature_c=240.0)
    model.attach_heater_controller(RampSoakLaw(240.0, world=model))
    for line, sp in (("cd", "Cd"), ("s", "S")):
        model.connect_line(line, Reagent(f"{sp} 0.04 M", sp, 0.04, "ODE"))
    frozen.advance(600.0)

    def d2_minima(m):
        e = np.linspace(2.4, 4.2, 900)
        a = m.absorbance(HC_EV_NM / e)
        d2 = np.gradient(np.gradient(a, e), e)
        return [HC_EV_NM / e[i] for i in range(1, len(e) - 1)
                if d2[i] < d2[i - 1] and d2[i] < d2[i + 1] and d2[i] < 0.03 * d2.min()]

    assert model.state()["secondary_particles_nmol"] < 0.01
    for line in ("cd", "s"):                 # a ≈ 2.5-monolayer step: 1.6 mL each
        model.start_flow(line, 0.5 / 60.0, 1.6)
        frozen.advance(600.0)
    s = model.state()
    nuclei = [p for p in s["populations"] if p["label"] == "secondary nuclei"]
    assert nuclei and nuclei[0]["n_nmol"] > 1.0
    e1_nuclei = nuclei[0]["e1_nm"]
    assert e1_nuclei < 400.0
    a = model.absorbance(WL)
    assert any(abs(w - e1_nuclei) < 6.0 for w in _local_maxima(WL, a)), "no blue-side peak"
    assert any(abs(w - e1_nuclei) < 6.0 for w in d2_minima(model)), "invisible to d²A/dE²"


def test_under_dosed_anion_leaves_cation_unreacted(make, frozen):
    model = make("A2_shell", temperature_c=240.0)
    model.attach_heater_controller(RampSoakLaw(240.0, world=model))
    model.inject("Cd", 0.020)
    frozen.advance(600.0)
    model.inject("S", 0.008)
    frozen.advance(1200.0)
    s = model.state()
    left = s["species_mmol"].get("Cd", 0.0) + s["populations"][0]["adsorbed_cd_umol"] * 1e-3
    assert left == pytest.approx(0.012, rel=0.05)
    assert s["species_mmol"].get("S", 0.0) < 1e-4


def test_mn_site_follows_the_shell_order(make):
    core = make("A2_shell")
    assert core.nanocrystals.populations[0].mn_site() == "interface"   # nothing buried it yet
    iface = make("A2_shell", interface=True)
    assert iface.state()["radius_nm"] == pytest.approx(2.85, abs=0.01)


def test_a2_product_emits_exciton_and_mn_bands(make, frozen):
    model = make("A3_photocatalysis")
    em = model.emission(WL, 405.0)
    peaks = [WL[i] for i in range(1, len(WL) - 1)
             if em[i] > em[i - 1] and em[i] >= em[i + 1] and em[i] > 0.05 * em.max()]
    assert any(450 < p < 475 for p in peaks) and any(575 < p < 605 for p in peaks)


def test_photodoping_bleaches_e1_only_with_donor_and_light(make, frozen):
    lit = make("A3_photocatalysis")
    dark_abs = lit.absorbance(np.array([460.0]))[0]
    lit.set_light("led", 460.0, 150.0)
    frozen.advance(600.0)
    assert lit.absorbance(np.array([460.0]))[0] < 0.95 * dark_abs
    assert lit.state()["photocatalysis"]["bleach"] == pytest.approx(0.08, abs=0.005)
    lit.set_light("led", 460.0, 0.0)
    frozen.advance(7200.0)
    assert lit.state()["photocatalysis"]["bleach"] < 0.001
    no_donor = make("A3_photocatalysis", taea=False)
    no_donor.set_light("led", 460.0, 150.0)
    frozen.advance(600.0)
    assert no_donor.state()["photocatalysis"]["bleach"] == 0.0


def test_yield_rises_with_irradiance_and_light_is_required(make, frozen):
    yields = []
    for irr in (0.0, 1.0, 5.0, 30.0):
        model = make("A3_photocatalysis")
        model.set_light("led", 460.0, irr)
        frozen.advance(10 * 3600.0)
        yields.append(model.state()["yield_pct"])
    assert yields[0] == 0.0
    assert yields[1] < yields[2] < yields[3]


def test_exchange_absorption_edge_follows_the_1s1s_energy(make, frozen):
    model = make("E_exchange", temperature_c=80.0)
    model.attach_heater_controller(RampSoakLaw(80.0, world=model))
    cd = model.recipe_options["cd_umol"] * 1e-3
    model.inject("Hg", 1.5 * cd)
    model.inject("Ag", 0.075 * cd)
    frozen.advance(4 * 3600.0)
    s = model.state()
    e = np.linspace(0.9, 1.6, 701)
    a = model.absorbance(HC_EV_NM / e)
    peak = min(_local_maxima(e, a), key=lambda x: abs(x - s["e1s_ev"]))
    assert peak == pytest.approx(s["e1s_ev"], abs=0.03)
    assert s["exchange"]["complete"] is True


def test_msc_absorbance_is_zero_before_clusters_form(make, frozen):
    model = make("C_cdte_msc", temperature_c=100.0)
    model.attach_heater_controller(RampSoakLaw(100.0, world=model))
    frozen.advance(0.25 * 3600)
    a = model.absorbance(np.array([449.0]))[0] / 101.0
    assert a < 0.01
    frozen.advance(1.75 * 3600)
    a = model.absorbance(np.array([449.0]))[0] / 101.0
    assert a > 0.1
