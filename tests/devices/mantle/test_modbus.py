"""Modbus RTU framing: CRC vectors, length-driven reads, exceptions, retries only for reads."""

from __future__ import annotations

import random

import pytest

from photoreactor.devices.common.errors import (
    InstrumentRejected,
    InstrumentTimeout,
    ProtocolError,
)
from photoreactor.devices.mantle.modbus import ModbusRtu, crc16
from photoreactor.sim_devices.emulators.eurotherm import _crc16 as emulator_crc16
from tests.devices.protocol import expected_serial

H = bytes.fromhex


def _table_crc(data: bytes) -> bytes:
    """A third, table-driven CRC-16/MODBUS to cross-check the two bitwise ones."""
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return bytes([crc & 0xFF, crc >> 8])


def test_crc_published_vectors():
    # the textbook examples: read 1 register at 0 / at 1 from slave 1, and the
    # "illegal data address" exception reply
    assert crc16(H("010300000001")) == H("840a")
    assert crc16(H("010300010001")) == H("d5ca")
    assert crc16(H("018302")) == H("c0f1")


def test_crc_implementations_agree():
    rng = random.Random(3)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        assert crc16(data) == emulator_crc16(data) == _table_crc(data)


def test_read_one_register():
    with expected_serial([(H("010300010001d5ca"), H("01030200fd79c5"))]) as port:
        assert ModbusRtu(port, 1, name="tc").read_registers(1, 1) == [253]


def test_exception_reply_is_rejected_with_meaning():
    with expected_serial([(H("010300010001d5ca"), H("018302c0f1"))]) as port:
        with pytest.raises(InstrumentRejected, match="illegal data address") as err:
            ModbusRtu(port, 1, name="tc", retries=2).read_registers(1, 1)
    assert err.value.exchange == [(H("010300010001d5ca"), H("018302c0f1"))]


def test_read_retries_after_bad_crc_then_succeeds():
    bad = H("01030200fd79c6")
    with expected_serial([(H("010300010001d5ca"), bad),
                          (H("010300010001d5ca"), H("01030200fd79c5"))]) as port:
        assert ModbusRtu(port, 1, name="tc", retries=2).read_registers(1, 1) == [253]


def test_read_gives_up_after_bounded_retries():
    req = H("010300010001d5ca")
    with expected_serial([(req, None)] * 3) as port:
        with pytest.raises(InstrumentTimeout) as err:
            ModbusRtu(port, 1, name="tc", retries=2, timeout_s=0.05).read_registers(1, 1)
    assert err.value.device == "tc"


def test_write_is_never_retried():
    req = H("010601110001" "19f3")
    with expected_serial([(req, None)]) as port:
        with pytest.raises(InstrumentTimeout):
            ModbusRtu(port, 1, name="tc", retries=5, timeout_s=0.05).write_register(273, 1)
        assert port.sent == [req]


def test_write_single_must_be_echoed():
    req = H("01060111000119f3")
    with expected_serial([(req, req)]) as port:
        ModbusRtu(port, 1, name="tc").write_register(273, 1)


def test_write_multiple_acknowledged():
    req = H("0110800400020443700000" "87c5")
    with expected_serial([(req, H("01108004000229c9"))]) as port:
        ModbusRtu(port, 1, name="tc").write_registers(0x8004, [0x4370, 0x0000])


def test_reply_from_wrong_address_is_a_protocol_error():
    reply = bytes([2]) + H("030200fd")
    reply += crc16(reply)
    with expected_serial([(H("010300010001d5ca"), reply)]) as port:
        with pytest.raises(ProtocolError, match="address 2"):
            ModbusRtu(port, 1, name="tc", retries=0).read_registers(1, 1)


def test_address_range_checked():
    with pytest.raises(ValueError):
        ModbusRtu(object(), 0)
