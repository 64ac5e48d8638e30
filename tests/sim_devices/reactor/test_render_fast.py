"""The windowed renderers equal a plain sum of every band over the whole grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from photoreactor.sim_devices.reactor import spectra
from photoreactor.sim_devices.reactor.materials import HC_EV_NM


def _reference_absorbance(bands, wl):
    wl = np.asarray(wl, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = HC_EV_NM / np.where(wl > 0, wl, np.nan)
    out = np.zeros_like(wl)
    for b in bands:
        if b[0] == "g":
            out += b[3] * np.exp(-0.5 * ((e - b[1]) / b[2]) ** 2)
        elif b[0] == "c":
            out += 0.5 * b[3] * (1.0 + np.tanh(0.5 * (e - b[1]) / b[2]))
        else:
            with np.errstate(divide="ignore"):
                out += b[1] * (wl / 500.0) ** (-b[2])
    out[~(wl > 0)] = 0.0
    return out


def _reference_emission(lines, wl):
    wl = np.asarray(wl, float)
    e = HC_EV_NM / wl
    out = np.zeros_like(wl)
    for _, e0, s, p in lines:
        if p > 0:
            out += p / (s * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((e - e0) / s) ** 2) * e * e / HC_EV_NM
    return out


def _random_bands(rng):
    # widths from 0.02 eV: the narrowest physical band is the 0.025-eV homogeneous width
    bands = []
    for _ in range(rng.integers(0, 12)):
        kind = rng.choice(["g", "c", "s"], p=[0.5, 0.4, 0.1])
        if kind == "g":
            bands.append(("g", rng.uniform(0.5, 7.0), rng.uniform(0.02, 0.5), rng.uniform(0, 3)))
        elif kind == "c":
            bands.append(("c", rng.uniform(0.5, 7.0), rng.uniform(0.01, 0.3), rng.uniform(0, 10)))
        else:
            bands.append(("s", rng.uniform(0, 2), rng.uniform(0, 4)))
    if bands and rng.random() < 0.5:          # identical shapes are merged: exercise it
        bands.append(bands[0])
    return bands


GRIDS = {
    "ascending": np.linspace(200.0, 1100.0, 2048),
    "descending": np.linspace(1100.0, 200.0, 2048),
    "unsorted": np.random.default_rng(3).uniform(200.0, 1100.0, 500),
    "single": np.array([450.0]),
    "empty": np.array([]),
    "with zero": np.linspace(0.0, 900.0, 301),
}


@pytest.mark.parametrize("grid", list(GRIDS))
def test_render_absorbance_matches_the_plain_sum(grid):
    wl = GRIDS[grid]
    rng = np.random.default_rng(7)
    for _ in range(200):
        bands = _random_bands(rng)
        got = spectra.render_absorbance(bands, wl)
        ref = _reference_absorbance(bands, wl)
        assert got.shape == wl.shape
        scale = max(np.max(np.abs(ref)) if ref.size else 0.0, 1e-300)
        assert np.all(np.abs(got - ref) <= 1e-12 * scale), bands


@pytest.mark.parametrize("grid", ["ascending", "descending", "unsorted", "single", "empty"])
def test_render_emission_matches_the_plain_sum(grid):
    wl = GRIDS[grid]
    rng = np.random.default_rng(11)
    for _ in range(200):
        lines = [("g", rng.uniform(0.5, 7.0), rng.uniform(0.02, 0.5), rng.uniform(-1, 3))
                 for _ in range(rng.integers(0, 6))]
        got = spectra.render_emission(lines, wl)
        ref = _reference_emission(lines, wl)
        scale = max(np.max(np.abs(ref)) if ref.size else 0.0, 1e-300)
        assert np.all(np.abs(got - ref) <= 1e-12 * scale), lines


def test_unknown_band_kind_is_rejected():
    with pytest.raises(ValueError):
        spectra.render_absorbance([("x", 1.0)], np.linspace(400, 500, 11))
