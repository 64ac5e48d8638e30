"""Live table and plots from RunEngine documents; progress reporting through status watchers."""

from __future__ import annotations

import io

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from ophyd import Component as Cpt
from ophyd import Device, Signal
from ophyd.status import DeviceStatus

from photoreactor.analysis.live import (
    LiveE1Plot,
    LiveSpectrumPlot,
    install_live_display,
)
from photoreactor.devices.common.status import notify_progress

WL = np.linspace(350.0, 600.0, 120)
T0 = 1.9e9


class Spectrometer(Device):
    absorbance = Cpt(Signal, value=np.zeros(WL.size), kind="normal")
    wavelengths = Cpt(Signal, value=WL, kind="config")


def run_plan():
    spec = Spectrometer(name="spectrometer")
    temp = Signal(name="mantle_temperature", value=0.0)
    e1 = Signal(name="e1_nm", value=float("nan"))
    irr = Signal(name="led_irradiance", value=0.0)
    reagent = Signal(name="dose_reagent", value="")
    vol = Signal(name="dose_volume_ml", value=0.0)

    @bpp.run_decorator(md={"plan_name": "grow_until", "sample": "CdS"})
    def plan():
        for i in range(3):
            t = T0 + 1800.0 * i
            spec.absorbance.put(np.exp(-0.5 * ((WL - 400 - 5 * i) / 10) ** 2), timestamp=t)
            temp.put(240.0 + i, timestamp=t)
            e1.put(400.0 + 5 * i if i else float("nan"), timestamp=t)
            irr.put(5.0, timestamp=t)
            yield from bps.trigger_and_read([spec, temp, e1, irr])
            if i == 1:
                reagent.put("Cd oleate", timestamp=t + 60)
                vol.put(0.25, timestamp=t + 60)
                yield from bps.trigger_and_read([reagent, vol], name="dose")

    return plan()


def test_compact_table_lines(RE):
    out = io.StringIO()
    tokens = install_live_display(RE, plots=False, out=out)
    assert len(tokens) == 1
    RE(run_plan())
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("run ") and "grow_until" in lines[0] and "(CdS)" in lines[0]
    header = lines[1]
    for label in ("time", "T (°C)", "E1 (nm)", "I (mW/cm²)"):
        assert label in header
    assert "D (nm)" not in header                      # not recorded: no empty column
    rows = [ln for ln in lines if ln.strip()[:1].isdigit()]
    assert rows[0].split()[:3] == ["0:00:00", "240.0", "—"]   # E1 not found yet
    assert rows[1].split()[:3] == ["0:30:00", "241.0", "405.00"]
    assert "+ dose 0.250 mL Cd oleate" in out.getvalue()
    assert rows[-1].split()[:4] == ["1:00:00", "242.0", "410.00", "5.00"]
    assert "success" in lines[-1]
    for t in tokens:
        RE.unsubscribe(t)


def _agg_figure():
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig


def test_live_plots_follow_the_run(RE):
    spec_plot = LiveSpectrumPlot(fig=_agg_figure(), history=1)
    e1_plot = LiveE1Plot(fig=_agg_figure())
    RE.subscribe(spec_plot)
    RE.subscribe(e1_plot)
    RE(run_plan())
    lines = spec_plot._ax.lines
    assert len(lines) == 2                              # latest + one faded
    np.testing.assert_allclose(lines[-1].get_xdata(), WL)
    np.testing.assert_allclose(lines[-1].get_ydata(), np.exp(-0.5 * ((WL - 410) / 10) ** 2))
    x, y = e1_plot._line.get_data()
    np.testing.assert_allclose(x, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(y, [np.nan, 405.0, 410.0])
    # a second run starts a fresh E1 trace
    RE(run_plan())
    assert len(e1_plot._line.get_xdata()) == 3


def test_install_with_plots_subscribes_three_callbacks(RE):
    import matplotlib.pyplot as plt

    tokens = install_live_display(RE, plots=True, out=io.StringIO())
    assert len(tokens) == 3
    RE(run_plan())
    plt.close("all")


def test_notify_progress_feeds_status_watchers():
    dev = Signal(name="pump_cd")
    status = DeviceStatus(dev)
    seen = []
    status.watch(lambda **kw: seen.append(kw))
    notify_progress(status, current=0.5, initial=0.0, target=2.0, unit="mL",
                    time_elapsed=30.0)
    assert seen[0] == {"name": "pump_cd"}               # ophyd's immediate call on watch()
    last = seen[-1]
    assert last["name"] == "pump_cd" and last["current"] == 0.5 and last["target"] == 2.0
    assert last["fraction"] == pytest.approx(0.75) and last["unit"] == "mL"

    def broken(**kw):
        if "current" in kw:
            raise RuntimeError("display bug")

    status.watch(broken)
    notify_progress(status, current=1.0, initial=0.0, target=2.0)   # must not raise
    assert seen[-1]["current"] == 1.0
    notify_progress(DeviceStatus(dev), current=1, initial=0, target=1)  # no watchers: no-op


def test_progress_bar_manager_draws_from_notifications():
    from bluesky.utils import ProgressBar

    dev = Signal(name="mantle")
    status = DeviceStatus(dev)
    bar = ProgressBar([status])
    notify_progress(status, current=120.0, initial=25.0, target=240.0, unit="degC")
    assert "mantle" in bar.meters[0] and "degC" in bar.meters[0]
    status.set_finished()
    bar.clear()
