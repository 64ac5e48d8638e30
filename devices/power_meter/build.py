"""Builder: profile entry → VISA resource → PM100 driver → power-meter device.

Profile entry::

    power_meter:
      class: PM100Meter
      resource: "USB0::0x1313::0x8078::P0000001::INSTR"
      visa_backend: "@py"        # "@emulator" in the simulated profile
      aperture_mm: 9.5           # S120C / S121C
      wavelength_nm: 460         # optional: initial wavelength correction
      averaging: 100             # samples per reading (≈ 0.3 s)
"""

from __future__ import annotations

from photoreactor.devices.registry import device_class

from .device import PM100Meter
from .pm100 import PM100Driver


@device_class("PM100Meter", required={"resource"},
              optional={"visa_backend", "aperture_mm", "wavelength_nm", "averaging", "timeout_s",
                        "zero_settle_s", "check_errors", "open_attempts"}, safe_order=50)
def build_pm100(name: str, config: dict, clock) -> PM100Meter:
    """Thorlabs PM100D/PM100USB optical power meter (SCPI via VISA)."""
    driver = PM100Driver.open(
        config["resource"], backend=config.get("visa_backend", "@py"), name=name, clock=clock,
        timeout_s=float(config.get("timeout_s", 2.0)),
        attempts=int(config.get("open_attempts", 3)),
        check_errors=bool(config.get("check_errors", True)))
    wavelength = config.get("wavelength_nm")
    driver.configure(wavelength_nm=None if wavelength is None else float(wavelength),
                     averaging=int(config.get("averaging", 100)))
    return PM100Meter(driver, clock, name=name, aperture_mm=float(config.get("aperture_mm", 9.5)),
                      zero_settle_s=float(config.get("zero_settle_s", 3.0)))
