"""The Eurotherm 3216 Modbus emulator: framing, exceptions, both value regions, the
controller's own ramp and PID, and its faults."""

from __future__ import annotations

import math
import struct

import pytest

import photoreactor.sim_devices  # noqa: F401  (sim:// scheme)
from photoreactor.devices.common.errors import InstrumentTimeout
from photoreactor.devices.common.transport import open_serial
from photoreactor.sim_devices.bench import SimBench
from photoreactor.sim_devices.clock import VirtualClock
from photoreactor.sim_devices.emulators import eurotherm
from photoreactor.sim_devices.emulators.base import attachers
from photoreactor.sim_devices.emulators.eurotherm import _crc16 as crc
from photoreactor.sim_devices.world import MinimalReactor

H = bytes.fromhex


def req(pdu: bytes, address: int = 1) -> bytes:
    body = bytes([address]) + pdu
    return body + crc(body)


def read(start: int, count: int) -> bytes:
    return req(struct.pack(">BHH", 3, start, count))


def write(reg: int, raw: int) -> bytes:
    return req(struct.pack(">BHH", 6, reg, raw & 0xFFFF))


def write_float(reg: int, value: float) -> bytes:
    return req(struct.pack(">BHHB", 0x10, 2 * reg + 0x8000, 2, 4) + struct.pack(">f", value))


@pytest.fixture
def stopped():
    """An emulator on a clock that only moves when advanced, driven frame by frame."""
    c = VirtualClock(speed=1e-3, start=0.0)
    world = MinimalReactor(c)
    emu = eurotherm.EurothermEmulator("tc", world, c, address=1)
    return emu, world, c


def value(reply: bytes) -> int:
    assert crc(reply[:-2]) == reply[-2:]
    return struct.unpack(">h", reply[3:5])[0]


def fvalue(reply: bytes) -> float:
    assert crc(reply[:-2]) == reply[-2:]
    return struct.unpack(">f", reply[3:7])[0]


def test_registered_for_profile_class():
    assert attachers()["EurothermMantle"] is eurotherm.attach


def test_read_pv_byte_exact(stopped):
    emu, world, c = stopped
    assert emu.handle(H("010300010001d5ca")) == H("010302" "00fa" "3807")   # 25.0 °C -> 250


def test_float_and_scaled_regions_agree(stopped):
    emu, world, c = stopped
    emu.handle(write(2, 1234))                     # 123.4 °C via the plain register
    assert fvalue(emu.handle(read(0x8004, 2))) == pytest.approx(123.4, abs=1e-4)
    emu.handle(write_float(2, 87.26))
    assert value(emu.handle(read(2, 1))) == 873     # rounds to the display resolution
    assert value(emu.handle(read(24, 1))) == 873    # target SP is SP1


def test_exceptions(stopped):
    emu, world, c = stopped
    assert emu.handle(read(4, 1)) == H("018302c0f1")            # no register 4 in our map
    assert emu.handle(write(1, 100))[1:3] == H("8603")           # PV is read-only
    emu.handle(write(273, 0))                                    # auto
    assert emu.handle(write_float(3, 50.0))[1:3] == H("9003")    # output only in manual
    assert emu.handle(write_float(2, 999.0))[1:3] == H("9003")   # above SP.HI
    assert emu.handle(read(0x8003, 2))[1:3] == H("8302")         # misaligned float
    assert emu.handle(req(H("0400010001")))[1:3] == H("8401")    # function 04 not offered


def test_bad_crc_and_other_address_are_ignored(stopped):
    emu, world, c = stopped
    frame = bytearray(read(1, 1))
    frame[-1] ^= 0xFF
    assert emu.handle(bytes(frame)) is None
    assert emu.handle(req(struct.pack(">BHH", 3, 1, 1), address=2)) is None


def test_write_single_echoes(stopped):
    emu, world, c = stopped
    frame = write(273, 0)
    assert emu.handle(frame) == frame


def test_ramp_of_working_setpoint_and_servo_to_pv(stopped):
    emu, world, c = stopped
    emu.handle(write(35, 60))                      # 6.0 °C per minute
    emu.handle(write_float(2, 145.0))
    emu.handle(write(273, 0))                      # auto: ramp starts at the PV (25 °C)
    c.advance(600)
    world.update()
    assert emu.working_sp_c == pytest.approx(25.0 + 60.0, abs=0.5)
    c.advance(900)
    world.update()
    assert emu.working_sp_c == 145.0
    c.advance(1800)
    assert world.temperature_c() == pytest.approx(145.0, abs=0.5)


def test_ramp_units_per_hour(stopped):
    emu, world, c = stopped
    emu.handle(write(531, 1))
    emu.handle(write(35, 600))                     # 60.0 °C per hour
    emu.handle(write_float(2, 100.0))
    emu.handle(write(273, 0))
    c.advance(1800)
    world.update()
    assert emu.working_sp_c == pytest.approx(55.0, abs=0.5)


def test_manual_mode_output_and_bumpless(stopped):
    emu, world, c = stopped
    emu.handle(write_float(3, 40.0))
    c.advance(300)
    world.update()
    assert world.heater_power == pytest.approx(0.4)
    assert fvalue(emu.handle(read(0x8006, 2))) == pytest.approx(40.0)


def test_regulation_same_in_one_jump_or_many_steps():
    temps = []
    for steps in (1, 240):
        c = VirtualClock(speed=1e-3, start=0.0)
        world = MinimalReactor(c)
        emu = eurotherm.EurothermEmulator("tc", world, c)
        emu.handle(write_float(2, 200.0))
        emu.handle(write(273, 0))
        for _ in range(steps):
            c.advance(2400.0 / steps)
            world.update()
        temps.append(world.temperature_c())
    assert temps[0] == pytest.approx(200.0, abs=0.2)
    assert temps[0] == pytest.approx(temps[1], abs=1e-6)


def test_faults(stopped):
    emu, world, c = stopped
    emu.handle(write_float(2, 150.0))
    emu.handle(write(273, 0))
    emu.inject("open_thermocouple")
    assert emu.handle(read(1, 1)) == H("0103028000d984")
    assert math.isnan(fvalue(emu.handle(read(0x8002, 2))))
    c.advance(600)
    assert world.temperature_c() == pytest.approx(25.0)   # sensor-break output 0 %
    emu.clear()
    emu.inject("stuck_reading")
    c.advance(600)
    assert value(emu.handle(read(1, 1))) == 250
    assert world.temperature_c() > 150.0                  # PID heats on the frozen value
    emu.clear()
    emu.inject("power_loss")
    assert emu.handle(read(1, 1)) is None
    emu.clear()
    emu.inject("overheat")
    emu.handle(write(273, 1))
    emu.handle(write_float(3, 0.0))
    before = world.temperature_c()
    c.advance(60)
    assert world.temperature_c() > before                 # output stage stuck on


def test_over_the_wire_with_faults(clock):
    world = MinimalReactor(clock)
    bench = SimBench(clock=clock, world=world, serial_timeout_s=0.05)
    emu = eurotherm.attach(bench, "mantle", {"port": "sim://tc", "address": 3})
    port = open_serial("sim://tc", baudrate=9600, bytesize=8, parity="N", stopbits=1)
    frame = req(struct.pack(">BHH", 3, 1, 1), address=3)
    with port.lock:
        port.write(frame)
        assert len(port.read_exact(7, timeout=0.05)) == 7
    emu.inject("no_reply")
    with port.lock:
        port.write(frame)
        with pytest.raises(InstrumentTimeout):
            port.read_exact(7, timeout=0.05)


def test_attach_refuses_a_real_port(clock):
    bench = SimBench(clock=clock, world=MinimalReactor(clock))
    with pytest.raises(ValueError, match="sim://"):
        eurotherm.attach(bench, "mantle", {"port": "/dev/ttyUSB1"})
