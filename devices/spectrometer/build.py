"""Build an :class:`OceanSpectrometer` from its profile entry.

Profile entry (``devices: spectrometer: {...}``)::

    spectrometer:
      class: OceanSpectrometer
      backend: cseabreeze          # cseabreeze | pyseabreeze (Ocean ST, SR4) | emulator
      serial_number: FLMS12345     # optional on the bench (first available); required for the emulator
      model: FLAME-S               # optional; checked against the connected unit
      integration_time_ms: 10
      scans_to_average: 4
      lamp_control: strobe_lamp    # strobe_lamp (lamp-enable TTL → DH lamp shutter) | manual
      auto_lamp: true              # dark/emission exposed lamp-off, reference/absorbance lamp-on
      correct_nonlinearity: false  # linearise with the unit's EEPROM coefficients
      saturation_fraction: 1.0     # flag pixels at >= this fraction of full scale
      on_saturation: flag          # flag | raise
      min_reference_counts: 0      # NaN absorbance where R − D is below this
      timeout_margin_s: 2.0        # device-clock slack on every call
      min_wall_timeout_s: 1.0      # wall-clock grace after a deadline before "hung"
"""

from __future__ import annotations

from photoreactor.devices.registry import device_class

from .device import OceanSpectrometer
from .ocean import OceanDriver, open_seabreeze

DRIVER_OPTIONS = ("timeout_margin_s", "min_wall_timeout_s", "correct_nonlinearity",
                  "saturation_fraction", "lamp_control")
DEVICE_OPTIONS = ("integration_time_ms", "scans_to_average", "auto_lamp", "on_saturation",
                  "min_reference_counts")


@device_class("OceanSpectrometer", required={"backend"},
              optional={"serial_number", "model", *DRIVER_OPTIONS, *DEVICE_OPTIONS},
              safe_order=40)
def build_ocean_spectrometer(name: str, config: dict, clock) -> OceanSpectrometer:
    """Ocean Insight spectrometer through python-seabreeze (or its emulator)."""
    backend = config["backend"]
    serial = config.get("serial_number")
    if backend == "emulator" and not serial:
        raise ValueError(f"device {name!r}: backend 'emulator' needs a serial_number "
                         "(the simulated unit is registered under it)")
    spec, errors = open_seabreeze(backend, serial, device=name)
    try:
        driver = OceanDriver(spec, name=name, clock=clock, model=config.get("model"), errors=errors,
                             **{k: config[k] for k in DRIVER_OPTIONS if k in config})
        return OceanSpectrometer(driver, clock=clock, name=name,
                                 **{k: config[k] for k in DEVICE_OPTIONS if k in config})
    except BaseException:
        # leave the USB device free for the next attempt (or for OceanView)
        try:
            spec.close()
        except Exception:
            pass
        raise
