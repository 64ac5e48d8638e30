"""Reports from synthetic runs written by a RunEngine into an embedded Tiled catalog.

Readings carry device-clock timestamps exactly like the simulated devices'
(virtual time, one spectrum every 30 min), so every time axis has a known answer.
"""

from __future__ import annotations

import csv
import json
import math

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
import pandas as pd
import pytest
from ophyd import Component as Cpt
from ophyd import Device, Signal

from photoreactor.analysis.report import (
    RunData,
    build_figures,
    load_run,
    summarize_run,
    write_report,
    zone_results_for_group,
)

from .synthetic import msc_absorbance, qd_absorbance, wavelength_axis

WL = wavelength_axis()
T0 = 1.9e9                   # a device-clock epoch far from the wall clock, as in simulation
STEP_S = 1800.0
E1_TRUE = np.array([400.0, 405.0, 410.0, 415.0, 420.0, 425.0])


class Spectrometer(Device):
    absorbance = Cpt(Signal, value=np.zeros(WL.size), kind="normal")
    wavelengths = Cpt(Signal, value=WL, kind="config")


def _signal(name, value=0.0, units=None):
    s = Signal(name=name, value=value)
    if units:
        desc = s.describe

        def describe():
            d = desc()
            d[name]["units"] = units
            return d

        s.describe = describe
    return s


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One catalog holding every run these tests read (written once: opening an
    embedded catalog and ingesting is the slow part, reading is cheap)."""
    from bluesky import RunEngine

    from photoreactor.storage import open_catalog

    cat = open_catalog({"kind": "embedded"}, tmp_path_factory.mktemp("catalog"))
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(cat.writer)
    uids = {"growth": RE(growth_run()).run_start_uids[0],
            "growth_no_e1": RE(growth_run(record_e1=False)).run_start_uids[0]}
    for solvent, builder in MAP_BUILDERS.items():
        uids[f"map-{solvent}"] = RE(mapping_run("map-1", {"solvent": solvent, "te_mmol": 1.0},
                                                builder)).run_start_uids[0]
    uids["recorded"] = RE(recorded_zone_run("map-2", {"solvent": "toluene"},
                                            "MSC only")).run_start_uids[0]
    yield cat, uids
    cat.close()


def growth_run(record_e1=True, md=None):
    spec = Spectrometer(name="spectrometer")
    sig = {n: _signal(n, units=u) for n, u in (
        ("e1_nm", "nm"), ("diameter_nm", "nm"), ("mantle_temperature", "degC"),
        ("mantle_setpoint", "degC"), ("led_irradiance", "mW/cm^2"),
        ("led_photon_dose", "umol/cm^2"))}
    reagent = _signal("dose_reagent", "")
    vol = _signal("dose_volume_ml", units="mL")
    mol = _signal("dose_mol", units="mol")
    label = _signal("aliquot_label", "")
    primary = [spec] + [s for k, s in sig.items() if record_e1 or k not in ("e1_nm", "diameter_nm")]

    @bpp.run_decorator(md={"plan_name": "grow_until", "sample": "CdS test", **(md or {})})
    def plan():
        for i, e1 in enumerate(E1_TRUE):
            t = T0 + i * STEP_S
            spec.absorbance.put(qd_absorbance(WL, e1, noise=0.001, seed=i), timestamp=t)
            sig["e1_nm"].put(e1, timestamp=t)
            sig["diameter_nm"].put(3.0 + 0.1 * i, timestamp=t)
            sig["mantle_temperature"].put(238.0 + i, timestamp=t)
            sig["mantle_setpoint"].put(240.0, timestamp=t)
            sig["led_irradiance"].put(5.0 if i >= 2 else 0.0, timestamp=t)
            sig["led_photon_dose"].put(0.1 * max(i - 2, 0), timestamp=t)
            yield from bps.trigger_and_read(primary)
            if i in (1, 3):
                for s, v in ((reagent, "Cd oleate"), (vol, 0.5), (mol, 2e-5)):
                    s.put(v, timestamp=t + 60.0)
                yield from bps.trigger_and_read([reagent, vol, mol], name="dose")
            if i == 4:
                label.put("GC 2 h")               # a soft signal: stamped with wall time
                yield from bps.trigger_and_read([label], name="aliquot")

    return plan()


def _read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_load_run_time_axis_from_device_clock(store):
    catalog, uids = store
    uid = uids["growth"]
    data = load_run(catalog.client[uid])
    assert data.uid == uid and data.start["plan_name"] == "grow_until"
    p = data.primary
    assert len(p) == 6
    np.testing.assert_allclose(p.time, T0 + STEP_S * np.arange(6))
    # the origin is the start document carried onto the device clock: the wall-clock
    # moment before the first event, plus the device clock's lead (here ≈ T0 - now)
    assert 0 <= p.time[0] - data.t0 < 5.0
    np.testing.assert_allclose(data.elapsed_h(p), 0.5 * np.arange(6), atol=2e-3)
    np.testing.assert_allclose(data.elapsed_h(data.stream("dose")),
                               [0.5 + 60 / 3600, 1.5 + 60 / 3600], atol=2e-3)
    # a wall-stamped event lands between the device-stamped events around it
    aliquot_h = data.elapsed_h(data.stream("aliquot"))[0]
    assert 2.0 <= aliquot_h <= 2.5
    np.testing.assert_allclose(p.get("e1_nm"), E1_TRUE)
    assert p.key("temperature") == "mantle_temperature"
    assert p.units("irradiance") == "mW/cm^2"
    np.testing.assert_allclose(data.wavelengths_nm(), WL)
    assert p.get("absorbance").shape == (6, WL.size)
    assert load_run(data) is data


def test_report_tables_hold_the_recorded_values(store, tmp_path):
    catalog, uids = store
    uid = uids["growth"]
    paths = write_report(catalog.client[uid], tmp_path / "report")
    names = {p.name for p in paths}
    assert {"spectra.png", "e1_size.png", "conditions.png", "timeseries.csv", "dose.csv",
            "spectra_absorbance.csv", "summary.json"} <= names
    for p in paths:
        assert p.stat().st_size > 0
    assert (tmp_path / "report" / "spectra.png").read_bytes()[:4] == b"\x89PNG"

    rows = _read_csv(tmp_path / "report" / "timeseries.csv")
    assert [float(r["e1_nm"]) for r in rows] == list(E1_TRUE)
    np.testing.assert_allclose([float(r["elapsed_h"]) for r in rows], 0.5 * np.arange(6),
                               atol=2e-3)
    assert [float(r["mantle_temperature"]) for r in rows] == [238.0 + i for i in range(6)]
    doses = _read_csv(tmp_path / "report" / "dose.csv")
    assert [d["dose_reagent"] for d in doses] == ["Cd oleate", "Cd oleate"]
    assert [float(d["dose_volume_ml"]) for d in doses] == [0.5, 0.5]

    with open(tmp_path / "report" / "spectra_absorbance.csv") as fh:
        matrix = list(csv.reader(fh))
    assert matrix[0][0] == "wavelength_nm" and len(matrix[0]) == 7
    assert len(matrix) == WL.size + 1
    row = 1000
    assert float(matrix[row + 1][0]) == pytest.approx(WL[row])
    assert float(matrix[row + 1][4]) == pytest.approx(
        qd_absorbance(WL, E1_TRUE[3], noise=0.001, seed=3)[row])

    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["final_e1_nm"] == 425.0
    assert summary["doses"] == 2 and summary["dosed_ml"] == {"Cd oleate": 1.0}


def test_report_figures_plot_the_data(store):
    catalog, uids = store
    uid = uids["growth"]
    figs = build_figures(load_run(catalog.client[uid]))
    assert set(figs) == {"spectra", "e1_size", "conditions"}

    spectra_ax = figs["spectra"].axes[0]
    assert len(spectra_ax.lines) == 6
    np.testing.assert_allclose(spectra_ax.lines[2].get_xdata(), WL)
    np.testing.assert_allclose(spectra_ax.lines[2].get_ydata(),
                               qd_absorbance(WL, E1_TRUE[2], noise=0.001, seed=2))

    e1_ax = figs["e1_size"].axes[0]
    e1_line = e1_ax.lines[0]
    np.testing.assert_allclose(e1_line.get_xdata(), 0.5 * np.arange(6), atol=2e-3)
    np.testing.assert_allclose(e1_line.get_ydata(), E1_TRUE)
    dose_x = sorted(float(ln.get_xdata()[0]) for ln in e1_ax.lines[1:] if len(ln.get_xdata()))
    np.testing.assert_allclose(dose_x, [0.5 + 60 / 3600, 1.5 + 60 / 3600], atol=2e-3)
    diam_ax = figs["e1_size"].axes[1]
    np.testing.assert_allclose(diam_ax.lines[0].get_ydata(), 3.0 + 0.1 * np.arange(6))

    temp_ax, irr_ax, dose_ax = figs["conditions"].axes
    np.testing.assert_allclose(temp_ax.lines[0].get_ydata(), 238.0 + np.arange(6))
    np.testing.assert_allclose(irr_ax.lines[0].get_ydata(), [0, 0, 5, 5, 5, 5])
    np.testing.assert_allclose(dose_ax.lines[0].get_ydata(), [0, 0, 0, 0.1, 0.2, 0.3])
    assert "umol/cm^2" in dose_ax.get_ylabel()


def test_summary_of_a_run_and_e1_found_when_not_recorded(store):
    catalog, uids = store
    s = summarize_run(catalog.client[uids["growth_no_e1"]])
    assert s["plan"] == "grow_until" and s["sample"] == "CdS test"
    assert s["exit_status"] == "success"
    assert s["events"] == {"primary": 6, "dose": 2, "aliquot": 1}
    assert s["final_e1_nm"] == pytest.approx(425.0, abs=0.3)     # from the spectra
    assert math.isnan(s["final_diameter_nm"])
    assert s["duration_h"] == pytest.approx(2.5, abs=0.01)         # on the device clock
    assert s["max_temperature_c"] == 243.0
    assert s["photon_dose"] == pytest.approx(0.3) and s["photon_dose_units"] == "umol/cm^2"
    assert s["dosed_mol"] == {"Cd oleate": pytest.approx(4e-5)}
    json.dumps(s)                                                  # the CLI prints it as JSON


def mapping_run(group_id, condition, builder):
    spec = Spectrometer(name="spectrometer")

    @bpp.run_decorator(md={"plan_name": "msc_timecourse", "group_id": group_id,
                           "condition": condition})
    def plan():
        for i, h in enumerate((0.5, 1, 2, 4, 8, 24)):
            a = msc_absorbance(WL, noise=0.002, seed=i, **builder(h))
            spec.absorbance.put(a, timestamp=T0 + h * 3600)
            yield from bps.trigger_and_read([spec])

    return plan()


MAP_BUILDERS = {
    "toluene": lambda h: {"msc449": 0.3} if h >= 1 else {},
    "ODE": lambda h: ({"msc449": 0.3} if h < 4 else
                      {"msc449": 0.05, "msc469": 0.3, "qd_band": 0.1}) if h >= 1 else {},
    "octane-no-OAm": lambda h: {"precursor430": 0.01 * h},
}


def test_zone_map_of_a_mapping_group(store, tmp_path):
    catalog, uids = store
    results = zone_results_for_group(catalog.client, "map-1")
    zones = {r.conditions["solvent"]: r.zone for r in results}
    assert zones == {"toluene": "MSC only", "ODE": "MSC + other species",
                     "octane-no-OAm": "no MSC"}
    first = catalog.client[uids["map-toluene"]]
    paths = write_report(first, tmp_path / "map")         # finds its group in its own catalog
    assert "zone_map.png" in {p.name for p in paths}
    fig = build_figures(load_run(first), zone_results=results)["zone_map"]
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    texts = {t.get_text() for t in ax.texts}
    assert sorted(labels) == sorted(MAP_BUILDERS)
    assert texts == {"MSC only", "MSC + other species", "no MSC"}


def recorded_zone_run(group_id, condition, zone):
    """A mapping run whose plan classified it and recorded the zone (no spectra)."""
    sig = Signal(name="zone", value="")

    @bpp.run_decorator(md={"plan_name": "msc_timecourse", "group_id": group_id,
                           "condition": condition})
    def plan():
        sig.put(zone)
        yield from bps.trigger_and_read([sig], name="zone")

    return plan()


def test_recorded_zone_is_used_and_summarised(store):
    catalog, uids = store
    (result,) = zone_results_for_group(catalog.client, "map-2")
    assert result.zone == "MSC only" and result.conditions == {"solvent": "toluene"}
    assert summarize_run(catalog.client[uids["recorded"]])["zone"] == "MSC only"


class _Node:
    """The earlier TiledWriter layout: a stream holds an ``internal`` table and
    ``external`` arrays; descriptors in the stream metadata."""

    def __init__(self, children=None, metadata=None, value=None):
        self._children = children or {}
        self.metadata = metadata or {}
        self._value = value

    def __iter__(self):
        return iter(self._children)

    def __getitem__(self, key):
        return self._children[key]

    def read(self):
        return self._value


def test_load_run_reads_internal_external_layout():
    t = T0 + STEP_S * np.arange(3)
    table = pd.DataFrame({"time": t, "mantle_temperature": [25.0, 26.0, 27.0],
                          "ts_mantle_temperature": t})
    wl = np.linspace(300, 700, 20)
    spectra = np.arange(60, dtype=float).reshape(3, 20)
    stream = _Node({"internal": _Node(value=table),
                    "external": _Node({"spectrometer_absorbance": _Node(value=spectra)})},
                   metadata={"descriptors": [{"configuration": {"spectrometer": {"data": {
                       "spectrometer_wavelengths": list(wl)}}}, "data_keys": {}}]})
    run = _Node({"streams": _Node({"primary": stream})},
                metadata={"start": {"uid": "abc", "time": T0 - 10, "plan_name": "x"},
                          "stop": {"exit_status": "abort", "time": T0 + 4000}})
    data = load_run(run)
    assert isinstance(data, RunData)
    np.testing.assert_allclose(data.primary.get("temperature"), [25, 26, 27])
    np.testing.assert_allclose(data.wavelengths_nm(), wl)
    np.testing.assert_allclose(data.primary.get("absorbance"), spectra)
    s = summarize_run(data)
    assert s["exit_status"] == "abort" and s["max_temperature_c"] == 27.0
