"""The optical power meter as an Ophyd detector: power and irradiance at the sensor.

Used to calibrate LEDs: placed at the vial position, it reads the optical power
through its aperture; irradiance = power / aperture area.

Components
----------
``power``       W (hinted), measured on ``trigger()``.
``irradiance``  mW/cm² = power / (π (aperture/2)²), from the same reading.
``wavelength``  nm (config): the meter's responsivity correction — set it to the
                LED's wavelength before measuring.
``averaging``   samples per reading (config).
``aperture``    mm (config), sensor aperture diameter.
``sensor``      sensor head model (config), from the meter.

Design decisions
----------------
* ``trigger()`` takes one reading on a worker thread; ``read()`` returns it (the
  ``SynSignal`` pattern), so one event holds one consistent power/irradiance pair.
* ``zero()`` starts the dark zero and finishes after ``zero_settle_s`` of device
  time, then checks the error queue; the light must be off (the plan's job).
* ``safe()`` has nothing to switch off: it returns at once.
"""

from __future__ import annotations

import math

from ophyd import Component as Cpt
from ophyd import Device

from photoreactor.devices.common.signals import HwSignal, HwSignalRO, SoftSignal
from photoreactor.devices.common.status import run_in_thread

from .pm100 import PM100Driver


class PM100Meter(Device):
    """Thorlabs PM100D/PM100USB with a photodiode head at the vial position.

    Parameters
    ----------
    driver : PM100Driver
    clock : Clock
    name : str
    aperture_mm : float
        Sensor aperture diameter (S120C/S121C: 9.5 mm).
    zero_settle_s : float
        Device-clock seconds the dark zero takes.
    """

    safe_order = 50

    power = Cpt(HwSignalRO, units="W", kind="hinted", value=0.0)
    irradiance = Cpt(HwSignalRO, units="mW/cm^2", kind="normal", value=0.0)
    wavelength = Cpt(HwSignal, getter="_read_wavelength", setter="_write_wavelength", units="nm",
                     kind="config", value=0.0)
    averaging = Cpt(HwSignal, setter="_write_averaging", units="", kind="config", value=1)
    aperture = Cpt(SoftSignal, units="mm", kind="config", value=0.0)
    sensor = Cpt(SoftSignal, units="", kind="config", value="")
    #: ``bps.mv(power_meter.zero_request, 1)`` takes a dark zero from a plan (blocks the
    #: worker thread, not the RunEngine, for the settle time)
    zero_request = Cpt(HwSignal, setter="_write_zero_request", units="", kind="omitted", value=0)

    def __init__(self, driver: PM100Driver, clock, *, name: str, aperture_mm: float = 9.5,
                 zero_settle_s: float = 3.0, **kwargs):
        self.clock = clock
        self.driver = driver
        if not aperture_mm > 0:
            raise ValueError(f"{name}: aperture_mm must be positive, got {aperture_mm!r}")
        self.zero_settle_s = float(zero_settle_s)
        super().__init__(name=name, **kwargs)
        self.aperture.put(float(aperture_mm))
        self.averaging.update_readback(int(driver.averaging))
        self.sensor.put(driver.sensor_info().get("model", ""))

    @property
    def area_cm2(self) -> float:
        """Sensor aperture area in cm²."""
        radius_cm = self.aperture.get() / 20.0
        return math.pi * radius_cm ** 2

    def trigger(self):
        """Take one reading (worker thread); ``read()`` then returns it."""
        def work():
            power_w = self.driver.measure_power_w()
            t = self.clock.time()
            self.power.update_readback(power_w, timestamp=t)
            self.irradiance.update_readback(power_w * 1e3 / self.area_cm2, timestamp=t)

        return run_in_thread(self, work, clock=self.clock,
                             expected_s=self.driver.measurement_s() + 10.0,
                             name=f"{self.name}-trigger")

    def _write_zero_request(self, value) -> None:
        if value:
            self.zero().wait(timeout=self.clock.wall_seconds(self.zero_settle_s + 10.0) + 30.0)

    def zero(self):
        """Dark zero: Status finished when the meter has taken its new zero."""
        def work():
            self.driver.start_zero()
            self.clock.sleep(self.zero_settle_s)
            code, text = self.driver.next_error() if self.driver.scpi.check_errors else (0, "")
            if code != 0:
                from photoreactor.devices.common.errors import InstrumentRejected

                raise InstrumentRejected(self.name, f"zeroing failed: error {code} {text}")

        return run_in_thread(self, work, clock=self.clock, expected_s=self.zero_settle_s + 10.0,
                             name=f"{self.name}-zero")

    def safe(self) -> None:
        """Nothing to switch off on a power meter."""

    # -- hooks ----------------------------------------------------------------------
    def _read_wavelength(self) -> float:
        return self.driver.wavelength()

    def _write_wavelength(self, value) -> None:
        self.driver.set_wavelength(float(value))

    def _write_averaging(self, value) -> None:
        self.driver.set_averaging(int(value))
