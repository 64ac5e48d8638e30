"""Detector optics of the simulated spectrometer: lamp, response, dark, noise, clipping."""

from __future__ import annotations

import numpy as np
import pytest

from photoreactor.sim_devices import optics

WL = optics.wavelength_axis(2048, (200.0, 0.4713, -1.5e-5, 0.0))


def test_wavelength_axis_is_ocean_cubic_in_pixel_index():
    wl = optics.wavelength_axis(4, (100.0, 2.0, 0.5, 0.1))
    p = np.arange(4.0)
    np.testing.assert_allclose(wl, 100 + 2 * p + 0.5 * p**2 + 0.1 * p**3)
    assert WL[0] == 200.0 and 1095 < WL[-1] < 1105 and np.all(np.diff(WL) > 0)


def test_deuterium_halogen_lamp_shape():
    lamp = optics.deuterium_halogen_lamp(WL)
    assert lamp.max() == pytest.approx(1.0) and lamp.min() > 0
    i656 = np.argmin(abs(WL - 656.1))
    # the deuterium Balmer line stands out of the halogen continuum
    assert lamp[i656] > 1.2 * lamp[i656 - 10] and lamp[i656] > 1.2 * lamp[i656 + 10]
    # deuterium continuum: more UV at 220 nm than at 350 nm (the halogen cannot do that)
    assert lamp[np.argmin(abs(WL - 220))] > lamp[np.argmin(abs(WL - 350))]


def test_blackbody_peaks_at_wien_wavelength():
    wl = np.linspace(300, 2000, 3401)
    b = optics.planck_relative(wl, 2900.0)
    assert wl[np.argmax(b)] == pytest.approx(2.8978e6 / 2900.0, abs=1.0)
    assert b.max() == pytest.approx(1.0, rel=1e-4)


def test_silicon_response_is_weak_in_deep_uv_and_past_the_band_gap():
    r = optics.silicon_response(WL)
    assert r.max() <= 1.0 + 1e-3  # normalised on a 1 nm grid
    peak_wl = WL[np.argmax(r)]
    assert 450 < peak_wl < 700
    assert r[np.argmin(abs(WL - 1100))] < 0.1 and r[0] < 0.5 * r.max()


def test_transmission_is_beer_lambert_over_the_probe_path():
    a = np.array([0.0, 1.0, 2.0, np.nan])
    t = optics.transmission(a, 0.1)
    np.testing.assert_allclose(t[:3], 10 ** (-a[:3] * 0.1))
    assert t[3] < 1e-40  # NaN (undefined absorbance) is treated as opaque


def test_dark_frame_mean_and_noise_match_the_model():
    det = optics.Detector(pixels=2048, max_count=65535, seed=3)
    rng = np.random.default_rng(0)
    frames = np.array([det.render(np.zeros(2048), 0.1, rng) for _ in range(200)])
    mean_dark = det.mean_dark(0.1)
    np.testing.assert_allclose(frames.mean(axis=0), mean_dark, atol=2.0)
    expected_sd = np.sqrt(det.dark_current_counts_per_s * det.dark_current_pattern * 0.1
                          / det.electrons_per_count + det.read_noise_counts**2)
    sd = frames.std(axis=0)
    assert np.median(sd / expected_sd) == pytest.approx(1.0, abs=0.05)
    # the fixed pattern is a property of the detector (seed), not of the frame
    np.testing.assert_array_equal(det.offset_pattern,
                                  optics.Detector(pixels=2048, max_count=65535, seed=3).offset_pattern)
    assert (det.dark_current_pattern > 5).any()  # a few hot pixels


def test_dark_counts_grow_with_integration_time():
    det = optics.Detector(pixels=64, max_count=65535, seed=1)
    assert (det.mean_dark(10.0) - det.mean_dark(0.01)).mean() == pytest.approx(
        det.dark_current_counts_per_s * 9.99 * det.dark_current_pattern.mean(), rel=1e-6)


def test_shot_noise_scales_with_the_square_root_of_the_signal():
    det = optics.Detector(pixels=2048, max_count=10**9, read_noise_counts=0.0,
                          dark_current_counts_per_s=0.0, electrons_per_count=25.0, seed=0)
    rng = np.random.default_rng(1)
    signal = 1e6  # counts/s → 10000 counts in 10 ms
    f = det.render(np.full(2048, signal), 0.01, rng) - det.offset_pattern
    assert f.std() == pytest.approx(np.sqrt(10000 / 25.0), rel=0.1)


def test_frames_are_integers_clipped_at_full_scale():
    det = optics.Detector(pixels=256, max_count=16383, seed=0)
    f = det.render(np.full(256, 1e9), 0.01, np.random.default_rng(0))
    assert np.all(f == 16383.0)
    g = det.render(np.full(256, 1e4), 0.01, np.random.default_rng(0))
    assert np.all(g == np.rint(g)) and g.max() < 16383


def test_rendering_is_deterministic_for_a_seed():
    det = optics.Detector(pixels=128, max_count=65535, seed=0)
    a = det.render(np.full(128, 1e5), 0.01, np.random.default_rng(42))
    b = det.render(np.full(128, 1e5), 0.01, np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)


def test_lamp_signal_peak_is_as_requested():
    s = optics.lamp_signal_counts_per_s(WL, 4e6)
    assert s.max() == pytest.approx(4e6) and s.min() >= 0
