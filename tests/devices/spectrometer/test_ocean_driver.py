"""OceanDriver call-level protocol tests: every seabreeze call, in order, and the error paths."""

from __future__ import annotations

import logging
import sys
import threading
import time

import numpy as np
import pytest

from photoreactor.devices.common.errors import (
    InstrumentDisconnected,
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from photoreactor.devices.spectrometer.ocean import (
    MODELS,
    OceanDriver,
    normalize_model,
    open_seabreeze,
)
from photoreactor.sim_devices.clock import VirtualClock

from .expected_calls import (
    PIXELS,
    WAVELENGTHS,
    CallMismatch,
    ExpectedSeabreeze,
    SeaBreezeError,
    frame,
    identify,
)

NO_CORR = ("intensities", False, False)


def make(fake, clock=None, **kw):
    kw.setdefault("min_wall_timeout_s", 1.0)  # hang tests pass their own, shorter grace
    return OceanDriver(fake, name="spectrometer", clock=clock or VirtualClock(speed=1000.0),
                       errors=(SeaBreezeError,), **kw)


def test_open_identifies_the_unit_and_caches_wavelengths():
    with ExpectedSeabreeze(identify()) as fake:
        drv = make(fake)
        assert (drv.serial_number, drv.model, drv.pixels) == ("FLMS01234", "FLAMES", PIXELS)
        assert drv.max_intensity == 65535.0
        assert drv.integration_limits_ms == (1.0, 655000.0)
        np.testing.assert_array_equal(drv.wavelengths(), WAVELENGTHS)
        drv.wavelengths()[0] = -1  # a copy: callers cannot corrupt the calibration
        np.testing.assert_array_equal(drv.wavelengths(), WAVELENGTHS)  # and no second call


def test_disagreement_with_the_model_table_is_logged_not_fatal(caplog):
    with caplog.at_level(logging.WARNING), ExpectedSeabreeze(identify()) as fake:
        make(fake)
    assert "model table says" in caplog.text


def test_profile_model_must_match_the_connected_unit():
    with ExpectedSeabreeze(identify(model="USB4000")) as fake:
        with pytest.raises(InstrumentRejected, match="expects a FLAME-S but .* is a USB4000"):
            make(fake, model="FLAME-S")


def test_corrupt_wavelength_calibration_is_a_protocol_error():
    with ExpectedSeabreeze(identify(wavelengths=WAVELENGTHS[::-1])) as fake:
        with pytest.raises(ProtocolError, match="wavelength calibration"):
            make(fake)


def test_integration_time_is_sent_in_whole_microseconds():
    with ExpectedSeabreeze(identify() + [(("integration_time_micros", 12346), None)]) as fake:
        drv = make(fake)
        drv.set_integration_time_ms(12.3456)
        assert drv.integration_time_ms == pytest.approx(12.346)
        assert drv.discard_pending


def test_integration_time_outside_the_model_range_is_refused_before_sending():
    with ExpectedSeabreeze(identify()) as fake:  # no integration call expected
        drv = make(fake)
        with pytest.raises(LimitError, match=r"integration time 0.5 ms .*\(1.0, 655000.0\)"):
            drv.set_integration_time_ms(0.5)


def test_integration_time_refused_by_the_library_is_rejected_and_not_retried():
    refused = SeaBreezeError("[Fix] Specified integration time is out of range.")
    with ExpectedSeabreeze(identify() + [(("integration_time_micros", 5000), refused)]) as fake:
        drv = make(fake)
        with pytest.raises(InstrumentRejected) as info:
            drv.set_integration_time_ms(5)
    assert info.value.device == "spectrometer"
    assert info.value.exchange == [(b"integration_time_micros(5000)",
                                    b"[Fix] Specified integration time is out of range.")]


def test_acquire_discards_the_stale_frame_then_averages():
    calls = identify() + [(("integration_time_micros", 10000), None),
                          (NO_CORR, frame(9999.0)),     # exposed with the old setting: dropped
                          (NO_CORR, frame(100.0)), (NO_CORR, frame(200.0)), (NO_CORR, frame(300.0)),
                          (NO_CORR, frame(400.0))]      # second acquire: no discard
    with ExpectedSeabreeze(calls) as fake:
        clock = VirtualClock(speed=1000.0)
        drv = make(fake, clock)
        drv.set_integration_time_ms(10)
        got = drv.acquire(3)
        np.testing.assert_allclose(got.counts, 200.0)
        assert (got.scans, got.integration_time_ms, got.peak_count) == (3, 10.0, 300.0)
        assert not got.any_saturated and not got.lamp_on
        assert clock.time() - 600.0 < got.timestamp <= clock.time()   # 0.6 s of wall at 1000x
        assert drv.acquire(1).counts[0] == 400.0


def test_saturation_is_flagged_per_scan_even_when_the_average_is_below_full_scale():
    clipped = frame(1000.0)
    clipped[3] = 65535.0
    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, frame(0.0)),
                          (NO_CORR, clipped), (NO_CORR, frame(1000.0))]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake)
        drv.set_integration_time_ms(10)
        got = drv.acquire(2)
    assert got.counts[3] < 65535.0
    assert got.saturated.tolist() == [i == 3 for i in range(PIXELS)]


def test_saturation_fraction_lowers_the_threshold():
    near = frame(1000.0)
    near[0] = 63000.0  # 96 % of full scale
    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, frame(0.0)),
                          (NO_CORR, near)]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake, saturation_fraction=0.95)
        drv.set_integration_time_ms(10)
        assert drv.acquire(1).saturated[0]


def test_nonlinearity_correction_is_requested_when_configured():
    calls = identify() + [(("integration_time_micros", 10000), None),
                          (("intensities", False, True), frame(1.0)),
                          (("intensities", False, True), frame(2.0))]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake, correct_nonlinearity=True)
        drv.set_integration_time_ms(10)
        assert drv.intensities()[0] == 2.0


def test_spectrum_stacks_wavelengths_and_one_frame():
    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, frame(0.0)),
                          (NO_CORR, frame(7.0))]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake)
        drv.set_integration_time_ms(10)
        out = drv.spectrum()
    np.testing.assert_array_equal(out, np.vstack((WAVELENGTHS, frame(7.0))))


def test_model_without_nonlinearity_coefficients_is_rejected_clearly():
    refused = SeaBreezeError("This device does not support nonlinearity correction.")
    calls = identify() + [(("integration_time_micros", 10000), None),
                          (("intensities", False, True), refused)]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake, correct_nonlinearity=True)
        drv.set_integration_time_ms(10)
        with pytest.raises(InstrumentRejected, match="does not support nonlinearity"):
            drv.acquire(1)


def test_electric_dark_correction_is_refused_without_a_call():
    with ExpectedSeabreeze(identify() + [(("integration_time_micros", 10000), None)]) as fake:
        drv = make(fake)
        drv.set_integration_time_ms(10)
        with pytest.raises(InstrumentRejected, match="stored dark"):
            drv.intensities(correct_dark_counts=True)


def test_acquire_before_setting_the_integration_time_is_refused():
    with ExpectedSeabreeze(identify()) as fake:
        drv = make(fake)
        with pytest.raises(InstrumentRejected, match="integration time"):
            drv.acquire(1)
        with pytest.raises(LimitError):
            drv.acquire(0)


def test_a_corrupt_frame_is_retried_once_then_a_protocol_error():
    short = np.zeros(PIXELS // 2)
    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, frame(0.0)),
                          (NO_CORR, short), (NO_CORR, frame(5.0)),       # retried: recovers
                          (NO_CORR, short), (NO_CORR, np.full(PIXELS, np.nan))]  # fails twice
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake)
        drv.set_integration_time_ms(10)
        assert drv.acquire(1).counts[0] == 5.0
        with pytest.raises(ProtocolError, match="corrupt frame") as info:
            drv.acquire(1)
    assert info.value.exchange[0][0].startswith(b"intensities(")


def test_transfer_error_is_a_disconnect_after_one_retry():
    gone = SeaBreezeError("Data transfer error")
    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, gone),
                          (NO_CORR, gone)]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake)
        drv.set_integration_time_ms(10)
        with pytest.raises(InstrumentDisconnected, match="still connected") as info:
            drv.acquire(1)
    assert info.value.exchange == [(b"intensities(correct_dark_counts=False, "
                                    b"correct_nonlinearity=False)", b"Data transfer error")]


def test_a_hung_transfer_times_out_on_the_deadline_and_is_not_retried():
    hang = threading.Event()
    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, frame(0.0)),
                          (NO_CORR, hang)]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake, min_wall_timeout_s=0.2)
        drv.set_integration_time_ms(10)
        t0 = time.monotonic()
        with pytest.raises(InstrumentTimeout, match="not responding") as info:
            drv.acquire(1)
        assert time.monotonic() - t0 < 3.0
        hang.set()  # let the fake's thread finish
    assert info.value.device == "spectrometer"


def test_lamp_commands_go_through_the_lamp_enable_line_and_force_a_discard():
    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, frame(0.0)),
                          (NO_CORR, frame(1.0)), (("enable_lamp", True), None),
                          (NO_CORR, frame(500.0)), (NO_CORR, frame(1000.0)),
                          (("enable_lamp", True), None), (NO_CORR, frame(1000.0))]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake)
        drv.set_integration_time_ms(10)
        drv.acquire(1)
        drv.set_lamp(True)
        assert drv.lamp_on and drv.discard_pending
        got = drv.acquire(1)
        assert got.counts[0] == 1000.0 and got.lamp_on
        drv.set_lamp(True)  # no change: no discard
        assert not drv.discard_pending
        drv.acquire(1)


def test_manual_lamp_sends_nothing():
    with ExpectedSeabreeze(identify()) as fake:
        drv = make(fake, lamp_control="manual")
        drv.set_lamp(True)
        assert drv.lamp_on
        drv.lamp_off_best_effort()
        assert not drv.lamp_on


def test_missing_lamp_feature_points_at_manual_control():
    with ExpectedSeabreeze(identify(), lamp_feature=False) as fake:
        drv = make(fake)
        with pytest.raises(InstrumentRejected, match="lamp_control: manual"):
            drv.set_lamp(True)


def test_lamp_off_reaches_the_lamp_while_an_acquisition_is_hung():
    hang = threading.Event()
    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, frame(0.0)),
                          (NO_CORR, hang), (("enable_lamp", False), None)]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake, min_wall_timeout_s=0.1)
        drv.set_integration_time_ms(10)
        with pytest.raises(InstrumentTimeout):
            drv.acquire(1)
        t0 = time.monotonic()
        drv.lamp_off_best_effort(timeout_s=1.0)  # the hung worker still holds the io lock
        assert time.monotonic() - t0 < 3.0
        hang.set()


def test_trigger_mode_and_close():
    calls = identify() + [(("trigger_mode", 0), None), (("close",), None)]
    with ExpectedSeabreeze(calls) as fake:
        drv = make(fake)
        drv.trigger_mode(0)
        drv.close()
        drv.close()  # idempotent: no second call
        with pytest.raises(InstrumentDisconnected, match="closed"):
            drv.set_integration_time_ms(10)


def test_unexpected_call_fails_the_fake():
    with pytest.raises(CallMismatch):
        with ExpectedSeabreeze(identify()[:2]) as fake:
            make(fake)


def test_clock_jump_during_a_frame_is_not_a_timeout():
    """A plan sleeping in parallel jumps the virtual clock past the deadline mid-frame."""
    clock = VirtualClock(speed=1000.0)
    release = threading.Event()

    class Slow(ExpectedSeabreeze):
        def intensities(self, correct_dark_counts=False, correct_nonlinearity=False):
            result = super().intensities(correct_dark_counts, correct_nonlinearity)
            if not release.is_set():
                clock.advance(3600.0)     # an hour passes while this frame is read ...
                time.sleep(0.05)          # ... and the answer arrives a little later (wall)
                release.set()
            return result

    calls = identify() + [(("integration_time_micros", 10000), None), (NO_CORR, frame(1.0)),
                          (NO_CORR, frame(2.0))]
    with Slow(calls) as fake:
        drv = make(fake, clock, min_wall_timeout_s=0.5)
        drv.set_integration_time_ms(10)
        assert drv.acquire(1).counts[0] == 2.0


@pytest.mark.parametrize("spelling, key", [
    ("FLAME-S", "FLAMES"), ("Flame-S", "FLAMES"), ("USB2000+", "USB2000PLUS"),
    ("QE Pro", "QEPRO"), ("QE-PRO", "QEPRO"), ("Ocean ST", "ST"), ("SR4", "SR4"),
    ("HR4000", "HR4000"), ("usb4000", "USB4000")])
def test_model_spellings(spelling, key):
    assert normalize_model(spelling) == key
    assert key in MODELS


def test_model_table_matches_the_published_limits():
    table = {k: (m.pixels, m.min_integration_us, m.max_integration_us, m.max_count)
             for k, m in MODELS.items()}
    assert table["FLAMES"] == (2048, 1_000, 655_000_000, 65535)
    assert table["HR4000"] == (3840, 10, 655_000_000, 16383)
    assert table["USB4000"] == (3840, 10, 65_000_000, 65535)
    assert table["QEPRO"] == (1044, 8_000, 1_600_000_000, 262143)
    assert table["ST"] == (1516, 1_560, 6_000_000, 16383) and not MODELS["ST"].dark_pixels
    assert table["SR4"] == (3648, 6_000, 10_000_000, 65535)


def test_missing_seabreeze_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "seabreeze", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"photoreactor\[lab\]"):
        open_seabreeze("cseabreeze", "FLMS01234")


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="cseabreeze"):
        open_seabreeze("libusb", None)


def test_opening_an_unregistered_simulated_unit_is_a_clear_disconnect():
    with pytest.raises(InstrumentDisconnected, match="NOPE.*USB cable"):
        open_seabreeze("emulator", "NOPE", device="spectrometer")
