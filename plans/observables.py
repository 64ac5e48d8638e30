"""Soft signals for what a plan *computes* from what it measures.

Plans decide from derived quantities — E1, diameter, band-edge energy — and
those decisions must be reproducible from the data, so each derived number is
recorded in the same event as the spectrum it came from.  An
:class:`Observable` is an Ophyd soft signal with units that a plan sets with
``bps.mv`` inside the event bundle and reads alongside the instruments.
"""

from __future__ import annotations

import math

from ophyd import Signal
from ophyd.status import Status


class Record(Signal):
    """A value the plan writes and reads back: ``set`` takes effect at once.

    Ophyd's ``Signal.set`` waits until ``get()`` equals the target, which never
    happens for NaN (NaN != NaN) — a plan recording "no E1 found" would hang.
    """

    def set(self, value, **kwargs):
        self.put(value)
        status = Status(obj=self)
        status.set_finished()
        return status


class Observable(Record):
    """A plan-computed quantity with units; NaN until first set."""

    def __init__(self, name: str, units: str, *, kind: str = "normal", doc: str = ""):
        super().__init__(name=name, value=math.nan, kind=kind)
        self.units = units
        self.__doc__ = doc

    def describe(self):
        d = super().describe()
        d[self.name]["units"] = self.units
        d[self.name]["source"] = "computed"
        return d


#: name -> (units, kind, description); names are the event keys users search for
DERIVED = {
    "e1_nm": ("nm", "hinted", "first excitonic absorption peak (smoothed)"),
    "e1_uncertainty_nm": ("nm", "normal", "uncertainty of the E1 position"),
    "e1_absorbance": ("", "normal", "absorbance at E1"),
    "diameter_nm": ("nm", "hinted", "particle diameter from the sizing curve"),
    "band_gap_ev": ("eV", "hinted", "band-edge (1S-1S) energy"),
    "scattering": ("", "normal", "absorbance at the red end of the window (scattering baseline)"),
    "monolayers": ("ML", "normal", "shell monolayers added so far"),
    "elapsed_s": ("s", "normal", "time since the plan started (device clock)"),
    "photon_dose_stage": ("umol/cm^2", "normal", "photon dose delivered in the current stage"),
    "stage": ("", "normal", "stage index of a multi-stage programme"),
}


def observables(*names: str) -> dict[str, Observable]:
    """Fresh observables by name (one set per plan invocation)."""
    out = {}
    for n in names:
        units, kind, doc = DERIVED[n]
        out[n] = Observable(n, units, kind=kind, doc=doc)
    return out
