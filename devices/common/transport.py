"""Byte transports shared by the drivers: serial ports and VISA resources.

Serial
------
:func:`open_serial` returns one :class:`SerialPort` per port URL for the whole
process: several pumps daisy-chained on one RS-232 line share the port *and its
lock*.  The URL is anything pyserial's ``serial_for_url`` accepts — ``/dev/ttyUSB0``,
``COM3``, ``socket://host:port``, ``spy://...`` or the simulator's ``sim://name``
(registered by :mod:`photoreactor.sim_devices`); drivers cannot tell which.

VISA
----
:func:`open_visa` opens a message-based resource through a named backend:
``"@py"`` (pyvisa-py), ``"@ivi"`` (vendor VISA), ``"@sim"`` (pyvisa-sim YAML), or a
backend registered with :func:`register_visa_backend` (the simulator registers
``"@emulator"``).  The returned object has pyvisa's ``write``/``read``/``query``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import serial

from .errors import InstrumentDisconnected, InstrumentTimeout

_ports: dict[str, SerialPort] = {}
_ports_lock = threading.Lock()


class SerialPort:
    """A serial port plus the lock every write-then-read on it must hold.

    Use ``with port.lock:`` around a whole exchange (the driver does this);
    :meth:`exchange` does it for the common one-request-one-reply case.
    """

    def __init__(self, url: str, *, connection=None, **settings):
        """Open ``url`` with pyserial ``settings``.

        ``connection`` is an already-open pyserial-like object to use instead
        (the protocol tests' scripted instrument); ``url`` then only names it.
        """
        self.url = url
        self.settings = settings
        self.lock = threading.RLock()
        if connection is not None:
            self.serial = connection
            return
        try:
            self.serial = serial.serial_for_url(url, **settings)
        except (serial.SerialException, OSError) as exc:
            raise InstrumentDisconnected(url, f"cannot open serial port {url}: {exc}") from exc

    # -- primitives (caller holds the lock) --------------------------------
    def write(self, data: bytes, *, device: str = "") -> None:
        try:
            self.serial.reset_input_buffer()
            self.serial.write(data)
            self.serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise self._lost(device, exc, data) from exc

    def read_until(self, terminator: bytes, *, timeout: float, device: str = "",
                   request: bytes = b"") -> bytes:
        """Read up to and including ``terminator``; raise on timeout."""
        return self._read(
            lambda: self.serial.read_until(terminator),
            lambda reply: None if reply.endswith(terminator)
            else f"no complete reply within {timeout:g} s on {self.url}",
            timeout=timeout, device=device, request=request)

    def read_exact(self, n: int, *, timeout: float, device: str = "",
                   request: bytes = b"") -> bytes:
        """Read exactly ``n`` bytes; raise on timeout."""
        return self._read(
            lambda: self.serial.read(n),
            lambda reply: None if len(reply) >= n
            else f"expected {n} bytes within {timeout:g} s on {self.url}, got {len(reply)}",
            timeout=timeout, device=device, request=request)

    def _read(self, read: Callable[[], bytes], shortfall: Callable[[bytes], str | None], *,
              timeout: float, device: str, request: bytes) -> bytes:
        """Run one ``read()`` with ``timeout``; raise if the port is lost or the reply is short.

        ``shortfall(reply)`` says what is missing from an incomplete reply (None if complete);
        both errors carry ``request`` and what arrived, for the traceback.
        """
        try:
            self.serial.timeout = timeout
            reply = read()
        except (serial.SerialException, OSError) as exc:
            raise self._lost(device, exc, request) from exc
        missing = shortfall(reply)
        if missing is not None:
            raise InstrumentTimeout(device or self.url, missing, [(request, reply)])
        return reply

    def _lost(self, device: str, exc: Exception, request: bytes) -> InstrumentDisconnected:
        return InstrumentDisconnected(device or self.url, f"port {self.url} lost: {exc}",
                                      [(request, b"")])

    def exchange(self, request: bytes, terminator: bytes, *, timeout: float,
                 device: str = "") -> bytes:
        """Write ``request`` and read one reply ending in ``terminator``, under the lock."""
        with self.lock:
            self.write(request, device=device)
            return self.read_until(terminator, timeout=timeout, device=device, request=request)

    def close(self) -> None:
        with _ports_lock:
            # only this port's own entry: a port built directly (tests) must not
            # unregister the shared one opened for the same URL
            if _ports.get(self.url) is self:
                del _ports[self.url]
        try:
            self.serial.close()
        except Exception:  # closing a dead port must not mask the original error
            pass

    def __repr__(self) -> str:
        return f"SerialPort({self.url!r})"


def open_serial(url: str, **settings) -> SerialPort:
    """The process-wide :class:`SerialPort` for ``url`` (opened on first use).

    Settings (``baudrate``, ``bytesize``, ``parity``, ``stopbits``, ``rtscts``)
    must agree between every instrument on one port; a mismatch raises.
    """
    with _ports_lock:
        port = _ports.get(url)
        if port is None:
            port = _ports[url] = SerialPort(url, **settings)
        elif settings and {k: v for k, v in settings.items() if k != "timeout"} != {
                k: v for k, v in port.settings.items() if k != "timeout"}:
            raise ValueError(
                f"serial port {url} is already open with {port.settings}, "
                f"cannot reopen it with {settings}")
        return port


def close_all_serial() -> None:
    """Close every shared port (session shutdown, tests)."""
    with _ports_lock:
        ports = list(_ports.values())
    for port in ports:
        port.close()


def retry_open(open_once: Callable[[], object], *, name: str, what: str, attempts: int = 3,
               retry_wait_s: float = 1.0, clock=None):
    """Call ``open_once()`` until it succeeds, at most ``attempts`` times.

    USB-TMC enumeration after power-up is slow and the first open can fail
    transiently (PROTOCOLS.md): opening — and only opening — is retried.
    """
    import logging

    last: Exception | None = None
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return open_once()
        except (InstrumentDisconnected, InstrumentTimeout, OSError) as exc:
            last = exc
            logging.getLogger(__name__).warning("%s: opening %s failed (attempt %d/%d): %s",
                                                name, what, attempt, attempts, exc)
            if attempt < attempts and clock is not None:
                clock.sleep(retry_wait_s)
    raise InstrumentDisconnected(name, f"cannot open {what} after {attempts} attempts: {last}") from last


_visa_backends: dict[str, Callable[[str], object]] = {}


def register_visa_backend(name: str, opener: Callable[[str], object]) -> None:
    """Register ``opener(resource_name) -> resource`` under a backend name like ``"@emulator"``."""
    _visa_backends[name] = opener


def open_visa(resource: str, backend: str = "@py", *, timeout_s: float = 2.0,
              read_termination: str = "\n", write_termination: str = "\n"):
    """Open a message-based VISA resource with terminations and a timeout set."""
    if backend in _visa_backends:
        res = _visa_backends[backend](resource)
    else:
        import pyvisa

        try:
            rm = pyvisa.ResourceManager(backend)
            res = rm.open_resource(resource)
        except Exception as exc:  # pyvisa raises many types; all mean "cannot open"
            raise InstrumentDisconnected(resource, f"cannot open VISA resource via {backend}: {exc}") from exc
    res.timeout = int(timeout_s * 1000)
    res.read_termination = read_termination
    res.write_termination = write_termination
    return res
