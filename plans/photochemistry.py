"""Light-driven plans: the intensity-switched cascade (A4) and long photocatalysis runs (A3, B).

Both irradiate for long times with periodic actions (the ``hold`` stub's
loop).  Photon dose comes from the LED device's own integrator
(``led.photon_dose``), read at the start and end of each stage so the dose per
stage is recorded exactly, whatever the clock did in between.
"""

from __future__ import annotations

import math

import bluesky.plan_stubs as bps

from photoreactor.analysis.feedback import scattering_level

from .observables import observables
from .preflight import Requirements
from .safety import experiment
from .stubs import dose, hold, light_off, measure_absorbance, sample_aliquot, set_irradiance

HOUR = 3600.0

#: SCIENCE.md A4: C–Br coupling with N-methylpyrrole at low irradiance (band-edge
#: electrons only), then B2pin2 added and irradiance raised for C–Cl borylation.
A4_STAGES = [
    {"name": "C-Br coupling (band-edge electrons)", "irradiance_mw_cm2": 1.0,
     "duration_s": 24 * HOUR},
    {"name": "C-Cl borylation (hot electrons)", "irradiance_mw_cm2": 150.0,
     "duration_s": 18 * HOUR, "add": {"pump_b2pin2": 0.5}},
]


def _stage_record():
    return observables("stage", "photon_dose_stage")


def _pumps_by_name(pumps):
    return {p.name: p for p in (pumps or [])}


def _cascade_requirements(led, pumps=(), sampler=None, spectrometer=None, *, stages=None,
                          sample_every_s=None, aliquot_ml=0.05, solvent="DMPU"):
    stages = stages or A4_STAGES
    by_name = _pumps_by_name(pumps)
    req = Requirements(solvent=solvent)
    req.measure(spectrometer)
    for st in stages:
        req.light(led, st.get("irradiance_mw_cm2", 0.0))
        req.duration_s += st.get("duration_s", 0.0)
        for pump_name, amount in (st.get("add") or {}).items():
            if pump_name not in by_name:
                req.notes.append(f"stage {st.get('name', '')}: no pump named {pump_name!r} given")
                continue
            req.dose(by_name[pump_name], float(amount))
    if sampler is not None and sample_every_s:
        req.withdraw(sampler, aliquot_ml * math.ceil(req.duration_s / sample_every_s))
    return req


class UnknownPump(ValueError):
    pass


@experiment(_cascade_requirements, sample="intensity-switched cascade (SCIENCE.md A4)")
def intensity_cascade(led, pumps: list | None = None, sampler=None, spectrometer=None, *,
                      stages: list | None = None, sample_every_s: float | None = None,
                      aliquot_ml: float = 0.05, solvent: str = "DMPU"):
    """Run a light programme in stages: irradiance, duration, additions at each stage start.

    Default (SCIENCE.md A4): 24 h at 1 mW/cm² (C–Br reacts via band-edge
    electrons), then B2pin2 from ``pump_b2pin2`` and 18 h at 150 mW/cm² (C–Cl
    via hot electrons).  Each stage records a ``stage`` event with the photon dose
    it delivered; aliquots every ``sample_every_s`` for off-line GC/NMR.

    Stage keys: ``irradiance_mw_cm2``, ``duration_s``, optional ``name``,
    ``add`` ({pump name: volume mL}), ``pulses`` ({"on_s": .., "off_s": ..}) for
    an on/off programme at that irradiance.
    """
    stages = stages or A4_STAGES
    by_name = _pumps_by_name(pumps)
    rec = _stage_record()

    def periodic():
        if sampler is not None:
            yield from sample_aliquot(sampler, aliquot_ml, label="cascade")
        if spectrometer is not None:
            yield from measure_absorbance(spectrometer, extra=[led])

    for i, st in enumerate(stages):
        for pump_name, volume in (st.get("add") or {}).items():
            if pump_name not in by_name:
                raise UnknownPump(f"stage {i} adds from {pump_name!r}, but the plan was given "
                                  f"pumps {sorted(by_name)}")
            yield from dose(by_name[pump_name], float(volume), note=f"stage {i}")
        dose_before = yield from bps.rd(led.photon_dose)
        x = float(st.get("irradiance_mw_cm2", 0.0))
        pulses = st.get("pulses")
        if pulses:
            period = pulses["on_s"] + pulses["off_s"]
            cycles = int(st["duration_s"] // period)
            for _ in range(cycles):
                yield from set_irradiance(led, x)
                yield from bps.sleep(pulses["on_s"])
                yield from light_off(led)
                yield from bps.sleep(pulses["off_s"])
        else:
            yield from set_irradiance(led, x)
            yield from hold(float(st["duration_s"]), every_s=sample_every_s,
                            measure=periodic if (sampler or spectrometer) else None)
        dose_after = yield from bps.rd(led.photon_dose)
        yield from bps.mv(rec["stage"], i, rec["photon_dose_stage"], dose_after - dose_before)
        yield from bps.trigger_and_read([rec["stage"], rec["photon_dose_stage"], led], name="stage")
    yield from light_off(led)


def _photocatalysis_requirements(led, sampler=None, spectrometer=None, renew_pump=None, *,
                                 irradiance_mw_cm2=5.0, duration_s=55 * HOUR, sample_every_s=None,
                                 aliquot_ml=0.05, renew_every_s=None, renew_volume_ml=0.0,
                                 solvent="DMPU"):
    req = Requirements(solvent=solvent, duration_s=duration_s)
    req.light(led, irradiance_mw_cm2)
    req.measure(spectrometer)
    n_samples = math.ceil(duration_s / sample_every_s) if sample_every_s else 1
    req.withdraw(sampler, aliquot_ml * n_samples)
    if renew_pump is not None and renew_every_s:
        req.dose(renew_pump, renew_volume_ml * max(0, math.ceil(duration_s / renew_every_s) - 1))
    return req


@experiment(_photocatalysis_requirements, sample="photocatalysis")
def photocatalysis(led, sampler=None, spectrometer=None, renew_pump=None, *,
                   irradiance_mw_cm2: float = 5.0, duration_s: float = 55 * HOUR,
                   sample_every_s: float | None = None, aliquot_ml: float = 0.05,
                   renew_every_s: float | None = None, renew_volume_ml: float = 0.0,
                   solvent: str = "DMPU"):
    """Irradiate for a long time, sampling periodically and re-dosing the sacrificial donor.

    Defaults: SCIENCE.md A3 (5 mW/cm² at the vial, 55 h, one sample at the end).
    B: ``irradiance_mw_cm2=100, duration_s=432000, sample_every_s=86400``; the
    360 h stability run adds ``renew_every_s=432000`` with ``renew_pump`` and
    ``renew_volume_ml`` (sacrificial agent re-added each cycle).  With a
    spectrometer, the photocatalyst's absorption is recorded at every sample
    (photostability: scattering and band height over time).
    """
    observed = observables("e1_absorbance", "scattering", "elapsed_s")
    elapsed = 0.0
    since_renewal = 0.0

    def analyse(wl, a):
        import numpy as np

        finite = np.isfinite(a)
        peak = float(np.nanmax(a[finite & (np.asarray(wl) < 500)])) if finite.any() else math.nan
        return {"e1_absorbance": peak, "scattering": scattering_level(wl, a), "elapsed_s": elapsed}

    def sample():
        if sampler is not None:
            yield from sample_aliquot(sampler, aliquot_ml, label=f"t = {elapsed / HOUR:.1f} h")
        if spectrometer is not None:
            yield from measure_absorbance(spectrometer, extra=[led], analyse=analyse,
                                          observed=observed)

    yield from set_irradiance(led, irradiance_mw_cm2)
    step = sample_every_s or duration_s
    while elapsed < duration_s - 1e-6:
        dt = min(step, duration_s - elapsed)
        yield from bps.sleep(dt)
        elapsed += dt
        since_renewal += dt
        yield from sample()
        if (renew_pump is not None and renew_every_s and since_renewal >= renew_every_s - 1e-6
                and elapsed < duration_s - 1e-6):
            yield from dose(renew_pump, renew_volume_ml, note="renewal")
            since_renewal = 0.0
    yield from light_off(led)
    yield from bps.trigger_and_read([led], name="photon_dose")
