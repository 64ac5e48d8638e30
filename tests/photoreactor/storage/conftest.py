"""Shared pieces for the storage tests: a catalog per test module, document factories."""

import numpy as np
import pytest
from event_model import compose_run


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """One embedded catalog for a test module (the ingester process is shared anyway)."""
    from photoreactor.storage import open_catalog

    cat = open_catalog({"kind": "embedded"}, tmp_path_factory.mktemp("catalog"))
    yield cat
    cat.close()


def spectrum(seq: int, n: int = 2048) -> np.ndarray:
    """The deterministic 'spectrum' of event ``seq`` (so another process can recompute it)."""
    return np.random.default_rng(1000 + seq).random(n) * 60000.0


def make_run(n_events: int, *, t0: float = 1.7e9, dt_s: float = 1.0, pixels: int = 2048,
             md: dict | None = None, stop: bool = True, stream: str = "primary"):
    """Documents of a run with one spectrum per event, timestamps t0 + i * dt_s."""
    bundle = compose_run(metadata={"plan_name": "synthetic", **(md or {})}, time=t0)
    yield "start", bundle.start_doc
    wl = np.linspace(350.0, 850.0, pixels)
    desc = bundle.compose_descriptor(
        name=stream,
        data_keys={
            "spectrometer_counts": {"source": "sim", "dtype": "array", "shape": [pixels],
                                    "units": "counts", "dtype_numpy": "<f8"},
            "mantle_temperature": {"source": "sim", "dtype": "number", "shape": [],
                                   "units": "degC"},
        },
        configuration={"spectrometer": {
            "data": {"spectrometer_wavelengths": wl},
            "timestamps": {"spectrometer_wavelengths": t0},
            "data_keys": {"spectrometer_wavelengths": {"source": "sim", "dtype": "array",
                                                       "shape": [pixels], "units": "nm"}}}},
        object_keys={"spectrometer": ["spectrometer_counts"], "mantle": ["mantle_temperature"]},
        time=t0)
    yield "descriptor", desc.descriptor_doc
    for i in range(n_events):
        t = t0 + i * dt_s
        yield "event", desc.compose_event(
            data={"spectrometer_counts": spectrum(i + 1, pixels), "mantle_temperature": 80.0 + i / 7},
            timestamps={"spectrometer_counts": t, "mantle_temperature": t}, seq_num=i + 1, time=t)
    if stop:
        yield "stop", bundle.compose_stop(exit_status="success", time=t0 + n_events * dt_s)


def simulate_death(writer, uid: str) -> None:
    """What the kernel does to a run's journal when the writing process dies: drop the lock."""
    import os

    run = writer._runs.pop(uid)
    os.close(run.fd)
