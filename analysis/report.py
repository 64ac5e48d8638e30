"""Figures, tables and summaries of finished runs.

:func:`load_run` is the **one** place that reads a run from the catalog: it
turns a Tiled node for one Bluesky run (``catalog.client[uid]``) into a
:class:`RunData` of plain numpy columns per stream.  Everything else here —
:func:`build_figures`, :func:`write_tables`, :func:`write_report`,
:func:`summarize_run` — works on :class:`RunData`, so when the storage layer
changes only the loader has to follow.

Layouts the loader understands (tiled 0.2.x):

* ``run[stream]`` a composite/container node whose ``read()`` gives an xarray
  Dataset with one variable per data key, ``time``, ``seq_num`` and
  ``ts_<key>`` timestamps (bluesky 1.15's TiledWriter);
* ``run[stream]["internal"]`` (a table of scalars) plus
  ``run[stream]["external"][key]`` arrays (earlier TiledWriter);
* ``run["streams"][stream]`` (later bluesky) — looked into transparently;
* descriptor configuration either in the stream metadata's
  ``configuration`` or in ``descriptors[0]["configuration"]``.

What the report contains (each item skipped when its data is absent):

``spectra.png``
    Spectral evolution (absorbance; emission; else raw counts), coloured by
    time since the run started.
``e1_size.png``
    E1 (nm) and diameter (nm) — or band gap (eV) — vs time, doses marked.
    E1 is computed with :func:`..spectra.find_e1` when the plan did not record it.
``conditions.png``
    Temperature and setpoint; irradiance; photon dose (recorded by the LED, or
    integrated from the irradiance history).
``zone_map.png``
    For runs of a mapping group (``group_id`` in the start document): the zone
    of every run of the group on its reaction coordinates.
``timeseries.csv``, ``<stream>.csv``, ``spectra_<kind>.csv``, ``summary.json``
    Scalars per event of the primary and the other streams, spectra as a
    wavelength × time matrix, and :func:`summarize_run`.

Figures use matplotlib's object API on the Agg canvas (no pyplot state), so a
report can be written from any thread and never opens a window.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SPECTRUM_KEYS = ("absorbance", "emission", "counts")


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------

@dataclass
class Stream:
    """One event stream as numpy columns (rows = events, in time order)."""

    name: str
    data: dict[str, np.ndarray]
    time: np.ndarray
    timestamps: dict[str, np.ndarray] = field(default_factory=dict)
    data_keys: dict = field(default_factory=dict)
    configuration: dict = field(default_factory=dict)
    event_time: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.time.size)

    def key(self, name: str, ndim: int | None = None) -> str | None:
        """The data key called ``name``, else the shortest key ending in ``_<name>``.

        ``ndim`` (1 scalars per event, 2 spectra) tells ``e1_absorbance`` from
        ``spectrometer_absorbance``; "shortest" prefers ``mantle_temperature`` to
        ``mantle_plate_temperature``.
        """
        hits = [k for k in self.data if k == name or k.endswith("_" + name)]
        if ndim is not None:
            hits = [k for k in hits if self.data[k].ndim == ndim]
        if not hits:
            return None
        return name if name in hits else min(hits, key=lambda k: (len(k), k))

    def get(self, name: str, ndim: int | None = None):
        k = self.key(name, ndim)
        return None if k is None else self.data[k]

    def units(self, name: str) -> str:
        k = self.key(name) or name
        return str(self.data_keys.get(k, {}).get("units", "") or "")

    def config_value(self, name: str):
        """A configuration reading (e.g. ``spectrometer_wavelengths``) by key or suffix."""
        for obj in self.configuration.values():
            data = obj.get("data", {}) if isinstance(obj, Mapping) else {}
            if name in data:
                return data[name]
            hits = [k for k in data if k.endswith("_" + name)]
            if len(hits) == 1:
                return data[hits[0]]
        return None

    def scalar_columns(self) -> list[str]:
        return [k for k, v in self.data.items() if v.ndim == 1]


@dataclass
class RunData:
    """A run's documents' metadata and every stream's columns."""

    uid: str
    start: dict
    stop: dict
    streams: dict[str, Stream]
    t_start: float = math.nan
    t_stop: float = math.nan

    @property
    def t0(self) -> float:
        """The run's start on the device clock (the origin of every time axis).

        ``start["clock_start_s"]`` when the session recorded it, else the start
        document's time carried onto the device clock (see :func:`_device_clock`),
        else the first event.
        """
        if "clock_start_s" in self.start:
            return float(self.start["clock_start_s"])
        if math.isfinite(self.t_start):
            return self.t_start
        firsts = [float(s.time[0]) for s in self.streams.values() if len(s)]
        return min(firsts) if firsts else math.nan

    @property
    def primary(self) -> Stream | None:
        return self.streams.get("primary")

    def stream(self, name: str) -> Stream | None:
        return self.streams.get(name)

    def elapsed_h(self, stream: Stream) -> np.ndarray:
        t0 = self.t0 if math.isfinite(self.t0) else (stream.time[0] if len(stream) else 0.0)
        return (stream.time - t0) / 3600.0

    def wavelengths_nm(self, stream: Stream | None = None) -> np.ndarray | None:
        s = stream or self.primary
        if s is None:
            return None
        col = s.get("wavelengths", ndim=2)
        if col is not None and col.ndim == 2 and col.shape[0]:
            return np.asarray(col[-1], float)
        cfg = s.config_value("wavelengths")
        if cfg is not None:
            return np.asarray(cfg, float)
        for other in self.streams.values():          # dark/reference carry it too
            cfg = other.config_value("wavelengths")
            if cfg is not None:
                return np.asarray(cfg, float)
        return None


def _to_numpy(v) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype == object:
        try:
            arr = np.stack([np.asarray(x) for x in arr]) if arr.size else arr
        except ValueError:
            pass
    return arr


def _columns_of(node) -> dict[str, np.ndarray]:
    keys = list(node)
    if "internal" in keys or "external" in keys:
        cols: dict[str, np.ndarray] = {}
        if "internal" in keys:
            table = node["internal"].read()
            for c in getattr(table, "columns", []):
                cols[str(c)] = _to_numpy(table[c].to_numpy())
        if "external" in keys:
            ext = node["external"]
            for k in ext:
                cols[k] = _to_numpy(ext[k].read())
        return cols
    got = node.read()
    if hasattr(got, "data_vars"):                   # xarray Dataset
        return {str(k): _to_numpy(got[k].values) for k in got.data_vars}
    if hasattr(got, "columns"):                     # pandas DataFrame
        return {str(c): _to_numpy(got[c].to_numpy()) for c in got.columns}
    raise TypeError(f"cannot read a stream from {type(got).__name__}")


def _read_stream(name: str, node) -> Stream:
    meta = dict(getattr(node, "metadata", {}) or {})
    descriptors = meta.get("descriptors") or []
    first = descriptors[0] if descriptors else {}
    data_keys = dict(meta.get("data_keys") or first.get("data_keys") or {})
    configuration = dict(meta.get("configuration") or first.get("configuration") or {})
    cols = _columns_of(node)
    timestamps = {k[3:]: v for k, v in cols.items() if k.startswith("ts_")}
    data = {k: v for k, v in cols.items() if not k.startswith("ts_")}
    n = max((len(v) for v in data.values()), default=0)
    event_t = np.asarray(data.pop("time"), float) if "time" in data else np.full(n, np.nan)
    # provisional order and time; load_run puts every stream on the device clock
    t = np.where(np.isfinite(event_t), event_t, _stamp_time(timestamps, n))
    order = np.argsort(t, kind="stable")
    if not np.array_equal(order, np.arange(t.size)):
        data = {k: v[order] for k, v in data.items()}
        timestamps = {k: v[order] for k, v in timestamps.items()}
        t, event_t = t[order], event_t[order]
    return Stream(name=name, data=data, time=t, timestamps=timestamps, data_keys=data_keys,
                  configuration=configuration, event_time=event_t)


def _stamp_time(timestamps: dict, n: int) -> np.ndarray:
    """Latest reading stamp of each event (NaN where none)."""
    if not timestamps:
        return np.full(n, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)          # all-NaN rows stay NaN
        return np.nanmax(np.vstack([np.asarray(v, float) for v in timestamps.values()]), 0)


#: a reading stamped this far after its event was stamped by a clock running ahead
VIRTUAL_LEAD_S = 1.0


def _device_clock(streams: dict, start: dict, stop: dict) -> tuple[float, float]:
    """Put every event on the device clock; return the run's start and stop on it.

    Bluesky stamps events (and the start/stop documents) with wall time; devices
    stamp readings with *their* clock, which in simulation is virtual and runs
    ahead of the wall by every jump so far; soft signals (doses, aliquot labels)
    carry wall stamps.  An event whose latest reading is stamped more than
    ``VIRTUAL_LEAD_S`` after the event is an anchor: its device time is that stamp.
    Every other event, and the start and stop documents, get the wall time plus
    the lead of the anchors around them (interpolated, held at the ends).  On
    real hardware nothing runs ahead, so there are no anchors and times are the
    events' own.
    """
    walls, leads = [], []
    stamps = {}
    for name, s in streams.items():
        st = _stamp_time(s.timestamps, len(s))
        stamps[name] = st
        ev = s.event_time if s.event_time is not None else np.full(len(s), np.nan)
        ahead = np.isfinite(st) & np.isfinite(ev) & (st - ev > VIRTUAL_LEAD_S)
        walls.append(ev[ahead])
        leads.append((st - ev)[ahead])
    wall = np.concatenate(walls) if walls else np.zeros(0)
    lead = np.concatenate(leads) if leads else np.zeros(0)
    order = np.argsort(wall)
    wall, lead = wall[order], lead[order]

    def shift(t):
        t = np.asarray(t, float)
        return t + np.interp(t, wall, lead) if wall.size else t

    for name, s in streams.items():
        ev = s.event_time if s.event_time is not None else np.full(len(s), np.nan)
        st = stamps[name]
        ahead = np.isfinite(st) & np.isfinite(ev) & (st - ev > VIRTUAL_LEAD_S)
        t = np.where(ahead, st, shift(ev))
        t = np.where(np.isfinite(t), t, st)
        if not np.isfinite(t).all():
            t = np.where(np.isfinite(t), t, np.arange(t.size, dtype=float))
        order = np.argsort(t, kind="stable")
        s.time = t[order]
        if not np.array_equal(order, np.arange(t.size)):
            s.data = {k: v[order] for k, v in s.data.items()}
            s.timestamps = {k: v[order] for k, v in s.timestamps.items()}
            s.event_time = ev[order]
    t_start = float(shift(start["time"])) if "time" in start else math.nan
    t_stop = float(shift(stop["time"])) if "time" in stop else math.nan
    return t_start, t_stop


def load_run(run) -> RunData:
    """Read one Bluesky run from a Tiled node into numpy columns (see module docstring).

    A stream that cannot be read is logged and left out rather than failing
    the whole report.  Passing a :class:`RunData` returns it unchanged.
    """
    if isinstance(run, RunData):
        return run
    md = dict(getattr(run, "metadata", {}) or {})
    start = dict(md.get("start") or {})
    stop = dict(md.get("stop") or {})
    container = run
    names = list(run)
    if "streams" in names and "primary" not in names:
        container = run["streams"]
        names = list(container)
    streams = {}
    for name in names:
        try:
            streams[name] = _read_stream(name, container[name])
        except Exception as exc:   # one unreadable stream must not lose the others
            log.warning("run %s: stream %r not readable: %s", start.get("uid", "?"), name, exc)
    t_start, t_stop = _device_clock(streams, start, stop)
    return RunData(uid=str(start.get("uid", "")), start=start, stop=stop, streams=streams,
                   t_start=t_start, t_stop=t_stop)


# ---------------------------------------------------------------------------
# derived series
# ---------------------------------------------------------------------------

def _finite_col(s: Stream | None, name: str) -> np.ndarray | None:
    if s is None:
        return None
    v = s.get(name, ndim=1)
    if v is None or not np.issubdtype(v.dtype, np.number):
        return None
    v = np.asarray(v, float)
    return v if np.isfinite(v).any() else None


#: streams that repeat instrument state for corrections, not the run's course
_CALIBRATION_STREAMS = ("dark", "reference", "baseline")


def scalar_series(data: RunData, name: str):
    """``(stream, values)`` of a scalar: the primary stream's, else the other stream
    holding most finite values (an LED read only at stage changes, say), or None."""
    found = _finite_col(data.primary, name)
    if found is not None:
        return data.primary, found
    best = None
    for sname, s in data.streams.items():
        if sname == "primary" or sname in _CALIBRATION_STREAMS:
            continue
        v = _finite_col(s, name)
        if v is not None and (best is None or np.isfinite(v).sum() > np.isfinite(best[1]).sum()):
            best = (s, v)
    return best


def spectra_of(data: RunData, kind: str = "absorbance"):
    """``(wavelengths_nm, stack N × pixels, elapsed_h)`` of one spectrum kind, or None."""
    s = data.primary
    if s is None:
        return None
    stack = s.get(kind, ndim=2)
    wl = data.wavelengths_nm(s)
    if stack is None or stack.ndim != 2 or wl is None or stack.shape[1] != wl.size:
        return None
    stack = np.asarray(stack, float)
    rows = np.isfinite(stack).any(axis=1)
    mode = s.get("mode", ndim=1)
    if kind != "counts" and mode is not None and mode.dtype.kind in "US":
        # a spectrometer records every array each event; only its mode's is a measurement
        rows &= mode == kind
    if not rows.any():
        return None
    return wl, stack[rows], data.elapsed_h(s)[rows]


def e1_series(data: RunData):
    """``(elapsed_h, e1_nm)``: recorded by the plan, else found in the spectra."""
    s = data.primary
    e1 = _finite_col(s, "e1_nm")
    if e1 is not None:
        return data.elapsed_h(s), e1
    sp = spectra_of(data, "absorbance")
    if sp is None:
        return None
    from .spectra import find_e1

    wl, stack, t_h = sp
    res = find_e1(wl, stack, search_nm=(max(wl.min(), 300.0), min(wl.max(), 800.0)))
    e1 = np.asarray(res.e1_nm, float)
    return (t_h, e1) if np.isfinite(e1).any() else None


def photon_dose_series(data: RunData):
    """``(elapsed_h, dose, units)`` — the LED's own dose counter, else ∫ irradiance dt."""
    for name in ("photon_dose", "energy_dose"):
        got = scalar_series(data, name)
        if got is not None:
            s, v = got
            return data.elapsed_h(s), v, s.units(name) or ""
    got = scalar_series(data, "irradiance")
    if got is None:
        return None
    from .photons import radiant_dose_j_cm2

    s, irr = got
    dose = radiant_dose_j_cm2(s.time, irr, method="step", cumulative=True)
    return data.elapsed_h(s), np.asarray(dose, float) * 1e3, "mJ/cm^2 (integrated)"


def dose_events(data: RunData) -> list[dict]:
    """Every dose: elapsed time, reagent, volume and amount."""
    s = data.stream("dose")
    if s is None or not len(s):
        return []
    t_h = data.elapsed_h(s)
    reagent = s.get("dose_reagent")
    vol = s.get("dose_volume_ml")
    mol = s.get("dose_mol")
    pump = s.get("dose_pump")
    out = []
    for i in range(len(s)):
        out.append({"time": float(s.time[i]), "elapsed_h": float(t_h[i]),
                    "pump": "" if pump is None else str(pump[i]),
                    "reagent": "" if reagent is None else str(reagent[i]),
                    "volume_ml": math.nan if vol is None else float(vol[i]),
                    "mol": math.nan if mol is None else float(mol[i])})
    return out


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------

def _figure(nrows: int = 1, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(nrows, 1, i + 1) for i in range(nrows)]
    return fig, axes


def _title(data: RunData) -> str:
    plan = data.start.get("plan_name", "run")
    sample = data.start.get("sample", "")
    return f"{plan} {data.uid[:8]}" + (f" — {sample}" if sample else "")


def _spectra_figure(data: RunData):
    from matplotlib import cm, colors

    kinds = [(k, spectra_of(data, k)) for k in SPECTRUM_KEYS]
    kinds = [(k, v) for k, v in kinds if v is not None]
    if not kinds:
        return None
    if any(k != "counts" for k, _ in kinds):
        kinds = [(k, v) for k, v in kinds if k != "counts"]
    fig, axes = _figure(len(kinds), 3.6)
    for ax, (kind, (wl, stack, t_h)) in zip(axes, kinds, strict=True):
        # at most 150 lines: a day-long run would otherwise be one black band
        pick = np.unique(np.linspace(0, len(t_h) - 1, min(len(t_h), 150)).round().astype(int))
        norm = colors.Normalize(vmin=float(t_h.min()), vmax=float(max(t_h.max(), t_h.min() + 1e-9)))
        cmap = cm.viridis
        for i in pick:
            ax.plot(wl, stack[i], color=cmap(norm(t_h[i])), lw=0.8)
        fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="time (h)")
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel({"absorbance": "absorbance", "emission": "emission (counts)",
                       "counts": "counts"}[kind])
        finite = stack[np.isfinite(stack)]
        if kind == "absorbance" and finite.size:
            hi = float(np.percentile(finite, 99.5))
            ax.set_ylim(min(0.0, float(finite.min())), hi * 1.05 if hi > 0 else 1.0)
        ax.set_title(f"{_title(data)}: {kind}", fontsize=10)
    return fig


def _mark_doses(ax, doses: list[dict]):
    for d in doses:
        ax.axvline(d["elapsed_h"], color="0.6", lw=0.8, ls="--", zorder=0)
    if doses:
        ax.plot([], [], color="0.6", ls="--", lw=0.8, label=f"doses ({len(doses)})")


def _e1_figure(data: RunData):
    e1 = e1_series(data)
    gap = _finite_col(data.primary, "band_gap_ev")
    if e1 is None and gap is None:
        return None
    fig, (ax,) = _figure(1, 4.2)
    doses = dose_events(data)
    if e1 is not None:
        t_h, v = e1
        ax.plot(t_h, v, "o-", ms=3, color="C0", label="E1")
        ax.set_ylabel("E1 (nm)", color="C0")
        d = _finite_col(data.primary, "diameter_nm")
        if d is not None:
            ax2 = ax.twinx()
            ax2.plot(data.elapsed_h(data.primary), d, "s-", ms=3, color="C1", label="diameter")
            ax2.set_ylabel("diameter (nm)", color="C1")
    else:
        ax.plot(data.elapsed_h(data.primary), gap, "o-", ms=3, color="C2", label="band gap")
        ax.set_ylabel("band gap (eV)", color="C2")
    _mark_doses(ax, doses)
    ax.set_xlabel("time (h)")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(_title(data), fontsize=10)
    return fig


def _conditions_figure(data: RunData):
    temp = scalar_series(data, "temperature")
    setp = scalar_series(data, "setpoint")
    irr = scalar_series(data, "irradiance")
    dose = photon_dose_series(data)
    panels = [p for p, ok in (("temp", temp is not None), ("irr", irr is not None),
                              ("dose", dose is not None)) if ok]
    if not panels:
        return None
    fig, axes = _figure(len(panels), 2.6)
    for ax, p in zip(axes, panels, strict=True):
        if p == "temp":
            ax.plot(data.elapsed_h(temp[0]), temp[1], color="C3", label="temperature")
            if setp is not None:
                ax.step(data.elapsed_h(setp[0]), setp[1], where="post", color="0.4", ls=":",
                        label="setpoint")
            ax.set_ylabel("temperature (°C)")
            ax.legend(loc="best", fontsize=8)
            _mark_doses(ax, dose_events(data))
        elif p == "irr":
            ax.step(data.elapsed_h(irr[0]), irr[1], where="post", color="C4", label="irradiance")
            ax.set_ylabel("irradiance (mW/cm²)")
        else:
            dt, dv, units = dose
            ax.plot(dt, dv, color="C5", label="photon dose")
            ax.set_ylabel(f"dose ({units})" if units else "dose")
    axes[-1].set_xlabel("time (h)")
    axes[0].set_title(_title(data), fontsize=10)
    return fig


def zone_results_for_group(client, group_id: str) -> list:
    """:class:`..zones.ZoneResult` of every run of a mapping group in ``client``.

    A run's zone is the one its plan recorded (stream ``zone``) when present,
    else it is classified here from its absorbance spectra.
    """
    from tiled.queries import Key

    from .zones import ZoneResult, classify_series

    out = []
    for _, node in client.search(Key("start.group_id") == group_id).items():
        d = load_run(node)
        cond = dict(d.start.get("condition") or {})
        recorded = d.stream("zone")
        zcol = recorded.get("zone") if recorded is not None else None
        if zcol is not None and len(zcol):
            out.append(ZoneResult(zone=str(zcol[-1]), first_seen_s={}, msc_max_time_s=math.nan,
                                  msc_max_absorbance=math.nan, spectra=(), conditions=cond))
            continue
        sp = spectra_of(d, "absorbance")
        if sp is None:
            continue
        wl, stack, t_h = sp
        out.append(classify_series(wl, stack, t_h * 3600.0, conditions=cond))
    return out


def _zone_figure(results: list):
    from matplotlib import colors

    from .zones import ZONES, zone_map

    if not results:
        return None
    try:
        zm = zone_map(results)
    except ValueError:
        # nothing varies (yet): lay the runs out on their first named coordinate
        keys = [k for r in results for k in r.conditions]
        if not keys:
            return None
        zm = zone_map(results, x_key=keys[0])
    fig, (ax,) = _figure(1, 0.6 * len(zm.y_values) + 2.4)
    cmap = colors.ListedColormap(["#f0f0f0", "#c9c9c9", "#2b8cbe", "#f03b20"])
    ax.imshow(zm.codes + 1, cmap=cmap, vmin=0, vmax=3, aspect="auto", origin="lower")
    ax.set_xticks(range(len(zm.x_values)), [str(v) for v in zm.x_values])
    ax.set_xlabel(zm.x_key)
    if zm.y_key is not None:
        ax.set_yticks(range(len(zm.y_values)), [str(v) for v in zm.y_values])
        ax.set_ylabel(zm.y_key)
    else:
        ax.set_yticks([])
    for iy in range(zm.codes.shape[0]):
        for ix in range(zm.codes.shape[1]):
            c = int(zm.codes[iy, ix])
            ax.text(ix, iy, "—" if c < 0 else ZONES[c], ha="center", va="center", fontsize=8,
                    color="white" if c >= 1 else "black")
    ax.set_title(f"reaction zones ({len(results)} runs)", fontsize=10)
    return fig


def build_figures(data: RunData, *, zone_results: list | None = None) -> dict:
    """``{name: matplotlib Figure}`` for the report; figures without data are absent."""
    figs = {"spectra": _spectra_figure(data), "e1_size": _e1_figure(data),
            "conditions": _conditions_figure(data)}
    if zone_results:
        figs["zone_map"] = _zone_figure(zone_results)
    return {k: v for k, v in figs.items() if v is not None}


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------

def _cell(v):
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else repr(float(v))
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def _write_csv(path: Path, header: list[str], rows) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([_cell(x) for x in r])
    return path


def write_tables(data: RunData, out_dir: Path) -> list[Path]:
    """CSV tables: scalars per stream, spectra as wavelength × time matrices."""
    out_dir = Path(out_dir)
    paths = []
    for name, s in data.streams.items():
        cols = [c for c in s.scalar_columns()]
        if not len(s) or not cols:
            continue
        fname = "timeseries.csv" if name == "primary" else f"{name}.csv"
        t_h = data.elapsed_h(s)
        header = ["time", "elapsed_h"] + cols
        rows = ([s.time[i], t_h[i]] + [s.data[c][i] for c in cols] for i in range(len(s)))
        paths.append(_write_csv(out_dir / fname, header, rows))
    for kind in SPECTRUM_KEYS:
        sp = spectra_of(data, kind)
        if sp is None:
            continue
        wl, stack, t_h = sp
        header = ["wavelength_nm"] + [f"t={h:.4f}h" for h in t_h]
        rows = ([wl[j]] + list(stack[:, j]) for j in range(wl.size))
        paths.append(_write_csv(out_dir / f"spectra_{kind}.csv", header, rows))
    return paths


# ---------------------------------------------------------------------------
# summary and the whole report
# ---------------------------------------------------------------------------

def _last_finite(v) -> float:
    if v is None:
        return math.nan
    v = np.asarray(v, float)
    ok = np.isfinite(v)
    return float(v[ok][-1]) if ok.any() else math.nan


def _duration_h(data: RunData) -> float:
    """Run length on the device clock (start and stop documents carried onto it)."""
    if math.isfinite(data.t_start) and math.isfinite(data.t_stop):
        return (data.t_stop - data.t_start) / 3600.0
    lasts = [float(s.time[-1]) for s in data.streams.values() if len(s)]
    return (max(lasts) - data.t0) / 3600.0 if lasts and math.isfinite(data.t0) else math.nan


def summarize_run(run) -> dict:
    """Plan, outcome, duration, final E1/size, doses and photon dose of one run.

    Accepts a Tiled node or a :class:`RunData`.  Values are JSON-friendly;
    NaN means "not measured in this run".
    """
    data = load_run(run)
    start, stop = data.start, data.stop
    t_start = start.get("time")
    out = {
        "uid": data.uid,
        "plan": start.get("plan_name", ""),
        "sample": start.get("sample", ""),
        "exit_status": stop.get("exit_status", "running or interrupted"),
        "reason": stop.get("reason", ""),
        "start": datetime.fromtimestamp(t_start).isoformat(timespec="seconds") if t_start else "",
        "duration_h": _duration_h(data),
        "events": {k: len(s) for k, s in data.streams.items()},
    }
    e1 = e1_series(data)
    out["final_e1_nm"] = _last_finite(None if e1 is None else e1[1])
    out["final_diameter_nm"] = _last_finite(_finite_col(data.primary, "diameter_nm"))
    out["final_band_gap_ev"] = _last_finite(_finite_col(data.primary, "band_gap_ev"))
    temp = scalar_series(data, "temperature")
    out["max_temperature_c"] = float(np.nanmax(temp[1])) if temp is not None else math.nan
    doses = dose_events(data)
    by_ml: dict[str, float] = {}
    by_mol: dict[str, float] = {}
    for d in doses:
        key = d["pump"] or d["reagent"]     # one total per syringe, whatever each dose's note
        if math.isfinite(d["volume_ml"]):
            by_ml[key] = by_ml.get(key, 0.0) + d["volume_ml"]
        if math.isfinite(d["mol"]):
            by_mol[key] = by_mol.get(key, 0.0) + d["mol"]
    out["doses"] = len(doses)
    out["dosed_ml"] = by_ml
    out["dosed_mol"] = by_mol
    pd = photon_dose_series(data)
    out["photon_dose"] = _last_finite(None if pd is None else pd[1])
    out["photon_dose_units"] = "" if pd is None else pd[2]
    z = data.stream("zone")
    zcol = None if z is None else z.get("zone")
    if zcol is not None and len(zcol):
        out["zone"] = str(zcol[-1])
    return out


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _root_client(run):
    """The catalog root holding ``run`` (to find the other runs of its group)."""
    try:
        from tiled.client import from_context

        return from_context(run.context)
    except Exception:
        return None


def write_report(run, out_dir, *, catalog=None) -> list[Path]:
    """Write the figures (PNG), tables (CSV) and summary (JSON) of one run.

    Parameters
    ----------
    run : Tiled node or RunData
        ``catalog.client[uid]``.
    out_dir : path
        Created if missing.
    catalog : Tiled client, optional
        Where to look for the other runs of a mapping group; default: the root
        of ``run``'s own catalog.

    Returns
    -------
    list of Path
        Every file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_run(run)
    zone_results = None
    gid = data.start.get("group_id")
    if gid:
        client = catalog if catalog is not None else (
            None if isinstance(run, RunData) else _root_client(run))
        if client is not None:
            try:
                zone_results = zone_results_for_group(client, gid)
            except Exception as exc:    # the map is a bonus; never lose the run's own report
                log.warning("zone map for group %s not drawn: %s", gid, exc)
    paths = []
    for name, fig in build_figures(data, zone_results=zone_results).items():
        p = out / f"{name}.png"
        fig.savefig(p, dpi=110)
        paths.append(p)
    paths += write_tables(data, out)
    summary = out / "summary.json"
    summary.write_text(json.dumps(summarize_run(data), indent=2, default=_json_default,
                                  allow_nan=True))
    paths.append(summary)
    return paths
