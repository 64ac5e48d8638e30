"""Byte-exact protocol tests of the DC2200 driver (commands from PROTOCOLS.md)."""

from __future__ import annotations

import pytest

from photoreactor.devices.common.errors import (
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.led.dc2200 import DC2200Driver
from tests.devices.protocol import expected_visa

OK = ("SYST:ERR?", '+0,"No error"')


def driver(res, **kw):
    return DC2200Driver(res, name="led", **kw)


def test_initialize_clears_and_takes_remote_control():
    with expected_visa([("*CLS", None), OK, ("SYSTEM:REMOTE", None), OK]) as res:
        driver(res).initialize()


@pytest.mark.parametrize("amps, text", [(0.5, "0.5"), (0.0, "0"), (1.0, "1"),
                                        (0.00001, "0.00001"), (0.1234567, "0.123457")])
def test_constant_current_setpoint_uses_the_instruments_spelling(amps, text):
    with expected_visa([("SOURCE1:MODE CC", None), OK,
                        (f"SOURCE1:CCURENT:CURRENT {text}", None), OK]) as res:
        drv = driver(res)
        drv.set_constant_current_mode()
        assert drv.set_current(amps) == pytest.approx(float(text))


def test_output_on_off_and_state_query():
    with expected_visa([("OUTPUT1:STATE ON", None), OK, ("OUTPUT1:STATE?", "1"),
                        ("OUTPUT1:STATE OFF", None), OK, ("OUTPUT1:STATE?", "0"),
                        ("OUTPUT1:STATE?", "OFF")]) as res:
        drv = driver(res)
        drv.set_output(True)
        assert drv.output_on() is True
        drv.set_output(False)
        assert drv.output_on() is False
        assert drv.output_on() is False


def test_measured_current_and_limit():
    with expected_visa([("SENSE3:CURRENT:DATA?", "+4.998000E-01"),
                        ("SOURCE1:CURRENT:LIMIT?", "1.000000E+00")]) as res:
        drv = driver(res)
        assert drv.measured_current() == pytest.approx(0.4998)
        assert drv.current_limit() == 1.0


def test_protection_flags():
    with expected_visa([("SOURCE1:CURRENT:LIMIT:TRIPPED?", "0"),
                        ("OUTPUT1:PROTECTION:INTLOCK:TRIPPED?", "1"),
                        ("OUTPUT1:PROTECTION:TEMPERATURE:DRIVER:TRIPPED?", "0"),
                        ("OUTPUT1:PROTECTION:TEMPERATURE:HEAD:TRIPPED?", "1")]) as res:
        assert driver(res).trip_flags() == {"current_limit": False, "interlock": True,
                                            "driver_temperature": False,
                                            "head_temperature": True}


def test_pwm_programme_uses_short_freq_node():
    with expected_visa([("SOURCE1:MODE PWM", None), OK,
                        ("SOURCE1:PWM:CURRENT 0.25", None), OK,
                        ("SOURCE1:PWM:FREQ 100", None), OK,
                        ("SOURCE1:PWM:DCYCLE 25", None), OK,
                        ("SOURCE1:PWM:COUNT 0", None), OK]) as res:
        drv = driver(res)
        drv.set_pwm_mode()
        assert drv.configure_pwm(0.25, 100, 25.0, 0) == 0.25


@pytest.mark.parametrize("kwargs, quantity", [
    ({"frequency_hz": 0.05, "duty_percent": 50}, "PWM frequency"),
    ({"frequency_hz": 25_000, "duty_percent": 50}, "PWM frequency"),
    ({"frequency_hz": 10, "duty_percent": 99.95}, "PWM duty cycle"),
    ({"frequency_hz": 10, "duty_percent": 0.0}, "PWM duty cycle"),
])
def test_pwm_ranges_checked_before_anything_is_sent(kwargs, quantity):
    with expected_visa([]) as res:
        with pytest.raises(LimitError) as err:
            driver(res).configure_pwm(0.1, count=0, **kwargs)
        assert err.value.quantity == quantity and err.value.device == "led"


def test_negative_current_refused_before_sending():
    with expected_visa([]) as res, pytest.raises(LimitError):
        driver(res).set_current(-0.1)


def test_error_reply_raises_rejected_with_the_exchange():
    with expected_visa([("SOURCE1:CCURENT:CURRENT 1.5", None),
                        ("SYST:ERR?", '-222,"Data out of range"')]) as res:
        with pytest.raises(InstrumentRejected) as err:
            driver(res).set_current(1.5)
    exc = err.value
    assert exc.device == "led"
    assert "error -222 Data out of range" in str(exc)
    assert exc.exchange[0] == (b"SOURCE1:CCURENT:CURRENT 1.5", b"")
    assert exc.exchange[1] == (b"SYST:ERR?", b'-222,"Data out of range"')


def test_commands_are_never_retried():
    # the SYST:ERR? after the write is silent: a timeout, and the command is not repeated
    with expected_visa([("OUTPUT1:STATE ON", None), ("SYST:ERR?", None)]) as res:
        with pytest.raises(InstrumentTimeout, match="check_errors: false"):
            driver(res).set_output(True)


def test_queries_are_retried_then_time_out_with_exchange():
    with expected_visa([("OUTPUT1:STATE?", None), ("OUTPUT1:STATE?", None),
                        ("OUTPUT1:STATE?", "1")]) as res:
        assert driver(res).output_on() is True
    with expected_visa([("OUTPUT1:STATE?", None)] * 3) as res:
        with pytest.raises(InstrumentTimeout) as err:
            driver(res).output_on()
    assert err.value.exchange == [(b"OUTPUT1:STATE?", b"")]


def test_garbled_reply_is_retried_then_protocol_error():
    with expected_visa([("SENSE3:CURRENT:DATA?", "\xc4\xd9\xff"),
                        ("SENSE3:CURRENT:DATA?", "1.000000E-01")]) as res:
        assert driver(res).measured_current() == pytest.approx(0.1)
    with expected_visa([("SOURCE1:CURRENT:LIMIT:TRIPPED?", "2")] * 3) as res:
        with pytest.raises(ProtocolError, match="not 0/1"):
            driver(res).trip_flags()


def test_without_error_checking_no_syst_err_is_sent():
    with expected_visa([("*CLS", None), ("SYSTEM:REMOTE", None),
                        ("OUTPUT1:STATE OFF", None)]) as res:
        drv = driver(res, check_errors=False)
        drv.initialize()
        drv.set_output(False)


def test_unreadable_error_queue_reply_is_a_protocol_error():
    with expected_visa([("OUTPUT1:STATE OFF", None), ("SYST:ERR?", "garbage")]) as res:
        with pytest.raises(ProtocolError, match="SYST:ERR"):
            driver(res).set_output(False)


def test_switch_off_uses_a_short_timeout_and_restores_it():
    with expected_visa([("OUTPUT1:STATE OFF", None), OK]) as res:
        res.timeout = 2000
        seen = []
        original = res.write

        def spy(msg):
            seen.append(res.timeout)
            return original(msg)

        res.write = spy
        driver(res).switch_off(timeout_s=0.5)
        assert seen[0] == 500 and res.timeout == 2000


def test_switch_off_gives_up_when_the_link_stays_busy():
    import threading

    with expected_visa([]) as res:
        drv = driver(res)
        held, release = threading.Event(), threading.Event()

        def hog():
            with drv.scpi.lock:
                held.set()
                release.wait(5)

        t = threading.Thread(target=hog)
        t.start()
        held.wait(5)
        try:
            with pytest.raises(InstrumentTimeout, match="busy"):
                drv.switch_off(lock_timeout_s=0.05)
        finally:
            release.set()
            t.join()


def test_next_error_pops_the_queue():
    with expected_visa([("SYST:ERR?", '-113,"Undefined header"'), OK]) as res:
        drv = driver(res)
        assert drv.next_error() == (-113, "Undefined header")
        assert drv.next_error() == (0, "No error")
