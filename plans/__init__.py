"""Plan stubs and experiment plans.

Plans are generator functions: they read, call pure functions from
:mod:`photoreactor.analysis`, and decide.  They never know whether the reactor
is real or simulated.  Every experiment plan is wrapped by
:func:`photoreactor.plans.safety.experiment`: pre-flight checks before anything
moves, one run with its metadata, and the reactor made safe on every exit path.
"""

from .assembly import heat_up_assembly
from .calibration import calibrate_led, record_blank
from .exchange import cation_exchange
from .growth import grow_until
from .photochemistry import intensity_cascade, photocatalysis
from .shell import silar_shell
from .stubs import (
    cool_to,
    dose,
    heat_to,
    heater_off,
    hold,
    light_off,
    light_programme,
    measure_absorbance,
    measure_emission,
    sample_aliquot,
    set_irradiance,
    take_dark,
    take_dark_and_reference,
    take_reference,
)
from .zones import msc_timecourse, reaction_zone_map

#: experiment plans: each opens its run(s) and leaves the reactor safe on every exit
EXPERIMENTS = [
    "grow_until", "silar_shell", "cation_exchange", "intensity_cascade", "photocatalysis",
    "reaction_zone_map", "msc_timecourse", "heat_up_assembly", "calibrate_led", "record_blank",
]

__all__ = [
    "grow_until", "silar_shell", "cation_exchange", "intensity_cascade", "photocatalysis",
    "reaction_zone_map", "msc_timecourse", "heat_up_assembly", "calibrate_led", "record_blank",
    # stubs: the lab's verbs, used inside a run
    "heat_to", "heater_off", "cool_to", "hold", "dose", "sample_aliquot", "set_irradiance",
    "light_off", "light_programme", "take_dark", "take_reference", "take_dark_and_reference",
    "measure_absorbance", "measure_emission",
]
