"""Byte-exact protocol tests: fake transports that assert every exchange, in order.

Modelled on pymeasure's ``expected_protocol``: a test lists the (request, reply)
pairs the manual says an operation must produce; the fake transport fails the
test on the first request that differs, and on leaving the ``with`` block fails
if any pair was not consumed.  Both fakes are drop-ins for what drivers get from
:mod:`photoreactor.devices.common.transport`:

:class:`ExpectedSerial`
    stands in for :class:`~photoreactor.devices.common.transport.SerialPort`
    (``lock``, ``write``, ``read_until``, ``read_exact``, ``exchange``, ``close``),
    raising the same :class:`InstrumentTimeout` as the real port when a reply is
    missing or incomplete.
:class:`ExpectedVisa`
    stands in for a pyvisa message-based resource (``write``, ``read``,
    ``query``, ``timeout``, terminations), raising ``VisaIOError`` on a read with
    nothing pending, as pyvisa does: it is the emulators' ``SimVisaResource``
    with a script in place of the firmware.

Usage::

    from tests.devices.protocol import expected_serial

    def test_rate_query():
        with expected_serial([(b"01RAT\\r", b"\\x0201S1.234MM\\x03")]) as port:
            drv = NE1000Driver(port, address=1, name="pump")
            assert drv.rate() == (1.234, "MM")

A reply of ``None`` (or ``b""``) means the instrument stays silent; a reply
without its terminator simulates a truncated frame.  Several pairs may share one
request: they are consumed in order (e.g. a retried query).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from photoreactor.devices.common.errors import InstrumentTimeout
from photoreactor.sim_devices.emulators.base import SimVisaResource, VisaEmulator

Pair = tuple[bytes, bytes | None]


class ProtocolMismatch(AssertionError):
    """The driver sent something other than what the manual prescribes."""


class ExpectedSerial:
    """Fake :class:`SerialPort` replaying expected (request, reply) byte pairs.

    Parameters
    ----------
    pairs : iterable of (bytes, bytes or None)
        Requests the driver must write, in order, and what the instrument answers.
    url : str
        Reported as the port's URL (appears in error messages).
    """

    def __init__(self, pairs: Iterable[Pair], url: str = "fake://expected", *,
                 allow_unread: bool = False):
        self.url = url
        self.allow_unread = allow_unread
        self.settings: dict = {}
        self.lock = threading.RLock()
        self.pairs: list[Pair] = [(bytes(q), None if r is None else bytes(r)) for q, r in pairs]
        self.index = 0
        self.sent: list[bytes] = []
        self._buffer = bytearray()
        self._last_request = b""
        self.closed = False

    # -- SerialPort interface --------------------------------------------
    def write(self, data: bytes, *, device: str = "") -> None:
        data = bytes(data)
        self.sent.append(data)
        if self.index >= len(self.pairs):
            raise ProtocolMismatch(
                f"unexpected request #{self.index + 1} {data!r}: only {len(self.pairs)} "
                f"exchange(s) expected; all were already used")
        expected, reply = self.pairs[self.index]
        if data != expected:
            raise ProtocolMismatch(
                f"request #{self.index + 1}: expected {expected!r}, driver sent {data!r}")
        self.index += 1
        # like the real port: stale input is discarded before each request
        self._buffer.clear()
        self._last_request = data
        if reply:
            self._buffer += reply

    def read_until(self, terminator: bytes, *, timeout: float, device: str = "",
                   request: bytes = b"") -> bytes:
        _check_timeout(timeout)
        i = self._buffer.find(terminator)
        if i < 0:
            got = bytes(self._buffer)
            self._buffer.clear()
            raise InstrumentTimeout(device or self.url,
                                    f"no complete reply within {timeout:g} s on {self.url}",
                                    [(request or self._last_request, got)])
        out = bytes(self._buffer[: i + len(terminator)])
        del self._buffer[: i + len(terminator)]
        return out

    def read_exact(self, n: int, *, timeout: float, device: str = "",
                   request: bytes = b"") -> bytes:
        _check_timeout(timeout)
        if len(self._buffer) < n:
            got = bytes(self._buffer)
            self._buffer.clear()
            raise InstrumentTimeout(device or self.url,
                                    f"expected {n} bytes within {timeout:g} s on {self.url}, "
                                    f"got {len(got)}", [(request or self._last_request, got)])
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    def exchange(self, request: bytes, terminator: bytes, *, timeout: float,
                 device: str = "") -> bytes:
        with self.lock:
            self.write(request, device=device)
            return self.read_until(terminator, timeout=timeout, device=device, request=request)

    def close(self) -> None:
        self.closed = True

    # -- assertions -------------------------------------------------------
    @property
    def remaining(self) -> list[Pair]:
        """Expected pairs not yet consumed."""
        return self.pairs[self.index:]

    def assert_all_used(self) -> None:
        if self.remaining:
            raise ProtocolMismatch(
                f"{len(self.remaining)} expected exchange(s) never sent, first: "
                f"{self.remaining[0][0]!r} (sent so far: {self.sent!r})")
        if self._buffer and not self.allow_unread:
            raise ProtocolMismatch(f"reply bytes never read by the driver: {bytes(self._buffer)!r}")

    def __enter__(self) -> ExpectedSerial:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.assert_all_used()

    def __repr__(self) -> str:
        return f"ExpectedSerial({self.index}/{len(self.pairs)} used)"


def expected_serial(pairs: Iterable[Pair], url: str = "fake://expected", *,
                    allow_unread: bool = False) -> ExpectedSerial:
    """Context manager: a fake serial port that must see exactly ``pairs``.

    ``allow_unread=True`` accepts reply bytes left unread at the end (a driver
    that gives up on a garbled frame; the real port discards them before the
    next request).
    """
    return ExpectedSerial(pairs, url, allow_unread=allow_unread)


class _VisaScript(VisaEmulator):
    """The instrument side of :class:`ExpectedVisa`: answers each command from the script."""

    def __init__(self, pairs: Iterable[tuple[str, str | None]], resource_name: str):
        super().__init__(resource_name)
        self.pairs = list(pairs)
        self.index = 0
        self.sent: list[str] = []

    def handle(self, command: str) -> str | None:
        self.sent.append(command)
        if self.index >= len(self.pairs):
            raise ProtocolMismatch(f"unexpected command #{self.index + 1} {command!r}: all "
                                   f"{len(self.pairs)} expected command(s) were already used")
        expected, reply = self.pairs[self.index]
        if command != expected:
            raise ProtocolMismatch(f"command #{self.index + 1}: expected {expected!r}, "
                                   f"driver sent {command!r}")
        self.index += 1
        return reply


class ExpectedVisa(SimVisaResource):
    """Fake pyvisa resource replaying expected (command, reply) string pairs.

    The emulators' own :class:`SimVisaResource` (same reads, timeouts and
    terminations) in front of a script instead of firmware.  ``reply`` is
    ``None`` for a write that the instrument does not answer; a query is a
    ``write`` followed by ``read``.  Terminations are stripped from commands
    before comparison (pass commands as the manual prints them).
    """

    emulator: _VisaScript

    def __init__(self, pairs: Iterable[tuple[str, str | None]], resource_name: str = "FAKE::INSTR"):
        super().__init__(_VisaScript(pairs, resource_name), resource_name)

    @property
    def sent(self) -> list[str]:
        return self.emulator.sent

    @property
    def remaining(self):
        return self.emulator.pairs[self.emulator.index:]

    def assert_all_used(self) -> None:
        if self.remaining:
            raise ProtocolMismatch(f"{len(self.remaining)} expected command(s) never sent, "
                                   f"first: {self.remaining[0][0]!r} (sent: {self.sent!r})")
        if self._pending:
            raise ProtocolMismatch(f"replies never read by the driver: {self._pending!r}")

    def __enter__(self) -> ExpectedVisa:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.assert_all_used()


def expected_visa(pairs, resource_name: str = "FAKE::INSTR") -> ExpectedVisa:
    """Context manager: a fake VISA resource that must see exactly ``pairs``."""
    return ExpectedVisa(pairs, resource_name)


def _check_timeout(timeout) -> None:
    # every read in a driver must carry a finite timeout (a silent instrument
    # must never block a worker thread forever)
    if timeout is None or not timeout > 0:
        raise ProtocolMismatch(f"driver read without a finite positive timeout ({timeout!r})")
