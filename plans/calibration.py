"""Calibrations: the LED's irradiance at the vial, measured with the power meter."""

from __future__ import annotations

import datetime as dt

import bluesky.plan_stubs as bps
import numpy as np

from photoreactor.devices.led.calibration import fit_calibration

from .preflight import Requirements
from .safety import experiment
from .stubs import take_dark_and_reference


def _calibrate_led_requirements(led, power_meter, *, currents_a=None, max_current_a=None,
                                points=12, settle_s=2.0, sensor="S121C"):
    return Requirements(duration_s=(points + 2) * (settle_s + 5.0))


@experiment(_calibrate_led_requirements, sample="LED calibration at the vial position")
def calibrate_led(led, power_meter, *, currents_a: list | None = None,
                  max_current_a: float | None = None, points: int = 12, settle_s: float = 2.0,
                  sensor: str = "S121C"):
    """Sweep the LED current, read irradiance at the vial, fit and install the calibration.

    Procedure: power meter sensor at the vial position; LED off; meter set to the
    LED wavelength and zeroed; for each current (``currents_a``, default a
    sweep from 0 to ``max_current_a`` denser at low current where the low
    irradiances of SCIENCE.md A live) switch the LED on at that current, wait
    ``settle_s``, read ``power_meter.irradiance``.  The fit (monotonic, repeats
    averaged; a drop mid-sweep is refused) is installed on the LED and returned;
    :func:`photoreactor.config.save_calibration` writes it into the profile's
    ``calibrations.yaml`` so the next session starts with it.
    """
    wavelength = yield from bps.rd(led.wavelength)
    limit = yield from bps.rd(led.current_limit)
    top = float(max_current_a or limit)
    if currents_a is None:
        # quadratic spacing: 1 and 5 mW/cm² need points at a few mA
        currents_a = [top * (i / (points - 1)) ** 2 for i in range(points)]
    yield from bps.mv(led.output, 0)
    yield from bps.mv(power_meter.wavelength, wavelength)
    yield from bps.mv(power_meter.zero_request, 1)
    measured = []
    for current in currents_a:
        yield from bps.mv(led.current, float(current))
        yield from bps.mv(led.output, 1 if current > 0 else 0)
        yield from bps.sleep(settle_s)
        reading = yield from bps.trigger_and_read([led.current, led.measured_current, power_meter])
        measured.append(reading[power_meter.irradiance.name]["value"])
    yield from bps.mv(led.output, 0)
    cal = fit_calibration(np.asarray(currents_a, float), np.asarray(measured, float),
                          date=dt.date.today().isoformat(), sensor=sensor)
    yield from bps.mv(led.calibration_table, cal.to_config())
    yield from bps.trigger_and_read([led.calibration_current, led.calibration_irradiance],
                                    name="calibration")
    return cal


@experiment(sample="blank (solvent only)")
def record_blank(spectrometer):
    """Take the dark and the reference (blank) frames as a run of their own.

    Do this with the probe in the pure solvent, before the particles go in: every
    absorbance spectrum afterwards is relative to this blank (the spectrometer keeps
    the frames until the integration time changes).
    """
    yield from take_dark_and_reference(spectrometer)
