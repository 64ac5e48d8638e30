"""SILAR shell growth with live absorption feedback (SCIENCE.md A2 and E)."""

from __future__ import annotations

import math

import bluesky.plan_stubs as bps

from photoreactor.analysis.dosing import silar_dose_mol, silar_layer_thickness_nm
from photoreactor.analysis.feedback import blue_side_fraction, exciton_observables
from photoreactor.analysis.sizing import diameter_nm

from .observables import observables
from .preflight import Requirements
from .safety import experiment
from .stubs import dose, heat_to, hold, measure_absorbance


class SecondaryNucleation(RuntimeError):
    """New small particles appeared: the shell precursor nucleated instead of growing shells."""


class ShellOvershoot(RuntimeError):
    """E1 went past the target by more than the allowed margin."""


def _cycles(monolayers, ml_per_cycle):
    return max(1, int(math.ceil(monolayers / ml_per_cycle - 1e-9)))


def _silar_requirements(mantle, spectrometer, pump_cation, pump_anion, *, shell_material="CdS",
                        core_material="CdS", particles_mol=60e-9, target_e1_nm=460.0,
                        monolayers=3.0, ml_per_cycle=0.5, temperature_c=240.0,
                        temperature_step_c=0.0, max_temperature_c=None, growth_wait_s=600.0,
                        overshoot_nm=3.0, nucleation_jump=0.25, pump_cation_b=None,
                        fraction_b=0.0, anneal_c=None, anneal_s=300.0, solvent="ODE",
                        start_diameter_nm=None):
    req = Requirements(solvent=solvent)
    req.measure(spectrometer)
    n = _cycles(monolayers, ml_per_cycle)
    # worst case: the whole shell from the starting size, every cycle at full dose
    d = start_diameter_nm or 4.0
    cation_mol = anion_mol = 0.0
    for _ in range(n):
        m = silar_dose_mol(d, particles_mol, shell_material, monolayers=ml_per_cycle)
        cation_mol += m
        anion_mol += m
        d += 2 * silar_layer_thickness_nm(shell_material) * ml_per_cycle
    conc = lambda p: p.concentration.get() or math.inf  # noqa: E731 - configuration read
    req.dose(pump_cation, cation_mol * (1 - fraction_b) / conc(pump_cation) * 1000)
    if pump_cation_b is not None:
        req.dose(pump_cation_b, cation_mol * fraction_b / conc(pump_cation_b) * 1000)
    req.dose(pump_anion, anion_mol / conc(pump_anion) * 1000)
    top = temperature_c + temperature_step_c * (n - 1)
    if max_temperature_c is not None:
        top = min(top, max_temperature_c)
    req.heat(mantle, max(top, temperature_c))
    if anneal_c:
        req.heat(mantle, anneal_c)
    req.duration_s = n * 2 * (growth_wait_s + 60) + (anneal_s if anneal_c else 0) + 1200
    return req


@experiment(_silar_requirements, sample="core/shell QDs")
def silar_shell(mantle, spectrometer, pump_cation, pump_anion, *, shell_material: str = "CdS",
                core_material: str = "CdS", particles_mol: float = 60e-9,
                target_e1_nm: float | None = 460.0, monolayers: float = 3.0,
                ml_per_cycle: float = 0.5, temperature_c: float = 240.0,
                temperature_step_c: float = 0.0, max_temperature_c: float | None = None,
                growth_wait_s: float = 600.0, overshoot_nm: float = 3.0,
                nucleation_jump: float = 0.25, pump_cation_b=None, fraction_b: float = 0.0,
                anneal_c: float | None = None, anneal_s: float = 300.0, solvent: str = "ODE",
                start_diameter_nm: float | None = None):
    """Grow a shell by alternating cation and anion injections, watching E1 after each.

    Procedure (SCIENCE.md A2 defaults: CdS shell on Mn:CdS cores at 240 °C until
    E1 = 460 nm): at temperature, measure; for each cycle compute the dose for
    ``ml_per_cycle`` monolayers from the *measured* diameter and the particle
    amount; inject cation, wait ``growth_wait_s`` (10 min), measure; inject anion,
    wait, measure.  Stop when E1 reaches ``target_e1_nm`` or ``monolayers`` are
    done.  Optionally raise the temperature by ``temperature_step_c`` after each
    cycle (E: +10 °C, never above ``max_temperature_c`` = 200 °C) and anneal at
    the end (A2: 280 °C, 5 min).

    Stops with :class:`SecondaryNucleation` when the absorption blue of E1 jumps
    (new small particles) and with :class:`ShellOvershoot` when E1 passes the
    target by more than ``overshoot_nm``.  For ZnS shells (E1 moves only a few nm)
    give ``target_e1_nm=None`` and a monolayer count; the diameter is then
    advanced by the layer thickness per monolayer.  ``pump_cation_b`` with
    ``fraction_b`` doses a second cation for alloy shells (E: Cd0.5Zn0.5S).
    """
    observed = observables("e1_nm", "e1_uncertainty_nm", "e1_absorbance", "diameter_nm",
                           "scattering", "monolayers")
    track_size = shell_material == core_material and target_e1_nm is not None

    def analyse(wl, a):
        return exciton_observables(wl, a, material=core_material)

    layers = 0.0
    size_from_shells = start_diameter_nm

    def measure():
        m = yield from measure_absorbance(spectrometer, extra=[mantle], observed=observed,
                                          analyse=lambda wl, a: {**analyse(wl, a), "monolayers": layers})
        return m

    temperature = temperature_c
    yield from heat_to(mantle, temperature)
    m = yield from measure()
    if size_from_shells is None:
        size_from_shells = m["diameter_nm"]
    if math.isnan(size_from_shells):
        raise RuntimeError("no first-exciton peak found: cannot size the cores to dose the shell")
    for _ in range(4 * _cycles(monolayers, ml_per_cycle)):
        diameter = m["diameter_nm"] if track_size and not math.isnan(m["diameter_nm"]) else size_from_shells
        step_ml = min(ml_per_cycle, monolayers - layers)
        if track_size:
            # close the remaining gap to the target size exactly rather than overshoot it
            t_nm = silar_layer_thickness_nm(shell_material)
            needed_ml = (float(diameter_nm(target_e1_nm, core_material)) - diameter) / (2 * t_nm)
            step_ml = min(step_ml, max(needed_ml, 0.05))
        if step_ml <= 1e-6:
            break
        mol = silar_dose_mol(diameter, particles_mol, shell_material, monolayers=step_ml)
        blue_before = blue_side_fraction(m["wavelengths_nm"], m["absorbance"], m["e1_nm"])
        if pump_cation_b is not None and fraction_b > 0:
            yield from dose(pump_cation, mol=mol * (1 - fraction_b), note=f"{step_ml:.2f} ML")
            yield from dose(pump_cation_b, mol=mol * fraction_b, note=f"{step_ml:.2f} ML")
        else:
            yield from dose(pump_cation, mol=mol, note=f"{step_ml:.2f} ML")
        yield from hold(growth_wait_s)
        m = yield from measure()
        yield from dose(pump_anion, mol=mol, note=f"{step_ml:.2f} ML")
        yield from hold(growth_wait_s)
        layers += step_ml
        size_from_shells += 2 * silar_layer_thickness_nm(shell_material) * step_ml
        m = yield from measure()
        blue_after = blue_side_fraction(m["wavelengths_nm"], m["absorbance"], m["e1_nm"])
        if (math.isfinite(blue_before) and math.isfinite(blue_after)
                and blue_after - blue_before > nucleation_jump):
            raise SecondaryNucleation(
                f"absorption blue of E1 rose from {blue_before:.2f} to {blue_after:.2f} of the "
                f"E1 absorbance after {layers:g} ML: new particles nucleated")
        e1 = m["e1_nm"]
        if target_e1_nm is not None and math.isfinite(e1):
            if e1 > target_e1_nm + overshoot_nm:
                raise ShellOvershoot(f"E1 {e1:.1f} nm passed the target {target_e1_nm:g} nm "
                                     f"by more than {overshoot_nm:g} nm after {layers:g} ML")
            if e1 >= target_e1_nm - 0.5:
                break
        if temperature_step_c:
            nxt = temperature + temperature_step_c
            if max_temperature_c is not None:
                nxt = min(nxt, max_temperature_c)
            if nxt != temperature:
                temperature = nxt
                yield from heat_to(mantle, temperature)
    if anneal_c:
        yield from heat_to(mantle, anneal_c)
        yield from hold(anneal_s)
        yield from measure()
    yield from bps.mv(mantle.heater_on, 0)
    return layers
