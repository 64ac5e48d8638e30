"""Spectral maths against synthetic spectra with known answers and SCIENCE.md numbers."""

from __future__ import annotations

import numpy as np
import pytest

from photoreactor.analysis import sizing
from photoreactor.analysis.spectra import (
    absorbance_from_counts,
    band_gap_ev,
    decompose_gaussians,
    ev_to_nm,
    find_e1,
    fit_scattering,
    fwhm,
    nm_to_ev,
    second_derivative_minima,
    smooth,
    subtract_scattering,
)

from .synthetic import HC, gaussian, msc_absorbance, qd_absorbance, wavelength_axis

WL = wavelength_axis()
CDS_SEARCH = (350.0, 520.0)


# -- units -------------------------------------------------------------------

def test_energy_wavelength_conversion_uses_1239_84():
    # SCIENCE.md A2: exciton PL 464 nm = 2.67 eV
    assert nm_to_ev(464.0) == pytest.approx(2.672, abs=5e-4)
    assert ev_to_nm(1239.84) == pytest.approx(1.0)
    e = np.array([1.24, 2.24, 3.1])
    np.testing.assert_allclose(nm_to_ev(ev_to_nm(e)), e)


# -- absorbance from counts --------------------------------------------------

def test_absorbance_from_counts_values_and_invalid_pixels():
    dark = np.full(6, 1000.0)
    ref = np.array([11000.0, 11000.0, 11000.0, 1000.0, 64500.0, 11000.0])
    sample = np.array([2000.0, 6000.0, 1000.0, 500.0, 2000.0, 11000.0])
    a = absorbance_from_counts(sample, dark, ref, max_count=65535)
    assert a[0] == pytest.approx(1.0)          # (S-D)/(R-D) = 0.1
    assert a[1] == pytest.approx(-np.log10(0.5))
    assert np.isnan(a[2])                       # S - D = 0: opaque, unmeasurable
    assert np.isnan(a[3])                       # R - D = 0
    assert np.isnan(a[4])                       # reference saturated
    assert a[5] == pytest.approx(0.0)


def test_absorbance_from_counts_stack_and_mask():
    dark = np.zeros(4)
    ref = np.full(4, 1000.0)
    sample = np.array([[100.0, 1000.0, 10.0, 500.0], [1000.0, 100.0, 1.0, 65535.0]])
    mask = np.array([False, False, True, False])
    a = absorbance_from_counts(sample, dark, ref, max_count=65535, saturated_mask=mask)
    assert a.shape == (2, 4)
    np.testing.assert_allclose(a[:, 0], [1.0, 0.0])
    assert np.isnan(a[:, 2]).all()
    assert np.isnan(a[1, 3]) and a[0, 3] == pytest.approx(np.log10(2))


# -- smoothing -----------------------------------------------------------------

def test_smooth_keeps_cubics_and_reduces_noise():
    x = np.linspace(-1, 1, 301)
    cubic = 0.3 * x**3 - x + 0.2
    np.testing.assert_allclose(smooth(cubic, 21, 3), cubic, atol=1e-12)
    noisy = cubic + np.random.default_rng(0).normal(0, 0.01, x.size)
    assert np.std(smooth(noisy, 21, 3) - cubic) < 0.5 * np.std(noisy - cubic)
    # second derivative per pixel² of the cubic: 1.8 x / (Δx)²
    d2 = smooth(cubic, 21, 3, deriv=2)
    dx = x[1] - x[0]
    np.testing.assert_allclose(d2[20:-20] / dx**2, 1.8 * x[20:-20], atol=1e-6)


def test_smooth_leaves_masked_pixels_masked():
    y = np.sin(np.linspace(0, 3, 200))
    y[50:60] = np.nan
    out = smooth(y, 11, 3)
    assert np.isnan(out[50:60]).all() and np.isfinite(out[:50]).all()
    assert np.nanmax(np.abs(out - y)) < 1e-3


# -- scattering ----------------------------------------------------------------

def test_fit_scattering_recovers_rayleigh_exponent_beside_a_band():
    wl = WL
    scatter = 0.4 * (wl / 500.0) ** -4
    a = scatter + gaussian(wl, 420.0, 12.0, 0.5)
    fit = fit_scattering(wl, a, fit_nm=(550.0, 900.0))
    assert fit.exponent == pytest.approx(4.0, abs=0.02)
    corrected = subtract_scattering(wl, a, fit_nm=(550.0, 900.0))
    np.testing.assert_allclose(corrected, gaussian(wl, 420.0, 12.0, 0.5), atol=2e-3)


def test_fit_scattering_vectorised_with_noise_and_offset():
    wl = WL
    rng = np.random.default_rng(3)
    n_true = np.array([1.0, 2.5, 4.0])
    stack = np.array([0.3 * (wl / 700.0) ** -n + 0.02 for n in n_true])
    stack += rng.normal(0, 0.002, stack.shape)
    fit = fit_scattering(wl, stack, fit_nm=(450.0, 1000.0), offset=True)
    np.testing.assert_allclose(fit.exponent, n_true, atol=0.15)
    np.testing.assert_allclose(fit.offset, 0.02, atol=0.01)
    fixed = fit_scattering(wl, stack[2], fit_nm=(450.0, 1000.0), exponent=4.0, offset=True)
    assert fixed.amplitude * (fixed.reference_nm / 700.0) ** 4 == pytest.approx(0.3, rel=0.03)


# -- first exciton -------------------------------------------------------------

@pytest.mark.parametrize("e1_nm", [404.0, 430.0, 460.0])
def test_find_e1_noiseless_sub_pixel(e1_nm):
    r = find_e1(WL, qd_absorbance(WL, e1_nm), search_nm=CDS_SEARCH)
    assert r.found and r.is_peak
    # pixels are ≈ 0.44 nm; the residual is the asymmetry of neighbouring transitions
    assert r.e1_nm == pytest.approx(e1_nm, abs=0.2)
    assert r.absorbance == pytest.approx(0.3, rel=0.15)


def test_find_e1_sizes_cds_per_science_md():
    """CdS E1 404 nm → D ≈ 3.5 nm (r 1.75 nm); 460 nm → D ≈ 5.7 nm."""
    stack = np.stack([qd_absorbance(WL, 404.0, noise=0.002, seed=1),
                      qd_absorbance(WL, 460.0, noise=0.002, seed=2)])
    r = find_e1(WL, stack, search_nm=CDS_SEARCH)
    d = sizing.diameter_nm(r.e1_nm, "CdS")
    np.testing.assert_allclose(d, [3.5, 5.7], atol=0.05)


def test_find_e1_uncertainty_matches_scatter_of_noisy_repeats():
    stack = qd_absorbance(WL, 430.0, noise=0.002, n=400, seed=7)
    r = find_e1(WL, stack, search_nm=CDS_SEARCH)
    assert r.found.all()
    spread = np.std(r.e1_nm)
    assert abs(np.mean(r.e1_nm) - 430.0) < 0.2
    assert 0.6 < np.median(r.uncertainty_nm) / spread < 1.6


def test_find_e1_with_scattering_background():
    # scattering absorbance 2 at 400 nm: six times the exciton
    stack = qd_absorbance(WL, 430.0, scatter_at_400=2.0, noise=0.003, n=200, seed=3)
    r = find_e1(WL, stack, search_nm=CDS_SEARCH)
    assert r.found.mean() >= 0.99
    assert np.nanmedian(r.e1_nm) == pytest.approx(430.0, abs=0.3)
    assert np.nanpercentile(np.abs(r.e1_nm - 430.0), 99) < 3.0


def test_find_e1_with_saturated_blue_region_masked():
    stack = qd_absorbance(WL, 460.0, scatter_at_400=1.0, noise=0.003, n=100, seed=4)
    stack[stack > 1.5] = np.nan                      # detector saturated: NaN up to ~400 nm
    masked_to = WL[np.isnan(stack[0])].max()
    assert 380 < masked_to < 420
    r = find_e1(WL, stack, search_nm=(330.0, 520.0))
    assert r.found.all()
    assert np.median(r.e1_nm) == pytest.approx(460.0, abs=0.3)


def test_find_e1_shoulder_without_maximum():
    a = qd_absorbance(WL, 430.0, shoulder_only=True, noise=0.001, seed=5)
    # the smoothed spectrum has no local maximum near E1 ...
    sm = smooth(a, 21, 3)
    core = (WL > 415) & (WL < 445)
    assert np.all(np.diff(sm[core]) < 0)
    r = find_e1(WL, a, search_nm=CDS_SEARCH)
    assert r.found and not r.is_peak
    # the strong neighbour's curvature pulls a shoulder's d2 minimum by ~1 nm
    assert r.e1_nm == pytest.approx(430.0, abs=1.5)


def test_find_e1_reports_not_found_on_noise_or_bare_scattering():
    rng = np.random.default_rng(11)
    noise = rng.normal(0, 0.002, (3000, WL.size))
    assert not find_e1(WL, noise, search_nm=CDS_SEARCH).found.any()
    scatter = 2.0 * (WL / 400.0) ** -4 + rng.normal(0, 0.002, (500, WL.size))
    r = find_e1(WL, scatter, search_nm=CDS_SEARCH)
    assert not r.found.any()
    assert np.isnan(r.e1_nm).all()


def test_find_e1_single_matches_stack_and_descending_axis():
    stack = qd_absorbance(WL, 420.0, noise=0.002, n=3, seed=9)
    r = find_e1(WL, stack, search_nm=CDS_SEARCH)
    one = find_e1(WL, stack[1], search_nm=CDS_SEARCH)
    assert isinstance(one.e1_nm, float) and isinstance(one.found, bool)
    assert one.e1_nm == pytest.approx(r.e1_nm[1], abs=1e-9)
    flipped = find_e1(WL[::-1], stack[1][::-1], search_nm=CDS_SEARCH)
    assert flipped.e1_nm == pytest.approx(one.e1_nm, abs=1e-9)
    assert one.e1_ev == pytest.approx(HC / one.e1_nm)


def test_find_e1_picks_the_reddest_feature_and_respects_search_range():
    a = msc_absorbance(WL, msc449=0.5)
    assert find_e1(WL, a, search_nm=(380.0, 600.0), window_nm=6).e1_nm == pytest.approx(449, abs=0.3)
    assert find_e1(WL, a, search_nm=(380.0, 430.0), window_nm=6).e1_nm == pytest.approx(405, abs=0.3)


def test_find_e1_maximum_method_on_a_symmetric_peak():
    a = gaussian(WL, 452.3, 9.0, 0.4) + np.random.default_rng(2).normal(0, 0.001, WL.size)
    r = find_e1(WL, a, method="maximum")
    assert r.is_peak and r.e1_nm == pytest.approx(452.3, abs=0.15)
    with pytest.raises(ValueError, match="method"):
        find_e1(WL, a, method="centroid")


def test_find_e1_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="does not match"):
        find_e1(WL, np.zeros(100))


# -- feature lists, band gap, decomposition, FWHM ------------------------------

def test_second_derivative_minima_lists_msc_peaks_with_widths_not_valleys():
    a = msc_absorbance(WL, msc449=0.5, qd_band=0.15, noise=0.001)
    f = second_derivative_minima(WL, a, search_nm=(380.0, 600.0), window_nm=6)
    np.testing.assert_allclose(f.position_nm, [405.0, 449.0], atol=0.5)
    np.testing.assert_allclose(f.fwhm_nm, [10.0, 12.0], rtol=0.15)
    # the broad band curves 50× less than the sharp cluster peak: lower the relative bar
    wide = second_derivative_minima(WL, a, search_nm=(380.0, 600.0), window_nm=20,
                                    min_relative=0.01)
    assert wide.position_nm[-1] == pytest.approx(510.0, abs=3.0)
    assert wide.fwhm_nm[-1] == pytest.approx(50.0, rel=0.25)
    assert len(wide.as_records()) == len(wide)


@pytest.mark.parametrize("gap", [2.14, 2.30, 2.46])
def test_band_gap_from_second_derivative_minimum(gap):
    """SCIENCE.md B: Zn–Cu–In–S gaps 2.14–2.46 eV from d²A/dE² minima."""
    e = HC / WL
    a = gaussian(e, gap, 0.08, 0.3) + 0.5 * (1 + np.tanh((e - gap - 0.55) / 0.15))
    a = a + np.random.default_rng(1).normal(0, 0.002, WL.size)
    assert band_gap_ev(WL, a, search_ev=(1.8, 3.0)) == pytest.approx(gap, abs=0.015)


def test_band_gap_vectorised_and_not_found():
    e = HC / WL
    stack = np.stack([gaussian(e, g, 0.08, 0.3) + 0.2 * (e > 3.5) for g in (2.2, 2.4)])
    np.testing.assert_allclose(band_gap_ev(WL, stack, search_ev=(1.8, 3.0)), [2.2, 2.4], atol=0.01)
    assert np.isnan(band_gap_ev(WL, 0.1 * (WL / 400) ** -4, search_ev=(1.8, 3.0)))


def test_decompose_gaussians_with_size_dispersion_width_law():
    energy = np.linspace(1.9, 3.4, 700)
    d_rel = 0.05
    true = [(2.24, 0.5), (2.55, 0.35), (3.0, 0.6)]
    a = sum(gaussian(energy, c, 2 * (c - 1.74) * d_rel, h) for c, h in true)
    a = a + np.random.default_rng(0).normal(0, 0.002, energy.size)
    fit = decompose_gaussians(energy, a, bulk_gap_ev=1.74, relative_dispersion=0.08,
                              window_ev=0.05)
    assert fit.success
    np.testing.assert_allclose(fit.centroids_ev, [c for c, _ in true], atol=0.005)
    np.testing.assert_allclose(fit.amplitudes, [h for _, h in true], rtol=0.05)
    assert fit.relative_dispersion == pytest.approx(d_rel, rel=0.05)
    assert fit.residual_rms < 0.003
    np.testing.assert_allclose(fit(energy), a, atol=0.01)


def test_decompose_gaussians_free_widths_and_given_centroids():
    energy = np.linspace(1.5, 3.0, 500)
    a = gaussian(energy, 2.0, 0.06, 0.4) + gaussian(energy, 2.4, 0.12, 0.3) + 0.05
    fit = decompose_gaussians(energy[::-1], a[::-1], centroids_ev=[2.03, 2.37],
                              background_order=0)
    np.testing.assert_allclose(fit.centroids_ev, [2.0, 2.4], atol=1e-3)
    np.testing.assert_allclose(fit.widths_ev, [0.06, 0.12], rtol=0.01)
    assert fit.background[0] == pytest.approx(0.05, abs=1e-3)
    assert np.isnan(fit.relative_dispersion)
    with pytest.raises(ValueError, match="bulk gap"):
        decompose_gaussians(energy, a, centroids_ev=[1.6], bulk_gap_ev=1.74)


def test_fwhm_of_emission_band_in_nm_and_mev():
    """SCIENCE.md E quotes PL widths in meV (109–196 meV)."""
    e = HC / WL
    sigma_ev = 0.150 / 2.3548
    em = gaussian(e, 2.21, sigma_ev, 5000.0) + 100.0
    r = fwhm(WL, em, search_nm=(480.0, 700.0), baseline=100.0)
    assert r.found
    assert r.fwhm_mev == pytest.approx(150.0, rel=0.01)
    assert r.peak_nm == pytest.approx(HC / 2.21, abs=0.3)
    assert r.peak_intensity == pytest.approx(5100.0, rel=0.01)
    lam_lo, lam_hi = HC / (2.21 + 0.075), HC / (2.21 - 0.075)
    assert r.fwhm_nm == pytest.approx(lam_hi - lam_lo, rel=0.01)
    stack = np.stack([em, gaussian(e, 2.0, sigma_ev, 3000.0) + 100.0])
    rs = fwhm(WL, stack, search_nm=(480.0, 700.0), baseline="edges")
    np.testing.assert_allclose(rs.fwhm_mev, 150.0, rtol=0.02)
    # band cut by the range: no half-maximum crossing on one side
    cut = fwhm(WL, em, search_nm=(560.0, 700.0), baseline=100.0)
    assert not cut.found and np.isnan(cut.fwhm_nm)
