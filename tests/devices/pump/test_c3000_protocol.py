"""Byte-exact protocol tests for the Tricontinent C3000 driver (DT protocol, PROTOCOLS.md)."""

from __future__ import annotations

import math

import pytest

from photoreactor.devices.common.errors import (
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.pump.base import PumpAlarm
from photoreactor.devices.pump.c3000 import C3000Driver, address_char
from tests.devices.protocol import expected_serial

IDLE, BUSY = "`", "@"


def r(status: str, data: str = "") -> bytes:
    return b"/0" + status.encode("latin-1") + data.encode() + b"\x03\r\n"


def drv(port, address=0, **kw) -> C3000Driver:
    kw.setdefault("syringe_volume_ml", 5.0)
    return C3000Driver(port, address, name="pump_zn", timeout_s=0.1, **kw)


def test_address_characters():
    assert [address_char(n) for n in (0, 1, 8, 9, 14)] == ["1", "2", "9", ":", "?"]
    with pytest.raises(ValueError):
        address_char(15)


def test_reports_byte_exact():
    pairs = [
        (b"/1&\r", r(IDLE, "C3000 DT V2.3")),
        (b"/1Q\r", r(IDLE)),
        (b"/1?2\r", r(IDLE, "1400")),
        (b"/1?\r", r(IDLE, "1500")),
        (b"/1?\r", r(IDLE, "1500")),
        (b"/1?6\r", r(IDLE, "o")),
    ]
    with expected_serial(pairs) as port:
        d = drv(port)
        assert d.connect() == "C3000 DT V2.3"
        assert d.position_steps() == 1500
        assert d.valve() == "O"
    assert d._speed == 1400


def test_rate_and_geometry():
    with expected_serial([(b"/1V600R\r", r(IDLE)), (b"/1?2\r", r(IDLE, "600"))]) as port:
        d = drv(port)
        # 5 mL / 3000 increments: 600 increments/s = 60 mL/min
        assert d.set_rate_ml_min(60.0) == pytest.approx(60.0)
        assert d.rate_ml_min() == pytest.approx(60.0)
        assert d.diameter_mm() == pytest.approx(math.sqrt(4 * 5000 / (math.pi * 30)))
        lo, hi = d.rate_range_ml_min()
        assert lo == pytest.approx(0.5) and hi == pytest.approx(580.0)
        with pytest.raises(LimitError):
            d.set_rate_ml_min(0.1)
        with pytest.raises(InstrumentRejected):
            d.set_diameter_mm(10)


def test_infuse_is_dispense_through_the_flask_port():
    pairs = [
        (b"/2?\r", r(IDLE, "3000")),
        (b"/2OV10A2400R\r", r(BUSY)),
        (b"/2?\r", r(BUSY, "2700")),
        (b"/2?\r", r(IDLE, "2400")),
    ]
    with expected_serial(pairs) as port:
        d = drv(port, 1)
        # 1 mL = 600 increments at 1 mL/min = 10 increments/s
        assert d.start_move(1.0, 1.0) == pytest.approx(1.0)
        s1 = d.poll()
        assert s1.moving and s1.moved_ml == pytest.approx(0.5)
        s2 = d.poll()
        assert not s2.moving and s2.moved_ml == pytest.approx(1.0)


def test_withdraw_is_pick_up_through_the_flask_port_custom_ports():
    pairs = [(b"/1?\r", r(IDLE, "0")), (b"/1EV10A60R\r", r(BUSY))]
    with expected_serial(pairs) as port:
        d = drv(port, flask_port="E", reservoir_port="I")
        assert d.start_move(-0.1, 1.0) == pytest.approx(-0.1)


def test_move_beyond_plunger_travel_is_refused_before_moving():
    with expected_serial([(b"/1?\r", r(IDLE, "100"))]) as port:
        with pytest.raises(LimitError, match="infusion volume"):
            drv(port).start_move(1.0, 1.0)


def test_volume_below_one_increment():
    with expected_serial([]) as port:
        with pytest.raises(LimitError):
            drv(port).check_move(0.0005, 1.0)


@pytest.mark.parametrize("status, cls, code", [
    ("i", PumpAlarm, "i"), ("I", PumpAlarm, "i"), ("g", PumpAlarm, "g"), ("j", PumpAlarm, "j"),
    ("k", PumpAlarm, "k"), ("a", PumpAlarm, "a"),
    ("b", InstrumentRejected, None), ("c", InstrumentRejected, None),
    ("O", InstrumentRejected, None),
])
def test_error_status_letters(status, cls, code):
    with expected_serial([(b"/1?\r", r(status, "1234"))]) as port:
        with pytest.raises(cls) as err:
            drv(port).poll()
        if code:
            assert err.value.code == code
        assert err.value.exchange == [(b"/1?\r", r(status, "1234"))]


def test_overload_alarm_carries_the_position():
    with expected_serial([(b"/1?\r", r(IDLE, "3000")), (b"/1OV10A2400R\r", r(BUSY)),
                          (b"/1?\r", r("i", "2850"))]) as port:
        d = drv(port)
        d.start_move(1.0, 1.0)
        with pytest.raises(PumpAlarm) as err:
            d.poll()
        assert err.value.moved_ml == pytest.approx(0.25)


def test_move_is_never_retried():
    with expected_serial([(b"/1?\r", r(IDLE, "3000")), (b"/1OV10A2400R\r", None)]) as port:
        with pytest.raises(InstrumentTimeout):
            drv(port).start_move(1.0, 1.0)


def test_query_retried_after_garbage_and_leading_ff_tolerated():
    pairs = [(b"/1?\r", b"\xd8\xea\x03\r\n"), (b"/1?\r", b"\xff" + r(IDLE, "42"))]
    with expected_serial(pairs) as port:
        assert drv(port).position_steps() == 42


def test_malformed_reports():
    with expected_serial([(b"/1?\r", r(IDLE, "12x"))]) as port:
        with pytest.raises(ProtocolError):
            drv(port, retries=0).position_steps()


def test_terminate_succeeds_even_when_the_pump_reports_an_error():
    with expected_serial([(b"/1TR\r", r("i"))]) as port:
        drv(port).stop()


def test_initialize_and_refill_sequences():
    from photoreactor.sim_devices.clock import VirtualClock

    pairs = [
        (b"/1ZR\r", r(BUSY)),
        (b"/1Q\r", r(IDLE)),
        (b"/1?\r", r(IDLE, "0")),
        (b"/1IV600A1200R\r", r(BUSY)),
        (b"/1Q\r", r(IDLE)),
        (b"/1?\r", r(IDLE, "1200")),
        (b"/1?\r", r(IDLE, "1200")),
    ]
    with expected_serial(pairs) as port:
        d = drv(port)
        clock = VirtualClock(speed=1e6)
        d.initialize(clock=clock, timeout_s=10)
        assert d.refill(2.0, 60.0, cancel=None, clock=clock, timeout_s=10) == pytest.approx(2.0)
        assert d.poll().moved_ml == 0.0     # a refill is not a flask move


def test_port_configuration_checked():
    with pytest.raises(ValueError):
        drv(object(), flask_port="X")
    with pytest.raises(ValueError):
        drv(object(), flask_port="I", reservoir_port="I")
