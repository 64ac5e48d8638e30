"""Driver for the Thorlabs PM100D / PM100USB optical power meter (SCPI via VISA).

The meter must be in its VISA (not TLPM) driver mode.  Exchanges go through the
shared :class:`~photoreactor.devices.common.scpi.ScpiClient`: lock per resource,
timeouts, typed errors, retries for queries only, ``SYST:ERR?`` after writes.

Commands used
-------------
``SYST:SENS:IDN?``         sensor head: ``name,serial,calibration date,type,subtype,flags``
``SENS:CORR:WAV <nm>``     wavelength correction (and ``SENS:CORR:WAV?``)
``SENS:POW:UNIT W``        report power in watts
``SENS:RANGE:AUTO ON``     auto-ranging
``SENS:AVER:COUN <n>``     samples averaged per reading (≈ 3 ms each)
``SENS:CORR:COLL:ZERO``    dark zero (sensor covered / light off)
``MEAS:POW?``              one power reading (W)
``SYST:ERR?``              error queue

Design decisions
----------------
* A reading of 9.9e37 or more is the SCPI overflow value: the sensor is over its
  range, raised as :class:`DetectorSaturated` rather than returned as a number.
* The read timeout grows with the averaging count (n × 3 ms + the base timeout),
  so a long average is not mistaken for a silent meter.
* ``SENS:CORR:WAV?`` is the SCPI query form of the documented setter (pymeasure's
  PM100 driver uses it too); it lets the device read back what the meter applies.
"""

from __future__ import annotations

import logging

from photoreactor.devices.common.errors import (
    DetectorSaturated,
    LimitError,
)
from photoreactor.devices.common.scpi import ScpiDriver

log = logging.getLogger(__name__)

#: seconds per averaged sample (manual)
SAMPLE_S = 0.003
#: SCPI overflow: readings at or above this mean "over range"
OVERFLOW_W = 9.0e37
AVERAGING_RANGE = (1, 100_000)


class PM100Driver(ScpiDriver):
    """One PM100 console with its sensor head; see :class:`ScpiDriver` for the parameters."""

    model = "PM100"

    def __init__(self, resource, *, name: str = "pm100", check_errors: bool = True,
                 retries: int = 2):
        super().__init__(resource, name=name, check_errors=check_errors, retries=retries)
        self.averaging = 1

    def initialize(self) -> None:
        """Check that a sensor answers (done by :meth:`open`)."""
        self.sensor_info()

    # -- configuration ----------------------------------------------------------
    def sensor_info(self) -> dict[str, str]:
        """The sensor head: model, serial, calibration date, type, subtype, flags."""
        def parse(reply: str) -> dict[str, str]:
            fields = [f.strip() for f in reply.split(",")]
            if len(fields) < 2 or not fields[0]:
                raise ValueError(reply)
            keys = ("model", "serial", "calibration_date", "type", "subtype", "flags")
            return dict(zip(keys, fields + [""] * (len(keys) - len(fields)), strict=False))

        return self.scpi.query_parsed("SYST:SENS:IDN?", parse, "a sensor identification")

    def set_wavelength(self, wavelength_nm: float) -> None:
        if not wavelength_nm > 0:
            raise LimitError(self.name, "wavelength", wavelength_nm, "> 0", "nm")
        self.scpi.write(f"SENS:CORR:WAV {float(wavelength_nm):g}")

    def wavelength(self) -> float:
        return self.scpi.query_float("SENS:CORR:WAV?")

    def set_power_unit_watts(self) -> None:
        self.scpi.write("SENS:POW:UNIT W")

    def set_auto_range(self, on: bool = True) -> None:
        self.scpi.write(f"SENS:RANGE:AUTO {'ON' if on else 'OFF'}")

    def set_averaging(self, count: int) -> None:
        """Average ``count`` samples per reading (≈ 3 ms each); widens the read timeout."""
        lo, hi = AVERAGING_RANGE
        if int(count) != count or not lo <= count <= hi:
            raise LimitError(self.name, "averaging count", count, AVERAGING_RANGE, "")
        self.scpi.write(f"SENS:AVER:COUN {int(count)}")
        self.averaging = int(count)
        self.scpi.set_timeout(self.base_timeout_s + self.measurement_s())

    def measurement_s(self) -> float:
        """Expected duration of one reading (s)."""
        return self.averaging * SAMPLE_S

    def configure(self, *, wavelength_nm: float | None, averaging: int) -> None:
        """Watts, auto range, averaging and (optionally) wavelength."""
        self.set_power_unit_watts()
        self.set_auto_range(True)
        self.set_averaging(averaging)
        if wavelength_nm is not None:
            self.set_wavelength(wavelength_nm)

    # -- measurement --------------------------------------------------------------
    def start_zero(self) -> None:
        """Start the dark-zero adjustment (cover the sensor / switch the light off first)."""
        self.scpi.write("SENS:CORR:COLL:ZERO")

    def measure_power_w(self) -> float:
        """One averaged power reading in watts.

        Raises
        ------
        DetectorSaturated
            The sensor is over its range (SCPI overflow value).
        """
        value = self.scpi.query_float("MEAS:POW?")
        if abs(value) >= OVERFLOW_W:
            raise DetectorSaturated(self.name, "power meter over range: the sensor head gets "
                                    "more light than it can measure (use a higher-power head "
                                    "or an attenuator)", [(b"MEAS:POW?", f"{value:E}".encode())])
        return value
