"""Heat balance, boiling, doses and withdrawals, recipes and their errors."""

from __future__ import annotations

import math

import pytest

from photoreactor.sim_devices.reactor import RECIPES, ReactorModel
from photoreactor.sim_devices.world import Reagent

from .frozen_clock import FrozenClock


def _heat_up_minutes(make, frozen, volume_ml):
    model = make("A1_cds_core", volume_ml=volume_ml)
    model.attach_heater_controller(lambda probe_c, dt_s: 1.0)
    t = 0.0
    while model.temperature_c() < 240.0:
        frozen.advance(5.0)
        t += 5.0
        assert t < 7200, "never reached 240 °C"
    return t / 60.0


def test_heat_up_takes_minutes_and_scales_with_volume(make, frozen):
    ten = _heat_up_minutes(make, frozen, 10.0)
    assert 5.0 <= ten <= 15.0
    model = ReactorModel(FrozenClock())
    model.charge("A1_cds_core", volume_ml=20.0)
    model.attach_heater_controller(lambda probe_c, dt_s: 1.0)
    clock = model.clock
    t = 0.0
    while model.temperature_c() < 240.0:
        clock.advance(5.0)
        t += 5.0
    twenty = t / 60.0
    assert twenty > 1.2 * ten


def test_mantle_lags_contents_and_cooling_is_faster_without_mantle(make, frozen):
    on = make("A1_cds_core", temperature_c=240.0)
    frozen.advance(1.0)
    on.attach_heater_controller(None)
    s = on.state()
    assert s["heater_power"] == 0.0
    frozen.advance(600.0)
    with_mantle = on.temperature_c()
    clock2 = FrozenClock()
    off = ReactorModel(clock2)
    off.charge("A1_cds_core", temperature_c=240.0)
    off.set_stirring(600)
    off.remove_mantle()
    clock2.advance(600.0)
    without = off.temperature_c()
    assert without < with_mantle - 40.0
    assert off.state()["mantle_attached"] is False
    # heating: the mantle runs hotter than the liquid
    heat = make("A1_cds_core")
    heat.attach_heater_controller(lambda probe_c, dt_s: 1.0)
    frozen.advance(180.0)
    s = heat.state()
    assert s["mantle_temperature_c"] > s["flask_temperature_c"] > s["temperature_c"] > 25.0


def test_contents_reflux_at_the_boiling_point_with_a_warning(make, frozen):
    model = make("empty", solvent="toluene", volume_ml=20.0)
    model.attach_heater_controller(lambda probe_c, dt_s: 1.0)
    frozen.advance(3600.0)
    s = model.state()
    assert s["temperature_c"] == pytest.approx(111.0)
    assert s["boiling"] is True and s["boiling_point_c"] == 111.0
    assert any("toluene" in w and "111" in w for w in s["warnings"])


def test_a_room_temperature_dose_cools_the_flask_by_enthalpy_balance(make, frozen):
    model = make("E_cdse_core", temperature_c=110.0)
    c_before = model.liquid.heat_capacity_j_k()
    model.inject("oleic_acid", 8.5, solvent="oleic_acid", volume_ml=3.0)
    c_added = 3.0 * 0.895 * 2.0
    expected = (c_before * 110.0 + c_added * 25.0) / (c_before + c_added)
    assert model.temperature_c() == pytest.approx(expected, abs=1e-6)


def test_pumped_dose_and_withdrawal_change_volume_composition_and_particles(make, frozen):
    model = make("A2_shell")
    model.connect_line("cd", Reagent("Cd 0.04 M", "Cd", 0.04, "ODE"))
    model.start_flow("cd", 1.0 / 60.0, 1.0)          # 1 mL at 1 mL/min
    frozen.advance(30.0)
    moved, running = model.flow_state("cd")
    assert moved == pytest.approx(0.5) and running
    frozen.advance(60.0)
    moved, running = model.flow_state("cd")
    assert moved == pytest.approx(1.0) and not running
    s = model.state()
    assert s["volume_ml"] == pytest.approx(9.0)        # 6 mL ODE + 2 mL OAm + 1 mL
    cd_total = s["species_mmol"].get("Cd", 0.0) + s["populations"][0]["adsorbed_cd_umol"] * 1e-3
    assert cd_total == pytest.approx(0.04, rel=1e-6)
    n_before = s["particles_nmol"]
    model.start_flow("cd", -1.0 / 60.0, 0.9)          # withdraw 10 %
    frozen.advance(120.0)
    s = model.state()
    assert s["volume_ml"] == pytest.approx(8.1)
    assert s["particles_nmol"] == pytest.approx(0.9 * n_before, rel=1e-6)


def test_fresh_charge_replaces_and_fresh_false_adds(make, frozen):
    model = make("A1_cds_core")
    model.charge("A2_shell")
    s = model.state()
    assert s["recipe"] == "A2_shell" and "S" not in s["species_mmol"]
    assert s["volume_ml"] == pytest.approx(8.0)
    model.charge("empty", fresh=False, solvent="ODE", volume_ml=2.0)
    assert model.state()["volume_ml"] == pytest.approx(10.0)
    assert model.state()["particles_nmol"] == pytest.approx(60.0)


def test_recipe_errors_name_what_is_known(make):
    model = make()
    with pytest.raises(ValueError, match="A1_cds_core"):
        model.charge("A9_unknown")
    with pytest.raises(TypeError, match="cd_te_ratio"):
        model.charge("C_cdte_msc", cd_to_te=2.0)
    with pytest.raises(ValueError, match="photocatalyst"):
        model.charge("A3_photocatalysis", photocatalyst="TiO2")
    with pytest.raises(ValueError, match="known"):
        model.connect_line("x", Reagent("x", "Cd", 0.1, "unobtainium"))


def test_every_recipe_charges_and_renders(make):
    import numpy as np

    for name in RECIPES:
        model = make(name)
        a = model.absorbance(np.linspace(250, 1100, 256))
        assert np.all(np.isfinite(a)) and np.all(a >= 0), name
        assert model.state()["recipe"] == name


def test_profile_scenario_builds_a_charged_world():
    from photoreactor.sim_devices.bench import make_world

    world = make_world(FrozenClock(), {"world": "reactor", "seed": 3,
                                        "scenario": {"recipe": "C_cdte_msc",
                                                     "solvent": "toluene"}})
    assert isinstance(world, ReactorModel)
    assert world.recipe == "C_cdte_msc" and world.recipe_options["solvent"] == "toluene"
    assert world.heat.flask_ml == 100.0
    assert math.isclose(world.state()["volume_ml"], 50.0)
