"""Byte-exact IKA NAMUR exchanges: queries, confirmed commands, watchdog, error paths."""

from __future__ import annotations

import pytest

from photoreactor.devices.common.errors import (
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.mantle.ika import IkaNamurDriver, format_number
from tests.devices.protocol import expected_serial


def driver(port, **kw):
    kw.setdefault("timeout_s", 0.05)
    return IkaNamurDriver(port, name="mantle", **kw)


def test_queries():
    pairs = [
        (b"IN_NAME\r\n", b"RCT digital\r\n"),
        (b"IN_PV_1\r\n", b"25.3 1\r\n"),
        (b"IN_PV_2\r\n", b"80.1 2\r\n"),
        (b"IN_PV_3\r\n", b"85.0 3\r\n"),
        (b"IN_PV_4\r\n", b"300 4\r\n"),
        (b"IN_SP_1\r\n", b"240.0 1\r\n"),
        (b"IN_SP_4\r\n", b"500 4\r\n"),
    ]
    with expected_serial(pairs) as port:
        d = driver(port)
        assert d.identify() == "RCT digital"
        assert d.temperature_c() == 25.3
        assert d.plate_temperature_c() == 80.1
        assert d.safety_temperature_c() == 85.0
        assert d.stir_speed_rpm() == 300.0
        assert d.setpoint_c() == 240.0
        assert d.stir_setpoint_rpm() == 500.0


def test_plate_probe_option_reads_channel_2():
    with expected_serial([(b"IN_PV_2\r\n", b"101.5 2\r\n")]) as port:
        assert driver(port, probe=2).temperature_c() == 101.5


def test_setpoint_command_is_confirmed_by_read_back():
    with expected_serial([(b"OUT_SP_1 240\r\n", None), (b"IN_SP_1\r\n", b"240.0 1\r\n")]) as port:
        driver(port).set_setpoint_c(240)
    with expected_serial([(b"OUT_SP_1 80.5\r\n", None), (b"IN_SP_1\r\n", b"80.5 1\r\n")]) as port:
        driver(port).set_setpoint_c(80.5)


def test_setpoint_not_taken_is_rejected():
    with expected_serial([(b"OUT_SP_1 400\r\n", None), (b"IN_SP_1\r\n", b"240.0 1\r\n")]) as port:
        with pytest.raises(InstrumentRejected, match="not accepted"):
            driver(port).set_setpoint_c(400)


def test_command_not_repeated_but_confirming_query_is():
    pairs = [(b"START_1\r\n", None), (b"IN_SP_1\r\n", None), (b"IN_SP_1\r\n", b"240.0 1\r\n")]
    with expected_serial(pairs) as port:
        driver(port, retries=2).start_heating()


def test_unconfirmed_command_reports_what_was_sent():
    pairs = [(b"STOP_1\r\n", None)] + [(b"IN_SP_1\r\n", None)] * 3
    with expected_serial(pairs) as port:
        with pytest.raises(InstrumentTimeout) as err:
            driver(port, retries=2).stop_heating()
    assert "STOP_1 sent" in str(err.value)
    assert err.value.exchange[0] == (b"STOP_1\r\n", b"")


def test_stirrer_commands():
    pairs = [(b"OUT_SP_4 500\r\n", None), (b"IN_SP_4\r\n", b"500 4\r\n"),
             (b"START_4\r\n", None), (b"IN_SP_4\r\n", b"500 4\r\n"),
             (b"STOP_4\r\n", None), (b"IN_SP_4\r\n", b"500 4\r\n"),
             (b"RESET\r\n", None), (b"IN_SP_1\r\n", b"0.0 1\r\n")]
    with expected_serial(pairs) as port:
        d = driver(port)
        d.set_stir_rpm(500)
        d.start_stirring()
        d.stop_stirring()
        d.reset()


def test_watchdog_echo():
    with expected_serial([(b"OUT_WD1@600\r\n", b"600\r\n"), (b"OUT_WD2@0\r\n", b"0\r\n")]) as port:
        d = driver(port)
        d.arm_watchdog(600)
        d.disarm_watchdog()


def test_watchdog_echo_of_whole_command_accepted():
    with expected_serial([(b"OUT_WD1@30\r\n", b"OUT_WD1@30\r\n")]) as port:
        driver(port).arm_watchdog(30)


def test_watchdog_wrong_echo_is_protocol_error():
    with expected_serial([(b"OUT_WD1@30\r\n", b"20\r\n")]) as port:
        with pytest.raises(ProtocolError, match="echoed"):
            driver(port).arm_watchdog(30)


def test_watchdog_period_limits_before_sending():
    with expected_serial([]) as port:
        with pytest.raises(LimitError):
            driver(port).arm_watchdog(5)
        with pytest.raises(LimitError):
            driver(port).arm_watchdog(2000)


def test_garbled_reply_retried_then_protocol_error():
    garbage = bytes([0xA8, 0xB1, 0xE9]) + b"\r\n"
    with expected_serial([(b"IN_PV_1\r\n", garbage)] * 3) as port:
        with pytest.raises(ProtocolError) as err:
            driver(port, retries=2).temperature_c()
    assert err.value.exchange == [(b"IN_PV_1\r\n", garbage)]


def test_wrong_channel_is_protocol_error():
    with expected_serial([(b"IN_PV_1\r\n", b"25.3 2\r\n")]) as port:
        with pytest.raises(ProtocolError, match="channel"):
            driver(port, retries=0).temperature_c()


def test_silent_controller_times_out_after_retries():
    with expected_serial([(b"IN_PV_1\r\n", None)] * 3) as port:
        with pytest.raises(InstrumentTimeout):
            driver(port, retries=2).temperature_c()


@pytest.mark.parametrize("value, text", [(240, "240"), (240.0, "240"), (80.46, "80.5"),
                                         (99.96, "100"), (0, "0")])
def test_number_format(value, text):
    assert format_number(value) == text
