"""Cation exchange to HgSe / HgxCd1−xSe followed by the band edge (SCIENCE.md E)."""

from __future__ import annotations

import math

import bluesky.plan_stubs as bps

from photoreactor.analysis import dosing
from photoreactor.analysis.feedback import band_edge_observables, exciton_observables

from .observables import observables
from .preflight import Requirements
from .safety import experiment
from .stubs import dose, heat_to, hold, measure_absorbance


class ExchangePlateaued(RuntimeError):
    """The band edge stopped moving above the target and no titration budget is left."""


def _cd_mol(particles_mol, diameter_nm):
    return dosing.cation_mol_in_particles(diameter_nm, particles_mol, "CdSe")


def _exchange_requirements(mantle, spectrometer, pump_hg, pump_ag=None, pump_top=None, *,
                           particles_mol=100e-9, diameter_nm=3.2, hg_equiv=1.5, ag_equiv=0.075,
                           temperature_c=80.0, target_gap_ev=None, interval_s=300.0,
                           max_time_s=6 * 3600.0, plateau_ev=0.01, plateau_window_s=1800.0,
                           titrate=False, titration_step_equiv=0.25, max_hg_equiv=3.0,
                           extract_ag=False, extract_top_ml=0.05, solvent="ODE",
                           scans_to_average=16):
    req = Requirements(solvent=solvent, duration_s=max_time_s + (7200 if extract_ag else 0))
    req.heat(mantle, temperature_c)
    req.measure(spectrometer)
    cd = _cd_mol(particles_mol, diameter_nm)
    conc = lambda p: p.concentration.get() or math.inf  # noqa: E731 - configuration read
    hg_total = max_hg_equiv if titrate else hg_equiv
    req.dose(pump_hg, hg_total * cd / conc(pump_hg) * 1000)
    if pump_ag is not None and ag_equiv > 0:
        req.dose(pump_ag, ag_equiv * cd / conc(pump_ag) * 1000)
    if extract_ag:
        req.dose(pump_top, extract_top_ml)
        req.heat(mantle, 50.0)
    if temperature_c > 100:
        req.notes.append("above 100 °C the NCs ripen and flocculate (SCIENCE.md E)")
    return req


@experiment(_exchange_requirements, sample="CdSe NCs → HgxCd1−xSe (SCIENCE.md E)")
def cation_exchange(mantle, spectrometer, pump_hg, pump_ag=None, pump_top=None, *,
                    particles_mol: float = 100e-9, diameter_nm: float | None = 3.2,
                    hg_equiv: float = 1.5, ag_equiv: float = 0.075, temperature_c: float = 80.0,
                    target_gap_ev: float | None = None, interval_s: float = 300.0,
                    max_time_s: float = 6 * 3600.0, plateau_ev: float = 0.01,
                    plateau_window_s: float = 1800.0, titrate: bool = False,
                    titration_step_equiv: float = 0.25, max_hg_equiv: float = 3.0,
                    extract_ag: bool = False, extract_top_ml: float = 0.05, solvent: str = "ODE",
                    scans_to_average: int | None = 16):
    """Heat CdSe NCs to 80 °C, inject Hg (+ Ag) per Cd, follow the 1S–1S energy until done.

    Procedure (SCIENCE.md E): measure the cores (size from E1 by the CdSe sizing
    curve unless ``diameter_nm`` is given) to get the Cd amount; at
    ``temperature_c`` inject ``hg_equiv`` Hg and ``ag_equiv`` Ag per Cd (IE-CE:
    1.5 and 0.075; no ``pump_ag`` for the Hg-only exchange); record the band-edge
    energy every ``interval_s``; stop at ``target_gap_ev`` or when it moved less
    than ``plateau_ev`` over ``plateau_window_s``.  ``titrate=True`` starts with
    ``titration_step_equiv`` of Hg and adds further steps at each plateau until
    the target or ``max_hg_equiv``.  ``extract_ag`` then removes Ag with TOP at
    50 °C for 2 h.

    ``scans_to_average`` (restored afterwards) is raised for the whole run: the
    Hg-only core/shell keeps a third of the 1S–1S oscillator strength on a
    broadened edge (SCIENCE.md E), ≈ 0.02 absorbance through a 1-mm dip probe,
    whose second derivative must stand 10 σ above the detector noise; 16 frames
    (4× the profile's 4) halve that noise.  ``None`` keeps the device setting.
    """
    observed = observables("e1_nm", "band_gap_ev", "e1_absorbance", "scattering", "diameter_nm")

    def analyse(wl, a):
        return band_edge_observables(wl, a)

    def measure():
        return measure_absorbance(spectrometer, extra=[mantle], observed=observed, analyse=analyse)

    # size the cores at room temperature, then heat
    first = yield from measure_absorbance(
        spectrometer, extra=[mantle], observed=observed,
        analyse=lambda wl, a: {**exciton_observables(wl, a, material="CdSe"),
                               **{"band_gap_ev": band_edge_observables(wl, a)["band_gap_ev"]}})
    d = diameter_nm if diameter_nm is not None else first["diameter_nm"]
    if d is None or math.isnan(d):
        raise RuntimeError("no CdSe first-exciton peak: cannot compute the Cd amount for dosing")
    cd_mol = _cd_mol(particles_mol, d)
    scans_before = spectrometer.scans_to_average.get()
    if scans_to_average is not None:
        yield from bps.mv(spectrometer.scans_to_average, int(scans_to_average))
    yield from heat_to(mantle, temperature_c)
    hg_given = titration_step_equiv if titrate else hg_equiv
    yield from dose(pump_hg, mol=hg_given * cd_mol, note=f"{hg_given:g} equiv Hg per Cd")
    if pump_ag is not None and ag_equiv > 0:
        yield from dose(pump_ag, mol=ag_equiv * cd_mol, note=f"{ag_equiv:g} equiv Ag per Cd")
    history = []
    t0 = None
    while True:
        m = yield from measure()
        t0 = m["time"] if t0 is None else t0
        history.append((m["time"], m["band_gap_ev"]))
        gap = m["band_gap_ev"]
        if target_gap_ev is not None and math.isfinite(gap) and gap <= target_gap_ev:
            break
        if m["time"] - t0 >= max_time_s:
            break
        if _plateaued(history, plateau_ev, plateau_window_s):
            if titrate and hg_given + titration_step_equiv <= max_hg_equiv + 1e-9 and target_gap_ev:
                hg_given += titration_step_equiv
                yield from dose(pump_hg, mol=titration_step_equiv * cd_mol,
                                note=f"titration to {hg_given:g} equiv Hg")
                history = history[-1:]
            else:
                break
        yield from bps.sleep(interval_s)
    if extract_ag:
        yield from heat_to(mantle, 50.0)
        yield from dose(pump_top, extract_top_ml, note="Ag extraction")
        yield from hold(7200.0)
        yield from measure()
    yield from bps.mv(mantle.heater_on, 0)
    if scans_to_average is not None:
        yield from bps.mv(spectrometer.scans_to_average, scans_before)
    return history[-1][1]


def _plateaued(history, plateau_ev, window_s):
    t_last, g_last = history[-1]
    older = [(t, g) for t, g in history if t_last - t >= window_s and math.isfinite(g)]
    return bool(older) and math.isfinite(g_last) and abs(g_last - older[-1][1]) < plateau_ev
