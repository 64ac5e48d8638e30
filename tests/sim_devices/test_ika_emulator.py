"""The IKA NAMUR emulator: exact replies, silence where the firmware is silent, regulation
across clock jumps, watchdog on virtual time, and its instrument faults."""

from __future__ import annotations

import pytest

import photoreactor.sim_devices  # noqa: F401  (sim:// scheme)
from photoreactor.devices.common.errors import InstrumentTimeout
from photoreactor.devices.common.transport import open_serial
from photoreactor.sim_devices.bench import SimBench
from photoreactor.sim_devices.emulators import ika
from photoreactor.sim_devices.emulators.base import attachers
from photoreactor.sim_devices.world import MinimalReactor


@pytest.fixture
def setup(clock):
    world = MinimalReactor(clock)
    bench = SimBench(clock=clock, world=world, serial_timeout_s=0.05)
    emu = ika.attach(bench, "mantle", {"port": "sim://hotplate"})
    port = open_serial("sim://hotplate", baudrate=9600, bytesize=7, parity="E", stopbits=1)

    def ask(text: str) -> bytes:
        return port.exchange(text.encode() + b"\r\n", b"\r\n", timeout=0.05)

    def tell(text: str) -> None:
        with port.lock:
            port.write(text.encode() + b"\r\n")

    return emu, world, ask, tell


def test_registered_for_profile_class():
    assert attachers()["IkaMantle"] is ika.attach


def test_query_replies_are_byte_exact(setup):
    emu, world, ask, tell = setup
    assert ask("IN_NAME") == b"RCT digital\r\n"
    assert ask("IN_PV_1") == b"25.0 1\r\n"
    assert ask("IN_PV_2") == b"25.0 2\r\n"
    assert ask("IN_PV_3") == b"30.0 3\r\n"
    assert ask("IN_PV_4") == b"0 4\r\n"
    assert ask("IN_SP_1") == b"0.0 1\r\n"
    assert ask("IN_SP_3") == b"360.0 3\r\n"
    tell("OUT_SP_1 80.5")
    tell("OUT_SP_4 400")
    assert ask("IN_SP_1") == b"80.5 1\r\n"
    assert ask("IN_SP_4") == b"400 4\r\n"


def test_commands_unknown_and_out_of_range_are_silent(setup):
    emu, world, ask, tell = setup
    for text in ("OUT_SP_1 100", "START_1", "FOO", "OUT_SP_1 999"):
        with pytest.raises(InstrumentTimeout):
            ask(text)
    assert ask("IN_SP_1") == b"100.0 1\r\n"     # 999 was ignored, as the firmware does


def test_regulation_is_the_same_in_one_jump_or_many_small_steps(clock):
    temps = []
    for steps in (1, 360):
        from photoreactor.sim_devices.clock import VirtualClock

        c = VirtualClock(speed=1e-3, start=0.0)   # effectively stopped between jumps
        world = MinimalReactor(c)
        emu = ika.IkaEmulator("h", world, c)
        emu.sp1_c, emu.heating = 150.0, True
        for _ in range(steps):
            c.advance(3600.0 / steps)
            world.temperature_c()
        temps.append(world.temperature_c())
    assert temps[0] == pytest.approx(150.0, abs=0.5)
    assert temps[0] == pytest.approx(temps[1], abs=1e-6)


def test_holds_setpoint_closely(setup, clock):
    emu, world, ask, tell = setup
    tell("OUT_SP_1 240")
    tell("START_1")
    clock.advance(1200)
    lo = hi = world.temperature_c()
    for _ in range(60):
        clock.advance(10)
        t = world.temperature_c()
        lo, hi = min(lo, t), max(hi, t)
    assert 239.5 <= lo <= hi <= 240.5
    assert float(ask("IN_PV_2").split()[0]) > float(ask("IN_PV_1").split()[0])   # plate hotter


def test_watchdog_trips_on_virtual_time_even_inside_a_jump(setup, clock):
    emu, world, ask, tell = setup
    tell("OUT_SP_1 100")
    tell("START_1")
    tell("OUT_SP_4 300")
    tell("START_4")
    assert ask("OUT_WD1@60") == b"60\r\n"
    clock.advance(50)
    assert ask("OUT_WD1@60") == b"60\r\n"        # refreshed at t=50
    clock.advance(100)                             # silent host: trips at t=110
    world.temperature_c()                          # the world (and the firmware) run lazily
    assert emu.wd_tripped and not emu.heating and not emu.stirring
    assert ask("IN_PV_4") == b"0 4\r\n"
    assert world.stir_rpm == 0
    tell("START_1")                                # ER 2 latched: ignored
    ask("IN_NAME")
    assert not emu.heating
    tell("RESET")
    tell("START_1")
    ask("IN_NAME")
    assert emu.heating and not emu.wd_tripped


def test_watchdog_off_and_bad_period(setup, clock):
    emu, world, ask, tell = setup
    ask("OUT_WD1@30")
    assert ask("OUT_WD2@0") == b"0\r\n"
    tell("START_1")
    clock.advance(100)
    ask("IN_NAME")
    assert not emu.wd_tripped
    with pytest.raises(InstrumentTimeout):
        ask("OUT_WD1@5")                           # below 20 s: ignored


def test_open_thermocouple(setup, clock):
    emu, world, ask, tell = setup
    tell("OUT_SP_1 150")
    tell("START_1")
    emu.inject("open_thermocouple")
    assert ask("IN_PV_1") == b"-999.9 1\r\n"
    clock.advance(600)
    assert world.temperature_c() < 30.0            # no heating without a probe


def test_stuck_reading_keeps_heating(setup, clock):
    emu, world, ask, tell = setup
    emu.inject("stuck_reading")
    tell("OUT_SP_1 100")
    tell("START_1")
    clock.advance(300)
    assert ask("IN_PV_1") == b"25.0 1\r\n"
    assert world.temperature_c() > 150.0           # regulating on the frozen value
    emu.clear("stuck_reading")
    assert float(ask("IN_PV_1").split()[0]) > 150.0


def test_power_loss(setup, clock):
    emu, world, ask, tell = setup
    tell("OUT_SP_1 100")
    tell("START_1")
    emu.inject("power_loss")
    with pytest.raises(InstrumentTimeout):
        ask("IN_PV_1")
    clock.advance(300)
    assert world.temperature_c() == pytest.approx(25.0)
    emu.clear("power_loss")
    assert ask("IN_SP_1") == b"0.0 1\r\n"
    assert not emu.heating


def test_overheat_until_safety_circuit(setup, clock):
    emu, world, ask, tell = setup
    emu.inject("overheat")
    clock.advance(150)
    assert world.temperature_c() > 150.0           # heating although never started
    clock.advance(900)
    assert world.temperature_c() < 300.0           # safety circuit cut (plate > 360 °C)
    with pytest.raises(ValueError):
        emu.inject("meltdown")


def test_watchdog_trip_time_is_exact_on_the_world_clock():
    from photoreactor.sim_devices.clock import VirtualClock

    c = VirtualClock(speed=1e-3, start=0.0)        # only moves when advanced
    world = MinimalReactor(c)
    emu = ika.IkaEmulator("h", world, c)
    emu.handle(b"START_1\r\n")
    assert emu.handle(b"OUT_WD1@60\r\n") == b"60\r\n"
    c.advance(59.5)
    world.update()
    assert not emu.wd_tripped
    c.advance(1.0)
    world.update()
    assert emu.wd_tripped and not emu.heating
