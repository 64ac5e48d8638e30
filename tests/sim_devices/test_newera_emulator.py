"""The New Era chain emulator at the byte level: framing, firmware rules, faults."""

from __future__ import annotations

import binascii
from types import SimpleNamespace

import pytest

from photoreactor.sim_devices.clock import VirtualClock
from photoreactor.sim_devices.emulators.newera import NewEraBus, attach, display, parse_number
from photoreactor.sim_devices.world import MinimalReactor

CFG = {"class": "NE1000Pump", "port": "sim://chain", "address": 1, "syringe_diameter_mm": 14.57,
       "syringe_volume_ml": 10,
       "reagent": {"name": "Cd", "species": "Cd", "concentration_mol_l": 0.04, "volume_ml": 10}}


@pytest.fixture
def chain():
    clock = VirtualClock(speed=1e-6)     # frozen but for the jumps the test makes
    bench = SimpleNamespace(clock=clock, world=MinimalReactor(clock), serial_timeout_s=0.1)
    v1 = attach(bench, "pump_a", CFG)
    v2 = attach(bench, "pump_b", {**CFG, "address": 2})
    return bench, v1, v2


def ask(bus: NewEraBus, request: bytes) -> bytes:
    """Send one request, collect the reply bytes."""
    bus.write(request)
    out = bytes(bus._outbuf)
    bus._outbuf.clear()
    return out


def pkt(data: bytes) -> bytes:
    crc = binascii.crc_hqx(data, 0)
    return bytes([2, len(data) + 4]) + data + bytes([crc >> 8, crc & 0xFF, 3])


def test_one_bus_per_port_and_addresses(chain):
    bench, v1, v2 = chain
    assert v1.bus is v2.bus
    bus = v1.bus
    assert ask(bus, b"1VER\r") == b"\x0201SNE1000V3.928\x03"
    assert ask(bus, b"2\r") == b"\x0202S\x03"
    assert ask(bus, b"9\r") == b""                  # nobody at address 9
    with pytest.raises(ValueError):
        attach(bench, "pump_c", {**CFG, "address": 2})


def test_number_rules():
    assert parse_number("1234") == 1234 and parse_number("0.125") == 0.125
    assert parse_number(".5") == 0.5
    for bad in ("12345", "1.2345", "12.345", "", ".", "1e3", "-1"):
        with pytest.raises(ValueError):
            parse_number(bad)
    assert display(14.57) == "14.57" and display(0.25) == "0.250" and display(1234.4) == "1234"


def test_firmware_rejects_badly_formatted_numbers(chain):
    _, v1, _ = chain
    bus = v1.bus
    assert ask(bus, b"1DIA 14.567\r") == b"\x0201S?OOR\x03"
    assert ask(bus, b"1DIA 14.57\r") == b"\x0201S\x03"
    assert ask(bus, b"1RAT 10 MM\r") == b"\x0201S?OOR\x03"     # beyond 8.5 mL/min at 14.57 mm
    assert ask(bus, b"1RAT 8 MM\r") == b"\x0201S\x03"
    assert ask(bus, b"1RAT\r") == b"\x0201S8.000MM\x03"
    assert ask(bus, b"1FOO\r") == b"\x0201S?\x03"


def test_run_stops_when_counter_reaches_vol_and_vol_zero_is_continuous(chain):
    bench, v1, _ = chain
    bus, world = v1.bus, bench.world
    for cmd in (b"1DIA 14.57\r", b"1RAT 1 MM\r", b"1VOL ML\r", b"1VOL 0.5\r", b"1DIR INF\r"):
        assert ask(bus, cmd) == b"\x0201S\x03"
    assert ask(bus, b"1RUN\r") == b"\x0201I\x03"
    assert ask(bus, b"1RAT 2 MM\r") == b"\x0201I?NA\x03"       # no changes while running
    bench.clock.advance(60)
    assert ask(bus, b"1DIS\r") == b"\x0201SI0.500W0.000ML\x03"
    # RUN again without clearing: the counter already holds VOL, nothing moves
    assert ask(bus, b"1RUN\r") == b"\x0201S\x03"
    assert world.added["pump_a"] == pytest.approx(0.5)
    # VOL 0: runs until stopped (or the syringe is empty)
    assert ask(bus, b"1VOL 0\r") == b"\x0201S\x03"
    assert ask(bus, b"1RUN\r") == b"\x0201I\x03"
    bench.clock.advance(120)
    assert ask(bus, b"1STP\r") == b"\x0201S\x03"
    assert world.added["pump_a"] == pytest.approx(2.5, abs=0.01)


def test_syringe_end_of_travel_stalls(chain):
    bench, v1, _ = chain
    bus = v1.bus
    for cmd in (b"1DIA 14.57\r", b"1RAT 8 MM\r", b"1VOL 0\r"):
        ask(bus, cmd)
    ask(bus, b"1RUN\r")
    bench.clock.advance(600)
    assert ask(bus, b"1DIS\r") == b"\x0201A?S\x03"            # the alarm comes first ...
    assert ask(bus, b"1DIS\r") == b"\x0201SI10.00W0.000ML\x03"  # ... and is then cleared
    assert bench.world.added["pump_a"] == pytest.approx(10.0)


def test_safe_mode_framing_crc_and_mode_mismatch(chain):
    bench, v1, v2 = chain
    bus = v1.bus
    assert ask(bus, b"1SAF50\r") == pkt(b"01S")                # answered in the new framing
    assert ask(bus, b"1DIA\r") == b""                           # basic frame ignored now
    assert ask(bus, pkt(b"1DIA")) == pkt(b"01S26.59")
    bad = bytearray(pkt(b"1DIA"))
    bad[-2] ^= 0x01
    assert ask(bus, bytes(bad)) == pkt(b"01S?COM")
    assert ask(bus, pkt(b"2DIA")) == b""                        # pump 2 is still in basic mode
    assert ask(bus, b"2DIA\r") == b"\x0202S26.59\x03"
    assert ask(bus, pkt(b"1SAF0")) == b"\x0201S\x03"
    # split writes are reassembled (bytes may arrive in pieces on a real line)
    whole = pkt(b"1VER")
    ask(bus, b"1SAF5\r")
    bus.write(whole[:3])
    assert bytes(bus._outbuf) == b""
    assert ask(bus, whole[3:]) == pkt(b"01SNE1000V3.928")


def test_watchdog_times_out_on_the_virtual_clock(chain):
    bench, v1, _ = chain
    bus = v1.bus
    for cmd in (b"1DIA 14.57\r", b"1RAT 6 MM\r", b"1VOL 5\r"):
        ask(bus, cmd)
    ask(bus, b"1SAF10\r")
    assert ask(bus, pkt(b"1RUN")) == pkt(b"01I")
    bench.clock.advance(5)
    assert ask(bus, pkt(b"1")) == pkt(b"01I")                  # refresh at t=5
    bench.clock.advance(100)
    assert ask(bus, pkt(b"1DIS")) == pkt(b"01A?T")
    # it ran until 10 s after the refresh: 15 s at 6 mL/min
    assert bench.world.added["pump_a"] == pytest.approx(1.5, abs=0.02)


def test_stall_and_power_loss_faults(chain):
    bench, v1, v2 = chain
    bus = v1.bus
    for cmd in (b"1DIA 14.57\r", b"1RAT 1 MM\r", b"1VOL 2\r", b"1RUN\r"):
        ask(bus, cmd)
    bench.clock.advance(30)
    v1.inject("stall")
    assert ask(bus, b"1\r") == b"\x0201A?S\x03"
    assert ask(bus, b"2\r") == b"\x0202S\x03"                   # the neighbour is fine
    assert bench.world.added["pump_a"] == pytest.approx(0.5, abs=0.01)
    v1.clear("stall")
    ask(bus, b"1VOL 1\r")
    ask(bus, b"1CLD INF\r")
    ask(bus, b"1RUN\r")
    bench.clock.advance(10)
    v1.inject("power_loss")
    assert ask(bus, b"1DIS\r") == b"\x0201A?R\x03"
    assert ask(bus, b"1DIS\r") == b"\x0201SI0.000W0.000ML\x03"  # counters lost
    assert ask(bus, b"1DIA\r") == b"\x0201S14.57\x03"           # diameter kept
    with pytest.raises(ValueError):
        v1.inject("overheat")


def test_common_faults_per_pump(chain):
    _, v1, v2 = chain
    bus = v1.bus
    v1.inject("no_reply")
    assert ask(bus, b"1\r") == b"" and ask(bus, b"2\r") == b"\x0202S\x03"
    v1.clear()
    v1.inject("garbled")
    reply = ask(bus, b"1\r")
    assert reply.endswith(b"\x03") and reply[0] != 2
    v1.clear()
    v2.inject("disconnect")                 # a pulled cable takes the whole port down
    with pytest.raises(OSError):
        bus.write(b"1\r")
