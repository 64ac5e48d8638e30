"""Clock jumps: one big step or many small ones give the same world; same sequence, same world."""

from __future__ import annotations

import numpy as np
import pytest

from photoreactor.sim_devices.reactor.fidelity import RampSoakLaw

from .frozen_clock import FrozenClock

WL = np.linspace(250.0, 1100.0, 2048)


def _advance(model, clock, total_s, chunk_s):
    for _ in range(int(round(total_s / chunk_s))):
        clock.advance(chunk_s)
        model.update()


def _a1_growth(make, frozen, chunk_s, law):
    model = make("A1_cds_core", temperature_c=240.0)
    model.attach_heater_controller(law(model))
    _advance(model, frozen, 3600.0, chunk_s)
    return model.state()


def test_growth_at_constant_power_is_independent_of_chunking(make, frozen):
    """Heat is solved exactly per sub-step and chemistry by error-controlled Runge–Kutta:
    1 jump == 3600 steps.  What remains (rtol-independent: the same at rtol 1e-8) comes
    from the bookkeeping decided at sub-step boundaries — the nucleation episode's end,
    the monomer pool turning quasi-steady — which lands up to a step apart: ≈ 3e-5 on
    the particle number fixed in the nucleation burst, 1e-5 on the radius, 3e-6 on E1."""
    from photoreactor.sim_devices.reactor import ReactorModel

    results = []
    for chunk in (3600.0, 1.0):
        clock = FrozenClock()
        model = ReactorModel(clock)
        model.charge("A1_cds_core", temperature_c=240.0)
        model.set_stirring(600)
        model.attach_heater_controller(lambda probe_c, dt_s: 0.42)
        _advance(model, clock, 3600.0, chunk)
        results.append(model.state())
    one, many = results
    assert one["e1_nm"] > 420.0          # the cores really grew during the hour
    for key, rel in (("e1_nm", 1e-5), ("temperature_c", 1e-5), ("radius_nm", 3e-5),
                     ("particles_nmol", 1e-4)):
        assert one[key] == pytest.approx(many[key], rel=rel), key
    assert one["species_mmol"]["S"] == pytest.approx(many["species_mmol"]["S"], rel=1e-5)


def test_regulated_growth_is_independent_of_chunking_within_the_control_ripple():
    """With a controller the law is sampled per sub-step until the regulation is held, so the
    approach rings a little differently per chunking and agreement is limited by that
    ripple, not by the integrator: ≈ 0.1 °C for part of the hour is ≈ 0.5 % of the growth
    rate (Ea 100 kJ/mol at 513 K) of ≈ 15 nm, i.e. ≈ 0.1 nm of E1 (rel 3e-4 = 0.125 nm)."""
    from photoreactor.sim_devices.reactor import ReactorModel

    states = []
    for chunk in (3600.0, 60.0, 1.0):
        clock = FrozenClock()
        model = ReactorModel(clock)
        model.charge("A1_cds_core", temperature_c=200.0)
        model.set_stirring(600)
        model.attach_heater_controller(RampSoakLaw(240.0, world=model))
        _advance(model, clock, 3600.0, chunk)
        states.append(model.state())
    ref = states[-1]
    for s in states[:-1]:
        assert s["e1_nm"] == pytest.approx(ref["e1_nm"], rel=3e-4)
        assert s["temperature_c"] == pytest.approx(ref["temperature_c"], abs=0.2)


@pytest.mark.parametrize("recipe, setup, total_s, chunk_s, key, rel", [
    ("A3_photocatalysis", "light", 55 * 3600.0, 3600.0, ("photocatalysis", "yield_pct"), 1e-6),
    ("E_exchange", "exchange", 3600.0, 60.0, ("exchange", "e1s_ev"), 1e-4),
    ("C_cdte_msc", "msc", 4 * 3600.0, 60.0, ("msc", "M449_mmol"), 1e-4),
])
def test_other_processes_are_independent_of_chunking(recipe, setup, total_s, chunk_s, key, rel):
    from photoreactor.sim_devices.reactor import ReactorModel

    values = []
    for chunk in (total_s, chunk_s):
        clock = FrozenClock()
        model = ReactorModel(clock)
        model.charge(recipe, temperature_c={"light": None, "exchange": 80.0, "msc": 100.0}[setup])
        if setup == "light":
            model.set_light("led", 460.0, 5.0)
        else:
            # constant power at the steady value keeps the heat path identical for both
            power = {"exchange": 80.0, "msc": 100.0}[setup]
            frac = (power - model.ambient_c) / (model.heat.steady_state_c(1.0) - model.ambient_c)
            model.attach_heater_controller(lambda probe_c, dt_s, f=frac: f)
        if setup == "exchange":
            cd = model.recipe_options["cd_umol"] * 1e-3
            model.inject("Hg", 1.5 * cd)
            model.inject("Ag", 0.075 * cd)
        _advance(model, clock, total_s, chunk)
        values.append(model.state()[key[0]][key[1]])
    assert values[0] > 0
    assert values[0] == pytest.approx(values[1], rel=rel)


def test_a_55_hour_photocatalysis_jump_takes_few_substeps(make, frozen):
    model = make("A3_photocatalysis")
    model.set_light("led", 460.0, 5.0)
    n0 = model.substeps
    frozen.advance(55 * 3600.0)
    model.update()
    assert model.substeps - n0 < 200
    assert model.state()["yield_pct"] == pytest.approx(88.0, abs=5.0)


def _scripted_run(clock):
    from photoreactor.sim_devices.reactor import ReactorModel
    from photoreactor.sim_devices.world import Reagent

    model = ReactorModel(clock, seed=7)
    model.charge("A2_shell")
    model.set_stirring(600)
    model.connect_line("cd", Reagent("Cd 0.04 M", "Cd", 0.04, "ODE"))
    model.connect_line("s", Reagent("S 0.04 M", "S", 0.04, "ODE"))
    model.attach_heater_controller(RampSoakLaw(240.0, world=model))
    clock.advance(1800.0)
    for line in ("cd", "s"):
        model.start_flow(line, 0.5 / 60.0, 1.2)
        clock.advance(600.0)
    model.set_light("led", 460.0, 20.0)
    clock.advance(300.0)
    return model.state(), model.absorbance(WL), model.emission(WL, 405.0)


def test_same_sequence_gives_identical_state_and_spectra():

    a = _scripted_run(FrozenClock())
    b = _scripted_run(FrozenClock())
    assert a[0] == b[0]
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
    assert np.all(np.isfinite(a[1])) and np.all(a[1] >= 0)


# -- what makes a clock jump cheap (sub-step counts, not wall time) ----------------------

def _held_at_240(make, frozen):
    """Shelled cores at 240 °C, two hours after the controller took over: held."""
    model = make("A2_shell", temperature_c=240.0)
    law = RampSoakLaw(240.0, world=model)
    model.attach_heater_controller(law)
    frozen.advance(2 * 3600.0)
    model.update()
    assert model._held is not None
    return model, law


def test_a_regulated_hold_is_held_exactly_in_a_few_substeps(make, frozen):
    """Once the controller has converged, an hour at 240 °C is a handful of sub-steps and
    the contents stay on the setpoint (held regulation), instead of a ringing PI sampled
    every minute."""
    model, _ = _held_at_240(make, frozen)
    n0 = model.substeps
    frozen.advance(3600.0)
    model.update()
    assert model.substeps - n0 <= 5
    assert model.state()["temperature_c"] == pytest.approx(240.0, abs=0.02)


def test_a_setpoint_change_ends_the_hold_at_once(make, frozen):
    model, law = _held_at_240(make, frozen)
    law.set(200.0)                        # brings the world to now first
    frozen.advance(1800.0)
    model.update()
    assert model.state()["temperature_c"] == pytest.approx(200.0, abs=1.0)


def test_active_growth_takes_tens_of_substeps_per_hour(make, frozen):
    """Cores growing at 240 °C: the monomer pool is quasi-steady once the particles'
    surface makes it relax in seconds, so steps follow the growth (tens per hour)."""
    model = make("A1_cds_core", temperature_c=230.0)
    model.attach_heater_controller(RampSoakLaw(240.0, world=model))
    frozen.advance(600.0)
    model.update()
    e1_before = model.state()["e1_nm"]
    n0 = model.substeps
    frozen.advance(3600.0)
    model.update()
    assert model.substeps - n0 < 60
    assert model.state()["e1_nm"] > e1_before + 10.0     # it really grew
    assert model.nanocrystals._qss[0]                     # CdS monomer quasi-steady


def test_quasi_steady_monomer_conserves_sulfur(make, frozen):
    def sulfur(model):
        nc = model.nanocrystals
        return (model.liquid.get("S") + nc.monomer_mol["CdS"] + nc.monomer_mol["ZnS"]
                + sum(p.core_units_mol + p.cds_shell_mol + p.zns_shell_mol
                      for p in nc.populations))

    model = make("A1_cds_core", temperature_c=240.0)
    model.attach_heater_controller(RampSoakLaw(240.0, world=model))
    model.update()
    before = sulfur(model)
    frozen.advance(2 * 3600.0)
    model.update()
    assert model.nanocrystals._qss[0]
    assert sulfur(model) == pytest.approx(before, rel=1e-9)
