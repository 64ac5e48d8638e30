"""The byte-exact fake transports must catch wrong, missing and surplus exchanges."""

from __future__ import annotations

import pytest

from photoreactor.devices.common.errors import InstrumentTimeout
from tests.devices.protocol import ProtocolMismatch, expected_serial, expected_visa


def test_serial_exchange_in_order():
    with expected_serial([(b"A\r", b"ok\r"), (b"B\r", b"fine\r")]) as port:
        assert port.exchange(b"A\r", b"\r", timeout=0.1) == b"ok\r"
        assert port.exchange(b"B\r", b"\r", timeout=0.1) == b"fine\r"


def test_serial_wrong_request():
    port = expected_serial([(b"A\r", b"ok\r")])
    with pytest.raises(ProtocolMismatch, match="expected b'A\\\\r'"):
        port.exchange(b"X\r", b"\r", timeout=0.1)


def test_serial_unused_pair_fails_on_exit():
    with pytest.raises(ProtocolMismatch, match="never sent"):
        with expected_serial([(b"A\r", b"ok\r"), (b"B\r", b"ok\r")]) as port:
            port.exchange(b"A\r", b"\r", timeout=0.1)


def test_serial_surplus_request():
    with expected_serial([(b"A\r", b"ok\r")]) as port:
        port.exchange(b"A\r", b"\r", timeout=0.1)
        with pytest.raises(ProtocolMismatch, match="unexpected request"):
            port.write(b"A\r")


def test_serial_silence_and_truncation_time_out_like_the_real_port():
    with expected_serial([(b"A\r", None), (b"B\r", b"partial")]) as port:
        with pytest.raises(InstrumentTimeout) as err:
            port.exchange(b"A\r", b"\r", timeout=0.1, device="pump")
        assert err.value.device == "pump" and err.value.exchange == [(b"A\r", b"")]
        with pytest.raises(InstrumentTimeout) as err:
            port.exchange(b"B\r", b"\r", timeout=0.1)
        assert err.value.exchange == [(b"B\r", b"partial")]


def test_serial_read_exact_and_unread_bytes():
    with expected_serial([(b"Q", b"\x01\x02\x03")]) as port:
        port.write(b"Q")
        assert port.read_exact(2, timeout=0.1) == b"\x01\x02"
        with pytest.raises(ProtocolMismatch, match="never read"):
            port.assert_all_used()
        assert port.read_exact(1, timeout=0.1) == b"\x03"


def test_serial_requires_finite_timeout():
    with expected_serial([(b"A\r", b"ok\r")]) as port:
        port.write(b"A\r")
        with pytest.raises(ProtocolMismatch, match="timeout"):
            port.read_until(b"\r", timeout=None)
        port.read_until(b"\r", timeout=1)


def test_visa_fake():
    from pyvisa.errors import VisaIOError

    with expected_visa([("*IDN?", "THORLABS,DC2200"), ("OUTP ON", None)]) as res:
        assert res.query("*IDN?") == "THORLABS,DC2200"
        res.write("OUTP ON\n")
        with pytest.raises(VisaIOError):
            res.read()
    with pytest.raises(ProtocolMismatch):
        expected_visa([("A", None)]).write("B")
