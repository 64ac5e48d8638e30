"""Reaction-zone classification on synthetic CdTe MSC time series (SCIENCE.md C)."""

from __future__ import annotations

import numpy as np
import pytest

from photoreactor.analysis.zones import ZONES, classify_series, classify_spectrum, zone_map

from .synthetic import msc_absorbance, wavelength_axis

WL = wavelength_axis()
HOURS = np.array([0.5, 1, 1.5, 2, 4, 8, 23, 24])     # the study's aliquot times


def series(builder, noise=0.002, seed=0):
    return np.stack([msc_absorbance(WL, noise=noise, seed=seed + i, **builder(h))
                     for i, h in enumerate(HOURS)])


def toluene_standard(h):
    """Pure 449 nm MSC: nothing at 0.5 h, sharp 449 from 1 h, maximum at ≈ 2 h."""
    return {"msc449": 0.0 if h < 1 else 0.4 * min(h, 2.0) / 2.0}


def ode_standard(h):
    """449 at 1 h; falls at 4 h as a ≈ 500 nm QD band appears; 469/427 nm by 24 h."""
    if h < 1:
        return {}
    if h <= 2:
        return {"msc449": 0.2 * h}
    if h <= 4:
        return {"msc449": 0.2, "qd_band": 0.08, "qd_centre_nm": 500.0}
    return {"msc449": 0.05, "msc469": 0.3 * min(h, 24) / 24, "qd_band": 0.1,
            "qd_centre_nm": 520.0}


def no_oam(h):
    """OAm 0 mmol: no MSC, a broad ≈ 430 nm species grows for 24 h."""
    return {"precursor430": 0.02 * h}


def oam_6_mmol(h):
    """OAm 6 mmol: a mixture of 449 nm MSC and the ≈ 430 nm species."""
    return {} if h < 1 else {"msc449": 0.2, "precursor430": 0.12}


def no_top(h):
    return {}


def test_single_spectra_species():
    s = classify_spectrum(WL, msc_absorbance(WL, msc449=0.3, noise=0.002), time_s=3600)
    assert s.species == {"msc449", "msc449_e2"} and s.has_msc and not s.others
    f = {x.species: x for x in s.features}
    assert f["msc449"].position_nm == pytest.approx(449.0, abs=0.5)
    assert f["msc449"].fwhm_nm == pytest.approx(12.0, rel=0.1)
    assert f["msc449"].height == pytest.approx(0.3, rel=0.05)
    assert f["msc449_e2"].position_nm == pytest.approx(405.0, abs=0.5)
    two = classify_spectrum(WL, msc_absorbance(WL, msc449=0.1, msc469=0.3, noise=0.002))
    assert {"msc449", "msc469"} <= two.species
    qd = classify_spectrum(WL, msc_absorbance(WL, qd_band=0.2, qd_centre_nm=540.0, noise=0.002))
    assert qd.species == {"qd"} and qd.features[0].fwhm_nm == pytest.approx(50, rel=0.2)
    assert classify_spectrum(WL, msc_absorbance(WL, noise=0.002)).features == ()


def test_strong_scattering_does_not_invent_species():
    s = classify_spectrum(WL, msc_absorbance(WL, msc449=0.2, scatter_at_400=0.8, noise=0.002))
    assert s.species == {"msc449", "msc449_e2"}


def test_toluene_standard_is_msc_only_with_timing():
    r = classify_series(WL, series(toluene_standard), HOURS * 3600,
                        conditions={"solvent": "toluene"})
    assert r.zone == "MSC only"
    assert r.first_seen_s["msc449"] == 3600
    assert r.msc_max_time_s >= 2 * 3600
    assert r.msc_max_absorbance == pytest.approx(0.4, rel=0.05)
    assert r.spectra[0].features == ()                 # 0.5 h: no absorption
    assert "MSC only" in r.summary()


def test_ode_standard_develops_other_species():
    r = classify_series(WL, series(ode_standard), HOURS * 3600, conditions={"solvent": "ODE"})
    assert r.zone == "MSC + other species"
    assert r.first_seen_s["msc449"] == 3600
    assert r.first_seen_s["qd"] == 4 * 3600
    assert r.first_seen_s["msc469"] == 8 * 3600
    last = {f.species: f for f in r.spectra[-1].features}
    assert last["msc469"].position_nm == pytest.approx(469.0, abs=0.5)
    ev = r.evidence()
    assert ev["zone"] == r.zone and len(ev["spectra"]) == HOURS.size
    assert r.describe() == ev


def test_precursor_only_and_nothing_are_no_msc():
    r = classify_series(WL, series(no_oam), HOURS * 3600)
    assert r.zone == "no MSC"
    assert "precursor430" in r.first_seen_s
    assert np.isnan(r.msc_max_time_s)
    empty = classify_series(WL, series(no_top), HOURS * 3600)
    assert empty.zone == "no MSC" and empty.first_seen_s == {}


def test_msc_with_precursor_is_a_mixture():
    r = classify_series(WL, series(oam_6_mmol), HOURS * 3600)
    assert r.zone == "MSC + other species"
    assert {"msc449", "precursor430"} <= set(r.first_seen_s)


def test_series_sorted_by_time_and_shape_checked():
    spectra = series(toluene_standard)
    r = classify_series(WL, spectra[::-1], (HOURS * 3600)[::-1])
    assert [s.time_s for s in r.spectra] == sorted(HOURS * 3600)
    with pytest.raises(ValueError, match="spectra but"):
        classify_series(WL, spectra, HOURS[:3])
    with pytest.raises(ValueError, match="wavelengths_nm, absorbance"):
        classify_series(list(HOURS), WL, list(spectra))      # arguments in the wrong order


def test_zone_map_grid_of_two_coordinates():
    runs = []
    for solvent, builder in (("toluene", toluene_standard), ("ODE", ode_standard)):
        for oam in (0.0, 6.0, 37.4):
            b = builder if oam > 12.6 else (no_oam if oam == 0 else oam_6_mmol)
            runs.append(classify_series(WL, series(b), HOURS * 3600,
                                        conditions={"solvent": solvent, "oam_mmol": oam,
                                                    "te_mmol": 1.0}))
    zm = zone_map(runs)
    assert zm.x_key == "solvent" and zm.y_key == "oam_mmol"
    assert zm.x_values == ["ODE", "toluene"] and zm.y_values == [0.0, 6.0, 37.4]
    assert zm.zone_at("toluene", 37.4) == "MSC only"
    assert zm.zone_at("ODE", 37.4) == "MSC + other species"
    assert zm.zone_at("toluene", 0.0) == "no MSC"
    assert zm.codes.shape == (3, 2) and zm.duplicates == 0
    assert {ZONES[c] for c in zm.codes.ravel()} == set(ZONES)
    recs = zm.records()
    assert len(recs) == 6 and {"solvent", "oam_mmol", "zone"} <= set(recs[0])
    one_axis = zone_map(runs[:3], x_key="oam_mmol")
    assert one_axis.y_key is None and one_axis.codes.shape == (1, 3)
    with pytest.raises(ValueError, match="varies"):
        zone_map(runs[:1])
