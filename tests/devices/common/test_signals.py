"""The shared hardware-signal base class: hooks, guard, timestamps, limits, describe."""

from __future__ import annotations

import numpy as np
import pytest
from ophyd import Component as Cpt
from ophyd import Device
from ophyd.utils import ReadOnlyError

from photoreactor.devices.common.errors import InstrumentTimeout, LimitError
from photoreactor.devices.common.signals import HwSignal, HwSignalRO, SoftSignal
from photoreactor.sim_devices.clock import VirtualClock


class FakeInstrument(Device):
    rate = Cpt(HwSignal, getter="_read_rate", setter="_write_rate", units="mL/min",
               limits=(0.0, 10.0), kind="normal", value=0.0)
    level = Cpt(HwSignalRO, getter="_read_level", units="mL", kind="hinted", value=0.0)
    spectrum = Cpt(HwSignalRO, getter="_read_spectrum", kind="normal", value=np.zeros(3))
    label = Cpt(SoftSignal, value="", kind="config")

    def __init__(self, *args, clock, **kwargs):
        self.clock = clock
        self.hw_rate = 1.5
        self.reads = 0
        self.fail = False
        super().__init__(*args, **kwargs)

    def _read_rate(self):
        self.reads += 1
        if self.fail:
            raise InstrumentTimeout(self.name, "silent")
        return self.hw_rate

    def _write_rate(self, value):
        if self.fail:
            raise InstrumentTimeout(self.name, "silent")
        self.hw_rate = value

    def _read_level(self):
        # a hook that (indirectly) reads itself must not recurse
        return self.level.get() + 1.0

    def _read_spectrum(self):
        return np.array([1.0, 2.0, 3.0])


@pytest.fixture
def inst():
    return FakeInstrument(name="inst", clock=VirtualClock(speed=1000.0, start=1000.0))


def test_get_reads_hardware_and_stamps_device_clock(inst):
    assert inst.rate.get() == 1.5
    inst.hw_rate = 2.5
    reading = inst.read()
    assert reading["inst_rate"]["value"] == 2.5
    # virtual epoch 1000 s, not today's wall time
    assert 1000.0 <= reading["inst_rate"]["timestamp"] < 1000.0 + 3600


def test_reentrant_get_returns_cached_value(inst):
    assert inst.level.get() == 1.0
    assert inst.level.get() == 2.0


def test_put_writes_and_fires_subscriptions(inst):
    seen = []
    inst.rate.subscribe(lambda value, **kw: seen.append(value), run=False)
    inst.rate.put(4.0)
    assert inst.hw_rate == 4.0
    assert seen == [4.0]
    reads = inst.reads
    inst.rate.get()
    assert seen == [4.0], "get() must never fire subscriptions"
    assert inst.reads == reads + 1


def test_limit_error_before_write(inst):
    with pytest.raises(LimitError) as err:
        inst.rate.set(12.0)
    assert err.value.device == "inst" and err.value.limit == (0.0, 10.0)
    assert "mL/min" in str(err.value)
    assert inst.hw_rate == 1.5


def test_set_runs_off_thread_and_reports_failure(inst):
    st = inst.rate.set(3.0)
    st.wait(5)
    assert inst.hw_rate == 3.0
    inst.fail = True
    st = inst.rate.set(4.0)
    with pytest.raises(InstrumentTimeout):
        st.wait(5)


def test_read_only(inst):
    assert not inst.level.write_access
    with pytest.raises(ReadOnlyError):
        inst.level.put(1.0)
    with pytest.raises(TypeError):
        HwSignalRO(name="x", setter="y")


def test_describe_carries_units_limits_and_never_touches_hardware(inst):
    inst.fail = True
    desc = inst.describe()
    assert desc["inst_rate"]["units"] == "mL/min"
    assert (desc["inst_rate"]["lower_ctrl_limit"], desc["inst_rate"]["upper_ctrl_limit"]) == (0.0, 10.0)
    assert desc["inst_rate"]["dtype"] == "number"
    assert desc["inst_spectrum"]["shape"] == [3]
    assert inst.describe_configuration()["inst_label"]["dtype"] == "string"


def test_update_readback_notifies_only_on_change(inst):
    seen = []
    inst.level.subscribe(lambda value, **kw: seen.append(value), run=False)
    inst.level.update_readback(5.0)
    inst.level.update_readback(5.0)
    inst.level.update_readback(6.0)
    assert seen == [5.0, 6.0]


def test_none_initial_value_rejected():
    with pytest.raises(TypeError):
        SoftSignal(name="x", value=None)


def test_soft_signal_limits_and_clock():
    clock = VirtualClock(speed=1000.0, start=50.0)
    sig = SoftSignal(name="conc", units="mol/L", limits=(0, 1), clock=clock, value=0.1)
    sig.set(0.5).wait(1)
    assert sig.get() == 0.5
    assert 50.0 <= sig.timestamp < 50.0 + 3600
    with pytest.raises(LimitError):
        sig.set(2.0)
    assert sig.get() == 0.5


def test_workers_report_progress_to_status_watchers():
    """A pump's worker thread feeds ProgressBarManager through the status it finishes."""
    from ophyd import Signal

    from photoreactor.devices.common.status import report_progress, run_in_thread
    from photoreactor.devices.common.timing import WallClock

    dev = Signal(name="pump_cd")
    seen = []
    gate = __import__("threading").Event()

    def work():
        gate.wait(5)
        report_progress(current=0.5, initial=0.0, target=2.0, unit="mL")

    status = run_in_thread(dev, work, clock=WallClock(), expected_s=5)
    status.watch(lambda **kw: seen.append(kw))
    gate.set()
    status.wait(5)
    progress = [kw for kw in seen if "current" in kw]
    assert progress[-1]["current"] == 0.5 and progress[-1]["unit"] == "mL"
    assert progress[-1]["fraction"] == 0.75
    report_progress(current=1, initial=0, target=1)    # outside a worker: a no-op
