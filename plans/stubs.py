"""Plan stubs: the lab's verbs.

Each stub is one thing a chemist does at the bench — dose, heat, hold, shine,
measure, sample — as a Bluesky plan fragment.  They are composed by the
experiment plans and can be used on their own inside a run.

Event streams written by the stubs:

``primary``    spectra with the quantities computed from them (E1, size, ...)
``dose``       one event per addition: reagent, volume, moles, pump readbacks
``aliquot``    one event per sample withdrawn: label, volume, dilution
``dark``, ``reference``  the frames used for absorbance
``stage``      one event per stage of a light programme: irradiance, photon dose
"""

from __future__ import annotations

import math

import bluesky.plan_stubs as bps

from photoreactor.devices.common.errors import LimitError

from .observables import Observable, Record


def _value(reading: dict, key: str):
    return reading[key]["value"]


# -- temperature ---------------------------------------------------------------
def heat_to(mantle, temperature_c: float, *, ramp_c_min: float | None = None):
    """Heat (or cool under regulation) to ``temperature_c`` and wait until settled.

    The mantle's ``set`` finishes when the probe has stayed within tolerance
    for the settle time; its status fails (and the plan with it) on a sensor
    fault or when the temperature is not reached in time.
    """
    if ramp_c_min is not None:
        yield from bps.mv(mantle.ramp_rate, ramp_c_min)
    yield from bps.mv(mantle, temperature_c)


def heater_off(mantle):
    """Switch heating off (the flask cools naturally)."""
    yield from bps.mv(mantle.heater_on, 0)


def cool_to(mantle, temperature_c: float, *, poll_s: float = 120.0, timeout_s: float = 3 * 3600):
    """Heater off, then wait until the probe reads at most ``temperature_c``."""
    yield from heater_off(mantle)
    waited = 0.0
    while True:
        t = yield from bps.rd(mantle.temperature)
        if t <= temperature_c:
            return t
        if waited >= timeout_s:
            raise TimeoutError(f"{mantle.name}: still {t:.1f} °C after {waited / 60:.0f} min "
                               f"of cooling (wanted ≤ {temperature_c} °C)")
        yield from bps.sleep(poll_s)
        waited += poll_s


def hold(seconds: float, *, every_s: float | None = None, measure=None):
    """Wait ``seconds``; if ``measure`` (a plan factory) is given, run it every ``every_s``."""
    if measure is None or not every_s:
        yield from bps.sleep(seconds)
        return
    left = seconds
    while left > 1e-9:
        step = min(every_s, left)
        yield from bps.sleep(step)
        left -= step
        yield from measure()


# -- liquids -------------------------------------------------------------------
_dose_signals = None


def _dose_record():
    """One set of records for every pump, so the ``dose`` stream has fixed columns."""
    global _dose_signals
    if _dose_signals is None:
        _dose_signals = {
            "pump": Record(name="dose_pump", value=""),
            "reagent": Record(name="dose_reagent", value=""),
            "volume": Observable("dose_volume_ml", "mL"),
            "mol": Observable("dose_mol", "mol"),
            "dispensed": Observable("dose_dispensed_ml", "mL"),
            "remaining": Observable("dose_remaining_ml", "mL"),
        }
    return _dose_signals


def dose(pump, volume_ml: float | None = None, *, mol: float | None = None, note: str = ""):
    """Add reagent from ``pump``: a volume in mL, or an amount in mol (via its concentration).

    Records a ``dose`` event (pump, reagent, volume, moles, and the pump's own
    dispensed and remaining readings).  Refused before anything moves when the
    syringe holds less than asked.  Returns the volume dosed (mL).
    """
    if (volume_ml is None) == (mol is None):
        raise ValueError(f"{pump.name}: give exactly one of volume_ml or mol")
    conc = yield from bps.rd(pump.concentration)
    if mol is not None:
        if not conc > 0:
            raise ValueError(f"{pump.name}: reagent has no concentration; dose by volume")
        volume_ml = mol / conc * 1000.0
    if volume_ml <= 0:
        raise LimitError(pump.name, "dose volume", volume_ml, "(0, syringe]", "mL")
    yield from bps.mv(pump, volume_ml)
    dispensed = yield from bps.rd(pump.dispensed)
    remaining = yield from bps.rd(pump.remaining)
    rec = _dose_record()
    yield from bps.mv(rec["pump"], pump.name,
                      rec["reagent"], pump.reagent.name + (f" ({note})" if note else ""),
                      rec["volume"], volume_ml, rec["mol"], volume_ml / 1000.0 * conc,
                      rec["dispensed"], dispensed, rec["remaining"], remaining)
    yield from bps.trigger_and_read(list(rec.values()), name="dose")
    return volume_ml


_aliquot_signals = None


def sample_aliquot(sampler, volume_ml: float = 2.0, *, label: str = "", dilution_factor: float = 1.0):
    """Withdraw an aliquot for off-line analysis (GC, NMR, diluted UV-vis) and log it.

    ``dilution_factor`` is total/aliquot volume of the dilution made for
    off-line absorption (e.g. 50 µL into 5 mL: 101), recorded for the analysis.
    """
    global _aliquot_signals
    if _aliquot_signals is None:
        _aliquot_signals = {"label": Record(name="aliquot_label", value=""),
                            "volume": Observable("aliquot_volume_ml", "mL"),
                            "dilution": Observable("aliquot_dilution_factor", ""),
                            "withdrawn": Observable("aliquot_withdrawn_ml", "mL")}
    s = _aliquot_signals
    yield from bps.mv(sampler, -abs(volume_ml))
    withdrawn = yield from bps.rd(sampler.dispensed)
    yield from bps.mv(s["label"], label, s["volume"], abs(volume_ml), s["dilution"], dilution_factor,
                      s["withdrawn"], -withdrawn)
    yield from bps.trigger_and_read(list(s.values()), name="aliquot")


# -- light ---------------------------------------------------------------------
def set_irradiance(led, irradiance_mw_cm2: float):
    """Set the irradiance at the vial (0 switches the LED off); refused outside calibration."""
    yield from bps.mv(led.irradiance, irradiance_mw_cm2)


def light_off(led):
    yield from bps.mv(led.irradiance, 0.0)


def light_programme(led, irradiance_mw_cm2: float, *, on_s: float, off_s: float, cycles: int):
    """On/off pulses: ``cycles`` × (``on_s`` at ``irradiance_mw_cm2``, then ``off_s`` dark)."""
    for _ in range(int(cycles)):
        yield from set_irradiance(led, irradiance_mw_cm2)
        yield from bps.sleep(on_s)
        yield from light_off(led)
        if off_s > 0:
            yield from bps.sleep(off_s)


# -- spectra -------------------------------------------------------------------
def take_dark(spectrometer):
    """Record a dark frame (lamp off) that absorbance and emission are corrected with."""
    yield from bps.mv(spectrometer.lamp, 0)
    yield from bps.mv(spectrometer.mode, "dark")
    yield from bps.trigger_and_read([spectrometer], name="dark")


def take_reference(spectrometer):
    """Record the reference (blank) frame with the lamp on."""
    yield from bps.mv(spectrometer.lamp, 1)
    yield from bps.mv(spectrometer.mode, "reference")
    yield from bps.trigger_and_read([spectrometer], name="reference")


def take_dark_and_reference(spectrometer):
    """Dark then reference: what a run does before its first absorbance spectrum."""
    yield from take_dark(spectrometer)
    yield from take_reference(spectrometer)


def measure_absorbance(spectrometer, *, extra=(), analyse=None, observed=None, stream="primary"):
    """One absorbance spectrum, analysed and recorded in a single event.

    Parameters
    ----------
    spectrometer : OceanSpectrometer
    extra : sequence of readables
        Read into the same event (mantle, LED ...).
    analyse : callable, optional
        ``analyse(wavelengths_nm, absorbance) -> dict`` of derived values (pure,
        from :mod:`photoreactor.analysis`), written to the matching ``observed``
        signals in the same event.
    observed : dict of Observable
        Signals for the derived values.

    Returns
    -------
    dict with ``wavelengths_nm``, ``absorbance``, ``time`` (device clock),
    ``saturated`` and the derived values.
    """
    yield from _ensure_mode(spectrometer, "absorbance", lamp=1)
    return (yield from _measure(spectrometer, "absorbance", extra, analyse, observed, stream))


def measure_emission(spectrometer, *, extra=(), analyse=None, observed=None, stream="emission"):
    """One emission spectrum (lamp off, excitation by the LED as currently set)."""
    yield from _ensure_mode(spectrometer, "emission", lamp=0)
    return (yield from _measure(spectrometer, "emission", extra, analyse, observed, stream))


def _ensure_mode(spectrometer, mode, lamp):
    yield from bps.mv(spectrometer.mode, mode, spectrometer.lamp, lamp)


def _measure(spectrometer, field, extra, analyse, observed, stream):
    observed = observed or {}
    wavelengths = yield from bps.rd(spectrometer.wavelengths)
    yield from bps.trigger(spectrometer, wait=True)
    for obj in extra:
        if hasattr(obj, "trigger"):
            yield from bps.trigger(obj, wait=True)
    yield from bps.create(name=stream)
    reading = yield from bps.read(spectrometer)
    for obj in extra:
        yield from bps.read(obj)
    key = f"{spectrometer.name}_{field}"
    spectrum = _value(reading, key)
    out = {"wavelengths_nm": wavelengths, field: spectrum, "time": reading[key]["timestamp"],
           "saturated": bool(_value(reading, f"{spectrometer.name}_saturated"))
           if f"{spectrometer.name}_saturated" in reading else False}
    derived = analyse(wavelengths, spectrum) if analyse is not None else {}
    out.update(derived)
    # every observable is written in every event, NaN when not derived this time,
    # so the stream's columns stay the same from the first event to the last
    for name, signal in observed.items():
        value = derived.get(name)
        yield from bps.mv(signal, math.nan if value is None else float(value))
        yield from bps.read(signal)
    yield from bps.save()
    return out
