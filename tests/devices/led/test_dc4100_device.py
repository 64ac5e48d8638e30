"""DC4100 channel devices sharing one box and one port, through the serial emulator."""

from __future__ import annotations

import pytest

from photoreactor.devices.common.errors import InstrumentAlarm, InstrumentDisconnected

from .conftest import CALIBRATION, make_dc4100

# a table for the DC4100 heads' true response 120·I/(1+0.1·I), as calibrate_led would measure it
DC4100_CAL = {"current_a": [0.0, 0.01, 0.05, 0.1, 0.3, 0.6, 1.0],
              "irradiance_mw_cm2": [120 * i / (1 + 0.1 * i)
                                    for i in [0.0, 0.01, 0.05, 0.1, 0.3, 0.6, 1.0]],
              "date": "2026-11-01", "sensor": "S121C"}


@pytest.fixture
def pair(bench):
    a, emu = make_dc4100(bench, "led_blue", 0, wavelength_nm=455, calibration=DC4100_CAL)
    b, emu_b = make_dc4100(bench, "led_uv", 2, wavelength_nm=405, calibration=DC4100_CAL)
    assert emu is emu_b
    return a, b, emu


def light(bench, source):
    return bench.world.light.get(source, (0.0, 0.0))[1]


def test_two_channels_share_port_and_lock(pair):
    a, b, _ = pair
    assert a.driver.box.port is b.driver.box.port


def test_channels_light_the_world_independently(pair, bench):
    a, b, emu = pair
    a.irradiance.set(30.0).wait(5)
    assert light(bench, "led_blue") == pytest.approx(30.0, rel=0.01)
    assert light(bench, "led_uv") == 0.0
    b.irradiance.set(5.0).wait(5)
    assert bench.world.irradiance_mw_cm2() == pytest.approx(35.0, rel=0.01)
    assert bench.world.light["led_uv"][0] == 405.0
    b.safe()
    assert light(bench, "led_uv") == 0.0 and light(bench, "led_blue") > 29.0


def test_current_is_quantised_to_milliamps_and_dose_books_what_is_delivered(pair, bench):
    a, _, emu = pair
    a.reset_dose()
    a.irradiance.set(7.0).wait(5)
    current = a.current.get()
    assert current * 1000 == pytest.approx(round(current * 1000), abs=1e-9)
    delivered = a.calibration.irradiance_for(current)
    assert delivered != 7.0 and delivered == pytest.approx(7.0, rel=0.02)
    bench.clock.advance(1000.0)
    assert a.energy_dose.get() == pytest.approx(delivered * 1000.0, rel=1e-3)
    # the DC4100 measures nothing: the readback is the programmed current while on
    assert a.measured_current.get() == current


def test_head_wavelength_mismatch_is_reported(bench, caplog):
    from photoreactor.devices.led.build import build_dc4100

    make_dc4100(bench, "led_blue", 1, wavelength_nm=455)     # the head on channel 1: 455 nm
    cfg = {"class": "DC4100Led", "port": "sim://leds", "channel": 1, "wavelength_nm": 530,
           "timeout_s": 0.05}
    with caplog.at_level("WARNING"):
        led = build_dc4100("led_green", cfg, bench.clock)
    assert "profile says 530 nm but the LED head on channel 1 reports 455 nm" in caplog.text
    assert led.wavelength.get() == 530.0


def test_over_temperature_trips_every_channel(pair, bench):
    a, b, emu = pair
    a.irradiance.set(10.0).wait(5)
    b.irradiance.set(10.0).wait(5)
    emu.inject("over_temperature")
    assert bench.world.irradiance_mw_cm2() == 0.0
    assert a.tripped.get() == 1 and b.tripped.get() == 1
    assert "over_temperature" in a.trip_reasons()
    with pytest.raises(InstrumentAlarm, match="over_temperature tripped"):
        a.irradiance.set(10.0).wait(5)
    emu.clear("over_temperature")
    a.irradiance.set(10.0).wait(5)
    assert a.tripped.get() == 0


def test_power_loss_on_the_serial_box(pair, bench):
    a, _, emu = pair
    a.irradiance.set(10.0).wait(5)
    emu.inject("power_loss")
    assert bench.world.irradiance_mw_cm2() == 0.0
    with pytest.raises(InstrumentDisconnected):
        a.output.get()
    with pytest.raises(InstrumentDisconnected):
        a.safe()
    emu.clear("power_loss")
    assert a.output.get() == 0


def test_uncalibrated_channel_uses_the_same_limits(bench):
    led, _ = make_dc4100(bench, "led_c", 3, calibration=CALIBRATION, max_current_a=0.2)
    assert led.current_limit.get() == 0.2
    assert led.current_limit_a == 0.2
