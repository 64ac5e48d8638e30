"""SCPI over VISA, shared by the Thorlabs DC2200 and PM100 drivers.

:class:`ScpiClient` does the exchanges; :class:`ScpiDriver` is the base of a
driver built on one (opening with retries, closing, the error queue).

Wraps a pyvisa-like message resource (``write``/``read``/``query``; from
:func:`~photoreactor.devices.common.transport.open_visa`, pyvisa-sim, or a test
fake) with what every driver here needs:

* one lock per resource around every write-then-read (pyvisa resources are not
  thread-safe);
* pyvisa errors turned into the project's typed errors, carrying the raw
  exchange: ``VI_ERROR_TMO`` → :class:`InstrumentTimeout`, anything else from
  the VISA layer (connection lost, resource gone) → :class:`InstrumentDisconnected`;
* bounded retries for queries only (``retries``, default 2) — writes that change
  the instrument are never repeated;
* optional error-queue check after each write (``SYST:ERR?``): a non-zero code
  becomes :class:`InstrumentRejected` naming the command.

Replies that do not parse raise :class:`ProtocolError`; parsing helpers
(:meth:`ScpiClient.query_float`, :meth:`ScpiClient.query_bool`) do this for the
usual SCPI formats (``+1.000000E-01``, ``1``/``0``/``ON``/``OFF``).
"""

from __future__ import annotations

import re
import threading

from .errors import (
    InstrumentDisconnected,
    InstrumentError,
    InstrumentRejected,
    InstrumentTimeout,
    ProtocolError,
)
from .transport import open_visa, retry_open

_ERR_RE = re.compile(r'^\s*([+-]?\d+)\s*,\s*"?(.*?)"?\s*$')


def _b(text: str | None) -> bytes:
    return b"" if text is None else text.encode("latin-1", "replace")


class ScpiClient:
    """Thread-safe SCPI exchanges with typed errors.

    Parameters
    ----------
    resource : pyvisa-like resource
        Has ``write(str)``, ``read() -> str``, ``timeout`` (ms).
    name : str
        Device name used in every error message.
    retries : int
        Extra attempts for idempotent queries after a timeout or garbled reply.
    check_errors : bool
        Query ``SYST:ERR?`` after every write and raise on a non-zero code.
    """

    def __init__(self, resource, *, name: str, retries: int = 2, check_errors: bool = True):
        self.resource = resource
        self.name = name
        self.retries = int(retries)
        self.check_errors = bool(check_errors)
        self.lock = threading.RLock()

    # -- low level ---------------------------------------------------------
    def _visa_error(self, exc, sent: str, got: str | None = None) -> InstrumentError:
        from pyvisa import constants
        from pyvisa.errors import VisaIOError

        exchange = [(_b(sent), _b(got))]
        if isinstance(exc, VisaIOError) and exc.error_code == constants.StatusCode.error_timeout:
            return InstrumentTimeout(self.name, f"no reply to {sent!r} within "
                                     f"{getattr(self.resource, 'timeout', 0) / 1000:g} s",
                                     exchange)
        return InstrumentDisconnected(self.name, f"VISA link lost during {sent!r}: {exc}", exchange)

    def _write_raw(self, command: str) -> None:
        from pyvisa.errors import VisaIOError

        try:
            self.resource.write(command)
        except (VisaIOError, OSError) as exc:
            raise self._visa_error(exc, command) from exc

    def _read_raw(self, sent: str) -> str:
        from pyvisa.errors import VisaIOError

        try:
            return self.resource.read()
        except (VisaIOError, OSError) as exc:
            raise self._visa_error(exc, sent) from exc

    # -- public ------------------------------------------------------------
    def write(self, command: str) -> None:
        """Send a command (never retried) and, if enabled, check the error queue."""
        with self.lock:
            self._write_raw(command)
            if self.check_errors:
                code, text, reply = self._next_error(after=command)
                if code != 0:
                    raise InstrumentRejected(self.name, f"refused {command!r}: error {code} {text}",
                                             [(_b(command), b""), (b"SYST:ERR?", _b(reply))])

    def query(self, command: str, *, retries: int | None = None) -> str:
        """Send a query and return the reply (stripped); retried on timeout."""
        attempts = 1 + (self.retries if retries is None else retries)
        last: InstrumentError | None = None
        for _ in range(attempts):
            with self.lock:
                try:
                    self._write_raw(command)
                    return self._read_raw(command).strip()
                except InstrumentTimeout as exc:
                    last = exc
                    self._discard_pending()
        assert last is not None
        raise last

    def query_parsed(self, command: str, parse, what: str, *, retries: int | None = None):
        """Query and parse; a reply that does not parse is retried, then ProtocolError."""
        attempts = 1 + (self.retries if retries is None else retries)
        last: InstrumentError | None = None
        for _ in range(attempts):
            try:
                reply = self.query(command, retries=0)
            except InstrumentTimeout as exc:
                last = exc
                continue
            try:
                return parse(reply)
            except (ValueError, TypeError, IndexError):
                last = ProtocolError(self.name, f"reply to {command!r} is not {what}",
                                     [(_b(command), _b(reply))])
        assert last is not None
        raise last

    def query_float(self, command: str) -> float:
        def parse(reply: str) -> float:
            value = float(reply.split(",")[0])
            if value != value:  # NaN is not a reading
                raise ValueError(reply)
            return value

        return self.query_parsed(command, parse, "a number")

    def query_bool(self, command: str) -> bool:
        def parse(reply: str) -> bool:
            token = reply.strip().upper()
            if token in ("1", "ON", "+1"):
                return True
            if token in ("0", "OFF", "+0"):
                return False
            raise ValueError(reply)

        return self.query_parsed(command, parse, "0/1 (OFF/ON)")

    def next_error(self) -> tuple[int, str]:
        """Pop one entry of the SCPI error queue: ``(code, message)``, ``(0, ...)`` if empty."""
        with self.lock:
            code, text, _ = self._next_error(after="SYST:ERR?")
            return code, text

    def _next_error(self, *, after: str) -> tuple[int, str, str]:
        # SYST:ERR? pops the queue, so it is never retried: a retry could return
        # the *next* entry and hide the error we are looking for
        try:
            self._write_raw("SYST:ERR?")
            reply = self._read_raw("SYST:ERR?")
        except InstrumentTimeout as exc:
            raise InstrumentTimeout(
                self.name, f"no reply to SYST:ERR? after {after!r}; if this firmware has no SCPI "
                "error queue, set check_errors: false in the profile",
                [(_b(after), b""), (b"SYST:ERR?", b"")]) from exc
        m = _ERR_RE.match(reply)
        if not m:
            raise ProtocolError(self.name, f"unreadable SYST:ERR? reply after {after!r}",
                                [(_b(after), b""), (b"SYST:ERR?", _b(reply))])
        return int(m.group(1)), m.group(2), reply

    def _discard_pending(self) -> None:
        clear = getattr(self.resource, "clear", None)
        if clear is not None:
            try:
                clear()
            except Exception:  # a failed device clear must not mask the timeout
                pass

    def set_timeout(self, timeout_s: float) -> None:
        """Change the read timeout of the resource."""
        self.resource.timeout = int(max(timeout_s, 0.001) * 1000)

    def close(self) -> None:
        try:
            self.resource.close()
        except Exception:  # closing a dead link must not raise
            pass


class ScpiDriver:
    """Base of a driver for one SCPI instrument behind a VISA resource.

    Subclasses set :attr:`model` and override :meth:`initialize` with the first
    exchange after opening (which also proves the instrument answers).

    Parameters
    ----------
    resource : pyvisa-like resource
        Opened message resource (see :meth:`open`).
    name : str
        Device name for error messages; default the model in lower case.
    check_errors : bool
        Query ``SYST:ERR?`` after every write.
    retries : int
        Extra attempts for queries.
    """

    model = "SCPI"

    def __init__(self, resource, *, name: str | None = None, check_errors: bool = True,
                 retries: int = 2):
        self.name = name or self.model.lower()
        self.scpi = ScpiClient(resource, name=self.name, retries=retries,
                               check_errors=check_errors)
        #: the resource's own read timeout (s), before any driver changes it
        self.base_timeout_s = getattr(resource, "timeout", 2000) / 1000.0

    @classmethod
    def open(cls, resource_name: str, *, backend: str = "@py", name: str | None = None,
             clock=None, timeout_s: float = 2.0, attempts: int = 3, retry_wait_s: float = 1.0,
             check_errors: bool = True):
        """Open the VISA resource and :meth:`initialize` it, retrying both.

        Raises
        ------
        InstrumentDisconnected
            The resource could not be opened after ``attempts`` tries.
        """
        name = name or cls.model.lower()

        def open_once():
            drv = cls(open_visa(resource_name, backend, timeout_s=timeout_s), name=name,
                      check_errors=check_errors)
            drv.initialize()
            return drv

        return retry_open(open_once, name=name, what=f"{cls.model} at {resource_name} via {backend}",
                          attempts=attempts, retry_wait_s=retry_wait_s, clock=clock)

    def initialize(self) -> None:
        """Hook: the first exchange after opening (default: none)."""

    def close(self) -> None:
        self.scpi.close()

    def next_error(self) -> tuple[int, str]:
        """One entry of the SCPI error queue (``SYST:ERR?``)."""
        return self.scpi.next_error()
