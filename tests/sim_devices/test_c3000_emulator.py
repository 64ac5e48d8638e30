"""The C3000 emulator at the byte level (DT protocol)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from photoreactor.sim_devices.clock import VirtualClock
from photoreactor.sim_devices.emulators.c3000 import attach
from photoreactor.sim_devices.world import MinimalReactor

CFG = {"class": "C3000Pump", "port": "sim://dt", "address": 0, "syringe_volume_ml": 5.0,
       "reagent": {"name": "Zn", "species": "Zn", "concentration_mol_l": 0.1, "volume_ml": 2.5}}


@pytest.fixture
def pump():
    clock = VirtualClock(speed=1e-6)     # frozen but for the jumps the test makes
    bench = SimpleNamespace(clock=clock, world=MinimalReactor(clock), serial_timeout_s=0.1)
    return bench, attach(bench, "pump_zn", CFG)


def ask(view, request: bytes) -> bytes:
    bus = view.bus
    bus.write(request)
    out = bytes(bus._outbuf)
    bus._outbuf.clear()
    return out


def r(status: str, data: str = "") -> bytes:
    return b"/0" + status.encode() + data.encode() + b"\x03\r\n"


def test_reports(pump):
    _, v = pump
    assert ask(v, b"/1?\r") == r("`", "1500")
    assert ask(v, b"/1?2\r") == r("`", "1400")
    assert ask(v, b"/1?6\r") == r("`", "i")
    assert ask(v, b"/1&\r") == r("`", "C3000 DT V2.3")
    assert ask(v, b"/2Q\r") == b""


def test_dispense_through_flask_port_moves_liquid(pump):
    bench, v = pump
    assert ask(v, b"/1OV300A900R\r") == r("@")
    assert ask(v, b"/1V400R\r") == r("O")           # busy: command overflow
    bench.clock.advance(1.0)
    assert ask(v, b"/1?\r") == r("@", "1200")
    bench.clock.advance(10.0)
    assert ask(v, b"/1Q\r") == r("`")
    assert ask(v, b"/1?\r") == r("`", "900")
    assert bench.world.added["pump_zn"] == pytest.approx(1.0)


def test_reservoir_moves_do_not_touch_the_flask(pump):
    bench, v = pump
    ask(v, b"/1IV1000P600R\r")
    bench.clock.advance(5)
    assert ask(v, b"/1?\r") == r("`", "2100")
    assert "pump_zn" not in bench.world.added


def test_operand_and_command_errors(pump):
    _, v = pump
    assert ask(v, b"/1A3001R\r") == r("c")
    assert ask(v, b"/1V6000R\r") == r("c")
    assert ask(v, b"/1D2000R\r") == r("c")          # would go below 0
    assert ask(v, b"/1XR\r") == r("b")
    assert ask(v, b"/1A10A20R\r") == r("d")
    assert ask(v, b"/1V100\r") == r("`")            # buffered, not executed ...
    assert ask(v, b"/1?2\r") == r("`", "1400")
    assert ask(v, b"/1R\r") == r("`")               # ... until R
    assert ask(v, b"/1?2\r") == r("`", "100")


def test_stall_is_sticky_until_initialised(pump):
    bench, v = pump
    ask(v, b"/1OV100A500R\r")
    bench.clock.advance(2)
    v.inject("stall")
    assert ask(v, b"/1?\r") == r("i", "1300")
    assert ask(v, b"/1A400R\r") == r("i")
    assert ask(v, b"/1TR\r") == r("i")
    v.clear()
    assert ask(v, b"/1ZR\r") == r("@")
    bench.clock.advance(5)
    assert ask(v, b"/1?\r") == r("`", "0")
    assert bench.world.added["pump_zn"] == pytest.approx(200 * 5 / 3000)


def test_power_loss_forgets_the_position_not_the_liquid(pump):
    bench, v = pump
    v.inject("power_loss")
    assert ask(v, b"/1?\r") == r("g", "0")
    assert ask(v, b"/1OA100R\r") == r("g")
    assert v.firmware.pos == pytest.approx(1500)
    ask(v, b"/1ZR\r")
    bench.clock.advance(2)
    assert ask(v, b"/1Q\r") == r("`")
