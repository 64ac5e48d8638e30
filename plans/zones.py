"""Reaction-zone mapping of CdTe magic-sized clusters (SCIENCE.md C).

Each condition of the grid is its own run (tagged with a shared ``group_id``):
the flask is emptied through the drain line, the reagents are dosed by pump at
``scale`` × the published 50 mL recipe (default 5 %, 2.5 mL) (concentrations unchanged), the flask is
held at the condition's temperature, and aliquots are taken at the published
times with an in-situ absorbance spectrum each.  The series is classified into
*MSC only* / *MSC + other species* / *no MSC* by
:func:`photoreactor.analysis.zones.classify_series`, recorded in a ``zone``
event, and the map is returned (and drawn by ``photoreactor report``).
"""

from __future__ import annotations

import json
import uuid

import bluesky.plan_stubs as bps
import numpy as np

from photoreactor.analysis.zones import classify_series

from .observables import Record
from .preflight import Requirements
from .safety import experiment
from .stubs import dose, heat_to, measure_absorbance, sample_aliquot

HOUR = 3600.0
ALIQUOT_TIMES_H = [0.5, 1, 1.5, 2, 4, 8, 23, 24]

#: SCIENCE.md C standard, per 50 mL: Te 1 mmol (1 M TOPTe), Cd(oleate)2 1.2 mmol
#: (0.6 M), TOP 21.2 mmol (10 mL), OAm 37.4 mmol (17.6 mL), solvent to 50 mL, 100 °C
STANDARD = {"solvent": "ODE", "top_mmol": 21.2, "oam_mmol": 37.4, "cd_te_ratio": 1.2,
            "temperature_c": 100.0, "te_mmol": 1.0, "total_ml": 50.0}

#: the published grid (one coordinate varied at a time)
C_GRID = [
    {"label": "ODE (standard)"},
    {"label": "toluene", "solvent": "toluene"},
    {"label": "octane", "solvent": "octane"},
    {"label": "TOP 0 mmol", "solvent": "toluene", "oam_mmol": 50.0, "top_mmol": 0.0},
    {"label": "TOP 5 mmol", "solvent": "toluene", "oam_mmol": 50.0, "top_mmol": 5.0},
    {"label": "OAm 0 mmol", "solvent": "toluene", "oam_mmol": 0.0},
    {"label": "OAm 6 mmol", "solvent": "toluene", "oam_mmol": 6.0},
    {"label": "OAm 12.6 mmol", "solvent": "toluene", "oam_mmol": 12.6},
    {"label": "Cd:Te 0.6", "solvent": "toluene", "cd_te_ratio": 0.6},
    {"label": "Cd:Te 2.4", "solvent": "toluene", "cd_te_ratio": 2.4},
    {"label": "Cd:Te 4.8", "solvent": "toluene", "cd_te_ratio": 4.8},
    {"label": "50 °C", "temperature_c": 50.0},
    {"label": "150 °C", "temperature_c": 150.0},
]


def condition_volumes_ml(condition: dict, pumps: dict, scale: float) -> dict:
    """Volume per pump (mL) for one condition; ``pumps`` maps role → pump device."""
    c = {**STANDARD, **condition}
    conc = {role: p.concentration.get() for role, p in pumps.items()}   # configuration
    vols = {"te": c["te_mmol"] / 1000 / conc["te"] * 1000,
            "cd": c["te_mmol"] * c["cd_te_ratio"] / 1000 / conc["cd"] * 1000,
            "top": c["top_mmol"] / 1000 / conc["top"] * 1000,
            "oam": c["oam_mmol"] / 1000 / conc["oam"] * 1000}
    # TOPTe brings its own TOP: the published 21.2 mmol is the added TOP, so it is kept as given
    vols["solvent"] = max(0.0, c["total_ml"] - sum(vols.values()))
    return {k: v * scale for k, v in vols.items()}


def _timecourse_requirements(mantle, spectrometer, sampler, drain, pump_te, pump_cd, pump_top,
                             pump_oam, solvents, *, condition=None, scale=0.05, group_id="",
                             aliquot_times_h=None, aliquot_ml=2.0, drain_ml=0.0):
    c = {**STANDARD, **(condition or {})}
    req = Requirements(solvent=c["solvent"])
    roles = {"te": pump_te, "cd": pump_cd, "top": pump_top, "oam": pump_oam}
    solvent_pump = _solvent_pump(solvents, c["solvent"])
    vols = condition_volumes_ml(c, {**roles, "solvent": solvent_pump}, scale)
    for role, p in roles.items():
        req.dose(p, vols[role])
    req.dose(solvent_pump, vols["solvent"])
    req.heat(mantle, c["temperature_c"])
    req.measure(spectrometer)
    times = aliquot_times_h or ALIQUOT_TIMES_H
    req.withdraw(sampler, aliquot_ml * scale * len(times))
    req.withdraw(drain, drain_ml)
    req.duration_s = max(times) * HOUR
    return req


def _solvent_pump(solvents, name):
    for p in solvents:
        if p.reagent.solvent.lower() == name.lower() or p.reagent.name.lower().startswith(name.lower()):
            return p
    raise ValueError(f"no solvent pump carries {name!r}; have "
                     f"{[p.reagent.name for p in solvents]}")


@experiment(_timecourse_requirements, sample="CdTe MSC time course (SCIENCE.md C)")
def msc_timecourse(mantle, spectrometer, sampler, drain, pump_te, pump_cd, pump_top, pump_oam,
                   solvents: list, *, condition: dict | None = None, scale: float = 0.05,
                   group_id: str = "", aliquot_times_h: list | None = None,
                   aliquot_ml: float = 2.0, drain_ml: float = 0.0):
    """One condition of the CdTe MSC protocol: prepare by pump, hold, aliquot at the set times.

    The flask is first emptied of ``drain_ml`` (what the previous condition left);
    returns the zone result, whose ``volume_left_ml`` the next condition drains.
    """
    c = {**STANDARD, **(condition or {})}
    solvent_pump = _solvent_pump(solvents, c["solvent"])
    roles = {"solvent": solvent_pump, "top": pump_top, "oam": pump_oam, "cd": pump_cd, "te": pump_te}
    vols = condition_volumes_ml(c, roles, scale)
    if drain_ml > 0:   # empty the flask of the previous condition through the drain line
        yield from bps.mv(drain, -drain_ml)
    for role in ("solvent", "top", "oam", "cd", "te"):   # Te last: the reaction starts on it
        if vols[role] > 0:
            yield from dose(roles[role], vols[role], note=role)
    yield from heat_to(mantle, c["temperature_c"])
    times = sorted(aliquot_times_h or ALIQUOT_TIMES_H)
    elapsed = 0.0
    series = []
    for t_h in times:
        yield from bps.sleep(t_h * HOUR - elapsed)
        elapsed = t_h * HOUR
        yield from sample_aliquot(sampler, aliquot_ml * scale, label=f"{t_h:g} h",
                                  dilution_factor=101.0)
        m = yield from measure_absorbance(spectrometer, extra=[mantle])
        series.append((t_h, m["wavelengths_nm"], m["absorbance"]))
    result = classify_series(series[0][1], np.array([s[2] for s in series]),
                             [s[0] * HOUR for s in series], conditions=c)
    zone = Record(name="zone", value=result.zone)
    evidence = Record(name="zone_evidence", value=json.dumps(result.describe(), default=str))
    yield from bps.trigger_and_read([zone, evidence], name="zone")
    yield from bps.mv(mantle.heater_on, 0)
    return result


def _volume_left_ml(condition, solvents, pumps, scale, aliquot_ml, n_aliquots):
    c = {**STANDARD, **condition}
    vols = condition_volumes_ml(c, {**pumps, "solvent": _solvent_pump(solvents, c["solvent"])}, scale)
    return sum(vols.values()) - aliquot_ml * scale * n_aliquots


def _zone_map_requirements(mantle, spectrometer, sampler, drain, pump_te, pump_cd, pump_top,
                           pump_oam, solvents, *, conditions=None, scale=0.05,
                           aliquot_times_h=None):
    """The whole grid's budget: every condition's reagents, aliquots and drained volume."""
    total = Requirements()
    pumps = {"te": pump_te, "cd": pump_cd, "top": pump_top, "oam": pump_oam}
    left = 0.0
    n = len(aliquot_times_h or ALIQUOT_TIMES_H)
    for cond in conditions or C_GRID:
        r = _timecourse_requirements(mantle, spectrometer, sampler, drain, pump_te, pump_cd,
                                     pump_top, pump_oam, solvents, condition=cond, scale=scale,
                                     aliquot_times_h=aliquot_times_h, drain_ml=1.1 * left)
        total.temperatures_c += r.temperatures_c
        total.doses_ml += r.doses_ml
        total.withdrawals_ml += r.withdrawals_ml
        total.spectra = r.spectra
        total.duration_s += r.duration_s
        left = _volume_left_ml(cond, solvents, pumps, scale, 2.0, n)
    return total


@experiment(_zone_map_requirements, open_run=False)
def reaction_zone_map(mantle, spectrometer, sampler, drain, pump_te, pump_cd, pump_top, pump_oam,
                      solvents: list, *, conditions: list | None = None, scale: float = 0.05,
                      aliquot_times_h: list | None = None, md: dict | None = None):
    """Map MSC reaction zones over a grid of conditions (SCIENCE.md C), one run per condition.

    Returns ``{label: zone}``; each run carries ``group_id`` and its ``condition``
    in the metadata so ``photoreactor report`` can draw the map.
    """
    group_id = str(uuid.uuid4())
    zones = {}
    left_ml = 0.0      # the first condition starts in a clean, empty flask
    for cond in conditions or C_GRID:
        label = cond.get("label") or ", ".join(f"{k}={v}" for k, v in cond.items())
        result = yield from msc_timecourse(
            mantle, spectrometer, sampler, drain, pump_te, pump_cd, pump_top, pump_oam, solvents,
            condition=cond, scale=scale, group_id=group_id, aliquot_times_h=aliquot_times_h,
            drain_ml=1.1 * left_ml, md={**(md or {}), "group_id": group_id, "condition": {**STANDARD, **cond},
                "condition_label": label})
        zones[label] = result.zone
        left_ml = _volume_left_ml(cond, solvents, {"te": pump_te, "cd": pump_cd, "top": pump_top,
                                                   "oam": pump_oam}, scale, 2.0,
                                  len(aliquot_times_h or ALIQUOT_TIMES_H))
    return zones
