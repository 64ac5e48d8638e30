"""The LED device through its real builder, driver and emulator, on a simulated world."""

from __future__ import annotations

import math

import pytest

from photoreactor.devices.common.errors import (
    InstrumentAlarm,
    InstrumentDisconnected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.led.calibration import NotCalibrated, photon_dose_umol_cm2
from tests.devices.safety import assert_safe_fails_fast

from .conftest import make_dc2200


def light(bench, source="led"):
    return bench.world.light.get(source, (0.0, 0.0))[1]


def wait(status, timeout=5.0):
    status.wait(timeout)
    return status


# -- moves and readbacks ----------------------------------------------------------------

def test_set_irradiance_lights_the_vial_through_the_calibration(led, bench):
    wait(led.irradiance.set(5.0))
    cal = led.calibration
    assert led.current.get() == pytest.approx(cal.current_for(5.0), abs=1e-6)
    assert led.output.get() == 1
    # the world gets the head's *true* response: the profile's table is within 2 % of it
    assert light(bench) == pytest.approx(5.0, rel=0.02)
    # readback: calibrated irradiance of the measured current (ADC noise ~20 µA)
    assert led.irradiance.get() == pytest.approx(5.0, rel=0.01)


def test_zero_switches_off(led, bench):
    wait(led.irradiance.set(150.0))
    assert light(bench) > 140
    wait(led.irradiance.set(0.0))
    assert led.output.get() == 0
    assert light(bench) == 0.0
    assert led.irradiance.get() == 0.0


def test_device_set_is_irradiance_set(led, bench):
    wait(led.set(20.0))
    assert led.irradiance.get() == pytest.approx(20.0, rel=0.01)


@pytest.mark.parametrize("value", [170.5, 500.0, -1.0, float("nan"), "bright"])
def test_limit_error_before_anything_moves(led, bench, value):
    wait(led.irradiance.set(5.0))
    before = (light(bench), led.emu.cc_current_a, led.emu.output)
    with pytest.raises(LimitError) as err:
        led.irradiance.set(value)
    assert err.value.device == "led"
    assert (light(bench), led.emu.cc_current_a, led.emu.output) == before


def test_limit_error_names_range(led):
    with pytest.raises(LimitError, match=r"led: irradiance 200.0 mW/cm² is outside the allowed range "
                                         r"\(0.0, 170.0\)"):
        led.irradiance.set(200)


def test_software_current_limit_caps_irradiance(bench):
    led, emu = make_dc2200(bench, max_current_a=0.5)
    assert led.current_limit.get() == 0.5
    with pytest.raises(LimitError, match="drive current for 150 mW/cm²"):
        led.irradiance.set(150.0)
    with pytest.raises(LimitError, match="current 0.6 A"):
        led.current.set(0.6)
    assert emu.cc_current_a == 0.0


def test_uncalibrated_led_can_switch_but_not_set_irradiance(bench):
    led, emu = make_dc2200(bench, calibration=None)
    assert led.calibration.irradiance_range == (0.0, 0.0)
    with pytest.raises(NotCalibrated, match="calibrate_led"):
        led.irradiance.set(5.0)
    wait(led.current.set(0.1))
    wait(led.output.set(1))
    assert light(bench) == pytest.approx(emu.true_irradiance(0.1))
    assert math.isnan(led.irradiance.get())
    assert math.isnan(led.energy_dose.get())      # unknown, not a made-up number
    wait(led.irradiance.set(0))
    led.reset_dose()
    assert led.energy_dose.get() == 0.0


def test_read_and_describe_carry_units_kinds_and_clock_timestamps(led, bench):
    wait(led.irradiance.set(10.0))
    reading = led.read()
    assert set(reading) == {"led_irradiance", "led_current", "led_output", "led_measured_current",
                            "led_tripped", "led_energy_dose", "led_photon_dose"}
    assert led.hints == {"fields": ["led_irradiance"]}
    desc = led.describe()
    assert desc["led_irradiance"]["units"] == "mW/cm^2"
    assert desc["led_photon_dose"]["units"] == "umol/cm^2"
    assert desc["led_current"]["units"] == "A"
    assert all(v["value"] is not None for v in reading.values())
    now = bench.clock.time()
    assert all(abs(v["timestamp"] - now) < 60 for v in reading.values())
    assert bench.clock.time() < 2_000_000  # virtual epoch, not today's wall time
    config = led.read_configuration()
    assert config["led_wavelength"]["value"] == 460.0
    assert config["led_calibration_irradiance"]["value"][-1] == 170.0
    assert config["led_calibration_sensor"]["value"] == "S121C"
    assert config["led_current_limit"]["value"] == 1.0
    assert led.describe_configuration()["led_calibration_current"]["shape"] == [11]


# -- dose -----------------------------------------------------------------------------------

def test_dose_accumulates_on_the_device_clock_across_jumps(led, bench):
    led.reset_dose()
    wait(led.irradiance.set(10.0))
    bench.clock.advance(3600.0)
    assert led.energy_dose.get() == pytest.approx(36000.0, rel=1e-4)
    wait(led.irradiance.set(20.0))
    bench.clock.advance(1800.0)
    wait(led.irradiance.set(0.0))
    bench.clock.advance(7200.0)                   # dark: nothing more
    energy = led.energy_dose.get()
    assert energy == pytest.approx(72000.0, rel=1e-4)
    assert led.photon_dose.get() == pytest.approx(photon_dose_umol_cm2(energy, 460.0), rel=1e-9)
    led.reset_dose()
    assert led.energy_dose.get() == 0.0 and led.photon_dose.get() == 0.0


def test_dose_books_exactly_the_requested_irradiance(led, bench):
    led.reset_dose()
    wait(led.irradiance.set(5.0))
    t0 = bench.clock.time()
    bench.clock.advance(1000.0)
    energy = led.energy_dose.get()
    elapsed = bench.clock.time() - t0
    # booked: 5 mW/cm² exactly (calibration round trip), not the noisy readback
    assert energy == pytest.approx(5.0 * elapsed, rel=1e-3)


# -- protection and faults ---------------------------------------------------------------

@pytest.mark.parametrize("fault, reason", [("over_temperature", "head_temperature"),
                                           ("interlock", "interlock")])
def test_trip_turns_light_off_and_is_reported(led, bench, fault, reason):
    led.reset_dose()
    wait(led.irradiance.set(10.0))
    bench.clock.advance(100.0)
    assert led.energy_dose.get() == pytest.approx(1000.0, rel=1e-3)   # confirmed on here
    led.emu.inject(fault)
    assert light(bench) == 0.0
    bench.clock.advance(500.0)
    assert led.tripped.get() == 1
    assert led.trip_reasons() == [reason]
    assert led.output.get() == 0
    # the light was last confirmed on at the previous read: nothing booked after it
    assert led.energy_dose.get() == pytest.approx(1000.0, rel=1e-3)
    status = led.irradiance.set(10.0)
    with pytest.raises(InstrumentAlarm, match=f"{reason} tripped"):
        status.wait(5)
    assert light(bench) == 0.0
    led.emu.clear(fault)
    assert led.tripped.get() == 0
    wait(led.irradiance.set(10.0))
    assert light(bench) > 9.0


def test_trip_without_error_queue_is_still_an_alarm(bench):
    led, emu = make_dc2200(bench, check_errors=False)
    emu.inject("over_temperature")
    with pytest.raises(InstrumentAlarm, match="did not come on: head_temperature tripped"):
        led.irradiance.set(5.0).wait(5)


def test_power_loss(led, bench):
    led.reset_dose()
    wait(led.irradiance.set(10.0))
    bench.clock.advance(60.0)
    led.energy_dose.get()
    led.emu.inject("power_loss")
    assert light(bench) == 0.0
    with pytest.raises(InstrumentDisconnected) as err:
        led.output.get()
    assert err.value.device == "led"
    with pytest.raises(InstrumentDisconnected):
        led.safe()
    led.emu.clear("power_loss")        # mains back: power-on state, output off
    bench.clock.advance(60.0)
    assert led.output.get() == 0
    assert led.energy_dose.get() == pytest.approx(600.0, rel=1e-3)


@pytest.mark.parametrize("fault, exc", [("no_reply", InstrumentTimeout),
                                        ("garbled", ProtocolError),
                                        ("disconnect", InstrumentDisconnected)])
def test_common_faults_fail_the_status_and_safe_stays_bounded(led, bench, fault, exc):
    wait(led.irradiance.set(5.0))
    led.emu.inject(fault)
    status = led.irradiance.set(10.0)
    with pytest.raises(exc) as err:
        status.wait(5)
    assert err.value.device == "led"
    with pytest.raises(exc):
        led.measured_current.get()
    assert_safe_fails_fast(led, exc)
    led.emu.clear()
    led.safe()
    assert light(bench) == 0.0


def test_safe_while_a_set_is_in_flight_wins(led, bench):
    real = led.driver.set_current

    def slow_set_current(a):
        value = real(a)
        led.safe()                     # e.g. the session's emergency stop, from another thread
        return value

    led.driver.set_current = slow_set_current
    status = led.irradiance.set(50.0)
    with pytest.raises(InstrumentAlarm, match="cancelled"):
        status.wait(5)
    assert led.emu.output is False and light(bench) == 0.0


def test_stop_is_safe(led, bench):
    wait(led.irradiance.set(5.0))
    led.stop()
    assert light(bench) == 0.0 and led.output.get() == 0


# -- calibration ------------------------------------------------------------------------------

def test_set_calibration_replaces_the_table_and_rebooks(led, bench):
    led.reset_dose()
    wait(led.irradiance.set(10.0))
    current = led.current.get()
    bench.clock.advance(100.0)
    cal = led.set_calibration([0.0, 0.5, 1.0], [0.0, 50.0, 100.0], "2026-11-20", "S121C")
    assert led.calibration is cal
    assert led.calibration_date.get() == "2026-11-20"
    assert led.calibration_irradiance.get() == [0.0, 50.0, 100.0]
    bench.clock.advance(100.0)
    # the same current is now worth 100 × current mW/cm² (new table), from the change on
    assert led.energy_dose.get() == pytest.approx(1000.0 + 100.0 * current * 100.0, rel=1e-3)
    with pytest.raises(ValueError, match="increase strictly"):
        led.set_calibration([0.0, 0.5, 1.0], [0.0, 60.0, 50.0], "2026-11-20", "S121C")
    assert led.calibration is cal
    with pytest.raises(LimitError):
        led.irradiance.set(150.0)


# -- PWM light programme -----------------------------------------------------------------------

def test_pwm_pulses_average_light_and_dose(led, bench):
    led.reset_dose()
    wait(led.pulse(100.0, frequency_hz=100.0, duty_percent=25.0))
    assert led.emu.mode == "PWM"
    assert light(bench) == pytest.approx(25.0, rel=0.02)
    assert led.irradiance.get() == pytest.approx(25.0, rel=1e-6)
    bench.clock.advance(1000.0)
    assert led.energy_dose.get() == pytest.approx(25000.0, rel=1e-3)
    wait(led.irradiance.set(10.0))           # back to constant current
    assert led.emu.mode == "CC"
    assert light(bench) == pytest.approx(10.0, rel=0.02)
    with pytest.raises(LimitError, match="PWM frequency"):
        led.pulse(10.0, frequency_hz=50_000, duty_percent=50)
    with pytest.raises(LimitError, match="irradiance"):
        led.pulse(400.0, frequency_hz=10, duty_percent=50)
