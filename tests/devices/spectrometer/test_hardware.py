"""Opt-in checks on a real Ocean spectrometer: ``pytest --hardware PROFILE``.

Takes a dark (lamp off) and, when the lamp is under software control, a
reference; leaves the lamp off.  Nothing in the reactor moves.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.hardware


def _spectrometers(profile):
    found = {n: c for n, c in profile.devices.items() if c.get("class") == "OceanSpectrometer"}
    if not found:
        pytest.skip("the profile has no OceanSpectrometer")
    return found


def test_dark_and_reference_on_the_real_unit(hardware_profile):
    from photoreactor.devices.common.timing import WallClock
    from photoreactor.devices.spectrometer.build import build_ocean_spectrometer

    for name, cfg in _spectrometers(hardware_profile).items():
        dev = build_ocean_spectrometer(name, cfg, WallClock())
        try:
            pixels = dev.driver.pixels
            assert dev.wavelengths.get().shape == (pixels,)
            dev.lamp.set(0).wait(10)
            dev.mode.put("dark")
            dev.trigger().wait(120)
            dark = dev.dark.get()
            assert dark.shape == (pixels,) and np.isfinite(dark).all()
            assert dev.saturated.get() == 0, "a dark frame must not saturate"
            if dev.driver.lamp_control != "manual":
                dev.mode.put("reference")
                dev.trigger().wait(120)  # SensorFault here means no lamp light reaches the fibre
                assert np.nanmax(dev.reference.get() - dark) > 100
        finally:
            dev.safe()
            dev.destroy()
