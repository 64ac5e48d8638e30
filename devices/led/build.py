"""Builders: profile entry → transport → driver → LED device.

Profile entries (see the lab-example profile for every field)::

    led:
      class: DC2200Led
      resource: "USB0::0x1313::0x80C8::M00000001::INSTR"
      visa_backend: "@py"          # "@emulator" in the simulated profile
      wavelength_nm: 460
      max_current_a: 1.0           # software limit on top of the instrument's
      calibration: {current_a: [...], irradiance_mw_cm2: [...], date: ..., sensor: S121C}

    led_uv:
      class: DC4100Led
      port: /dev/ttyUSB1           # sim://leds in the simulated profile
      channel: 0                   # 0-3; channels of one box share the port
      wavelength_nm: 405
"""

from __future__ import annotations

import logging

from photoreactor.devices.common.transport import open_serial
from photoreactor.devices.registry import device_class

from .calibration import LedCalibration
from .dc2200 import DC2200Driver
from .dc4100 import BAUDRATE, DC4100Driver
from .device import DC2200Led, DC4100Led

log = logging.getLogger(__name__)

#: a head whose EEPROM wavelength differs more than this from the profile is reported
WAVELENGTH_MISMATCH_NM = 5.0

_COMMON_OPTIONAL = {"calibration", "max_current_a", "timeout_s"}


def _calibration(name: str, config: dict) -> LedCalibration:
    try:
        return LedCalibration.from_config(config.get("calibration"))
    except ValueError as exc:
        raise ValueError(f"device {name!r}: {exc}") from None


@device_class("DC2200Led", required={"resource", "wavelength_nm"},
              optional=_COMMON_OPTIONAL | {"visa_backend", "check_errors", "open_attempts"},
              safe_order=10)
def build_dc2200(name: str, config: dict, clock) -> DC2200Led:
    """Thorlabs DC2200 high-power LED driver (SCPI over USB-TMC)."""
    calibration = _calibration(name, config)
    driver = DC2200Driver.open(
        config["resource"], backend=config.get("visa_backend", "@py"), name=name, clock=clock,
        timeout_s=float(config.get("timeout_s", 2.0)),
        attempts=int(config.get("open_attempts", 3)),
        check_errors=bool(config.get("check_errors", True)))
    return DC2200Led(driver, clock, name=name, wavelength_nm=float(config["wavelength_nm"]),
                     calibration=calibration, max_current_a=config.get("max_current_a"))


@device_class("DC4100Led", required={"port", "channel", "wavelength_nm"},
              optional=_COMMON_OPTIONAL | {"baudrate", "rtscts"}, safe_order=10)
def build_dc4100(name: str, config: dict, clock) -> DC4100Led:
    """One channel of a Thorlabs DC4100/DC4104 four-channel LED driver (serial)."""
    calibration = _calibration(name, config)
    port = open_serial(config["port"], baudrate=int(config.get("baudrate", BAUDRATE)),
                       bytesize=8, parity="N", stopbits=1,
                       rtscts=bool(config.get("rtscts", False)))
    box = DC4100Driver(port, name=name, timeout_s=float(config.get("timeout_s", 1.0)))
    channel = box.channel(int(config["channel"]))
    head_nm = channel.wavelength_nm()
    wanted_nm = float(config["wavelength_nm"])
    if head_nm > 0 and abs(head_nm - wanted_nm) > WAVELENGTH_MISMATCH_NM:
        log.warning("%s: profile says %g nm but the LED head on channel %d reports %g nm; "
                    "photon doses use the profile's value — check which head is connected",
                    name, wanted_nm, channel.channel, head_nm)
    return DC4100Led(channel, clock, name=name, wavelength_nm=wanted_nm,
                     calibration=calibration, max_current_a=config.get("max_current_a"))
