"""Live display for interactive sessions: a compact table and, with a GUI, two plots.

:func:`install_live_display` subscribes to a RunEngine

* :class:`CompactTable` — one line per primary event: time since the run's first
  event (device clock), temperature and setpoint, E1, diameter or band gap,
  irradiance; one line per dose and aliquot; the exit status at the end;
* :class:`LiveSpectrumPlot` — the latest spectrum over fading earlier ones;
* :class:`LiveE1Plot` — E1 against time;

the plots only when matplotlib has an interactive backend and a display
(otherwise only the table).  These callbacks display; they never decide —
decisions are taken inside plans from the same pure functions.

Progress bars on waits
----------------------
The session installs bluesky's ``ProgressBarManager`` as ``RE.waiting_hook``.
It calls ``status.watch(callback)`` on every status the RunEngine waits for,
and draws a bar from what the callback is told.  A device feeds it by calling
its status's watchers from the worker thread that does the work — that is
:func:`photoreactor.devices.common.status.report_progress` (pumps report mL
dosed, mantles °C reached)::

    def work():                      # run by run_in_thread
        while not done():
            report_progress(current=moved_ml, initial=0.0, target=volume_ml, unit="mL")
            self.clock.sleep(poll_s)

A heating mantle reports its temperature with ``initial`` the temperature at
the start of the ramp and ``target`` the setpoint; a timed hold reports elapsed
device seconds.  Without watchers the call costs nothing.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque

import numpy as np
from bluesky.callbacks.core import CallbackBase

#: (label, key or key suffix, format, width) of the table's columns, in order
TABLE_COLUMNS = (
    ("T (°C)", "temperature", "{:.1f}", 8),
    ("set (°C)", "setpoint", "{:.1f}", 8),
    ("E1 (nm)", "e1_nm", "{:.2f}", 9),
    ("D (nm)", "diameter_nm", "{:.2f}", 7),
    ("Eg (eV)", "band_gap_ev", "{:.3f}", 8),
    ("I (mW/cm²)", "irradiance", "{:.2f}", 11),
)


def _pick(keys, suffix: str) -> str | None:
    if suffix in keys:
        return suffix
    hits = sorted(k for k in keys if k.endswith("_" + suffix))
    return hits[0] if hits else None


def _event_time(doc) -> float:
    """Device-clock time of an event: the latest reading stamp (virtual in simulation)."""
    stamps = [t for t in (doc.get("timestamps") or {}).values()
              if isinstance(t, (int, float)) and math.isfinite(t)]
    return max(stamps) if stamps else float(doc.get("time", time.time()))


def _fmt_elapsed(seconds: float) -> str:
    seconds = max(0.0, seconds)
    h, rem = divmod(int(round(seconds)), 3600)
    m, s = divmod(rem, 60)
    return f"{h:3d}:{m:02d}:{s:02d}"


class _RunClock:
    """Elapsed device time since the run's first event, shared by a callback's methods."""

    def __init__(self):
        self.t0 = None

    def reset(self):
        self.t0 = None

    def elapsed_s(self, doc) -> float:
        t = _event_time(doc)
        if self.t0 is None:
            self.t0 = t
        return t - self.t0


class CompactTable(CallbackBase):
    """One line per event with the numbers a chemist watches (see module docstring)."""

    def __init__(self, out=None):
        super().__init__()
        self._out = out
        self._clock = _RunClock()
        self._cols: dict[str, list] = {}
        self._names: dict[str, str] = {}
        self._header_done = False

    def _print(self, line: str) -> None:
        print(line, file=self._out or sys.stdout, flush=True)

    def start(self, doc):
        self._clock.reset()
        self._cols.clear()
        self._names.clear()
        self._header_done = False
        plan = doc.get("plan_name", "")
        sample = doc.get("sample", "")
        self._print(f"run {doc.get('uid', '')[:8]}  {plan}" + (f"  ({sample})" if sample else ""))

    def descriptor(self, doc):
        name = doc.get("name", "primary")
        self._names[doc["uid"]] = name
        keys = set(doc.get("data_keys", {}))
        if name == "primary":
            self._cols[doc["uid"]] = [(label, _pick(keys, key), fmt, width)
                                      for label, key, fmt, width in TABLE_COLUMNS
                                      if _pick(keys, key) is not None]

    def _header(self, cols):
        head = f"{'time':>9s} " + " ".join(f"{label:>{w}s}" for label, _, _, w in cols)
        self._print(head)
        self._print("-" * len(head))
        self._header_done = True

    def event(self, doc):
        name = self._names.get(doc.get("descriptor"), "")
        data = doc.get("data", {})
        elapsed = _fmt_elapsed(self._clock.elapsed_s(doc))
        if name == "primary":
            cols = self._cols.get(doc["descriptor"], [])
            if not self._header_done:
                self._header(cols)
            cells = []
            for _, key, fmt, width in cols:
                v = data.get(key)
                try:
                    text = fmt.format(float(v)) if v is not None and math.isfinite(float(v)) else "—"
                except (TypeError, ValueError):
                    text = "—"
                cells.append(f"{text:>{width}s}")
            self._print(f"{elapsed:>9s} " + " ".join(cells))
        elif name == "dose":
            vol = data.get("dose_volume_ml")
            reagent = data.get("dose_reagent", "")
            vol_txt = f"{float(vol):.3f} mL " if isinstance(vol, (int, float)) else ""
            self._print(f"{elapsed:>9s}   + dose {vol_txt}{reagent}")
        elif name == "aliquot":
            self._print(f"{elapsed:>9s}   − aliquot {data.get('aliquot_label', '')}")

    def stop(self, doc):
        status = doc.get("exit_status", "")
        reason = doc.get("reason", "")
        self._print(f"run {doc.get('run_start', '')[:8]} {status}" + (f": {reason}" if reason else ""))


class _PlotCallback(CallbackBase):
    """Creates its figure on first use (pyplot, or the one given) and redraws lazily."""

    title = ""

    def __init__(self, fig=None):
        super().__init__()
        self._fig = fig
        self._ax = None
        self._clock = _RunClock()
        self._names: dict[str, str] = {}
        self._config: dict[str, dict] = {}

    def _axes(self):
        if self._ax is None:
            if self._fig is None:
                import matplotlib.pyplot as plt

                self._fig = plt.figure(self.title)
            self._ax = self._fig.add_subplot(1, 1, 1)
        return self._ax

    def _redraw(self):
        canvas = self._fig.canvas
        canvas.draw_idle()
        try:
            canvas.flush_events()
        except NotImplementedError:
            pass

    def start(self, doc):
        self._clock.reset()

    def descriptor(self, doc):
        self._names[doc["uid"]] = doc.get("name", "primary")
        self._config[doc["uid"]] = doc.get("configuration", {})


class LiveSpectrumPlot(_PlotCallback):
    """The latest spectrum (absorbance, else emission) over up to ``history`` faded ones."""

    title = "spectra"

    def __init__(self, fig=None, history: int = 8):
        super().__init__(fig)
        self._lines: deque = deque(maxlen=history + 1)

    def _wavelengths(self, desc_uid, data):
        for key, v in data.items():
            if key.endswith("wavelengths"):
                return np.asarray(v, float)
        for obj in self._config.get(desc_uid, {}).values():
            for key, v in (obj.get("data") or {}).items():
                if key.endswith("wavelengths"):
                    return np.asarray(v, float)
        return None

    def start(self, doc):
        super().start(doc)
        if self._ax is not None:
            for ln in self._lines:
                ln.remove()
        self._lines.clear()

    def event(self, doc):
        if self._names.get(doc.get("descriptor")) != "primary":
            return
        data = doc.get("data", {})
        key = _pick(data, "absorbance") or _pick(data, "emission")
        if key is None:
            return
        y = np.asarray(data[key], float)
        wl = self._wavelengths(doc["descriptor"], data)
        if y.ndim != 1 or wl is None or wl.size != y.size:
            return
        ax = self._axes()
        if len(self._lines) == self._lines.maxlen:
            self._lines[0].remove()
        for i, ln in enumerate(self._lines):
            ln.set_alpha(0.15 + 0.5 * (i + 1) / max(len(self._lines), 1))
            ln.set_color("0.5")
        (ln,) = ax.plot(wl, y, color="C0", lw=1.2)
        self._lines.append(ln)
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel("absorbance" if key.endswith("absorbance") else "emission (counts)")
        ax.set_title(f"{key} at {_fmt_elapsed(self._clock.elapsed_s(doc)).strip()}")
        ax.relim()
        ax.autoscale_view()
        self._redraw()


class LiveE1Plot(_PlotCallback):
    """E1 (nm) against time since the run's first event (h)."""

    title = "E1"

    def __init__(self, fig=None):
        super().__init__(fig)
        self._line = None
        self._t: list[float] = []
        self._e1: list[float] = []

    def start(self, doc):
        super().start(doc)
        self._t.clear()
        self._e1.clear()
        if self._line is not None:
            self._line.remove()
            self._line = None

    def event(self, doc):
        if self._names.get(doc.get("descriptor")) != "primary":
            return
        data = doc.get("data", {})
        key = _pick(data, "e1_nm")
        if key is None:
            return
        try:
            v = float(data[key])
        except (TypeError, ValueError):
            return
        self._t.append(self._clock.elapsed_s(doc) / 3600.0)
        self._e1.append(v)
        ax = self._axes()
        if self._line is None:
            (self._line,) = ax.plot([], [], "o-", ms=3)
            ax.set_xlabel("time (h)")
            ax.set_ylabel("E1 (nm)")
        self._line.set_data(self._t, self._e1)
        ax.relim()
        ax.autoscale_view()
        self._redraw()


def gui_available() -> bool:
    """True when matplotlib can open windows: an interactive backend and a display."""
    try:
        import matplotlib
    except ImportError:
        return False
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    backend = matplotlib.get_backend().lower()
    non_gui = {"agg", "pdf", "ps", "svg", "cairo", "template", "pgf"}
    return backend not in non_gui and "inline" not in backend


def install_live_display(RE, *, plots: bool | None = None, out=None) -> list[int]:
    """Subscribe the live table (and, with a GUI, the plots) to ``RE``.

    Parameters
    ----------
    RE : RunEngine
    plots : bool, optional
        Force the plots on or off; default: on only when :func:`gui_available`.
    out : file-like, optional
        Where the table is printed (default ``sys.stdout``).

    Returns
    -------
    list of int
        Subscription tokens (``RE.unsubscribe(token)`` removes one).
    """
    tokens = [RE.subscribe(CompactTable(out=out))]
    if plots if plots is not None else gui_available():
        tokens.append(RE.subscribe(LiveSpectrumPlot()))
        tokens.append(RE.subscribe(LiveE1Plot()))
    return tokens
