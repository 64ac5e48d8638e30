"""The DC2200 driver against pyvisa's own simulation backend (static YAML).

Shows the driver speaks plain pyvisa: the same calls work on pyvisa-sim as on
``@py``/``@ivi``, independently of this project's emulator.
"""

from __future__ import annotations

from importlib.resources import files

import pytest

from photoreactor.devices.common.errors import InstrumentRejected

pytest.importorskip("pyvisa_sim")

import pyvisa  # noqa: E402

from photoreactor.devices.led.dc2200 import DC2200Driver  # noqa: E402

RESOURCE = "USB0::0x1313::0x80C8::M00000001::INSTR"


@pytest.fixture
def res():
    path = files("photoreactor.sim_devices") / "emulators" / "dc2200_static.yaml"
    rm = pyvisa.ResourceManager(f"{path}@sim")
    r = rm.open_resource(RESOURCE, read_termination="\n", write_termination="\n", timeout=100)
    yield r
    r.close()
    rm.close()


def test_driver_session_on_pyvisa_sim(res):
    drv = DC2200Driver(res, name="led")
    drv.initialize()
    drv.set_constant_current_mode()
    assert drv.set_current(0.5) == 0.5
    drv.set_output(True)
    assert drv.output_on() is True
    assert drv.current_limit() == 1.0
    assert drv.measured_current() == 0.0
    assert drv.trip_flags() == {"current_limit": False, "interlock": False,
                                "driver_temperature": False, "head_temperature": False}
    # the property the driver wrote is what pyvisa-sim holds
    assert float(res.query("SOURCE1:CCURENT:CURRENT?")) == 0.5
    drv.set_output(False)
    assert drv.output_on() is False


def test_pwm_programme_on_pyvisa_sim(res):
    drv = DC2200Driver(res, name="led")
    drv.set_pwm_mode()
    drv.configure_pwm(0.25, 100.0, 25.0, 0)
    assert res.query("SOURCE1:MODE?") == "PWM"
    assert float(res.query("SOURCE1:PWM:DCYCLE?")) == 25.0
    assert float(res.query("SOURCE1:PWM:FREQ?")) == 100.0


def test_rejections_come_back_through_the_error_queue(res):
    drv = DC2200Driver(res, name="led")
    with pytest.raises(InstrumentRejected, match="-113"):
        drv.set_current(1.5)                   # above the simulated 1 A limit
    with pytest.raises(InstrumentRejected, match="Undefined header"):
        drv.scpi.write("SOURCE1:PWM:FREQUENCY 100")   # long form: refused
    assert drv.next_error() == (0, "No error")
