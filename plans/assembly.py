"""Mn²⁺:(CdSe)₁₃ clusters and their heat-up assembly into suprastructures (SCIENCE.md D)."""

from __future__ import annotations

import bluesky.plan_stubs as bps

from photoreactor.analysis.feedback import exciton_observables

from .observables import observables
from .preflight import Requirements
from .safety import experiment
from .stubs import dose, heat_to, hold, measure_absorbance

HOUR = 3600.0


def _assembly_requirements(mantle, spectrometer, pump_se, *, se_volume_ml=5.0, inject_c=25.0,
                           hold_c=120.0, hold_s=24 * HOUR, interval_s=HOUR, cluster_nm=(330.0, 370.0),
                           solvent="BDA"):
    req = Requirements(solvent=solvent, duration_s=hold_s + 1800)
    req.heat(mantle, inject_c)
    req.measure(spectrometer)
    req.heat(mantle, hold_c)
    req.dose(pump_se, se_volume_ml)
    return req


@experiment(_assembly_requirements, sample="Mn:(CdSe)13 clusters / suprastructures (SCIENCE.md D)")
def heat_up_assembly(mantle, spectrometer, pump_se, *, se_volume_ml: float = 5.0,
                     inject_c: float = 25.0, hold_c: float = 120.0, hold_s: float = 24 * HOUR,
                     interval_s: float = HOUR, cluster_nm: list | tuple = (330.0, 370.0),
                     solvent: str = "BDA"):
    """Inject the Se precursor at 25 °C, then hold 24 h at ``hold_c`` tracking assembly.

    ``hold_c=25`` gives the MSCs (sharp 353/340 nm peaks stay); ``hold_c=120``
    assembles them into suprastructures, seen in situ as the sharp peaks washing
    out under a rising, wavelength-dependent scattering baseline — recorded every
    ``interval_s`` as ``scattering`` and the cluster peak (``e1_nm``,
    ``e1_absorbance``) searched in ``cluster_nm``.
    """
    observed = observables("e1_nm", "e1_absorbance", "scattering", "elapsed_s")
    elapsed = 0.0

    def analyse(wl, a):
        out = exciton_observables(wl, a, material="cluster", search_nm=tuple(cluster_nm))
        out["elapsed_s"] = elapsed
        return out

    def measure():
        return measure_absorbance(spectrometer, extra=[mantle], analyse=analyse, observed=observed)

    yield from heat_to(mantle, inject_c)
    yield from dose(pump_se, se_volume_ml, note="Se precursor injection")
    yield from measure()
    if hold_c != inject_c:
        yield from heat_to(mantle, hold_c)
    while elapsed < hold_s - 1e-6:
        step = min(interval_s, hold_s - elapsed)
        yield from hold(step)
        elapsed += step
        yield from measure()
    yield from bps.mv(mantle.heater_on, 0)
