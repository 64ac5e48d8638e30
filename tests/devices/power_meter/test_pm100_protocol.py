"""Byte-exact protocol tests of the PM100 driver."""

from __future__ import annotations

import pytest

from photoreactor.devices.common.errors import (
    DetectorSaturated,
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.power_meter.pm100 import PM100Driver
from tests.devices.protocol import expected_visa

OK = ("SYST:ERR?", '+0,"No error"')
IDN = ("SYST:SENS:IDN?", "S121C,11070621,20-Jun-2011,1,18,289")


def driver(res, **kw):
    return PM100Driver(res, name="power_meter", **kw)


def test_sensor_identification():
    with expected_visa([IDN]) as res:
        info = driver(res).sensor_info()
    assert info == {"model": "S121C", "serial": "11070621", "calibration_date": "20-Jun-2011",
                    "type": "1", "subtype": "18", "flags": "289"}


def test_configure_sends_unit_range_averaging_wavelength_and_widens_timeout():
    with expected_visa([("SENS:POW:UNIT W", None), OK, ("SENS:RANGE:AUTO ON", None), OK,
                        ("SENS:AVER:COUN 500", None), OK, ("SENS:CORR:WAV 460", None), OK]) as res:
        res.timeout = 2000
        drv = driver(res)
        drv.configure(wavelength_nm=460, averaging=500)
        assert drv.averaging == 500
        assert drv.measurement_s() == pytest.approx(1.5)
        assert res.timeout == 3500


def test_wavelength_query_and_power_reading():
    with expected_visa([("SENS:CORR:WAV?", "4.600000E+02"),
                        ("MEAS:POW?", "1.063000E-01")]) as res:
        drv = driver(res)
        assert drv.wavelength() == 460.0
        assert drv.measure_power_w() == pytest.approx(0.1063)


def test_zero_command():
    with expected_visa([("SENS:CORR:COLL:ZERO", None), OK]) as res:
        driver(res).start_zero()


def test_over_range_is_saturation_not_a_number():
    with expected_visa([("MEAS:POW?", "9.900000E+37")]) as res:
        with pytest.raises(DetectorSaturated, match="over range") as err:
            driver(res).measure_power_w()
    assert err.value.device == "power_meter"


def test_refused_setting_raises_with_exchange():
    with expected_visa([("SENS:CORR:WAV 1500", None),
                        ("SYST:ERR?", '-222,"Data out of range"')]) as res:
        with pytest.raises(InstrumentRejected, match="-222") as err:
            driver(res).set_wavelength(1500)
    assert err.value.exchange[0] == (b"SENS:CORR:WAV 1500", b"")


def test_measurement_retried_then_timeout():
    with expected_visa([("MEAS:POW?", None), ("MEAS:POW?", "1.0E-03")]) as res:
        assert driver(res).measure_power_w() == pytest.approx(1e-3)
    with expected_visa([("MEAS:POW?", None)] * 3) as res:
        with pytest.raises(InstrumentTimeout):
            driver(res).measure_power_w()
    with expected_visa([("SYST:SENS:IDN?", "")] * 3) as res:
        with pytest.raises(ProtocolError, match="sensor identification"):
            driver(res).sensor_info()


def test_values_checked_before_sending():
    with expected_visa([]) as res:
        drv = driver(res)
        with pytest.raises(LimitError):
            drv.set_averaging(0)
        with pytest.raises(LimitError):
            drv.set_averaging(2.5)
        with pytest.raises(LimitError):
            drv.set_wavelength(-460)
