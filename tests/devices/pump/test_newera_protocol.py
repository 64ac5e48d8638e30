"""Byte-exact protocol tests for the New Era NE-1000 driver (PROTOCOLS.md, NE-1000 manual)."""

from __future__ import annotations

import binascii

import pytest

from photoreactor.devices.common.errors import (
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.pump.base import PumpAlarm
from photoreactor.devices.pump.newera import (
    NE1000Driver,
    best_rate_units,
    best_volume_units,
    format_number,
    safe_packet,
)
from tests.devices.protocol import expected_serial


def r(body: str, addr: int = 1) -> bytes:
    """A basic-mode reply frame."""
    return b"\x02" + f"{addr:02d}{body}".encode() + b"\x03"


def sr(body: str, addr: int = 1) -> bytes:
    """A safe-mode reply packet."""
    return safe_packet(f"{addr:02d}{body}".encode())


def drv(port, address=1, **kw) -> NE1000Driver:
    return NE1000Driver(port, address, name="pump_cd", timeout_s=0.1, **kw)


# -- numbers ------------------------------------------------------------------
@pytest.mark.parametrize("value, text", [
    (1.5, "1.5"), (0.125, "0.125"), (0.1234, "0.123"), (12.345, "12.35"), (12.344, "12.34"),
    (123.45, "123.5"), (1234.5, "1234"), (9999, "9999"), (9.9996, "10"), (99.996, "100"),
    (0.0005, "0.001"), (1.0, "1"), (14.57, "14.57"), (10, "10"), (0, "0"),
])
def test_format_number(value, text):
    assert format_number(value) == text
    digits = text.replace(".", "")
    assert len(digits) <= 4 and len(text.partition(".")[2]) <= 3


@pytest.mark.parametrize("value", [10000, 9999.6, 0.0004, -1, float("nan"), float("inf")])
def test_format_number_rejects(value):
    with pytest.raises(ValueError):
        format_number(value)


def test_unit_choice_keeps_digits():
    assert best_rate_units(1.5) == ("1.5", "MM")
    # 0.0123456 mL/min: "0.012" MM loses digits, "12.35" UM keeps 4, "740.7" UH is closest
    assert best_rate_units(0.0123456) == ("740.7", "UH")
    assert best_rate_units(0.5) == ("0.5", "MM")          # exact in both: prefer mL/min
    assert best_rate_units(20000.0 / 60.0) == ("333.3", "MM")
    assert best_volume_units(0.05) == ("50", "UL")
    assert best_volume_units(2.5) == ("2500", "UL")     # exact either way: finer counter
    assert best_volume_units(10.0) == ("10", "ML")      # 10000 uL does not fit 4 digits
    assert best_volume_units(12.3456) == ("12.35", "ML")
    with pytest.raises(ValueError):
        best_rate_units(0)


# -- safe-mode framing -----------------------------------------------------------
def test_crc_matches_manual_example():
    # PROTOCOLS.md: SAF0 -> 02 08 'SAF0' 55 43 03
    assert safe_packet(b"SAF0") == bytes.fromhex("0208") + b"SAF0" + bytes.fromhex("554303")
    assert binascii.crc_hqx(b"SAF0", 0) == 0x5543


# -- commands -----------------------------------------------------------------
def test_queries_and_settings_byte_exact():
    pairs = [
        (b"1VER\r", r("SNE1000V3.928")),
        (b"1DIA\r", r("S14.57")),
        (b"1DIA 14.57\r", r("S")),
        (b"1RAT\r", r("S1.5MM")),
        (b"1RAT 12.35 UM\r", r("S")),
        (b"1VOL\r", r("S0.5ML")),
        (b"1VOL UL\r", r("S")),
        (b"1VOL 250\r", r("S")),
        (b"1DIR\r", r("SWDR")),
        (b"1DIR INF\r", r("S")),
        (b"1CLD INF\r", r("S")),
        (b"1DIS\r", r("II0.250W0.000ML")),
        (b"1\r", r("I")),
        (b"1STP\r", r("S")),
    ]
    with expected_serial(pairs) as port:
        d = drv(port)
        assert d.version() == "NE1000V3.928" and d.model == "NE-1000" and d.firmware == "3.928"
        assert d.diameter_mm() == 14.57
        d.set_diameter_mm(14.57)
        assert d.rate() == (1.5, "MM")
        d.set_rate(12.35, "UM")
        assert d.volume() == (0.5, "ML")
        d.set_volume_units("UL")
        d.set_volume(250)
        assert d.get_direction() == "WDR"
        d.set_direction("INF")
        d.clear_dispensed("INF")
        assert d.dispensed() == ("I", 0.25, 0.0)
        assert d.status() == "I"
        assert d.stop_pump() == "S"


START_INFUSE = [
    (b"7RAT 2 MM\r", r("S", 7)),
    (b"7DIR INF\r", r("S", 7)),
    (b"7VOL UL\r", r("S", 7)),
    (b"7VOL 1250\r", r("S", 7)),
    (b"7CLD INF\r", r("S", 7)),
    (b"7CLD WDR\r", r("S", 7)),
    (b"7RUN\r", r("I", 7)),
    (b"7DIS\r", r("II400.0W0.000UL", 7)),
]
# a small withdrawal, in microlitres
START_WITHDRAW = [
    (b"12RAT 0.5 MM\r", r("S", 12)),
    (b"12DIR WDR\r", r("S", 12)),
    (b"12VOL UL\r", r("S", 12)),
    (b"12VOL 50\r", r("S", 12)),
    (b"12CLD INF\r", r("S", 12)),
    (b"12CLD WDR\r", r("S", 12)),
    (b"12RUN\r", r("W", 12)),
    (b"12DIS\r", r("SI0.000W50.00UL", 12)),
]


@pytest.mark.parametrize("address, volume_ml, rate_ml_min, pairs, moving, moved_ml", [
    (7, 1.25, 2.0, START_INFUSE, True, 0.4),
    (12, -0.05, 0.5, START_WITHDRAW, False, 0.05),
], ids=["infuse", "withdraw_small_volume_in_microlitres"])
def test_start_move_sequence(address, volume_ml, rate_ml_min, pairs, moving, moved_ml):
    with expected_serial(pairs) as port:
        d = drv(port, address)
        assert d.start_move(volume_ml, rate_ml_min) == pytest.approx(volume_ml)
        state = d.poll()
        assert state.moving is moving and state.moved_ml == pytest.approx(moved_ml)


def test_volume_zero_is_refused_because_it_means_run_forever():
    with expected_serial([]) as port:
        with pytest.raises(ValueError, match="VOL 0"):
            drv(port).set_volume(0)


def test_rate_limit_from_syringe_diameter():
    with expected_serial([(b"1DIA 14.57\r", r("S"))]) as port:
        d = drv(port)
        d.set_diameter_mm(14.57)
        lo, hi = d.rate_range_ml_min()
        assert hi == pytest.approx(8.50, abs=0.01)   # NE-1000: 1699 mL/h with a 26.59 mm syringe
        with pytest.raises(LimitError) as err:
            d.set_rate_ml_min(10.0)
        assert err.value.device == "pump_cd" and err.value.unit == "mL/min"


@pytest.mark.parametrize("reply, message", [
    ("S?", "not recognised"), ("S?NA", "not applicable"), ("S?OOR", "out of range"),
    ("S?IGN", "ignored"),
])
def test_error_replies_are_rejections(reply, message):
    with expected_serial([(b"1RAT 9 MM\r", r(reply))]) as port:
        with pytest.raises(InstrumentRejected, match=message) as err:
            drv(port, retries=0).set_rate(9, "MM")
        assert err.value.exchange == [(b"1RAT 9 MM\r", r(reply)[1:-1])]


def test_com_error_is_retried_for_idempotent_commands():
    pairs = [(b"1DIA\r", r("S?COM")), (b"1DIA\r", r("S14.57"))]
    with expected_serial(pairs) as port:
        assert drv(port).diameter_mm() == 14.57


@pytest.mark.parametrize("code", ["R", "S", "T", "E", "O"])
def test_alarm_replies(code):
    with expected_serial([(b"1DIS\r", r(f"A?{code}"))]) as port:
        with pytest.raises(PumpAlarm) as err:
            drv(port).poll()
        assert err.value.code == code and err.value.device == "pump_cd"
        assert err.value.exchange


def test_stop_after_alarm_sends_stp_again():
    pairs = [(b"1STP\r", r("A?S")), (b"1STP\r", r("S"))]
    with expected_serial(pairs) as port:
        drv(port).stop()


def test_timeout_retried_then_raised_for_queries():
    pairs = [(b"1DIA\r", None)] * 3
    with expected_serial(pairs) as port:
        with pytest.raises(InstrumentTimeout) as err:
            drv(port).diameter_mm()
        assert err.value.exchange == [(b"1DIA\r", b"")]


def test_run_is_never_retried():
    with expected_serial([(b"1RUN\r", None)]) as port:
        with pytest.raises(InstrumentTimeout):
            drv(port).run()


def test_garbled_reply_is_protocol_error():
    pairs = [(b"1DIA\r", b"\xd8\xea\x03")] * 3
    # the port discards the rest of a garbled frame before the next request
    with expected_serial(pairs, allow_unread=True) as port:
        with pytest.raises(ProtocolError):
            drv(port).diameter_mm()


def test_frame_from_neighbour_is_skipped():
    with expected_serial([(b"1DIA\r", r("S26.59", 2) + r("S14.57", 1))]) as port:
        assert drv(port).diameter_mm() == 14.57


def test_unexpected_payloads_are_protocol_errors():
    with expected_serial([(b"1DIS\r", r("SI1W2XX"))]) as port:
        with pytest.raises(ProtocolError):
            drv(port, retries=0).dispensed()
    with expected_serial([(b"1\r", r("Q"))]) as port:
        with pytest.raises(ProtocolError, match="status"):
            drv(port, retries=0).status()


# -- safe mode ----------------------------------------------------------------------
def test_arm_refresh_disarm_watchdog_byte_exact():
    pairs = [
        (b"1SAF30\r", sr("S")),                 # the pump answers in the new framing
        (safe_packet(b"1"), sr("S")),           # refresh: any valid packet
        (safe_packet(b"1DIS"), sr("II1.000W0.000ML")),
        (safe_packet(b"1SAF0"), r("S")),        # back to basic
        (b"1DIA\r", r("S14.57")),
    ]
    with expected_serial(pairs) as port:
        d = drv(port)
        d.arm_watchdog(29.5)
        assert d.safe_mode and d.watchdog_s == 30
        d.refresh_watchdog()
        assert d.dispensed()[1] == 1.0
        d.disarm_watchdog()
        assert not d.safe_mode
        assert d.diameter_mm() == 14.57


def test_safe_mode_reply_with_bad_crc_is_protocol_error():
    good = sr("S14.57")
    bad = good[:-3] + bytes([good[-3] ^ 0xFF]) + good[-2:]
    with expected_serial([(safe_packet(b"1DIA"), bad)]) as port:
        d = drv(port, retries=0)
        d.safe_mode = True
        with pytest.raises(ProtocolError, match="CRC"):
            d.diameter_mm()


def test_watchdog_limits():
    with expected_serial([]) as port:
        d = drv(port)
        with pytest.raises(LimitError):
            d.arm_watchdog(300)
        with pytest.raises(InstrumentRejected):
            d.refresh_watchdog()


def test_connect_detects_safe_mode_left_by_earlier_session():
    pairs = [
        (b"3\r", None),                          # basic: a safe-mode pump ignores it
        (safe_packet(b"3"), sr("A?R", 3)),       # safe: answers (with the power-up alarm)
        (safe_packet(b"3VER"), sr("SNE1000V3.928", 3)),
        (safe_packet(b"3DIR"), sr("SINF", 3)),
        (safe_packet(b"3DIA"), sr("S14.57", 3)),
    ]
    with expected_serial(pairs) as port:
        d = drv(port, 3)
        assert d.connect() == "NE1000V3.928"
        assert d.safe_mode


def test_address_range():
    with pytest.raises(ValueError):
        NE1000Driver(object(), 100)
