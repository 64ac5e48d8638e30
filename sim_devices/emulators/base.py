"""Base classes for instrument emulators and the registry the transports look in.

Serial emulators sit behind pyserial URLs ``sim://<name>`` (see
:mod:`photoreactor.sim_devices.serial_handlers.protocol_sim`); VISA emulators
behind the ``"@emulator"`` backend of :func:`photoreactor.devices.common.transport.open_visa`;
spectrometer emulators behind the ``"emulator"`` seabreeze backend.  Drivers open
them exactly as they open real instruments.

Faults
------
Every emulator has :meth:`Emulator.inject` / :meth:`Emulator.clear` for the
faults common to all wires:

``"no_reply"``     swallow requests (the driver times out)
``"garbled"``      corrupt every reply (deterministically), keeping the terminator
``"disconnect"``   the port raises on every read and write (cable pulled)

plus instrument-specific faults (``"stall"``, ``"open_thermocouple"``,
``"over_temperature"``, ``"saturation"``, ``"power_loss"`` ...) documented on
each emulator.  Profiles can start an emulator with faults via the device entry's
``emulator: {faults: [...]}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..world import Reagent

COMMON_FAULTS = frozenset({"no_reply", "garbled", "disconnect"})

_serial_emulators: dict[str, SerialEmulator] = {}
_visa_emulators: dict[str, VisaEmulator] = {}
_spectrometer_emulators: dict[str, object] = {}
_attachers: dict[str, Callable] = {}


class Emulator:
    """Common fault switchboard.  ``faults`` lists what this model can simulate."""

    faults: frozenset[str] = COMMON_FAULTS

    def __init__(self, name: str):
        self.name = name
        self.active_faults: set[str] = set()
        self.lock = threading.RLock()

    def inject(self, fault: str) -> None:
        if fault not in self.faults:
            raise ValueError(f"{type(self).__name__} cannot simulate {fault!r}; "
                             f"it knows {sorted(self.faults)}")
        with self.lock:
            self.active_faults.add(fault)
            self.on_fault(fault)

    def clear(self, fault: str | None = None) -> None:
        with self.lock:
            if fault is None:
                self.active_faults.clear()
            else:
                self.active_faults.discard(fault)

    def on_fault(self, fault: str) -> None:
        """Hook: react to a fault being injected (e.g. power loss resets state)."""

    def has(self, fault: str) -> bool:
        return fault in self.active_faults


def garble(reply: bytes, terminator: bytes = b"") -> bytes:
    """Deterministic corruption that keeps the terminator so the read completes."""
    body = reply[: len(reply) - len(terminator)] if terminator and reply.endswith(terminator) else reply
    bad = bytes((b ^ 0x5A) | 0x80 for b in body) or b"\xff"
    return bad + terminator


class SerialEmulator(Emulator):
    """Firmware behind a ``sim://`` serial URL.

    Subclasses implement :meth:`handle` (one request frame in, reply bytes out or
    ``None`` for no reply) and, for non line-based protocols, :meth:`split_frames`.
    """

    #: request terminator for the default line framing
    request_end: bytes = b"\r"
    #: reply terminator, kept when garbling
    reply_end: bytes = b"\r"

    def __init__(self, name: str):
        super().__init__(name)
        self._inbuf = bytearray()
        self._outbuf = bytearray()
        self._data = threading.Condition(self.lock)
        self.log: list[tuple[bytes, bytes]] = []

    # called by the pyserial handler ------------------------------------
    def write(self, data: bytes) -> None:
        with self.lock:
            if self.has("disconnect"):
                raise OSError(f"{self.name}: device disconnected")
            self._inbuf += data
            frames, rest = self.split_frames(bytes(self._inbuf))
            self._inbuf = bytearray(rest)
            for frame in frames:
                reply = self.handle(frame)
                if self.has("no_reply"):
                    reply = None
                if reply and self.has("garbled"):
                    reply = garble(reply, self.reply_end)
                self.log.append((frame, reply or b""))
                if reply:
                    self._outbuf += reply
                    self._data.notify_all()

    def read(self, size: int, timeout: float | None) -> bytes:
        import time as _time

        with self.lock:
            end = None if timeout is None else _time.monotonic() + timeout
            while len(self._outbuf) < size:
                if self.has("disconnect"):
                    raise OSError(f"{self.name}: device disconnected")
                remaining = None if end is None else end - _time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._data.wait(remaining if remaining is not None else 0.1)
            out = bytes(self._outbuf[:size])
            del self._outbuf[:size]
            return out

    def in_waiting(self) -> int:
        with self.lock:
            return len(self._outbuf)

    def reset_input(self) -> None:
        with self.lock:
            self._outbuf.clear()

    # for subclasses ------------------------------------------------------
    def split_frames(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        """Split complete requests off ``buffer``; default: lines ending in :attr:`request_end`."""
        frames = []
        while True:
            i = buffer.find(self.request_end)
            if i < 0:
                return frames, buffer
            frames.append(buffer[: i + len(self.request_end)])
            buffer = buffer[i + len(self.request_end):]

    def handle(self, frame: bytes) -> bytes | None:
        raise NotImplementedError


class VisaEmulator(Emulator):
    """Firmware behind a VISA resource: text commands in, text replies out."""

    def handle(self, command: str) -> str | None:
        """Process one command (terminator stripped); return the reply for queries."""
        raise NotImplementedError


class SimVisaResource:
    """The subset of ``pyvisa.resources.MessageBasedResource`` drivers use.

    Reads time out like a real resource (``pyvisa.errors.VisaIOError`` with
    ``VI_ERROR_TMO``) so the driver's error handling is exercised unchanged.
    """

    def __init__(self, emulator: VisaEmulator, resource_name: str):
        self.emulator = emulator
        self.resource_name = resource_name
        self.timeout = 2000  # ms, like pyvisa
        self.read_termination = "\n"
        self.write_termination = "\n"
        self._pending: list[str] = []
        self.closed = False

    def _check(self):
        import pyvisa.constants as C
        from pyvisa.errors import VisaIOError

        if self.closed:
            raise VisaIOError(C.StatusCode.error_connection_lost)
        if self.emulator.has("disconnect"):
            raise VisaIOError(C.StatusCode.error_connection_lost)

    def write(self, message: str) -> int:
        self._check()
        with self.emulator.lock:
            reply = self.emulator.handle(message.rstrip("\r\n"))
            if self.emulator.has("no_reply"):
                reply = None
            if reply is not None:
                if self.emulator.has("garbled"):
                    reply = garble(reply.encode("latin-1")).decode("latin-1")
                self._pending.append(reply)
        return len(message)

    def read(self) -> str:
        import pyvisa.constants as C
        from pyvisa.errors import VisaIOError

        self._check()
        if not self._pending:
            raise VisaIOError(C.StatusCode.error_timeout)
        return self._pending.pop(0)

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def clear(self) -> None:
        self._pending.clear()

    def close(self) -> None:
        self.closed = True


class ChainedPump:
    """Firmware state of one pump on a :class:`PumpChain`.

    Time and liquid come from the chain's clock and world; faults come from the
    pump's :class:`PumpView` (none until the bench attaches one).
    """

    def __init__(self, bus: PumpChain, address: int, line: str):
        self.bus, self.address, self.line = bus, address, line
        self.view: PumpView | None = None

    @property
    def world(self):
        return self.bus.world

    def now(self) -> float:
        return self.bus.clock.time()

    def has(self, fault: str) -> bool:
        return self.view is not None and self.view.has(fault)


class PumpChain(SerialEmulator):
    """The far end of one serial line shared by several addressed pumps.

    Subclasses set :attr:`firmware_class` (built as ``firmware_class(bus, address,
    line, **kwargs)``), :attr:`model` (for messages) and, if the wire addresses
    pumps by something other than the number, :meth:`pump_key`.  A
    ``"disconnect"`` injected through any one pump's view pulls the whole cable.
    """

    faults = COMMON_FAULTS
    firmware_class: type[ChainedPump] = ChainedPump
    model: str = ""

    def __init__(self, name: str, clock, world):
        super().__init__(name)
        self.clock, self.world = clock, world
        self.pumps: dict[object, ChainedPump] = {}

    def pump_key(self, address: int):
        """How :meth:`handle` finds a pump in :attr:`pumps` from its wire address."""
        return address

    def add_pump(self, address: int, line: str, **kwargs):
        key = self.pump_key(address)
        with self.lock:
            if key in self.pumps:
                raise ValueError(f"sim://{self.name}: two {self.model} pumps at address {address}")
            pump = self.pumps[key] = self.firmware_class(self, address, line, **kwargs)
            return pump

    def has(self, fault: str) -> bool:
        if fault == "disconnect" and any(p.has("disconnect") for p in self.pumps.values()):
            return True
        return super().has(fault)


class PumpView(Emulator):
    """One pump of a :class:`PumpChain`, as the bench sees it (faults aimed at one pump).

    The firmware (a :class:`ChainedPump`) must offer ``stall_now()`` and ``power_loss()``.
    """

    faults = COMMON_FAULTS | {"stall", "power_loss"}

    def __init__(self, name: str, bus: PumpChain, firmware: ChainedPump):
        super().__init__(name)
        self.bus, self.firmware = bus, firmware
        firmware.view = self

    def on_fault(self, fault: str) -> None:
        with self.bus.lock:
            if fault == "stall":
                self.firmware.stall_now()
            elif fault == "power_loss":
                self.firmware.power_loss()


def attach_to_chain(bench, chain_class: type[PumpChain], url: str) -> PumpChain:
    """The :class:`PumpChain` behind ``sim://<name>`` port ``url``, created on first use."""
    if not url.startswith("sim://"):
        raise ValueError(f"simulated {chain_class.model} pumps need a sim://<name> port, "
                         f"got {url!r}")
    bus_name = url[len("sim://"):].strip("/")
    try:
        bus = serial_emulator(bus_name)
    except OSError:
        bus = chain_class(bus_name, bench.clock, bench.world)
        register_serial(bus_name, bus)
    if not isinstance(bus, chain_class):
        raise ValueError(f"sim://{bus_name} is already used by a {type(bus).__name__}")
    return bus


def attach_pump(bench, name: str, config: dict, chain_class: type[PumpChain],
                view_class: type[PumpView], **firmware_settings) -> PumpView:
    """Attach pump ``name`` of a profile entry to the chain emulator of its port.

    The pump's line is connected to the world with the entry's reagent, and the
    syringe starts holding the reagent's ``volume_ml``; ``firmware_settings`` are
    the family's own (model, valve port ...).
    """
    bus = attach_to_chain(bench, chain_class, config["port"])
    reagent = config["reagent"]
    bench.world.connect_line(name, Reagent.from_config(reagent))
    firmware = bus.add_pump(int(config["address"]), name,
                            syringe_volume_ml=float(config["syringe_volume_ml"]),
                            contents_ml=float(reagent.get("volume_ml", 0.0)),
                            **firmware_settings)
    return view_class(name, bus, firmware)


# -- registries ---------------------------------------------------------------
def register_serial(name: str, emulator: SerialEmulator) -> None:
    """Make ``sim://<name>`` reach ``emulator``."""
    _serial_emulators[name] = emulator


def serial_emulator(name: str) -> SerialEmulator:
    try:
        return _serial_emulators[name]
    except KeyError:
        raise OSError(f"no simulated instrument at sim://{name} "
                      f"(known: {sorted(_serial_emulators)})") from None


def register_visa(resource: str, emulator: VisaEmulator) -> None:
    _visa_emulators[resource] = emulator


def open_visa_emulator(resource: str) -> SimVisaResource:
    try:
        return SimVisaResource(_visa_emulators[resource], resource)
    except KeyError:
        raise OSError(f"no simulated VISA instrument {resource} "
                      f"(known: {sorted(_visa_emulators)})") from None


def register_spectrometer(serial_number: str, emulator) -> None:
    _spectrometer_emulators[serial_number] = emulator


def spectrometer_emulator(serial_number: str):
    try:
        return _spectrometer_emulators[serial_number]
    except KeyError:
        raise OSError(f"no simulated spectrometer with serial {serial_number!r}") from None


def clear_registries() -> None:
    """Forget every emulator (between sessions and tests)."""
    _serial_emulators.clear()
    _visa_emulators.clear()
    _spectrometer_emulators.clear()


def emulates(*device_classes: str):
    """Register ``attach(bench, name, config)`` as the emulator builder for profile classes."""

    def deco(attach):
        for cls in device_classes:
            _attachers[cls] = attach
        return attach

    return deco


def attachers() -> dict[str, Callable]:
    import importlib
    import pkgutil

    import photoreactor.sim_devices.emulators as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "base":
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    return dict(_attachers)
