"""Byte-exact protocol tests: fake transports that assert every exchange, in order.

Modelled on pymeasure's ``expected_protocol``: a test lists the (request, reply)
pairs the manual says an operation must produce; the fake transport fails the
test on the first request that differs, and on leaving the ``with`` block fails
if any pair was not consumed.  Both fakes are drop-ins for what drivers get from
:mod:`photoreactor.devices.common.transport`:

:class:`ExpectedSerial`
    is the real :class:`~photoreactor.devices.common.transport.SerialPort` over a
    :class:`ScriptedSerial` in place of pyserial, so drivers run through the
    project's own locking, reads and :class:`InstrumentTimeout` on a missing or
    incomplete reply.
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

from collections.abc import Iterable

from photoreactor.devices.common.transport import SerialPort
from photoreactor.sim_devices.emulators.base import SimVisaResource, VisaEmulator

Pair = tuple[bytes, bytes | None]


class ProtocolMismatch(AssertionError):
    """The driver sent something other than what the manual prescribes."""


class ScriptedSerial:
    """The instrument side of :class:`ExpectedSerial`: a pyserial-like object on a script.

    Each ``write`` must be the next expected request; its reply is queued for the
    reads, which return what is queued (a silent or truncated instrument gives a
    short read, as a real port does when its timeout expires).
    """

    def __init__(self, pairs: Iterable[Pair]):
        self.pairs: list[Pair] = [(bytes(q), None if r is None else bytes(r)) for q, r in pairs]
        self.index = 0
        self.sent: list[bytes] = []
        self.buffer = bytearray()
        self.timeout: float | None = None
        self.closed = False

    def reset_input_buffer(self) -> None:
        self.buffer.clear()

    def write(self, data: bytes) -> int:
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
        if reply:
            self.buffer += reply
        return len(data)

    def flush(self) -> None:
        pass

    def read_until(self, expected: bytes = b"\n") -> bytes:
        i = self.buffer.find(expected)
        return self.read(len(self.buffer) if i < 0 else i + len(expected))

    def read(self, size: int = 1) -> bytes:
        _check_timeout(self.timeout)
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out

    def close(self) -> None:
        self.closed = True


class ExpectedSerial(SerialPort):
    """The real :class:`SerialPort` over a :class:`ScriptedSerial`: replays (request, reply) pairs.

    Drivers get the project's own transport (locking, timeouts, error reporting);
    only the bytes on the wire come from the script.

    Parameters
    ----------
    pairs : iterable of (bytes, bytes or None)
        Requests the driver must write, in order, and what the instrument answers.
    url : str
        Reported as the port's URL (appears in error messages).
    """

    serial: ScriptedSerial

    def __init__(self, pairs: Iterable[Pair], url: str = "fake://expected", *,
                 allow_unread: bool = False):
        super().__init__(url, connection=ScriptedSerial(pairs))
        self.allow_unread = allow_unread

    @property
    def pairs(self) -> list[Pair]:
        return self.serial.pairs

    @property
    def index(self) -> int:
        return self.serial.index

    @property
    def sent(self) -> list[bytes]:
        return self.serial.sent

    @property
    def closed(self) -> bool:
        return self.serial.closed

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
        if self.serial.buffer and not self.allow_unread:
            raise ProtocolMismatch(
                f"reply bytes never read by the driver: {bytes(self.serial.buffer)!r}")

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
