"""Byte-exact Eurotherm 3216 exchanges (Modbus RTU, slave 1), as the driver must send them."""

from __future__ import annotations

import pytest

from photoreactor.devices.common.errors import InstrumentRejected, SensorFault
from photoreactor.devices.mantle.eurotherm import EurothermDriver
from photoreactor.devices.mantle.modbus import crc16
from tests.devices.protocol import expected_serial

H = bytes.fromhex

READ_PV_FLOAT = H("010380020002" "4c0b")
READ_SP_FLOAT = H("010380040002" "ac0a")
READ_OP_FLOAT = H("010380060002" "0dca")
READ_WSP_FLOAT = H("0103800a0002" "cdc9")
READ_AM = H("010301110001" "d5f3")
READ_UNITS = H("010302130001" "7477")
READ_RATE_FLOAT = H("010380460002" "0c1e")
REPLY_0 = H("0103020000" "b844")
REPLY_1 = H("0103020001" "7984")


def _float_reply(value_hex: str) -> bytes:
    body = H("010304" + value_hex)
    return body + crc16(body)


def driver(port, **kw):
    return EurothermDriver(port, 1, name="mantle", timeout_s=0.05, **kw)


def test_read_pv_float():
    with expected_serial([(READ_PV_FLOAT, H("010304436f8000be6a"))]) as port:
        assert driver(port).temperature_c() == 239.5


def test_read_pv_scaled_one_decimal():
    with expected_serial([(H("010300010001d5ca"), H("01030200fd79c5"))]) as port:
        assert driver(port, resolution="scaled").temperature_c() == pytest.approx(25.3)


def test_read_negative_scaled_value():
    reply = H("010302ff9c")            # -100 -> -10.0 °C
    reply += crc16(reply)
    with expected_serial([(H("010300010001d5ca"), reply)]) as port:
        assert driver(port, resolution="scaled").temperature_c() == pytest.approx(-10.0)


def test_sensor_break_scaled_raises_sensor_fault():
    with expected_serial([(H("010300010001d5ca"), H("0103028000d984"))]) as port:
        with pytest.raises(SensorFault, match="sensor break"):
            driver(port, resolution="scaled").temperature_c()


def test_sensor_break_float_nan_raises_sensor_fault():
    with expected_serial([(READ_PV_FLOAT, _float_reply("7fc00000"))]) as port:
        with pytest.raises(SensorFault):
            driver(port).temperature_c()


def test_write_setpoint_float_function_16():
    with expected_serial([(H("01108004000204437000008" "7c5"), H("01108004000229c9"))]) as port:
        driver(port).set_setpoint_c(240.0)


def test_write_setpoint_scaled_function_06():
    req = H("0106000209602e72")        # register 2 <- 2400 (240.0 °C)
    with expected_serial([(req, req)]) as port:
        driver(port, resolution="scaled").set_setpoint_c(240.0)


def test_setpoint_out_of_range_is_rejected():
    with expected_serial([(H("01108004000204437000008" "7c5"), H("0190030c01"))]) as port:
        with pytest.raises(InstrumentRejected, match="illegal data value"):
            driver(port).set_setpoint_c(240.0)


def test_heater_off_is_manual_then_zero_output_in_that_order():
    manual = H("01060111000119f3")
    zero = H("01108006000204000000001243")
    with expected_serial([(manual, manual), (zero, H("011080060002" "8809"))]) as port:
        driver(port).stop_heating()


def test_heater_on_is_auto():
    auto = H("010601110000d833")
    with expected_serial([(auto, auto)]) as port:
        driver(port).start_heating()


def test_heater_state_reads_auto_or_manual_output():
    with expected_serial([(READ_AM, REPLY_0)]) as port:
        assert driver(port).heater_on() is True
    with expected_serial([(READ_AM, REPLY_1), (READ_OP_FLOAT, _float_reply("41f00000"))]) as port:
        assert driver(port).heater_on() is True          # manual at 30 %
    with expected_serial([(READ_AM, REPLY_1), (READ_OP_FLOAT, _float_reply("00000000"))]) as port:
        assert driver(port).heater_on() is False


def test_ramp_rate_converted_from_instrument_units():
    # units register 1 = per hour: 300 °C/h is 5 °C/min
    with expected_serial([(READ_RATE_FLOAT, _float_reply("43960000")),
                          (READ_UNITS, REPLY_1)]) as port:
        assert driver(port).ramp_rate_c_min() == pytest.approx(5.0)


def test_set_ramp_rate_per_minute():
    with expected_serial([(READ_UNITS, REPLY_0),
                          (H("01108046000204" "40a00000" "0391"), H("011080460002" "89dd"))]) as port:
        driver(port).set_ramp_rate_c_min(5.0)


def test_ramp_rate_too_fine_for_scaled_registers_refused():
    units_s = H("0103020002" "3985")    # per second
    with expected_serial([(READ_UNITS, units_s)]) as port:
        with pytest.raises(ValueError, match="rounds to 0"):
            driver(port, resolution="scaled").set_ramp_rate_c_min(0.5)


def test_working_setpoint_and_output():
    with expected_serial([(READ_WSP_FLOAT, _float_reply("43200000")),
                          (READ_OP_FLOAT, _float_reply("42480000")),
                          (READ_SP_FLOAT, _float_reply("43700000"))]) as port:
        d = driver(port)
        assert d.working_setpoint_c() == 160.0
        assert d.output_percent() == 50.0
        assert d.setpoint_c() == 240.0


def test_unknown_model_refused():
    with pytest.raises(ValueError, match="register map"):
        EurothermDriver(object(), 1, model="3508")
