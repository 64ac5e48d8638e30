"""Byte-exact protocol tests of the DC4100 driver (serial, ``\\r\\n`` lines, ``E?`` after commands)."""

from __future__ import annotations

import pytest

from photoreactor.devices.common.errors import (
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.led.dc4100 import DC4100Driver
from tests.devices.protocol import expected_serial

OK = (b"E?\r\n", b"ERROR 0:No error\r\n")


def box(port, **kw):
    return DC4100Driver(port, name="led_uv", timeout_s=0.1, **kw)


def test_channel_current_is_integer_milliamps_then_error_check():
    with expected_serial([(b"CC 1 300\r\n", None), OK, (b"CC 1 1\r\n", None), OK]) as port:
        ch = box(port).channel(1)
        assert ch.set_current(0.3004) == 0.3
        assert ch.set_current(0.0006) == 0.001


def test_refused_command_raises_with_the_exchange():
    with expected_serial([(b"CC 2 900\r\n", None),
                          (b"E?\r\n", b"ERROR 2:Parameter out of range\r\n")]) as port:
        with pytest.raises(InstrumentRejected) as err:
            box(port).channel(2).set_current(0.9)
    assert "error 2 Parameter out of range" in str(err.value)
    assert err.value.exchange == [(b"CC 2 900\r\n", b""),
                                  (b"E?\r\n", b"ERROR 2:Parameter out of range\r\n")]


def test_output_switch_and_query():
    with expected_serial([(b"O 0 1\r\n", None), OK, (b"O? 0\r\n", b"1\r\n"),
                          (b"O 0 0\r\n", None), OK, (b"O? 0\r\n", b"0\r\n")]) as port:
        ch = box(port).channel(0)
        ch.set_output(True)
        assert ch.output_on() is True
        ch.set_output(False)
        assert ch.output_on() is False


def test_limits_wavelength_and_identity_queries():
    with expected_serial([(b"L? 3\r\n", b"800\r\n"), (b"ML? 3\r\n", b"1000\r\n"),
                          (b"WL? 3\r\n", b"405\r\n"), (b"HS? 3\r\n", b"M00410003\r\n"),
                          (b"N?\r\n", b"DC4104\r\n"), (b"S?\r\n", b"M00412345\r\n"),
                          (b"V?\r\n", b"2.1.0\r\n"), (b"CC? 3\r\n", b"250\r\n")]) as port:
        drv = box(port)
        ch = drv.channel(3)
        assert ch.current_limit() == 0.8
        assert drv.max_limit_ma(3) == 1000
        assert ch.wavelength_nm() == 405.0
        assert drv.head_serial(3) == "M00410003"
        assert drv.identity() == {"model": "DC4104", "serial": "M00412345", "firmware": "2.1.0"}
        assert ch.current_setpoint() == 0.25


def test_set_limit_brightness_and_mode():
    with expected_serial([(b"L 0 500\r\n", None), OK, (b"BP 0 42.5\r\n", None), OK,
                          (b"M 1\r\n", None), OK, (b"M?\r\n", b"1\r\n")]) as port:
        drv = box(port)
        drv.set_limit_ma(0, 500)
        drv.set_brightness(0, 42.5)
        drv.set_mode(1)
        assert drv.mode() == 1


def test_constant_current_mode_only_sent_when_needed():
    with expected_serial([(b"M?\r\n", b"0\r\n")]) as port:
        box(port).channel(0).set_constant_current_mode()
    with expected_serial([(b"M?\r\n", b"2\r\n"), (b"M 0\r\n", None), OK]) as port:
        box(port).channel(0).set_constant_current_mode()


def test_status_register_flags_are_per_channel():
    # OTP + channel 1 head missing + channel 2 current limit
    status = 0x8 | (0x20 << 2) | (0x200000 << 4)
    reply = f"{status}\r\n".encode()
    with expected_serial([(b"R?\r\n", reply), (b"R?\r\n", reply), (b"R?\r\n", reply)]) as port:
        drv = box(port)
        f1, f2, f0 = (drv.channel(1).trip_flags(), drv.channel(2).trip_flags(),
                      drv.channel(0).trip_flags())
    assert f1 == {"supply_fail": False, "over_temperature": True, "no_head": True,
                  "led_open": False, "current_limit": False}
    assert f2["current_limit"] and not f2["no_head"]
    assert f0["over_temperature"] and not any(v for k, v in f0.items() if k != "over_temperature")


def test_measured_current_is_the_setpoint_while_on_and_zero_while_off():
    with expected_serial([(b"O? 1\r\n", b"1\r\n"), (b"CC? 1\r\n", b"300\r\n"),
                          (b"O? 1\r\n", b"0\r\n")]) as port:
        ch = box(port).channel(1)
        assert ch.measured_current() == 0.3
        assert ch.measured_current() == 0.0


def test_queries_retried_on_silence_and_garbage():
    with expected_serial([(b"O? 1\r\n", None), (b"O? 1\r\n", b"\xff\xfe\r\n"),
                          (b"O? 1\r\n", b"1\r\n")]) as port:
        assert box(port).channel(1).output_on() is True
    with expected_serial([(b"O? 1\r\n", b"7\r\n")] * 3) as port:
        with pytest.raises(ProtocolError, match="0 or 1"):
            box(port).channel(1).output_on()
    with expected_serial([(b"R?\r\n", None)] * 3) as port:
        with pytest.raises(InstrumentTimeout) as err:
            box(port).status_register()
    assert err.value.exchange[0][0] == b"R?\r\n"


def test_set_commands_are_not_retried():
    with expected_serial([(b"O 1 1\r\n", None), (b"E?\r\n", None)]) as port:
        with pytest.raises(InstrumentTimeout):
            box(port).channel(1).set_output(True)


def test_garbled_error_register_is_a_protocol_error():
    with expected_serial([(b"O 1 0\r\n", None), (b"E?\r\n", b"\xd5\xc8\r\n")]) as port:
        with pytest.raises(ProtocolError, match="E\\? reply"):
            box(port).channel(1).set_output(False)


def test_values_and_channels_checked_before_sending():
    with expected_serial([]) as port:
        drv = box(port)
        with pytest.raises(LimitError):
            drv.set_current_ma(0, 1001)
        with pytest.raises(LimitError):
            drv.channel(0).set_current(-0.01)
        with pytest.raises(ValueError, match="channel"):
            drv.channel(4)
        with pytest.raises(LimitError):
            drv.set_mode(3)
        with pytest.raises(LimitError):
            drv.set_brightness(0, 120)


def test_all_channels_off_and_switch_off():
    with expected_serial([(b"O -1 0\r\n", None), OK, (b"O 2 0\r\n", None), OK]) as port:
        drv = box(port)
        drv.set_output(-1, False)
        drv.channel(2).switch_off(timeout_s=0.05)


def test_last_error_alone():
    with expected_serial([(b"E?\r\n", b"ERROR 1:Unknown command\r\n")]) as port:
        assert box(port).last_error() == (1, "Unknown command")
