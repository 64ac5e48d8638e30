"""Burst acquisition: every frame a spectrometer can give, for seconds after an injection.

:class:`SpectrumBurst` is a bluesky *flyer* (``kickoff`` / ``complete`` /
``collect_pages`` / ``describe_collect``).  A worker thread reads frames from
any seabreeze-shaped source — an :class:`~.ocean.OceanDriver` (which adds
locks, deadlines and typed errors), python-seabreeze's ``Spectrometer``, or the
simulated unit — as fast as the source delivers them, stamps each with the
device clock and keeps it in a buffer.  ``collect_pages()`` hands the buffered
frames to the RunEngine as EventPages, which the data path journals at once
(see :mod:`photoreactor.storage`) and the ingester appends to the run's HDF5
file, referenced from the catalog like any StreamResource/StreamDatum array.

Use :func:`collect_burst` inside a run (it collects every ``collect_period_s``
while the burst lasts, so frames reach the disk within a fraction of a second
and the buffer stays small), or :func:`burst_run` for a run of its own.

Decisions where the specification is silent
-------------------------------------------
* **No frame is ever dropped.** The buffer holds at most ``max_buffer_frames``
  frames; if the plan does not collect in time the burst *stops* with an error
  naming the limit (frames acquired so far are still collected), rather than
  discarding old frames.
* **Timestamps** are the device clock's time when the frame arrived (end of
  integration); they are per frame (``timestamps`` of the EventPage), while the
  events' ``time`` is when they were collected.
* **Duration** is measured on the device clock, so on a virtual clock a burst
  of 10 s is 10 s of simulated time.
* Failures of the source (timeout, disconnect) end the burst: ``complete()``
  fails with the source's error, and the frames acquired before it are
  collected and stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Signal
from ophyd.status import DeviceStatus, Status

#: frames per EventPage handed to the RunEngine (bounds one journal record to ~16 MB)
PAGE_FRAMES = 1000


class BurstBufferFull(RuntimeError):
    """Frames arrived faster than the plan collected them; the burst was stopped."""


class SpectrumBurst(Device):
    """Flyer acquiring spectra as fast as ``source.intensities()`` returns them.

    Parameters
    ----------
    source : object
        Anything with seabreeze's ``intensities()`` and ``wavelengths()``.
    clock : Clock
        The session's clock (timestamps and the burst duration).
    name : str
        Device name; data keys are ``<name>_intensities`` and ``<name>_frame``.
    stream_name : str, optional
        Event stream of the frames (default: ``name``).
    max_buffer_frames : int
        Frames kept between two collects before the burst stops (see module docs).
    units : str
        Units of the intensities (``"counts"`` for a raw spectrometer frame).
    """

    duration_s = Cpt(Signal, value=10.0, kind="config")
    max_frames = Cpt(Signal, value=0, kind="config")        # 0: no frame limit
    wavelengths = Cpt(Signal, value=np.zeros(0), kind="config")
    frames_acquired = Cpt(Signal, value=0, kind="normal")

    safe_order = 50

    def __init__(self, source, *, clock, name: str = "burst", stream_name: str | None = None,
                 max_buffer_frames: int = 50_000, units: str = "counts", **kwargs):
        super().__init__(name=name, **kwargs)
        self.source = source
        self.clock = clock
        self.stream_name = stream_name or name
        self.max_buffer_frames = int(max_buffer_frames)
        self.units = units
        self._lock = threading.Lock()
        self._frames: list[np.ndarray] = []
        self._times: list[float] = []
        self._index: list[int] = []
        self._count = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._complete: DeviceStatus | None = None
        self._shape: tuple[int, ...] | None = None
        self._dtype = np.dtype("f8")
        wl = np.asarray(source.wavelengths())
        self.wavelengths.put(wl)
        self._shape = wl.shape

    @classmethod
    def from_spectrometer(cls, spectrometer, name: str | None = None, **kwargs) -> SpectrumBurst:
        """A burst flyer on the same driver (and clock) as an ``OceanSpectrometer`` device."""
        return cls(spectrometer.driver, clock=spectrometer.clock,
                   name=name or f"{spectrometer.name}_burst", **kwargs)

    # -- flyer interface -------------------------------------------------------------
    def kickoff(self, duration_s: float | None = None, max_frames: int | None = None) -> Status:
        """Start acquiring; the status finishes once the worker thread runs."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{self.name}: a burst is already running")
        if duration_s is not None:
            self.duration_s.put(float(duration_s))
        if max_frames is not None:
            self.max_frames.put(int(max_frames))
        duration = float(self.duration_s.get())
        limit = int(self.max_frames.get())
        if not duration > 0 and limit <= 0:
            raise ValueError(f"{self.name}: give a positive duration_s or max_frames")
        self._stop.clear()
        self._complete = DeviceStatus(self, timeout=None)
        started = Status(obj=self, timeout=10)
        self._thread = threading.Thread(target=self._acquire, args=(duration, limit, started),
                                        name=f"{self.name}-burst", daemon=True)
        self._thread.start()
        return started

    def complete(self) -> DeviceStatus:
        """A status that finishes when the burst has ended (duration or frame count reached)."""
        if self._complete is None:
            raise RuntimeError(f"{self.name}: complete() before kickoff()")
        return self._complete

    def describe_collect(self) -> dict:
        shape = list(self._shape or ())
        src = f"{type(self.source).__name__}.intensities()"
        return {self.stream_name: {
            f"{self.name}_intensities": {"source": src, "dtype": "array", "shape": shape,
                                         "dtype_numpy": self._dtype.str, "units": self.units},
            f"{self.name}_frame": {"source": f"{self.name} frame counter", "dtype": "integer",
                                   "shape": [], "units": ""},
        }}

    def collect_pages(self) -> Iterator[dict]:
        """The frames acquired since the last call, as partial EventPages."""
        with self._lock:
            frames, times, index = self._frames, self._times, self._index
            self._frames, self._times, self._index = [], [], []
        key_i, key_n = f"{self.name}_intensities", f"{self.name}_frame"
        for a in range(0, len(frames), PAGE_FRAMES):
            b = a + PAGE_FRAMES
            t = times[a:b]
            yield {"time": t, "data": {key_i: frames[a:b], key_n: index[a:b]},
                   "timestamps": {key_i: t, key_n: t}}

    # -- the worker -----------------------------------------------------------------------
    def _acquire(self, duration_s: float, limit: int, started: Status) -> None:
        t_end = self.clock.time() + duration_s if duration_s > 0 else None
        n = 0
        started.set_finished()
        try:
            while not self._stop.is_set():
                if limit and n >= limit:
                    break
                if t_end is not None and self.clock.time() >= t_end:
                    break
                frame = np.asarray(self.source.intensities())
                t = self.clock.time()
                if self._shape is not None and frame.shape != self._shape:
                    raise ValueError(f"{self.name}: frame of shape {frame.shape} from a source "
                                     f"with {self._shape} pixels")
                with self._lock:
                    if len(self._frames) >= self.max_buffer_frames:
                        raise BurstBufferFull(
                            f"{self.name}: {self.max_buffer_frames} frames waiting to be "
                            f"collected; collect more often (collect_period_s) or raise "
                            f"max_buffer_frames — the burst was stopped, no frame was dropped")
                    self._frames.append(frame)
                    self._times.append(t)
                    self._index.append(self._count)
                    self._count += 1
                n += 1
                if n % 64 == 0:
                    self.frames_acquired.put(self._count)
        except Exception as exc:  # noqa: BLE001 - reported through the status
            self.frames_acquired.put(self._count)
            self._complete.set_exception(exc)
            return
        self.frames_acquired.put(self._count)
        self._complete.set_finished()

    # -- safety ---------------------------------------------------------------------------
    def stop(self, *, success: bool = False) -> None:
        self._stop.set()

    def safe(self) -> None:
        """End any burst; the spectrometer holds no energy, so that is all."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def pending_frames(self) -> int:
        with self._lock:
            return len(self._frames)


def collect_burst(burst: SpectrumBurst, duration_s: float | None = None, *,
                  max_frames: int | None = None, collect_period_s: float = 0.25):
    """Plan stub (inside an open run): fly a burst, collecting every ``collect_period_s``.

    Frames reach the journal — and so the disk — at most ``collect_period_s``
    (wall time) after they were acquired.  If the burst fails, the frames acquired
    before the failure are collected before the error is raised.
    """
    import bluesky.plan_stubs as bps
    from bluesky.utils import short_uid

    if duration_s is not None:
        yield from bps.mv(burst.duration_s, float(duration_s))
    if max_frames is not None:
        yield from bps.mv(burst.max_frames, int(max_frames))
    yield from bps.kickoff(burst, wait=True)
    group = short_uid("burst")
    try:
        yield from bps.complete(burst, group=group, wait=False)
        done = False
        while not done:
            done = yield from bps.wait(group=group, timeout=collect_period_s,
                                       error_on_timeout=False)
            yield from bps.collect(burst, return_payload=False)
    finally:
        if burst.pending_frames():
            yield from bps.collect(burst, return_payload=False)


def burst_run(burst: SpectrumBurst, duration_s: float, *, max_frames: int | None = None,
              collect_period_s: float = 0.25, md: dict | None = None):
    """Plan: one run holding a burst of spectra (stream named after the flyer)."""
    import bluesky.preprocessors as bpp

    _md = {"plan_name": "burst_run", "detectors": [burst.name],
           "plan_args": {"duration_s": duration_s, "max_frames": max_frames,
                         "collect_period_s": collect_period_s}}
    _md.update(md or {})

    @bpp.run_decorator(md=_md)
    def inner():
        yield from collect_burst(burst, duration_s, max_frames=max_frames,
                                 collect_period_s=collect_period_s)

    return (yield from inner())
