"""LED and power-meter emulators at the wire: SCPI forms, error queues, line protocol, faults."""

from __future__ import annotations

import pytest

from photoreactor.sim_devices.clock import VirtualClock
from photoreactor.sim_devices.emulators.dc2200 import DC2200Emulator, ScpiTable
from photoreactor.sim_devices.emulators.dc4100 import DC4100Emulator, Head
from photoreactor.sim_devices.emulators.pm100 import PM100Emulator
from photoreactor.sim_devices.world import MinimalReactor


@pytest.fixture
def world():
    return MinimalReactor(VirtualClock(speed=1000.0))


@pytest.fixture
def dc2200(world):
    return DC2200Emulator("led", world=world, wavelength_nm=460.0)


def ask(emu, cmd):
    return emu.handle(cmd)


def err(emu):
    return emu.handle("SYST:ERR?")


# -- DC2200 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["SOURCE1:CCURENT:CURRENT 0.1", "SOUR:CCUR:CURR 0.1",
                                 "sour1:ccur:curr 0.1", ":SOURce:CCURent:CURRent 0.1"])
def test_scpi_short_long_and_suffix_forms(dc2200, cmd):
    assert ask(dc2200, cmd) is None
    assert err(dc2200) == '+0,"No error"'
    assert dc2200.cc_current_a == 0.1


@pytest.mark.parametrize("cmd", ["SOURCE1:CCURRENT:CURRENT 0.1",   # the correct spelling is wrong
                                 "SOURCE1:PWM:FREQUENCY 100",       # long form refused
                                 "SOURCE2:CCURENT:CURRENT 0.1",     # no second channel
                                 "SENSE:CURRENT:DATA?"])            # SENSE3 needs its suffix
def test_unknown_headers_go_to_the_error_queue(dc2200, cmd):
    assert ask(dc2200, cmd) is None
    assert err(dc2200) == '-113,"Undefined header"'
    assert err(dc2200) == '+0,"No error"'


def test_values_out_of_range_and_bad_parameters(dc2200):
    ask(dc2200, "SOURCE1:CCURENT:CURRENT 1.2")
    assert err(dc2200) == '-222,"Data out of range"'
    ask(dc2200, "SOURCE1:CCURENT:CURRENT")
    assert err(dc2200) == '-109,"Missing parameter"'
    ask(dc2200, "OUTPUT1:STATE MAYBE")
    assert err(dc2200) == '-224,"Illegal parameter value"'
    ask(dc2200, "SOURCE1:PWM:DCYCLE 100")
    assert err(dc2200) == '-222,"Data out of range"'
    assert dc2200.cc_current_a == 0.0


def test_error_queue_overflow_and_cls(dc2200):
    for _ in range(12):
        ask(dc2200, "BOGUS")
    errors = [err(dc2200) for _ in range(10)]
    assert errors[-1] == '-350,"Queue overflow"'
    assert err(dc2200) == '+0,"No error"'
    ask(dc2200, "BOGUS")
    ask(dc2200, "*CLS")
    assert err(dc2200) == '+0,"No error"'


def test_light_follows_output_current_and_mode(dc2200, world):
    ask(dc2200, "SOURCE1:CCURENT:CURRENT 0.862")
    assert world.light["led"][1] == 0.0
    ask(dc2200, "OUTPUT1:STATE ON")
    assert world.light["led"] == (460.0, pytest.approx(150.0, rel=0.005))
    assert ask(dc2200, "OUTPUT1:STATE?") == "1"
    assert float(ask(dc2200, "SENSE3:CURRENT:DATA?")) == pytest.approx(0.862, abs=1e-4)
    ask(dc2200, "SOURCE1:PWM:CURRENT 0.862")
    ask(dc2200, "SOURCE1:PWM:DCYCLE 10")
    ask(dc2200, "SOURCE1:MODE PWM")
    assert world.light["led"][1] == pytest.approx(15.0, rel=0.005)
    ask(dc2200, "OUTPUT1:STATE OFF")
    assert world.light["led"][1] == 0.0
    assert float(ask(dc2200, "SENSE3:CURRENT:DATA?")) == 0.0


def test_true_response_is_monotonic_and_sublinear(dc2200):
    values = [dc2200.true_irradiance(i / 100) for i in range(101)]
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert values[100] < 2 * values[50] - 1.0                  # droop
    assert values[100] == pytest.approx(170.4, rel=0.01)
    assert dc2200.true_irradiance(0.0051) == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("fault, query", [
    ("over_temperature", "OUTPUT1:PROTECTION:TEMPERATURE:HEAD:TRIPPED?"),
    ("interlock", "OUTPUT1:PROTECTION:INTLOCK:TRIPPED?")])
def test_protection_faults(dc2200, world, fault, query):
    ask(dc2200, "SOURCE1:CCURENT:CURRENT 0.5")
    ask(dc2200, "OUTPUT1:STATE ON")
    dc2200.inject(fault)
    assert world.light["led"][1] == 0.0
    assert ask(dc2200, query) == "1"
    ask(dc2200, "OUTPUT1:STATE ON")
    assert err(dc2200) == '-200,"Execution error; protection tripped"'
    assert ask(dc2200, "OUTPUT1:STATE?") == "0"
    dc2200.clear(fault)
    assert ask(dc2200, query) == "0"
    ask(dc2200, "OUTPUT1:STATE ON")
    assert world.light["led"][1] > 0


def test_power_loss_drops_the_link_and_resets(dc2200, world):
    ask(dc2200, "SOURCE1:CCURENT:CURRENT 0.5")
    ask(dc2200, "OUTPUT1:STATE ON")
    dc2200.inject("power_loss")
    assert dc2200.has("disconnect")
    assert world.light["led"][1] == 0.0
    dc2200.clear("power_loss")
    assert not dc2200.has("disconnect")
    assert (dc2200.cc_current_a, dc2200.output, dc2200.mode) == (0.0, False, "CC")


def test_unknown_fault_is_refused(dc2200):
    with pytest.raises(ValueError, match="cannot simulate 'stall'"):
        dc2200.inject("stall")


def test_scpi_pattern_parser_rejects_bad_patterns():
    table = ScpiTable()
    with pytest.raises(ValueError):
        table.add("SOUR-ce:X", lambda a: None)


# -- DC4100 -------------------------------------------------------------------------------------

@pytest.fixture
def dc4100(world):
    emu = DC4100Emulator("leds", world=world)
    emu.attach_head(0, Head(source="led_a", wavelength_nm=455.0))
    emu.attach_head(2, Head(source="led_b", wavelength_nm=405.0))
    return emu


def line(emu, text):
    emu.write(text.encode() + b"\r\n")
    return emu.read(1000, timeout=0.01)


def test_dc4100_line_protocol(dc4100, world):
    assert line(dc4100, "N?") == b"DC4104\r\n"
    assert line(dc4100, "CC 0 500") == b""                  # set commands answer nothing
    assert line(dc4100, "E?") == b"ERROR 0:No error\r\n"
    assert line(dc4100, "cc? 0") == b"500\r\n"              # case-insensitive
    assert line(dc4100, "O 0 1") == b""
    assert world.light["led_a"] == (455.0, pytest.approx(120 * 0.5 / 1.05))
    assert world.light["led_b"][1] == 0.0
    assert line(dc4100, "WL? 2") == b"405\r\n"
    assert line(dc4100, "O -1 0") == b""
    assert world.light["led_a"][1] == 0.0


def test_dc4100_errors_are_read_and_cleared_by_e(dc4100):
    assert line(dc4100, "CC 0 1500") == b""
    assert line(dc4100, "E?") == b"ERROR 2:Parameter out of range\r\n"
    assert line(dc4100, "E?") == b"ERROR 0:No error\r\n"
    assert line(dc4100, "FOO") == b""
    assert line(dc4100, "E?") == b"ERROR 1:Unknown command\r\n"
    assert line(dc4100, "CC 0") == b""
    assert line(dc4100, "E?") == b"ERROR 3:Wrong number of parameters\r\n"
    assert line(dc4100, "WL? 1") == b""                     # no head on channel 1: no reply
    assert line(dc4100, "E?") == b"ERROR 2:Parameter out of range\r\n"


def test_dc4100_status_register(dc4100):
    no_heads = (0x20 << 2) | (0x20 << 6)                    # channels 1 and 3 empty
    assert line(dc4100, "R?") == f"{no_heads}\r\n".encode()
    line(dc4100, "L 0 200")
    line(dc4100, "CC 0 200")
    line(dc4100, "O 0 1")
    assert int(line(dc4100, "R?")) & 0x200000                # channel 0 at its limit
    dc4100.inject("over_temperature")
    assert int(line(dc4100, "R?")) & 0x8
    assert line(dc4100, "O 0 1") == b""
    assert line(dc4100, "E?") == b"ERROR 4:Output locked by protection\r\n"


def test_dc4100_brightness_mode(dc4100, world):
    line(dc4100, "M 1")
    line(dc4100, "L 0 1000")
    line(dc4100, "BP 0 50")
    line(dc4100, "O 0 1")
    assert world.light["led_a"][1] == pytest.approx(120 * 0.5 / 1.05)


def test_dc4100_power_loss_removes_the_port(dc4100):
    line(dc4100, "CC 0 300")
    dc4100.inject("power_loss")
    with pytest.raises(OSError):
        dc4100.write(b"N?\r\n")
    dc4100.clear()
    assert line(dc4100, "CC? 0") == b"0\r\n"


def test_dc4100_garbled_keeps_the_line_end(dc4100):
    dc4100.inject("garbled")
    reply = line(dc4100, "N?")
    assert reply.endswith(b"\r\n") and reply != b"DC4104\r\n"


# -- PM100 ---------------------------------------------------------------------------------------

def test_pm100_sums_every_source_with_wavelength_correction(world):
    pm = PM100Emulator("pm", world=world, dark_w=0.0, seed=1)
    pm.handle("SENS:CORR:WAV 460")
    world.set_light("a", 460.0, 10.0)
    world.set_light("b", 920.0, 10.0)          # reads double at a 460 nm setting
    area = 3.14159265 * 0.475 ** 2
    assert pm.true_power_w() == pytest.approx(30e-3 * area, rel=1e-6)
    pm.handle("SENS:AVER:COUN 10000")
    assert float(pm.handle("MEAS:POW?")) == pytest.approx(30e-3 * area, rel=1e-3)


def test_pm100_identity_limits_and_overflow(world):
    pm = PM100Emulator("pm", world=world, sensor="S120C")
    assert pm.handle("SYST:SENS:IDN?").startswith("S120C,")
    pm.handle("SENS:CORR:WAV 300")
    assert pm.handle("SYST:ERR?") == '-222,"Data out of range"'
    world.set_light("a", 460.0, 100.0)         # 71 mW > 50 mW head maximum
    assert pm.handle("MEAS:POW?") == "9.900000E+37"
    with pytest.raises(ValueError, match="unknown sensor"):
        PM100Emulator("pm", world=world, sensor="S999")


def test_pm100_zero_with_light_on_subtracts_the_light(world):
    pm = PM100Emulator("pm", world=world, seed=2)
    pm.handle("SENS:CORR:WAV 460")
    pm.handle("SENS:AVER:COUN 10000")
    world.set_light("a", 460.0, 10.0)
    pm.handle("SENS:CORR:COLL:ZERO")           # the classic mistake
    assert abs(float(pm.handle("MEAS:POW?"))) < 1e-6
